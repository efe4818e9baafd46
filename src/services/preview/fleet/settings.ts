/** The fleet's bot settings (MAX_PREVIEWS*), and the request that evicts an asleep preview to make room. */
import type { Env } from "../../../env.js";
import type { Request } from "../../shared/request.js";
import type { Caps } from "./fair-order.js";

/** The bot's default and longest expiry (PREVIEW_DEFAULT_TTL, PREVIEW_MAX_TTL), in milliseconds. */
export function previewTtl(env: Pick<Env, "PREVIEW_DEFAULT_TTL" | "PREVIEW_MAX_TTL">): {
  defaultMs?: number;
  maxMs?: number;
} {
  return {
    ...(env.PREVIEW_DEFAULT_TTL ? { defaultMs: env.PREVIEW_DEFAULT_TTL } : {}),
    ...(env.PREVIEW_MAX_TTL ? { maxMs: env.PREVIEW_MAX_TTL } : {}),
  };
}

export function fleetCaps(env: Pick<Env, "MAX_PREVIEWS" | "MAX_PREVIEWS_PER_REPO" | "MAX_PREVIEWS_PER_AUTHOR">): Caps {
  return {
    ...(env.MAX_PREVIEWS !== undefined ? { total: env.MAX_PREVIEWS } : {}),
    ...(env.MAX_PREVIEWS_PER_REPO !== undefined ? { perRepo: env.MAX_PREVIEWS_PER_REPO } : {}),
    ...(env.MAX_PREVIEWS_PER_AUTHOR !== undefined ? { perAuthor: env.MAX_PREVIEWS_PER_AUTHOR } : {}),
  };
}

/** A teardown of `owner/repo#number` by the bot itself, through the intake like the sweeper's (final backup as configured). */
export function evictionRequest(key: string): Request {
  const m = /^([^/#\s]+)\/([^/#\s]+)#(\d+)$/.exec(key);
  if (!m) throw new Error(`evicting ${JSON.stringify(key)}: not an owner/repo#number preview key`);
  return {
    door: "sweeper",
    action: "destroy",
    subject: { kind: "pull", owner: m[1]!, repo: m[2]!, number: Number(m[3]) },
    actor: "preview-bot fleet (the longest-asleep preview makes room for a waiting deploy)",
    args: {},
  };
}
