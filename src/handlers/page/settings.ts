/**
 * The page's and the sign-in's settings, validated once. They come from the same environment as everything else
 * (the wiring passes `variablesOf(env)`; the variables are listed in docs/preview-access.md and belong in .env.example
 * once wired). Not configured at all (no PREVIEW_BOT_URL): the page and /auth/* are off, and the render must refuse
 * protected previews. Half configured: an error naming each missing or bad variable.
 */
import { z } from "zod";
import { githubEndpoints, type GitHubEndpoints } from "../../services/github/user-auth.js";
import { MIN_SECRET_LENGTH } from "./seal.js";

export type AccessGateway = "ingress-nginx" | "envoy-gateway" | "gateway-api-external-auth";

export interface PageSettings {
  /** The bot's public origin, e.g. `https://preview-bot.example.com` (GitHub's callback URL is `<this>/auth/callback`). */
  botUrl: string;
  clientId: string;
  clientSecret: string;
  /** PREVIEW_AUTH_SECRET, split on commas: the first seals, all open (rotation). */
  secrets: string[];
  /** Secure cookies (false only for a bot on http://localhost). */
  secureCookies: boolean;
  sessionTtlMs: number;
  accessTtlMs: number;
  github: GitHubEndpoints;
  /** PREVIEW_BOT_ADMINS: see every backup target. */
  admins: string[];
  /** What serves preview routes, for protected previews (undefined: none supported, protected previews refused). */
  gateway?: AccessGateway;
  /** The URL ingress-nginx calls for each request (default `<botUrl>/auth/check`; in a cluster, the Service's URL). */
  authUrl: string;
  /** The bot's Service, for Gateway API backendRefs. */
  botService: { namespace: string; name: string; port: number };
}

export class PageSettingsError extends Error {}

const LOCAL_HOST = /^(localhost|127\.0\.0\.1|\[::1\]|[a-z0-9-]+\.localhost)$/;

const schema = z
  .object({
    PREVIEW_BOT_URL: z
      .url({ protocol: /^https?$/, error: "the bot's public URL, e.g. https://preview-bot.example.com" })
      .refine((v) => {
        const u = new URL(v);
        return u.pathname === "/" && !u.search && !u.hash;
      }, "an origin only, without a path"),
    GITHUB_CLIENT_ID: z.string({ error: "missing: the GitHub App's client ID (its settings page)" }),
    GITHUB_CLIENT_SECRET: z.string({ error: "missing: a client secret of the GitHub App (its settings page)" }),
    PREVIEW_AUTH_SECRET: z
      .string({ error: "missing: at least 32 random characters" })
      .transform((v) =>
        v
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .refine(
        (l) => l.length > 0 && l.every((s) => Buffer.byteLength(s) >= MIN_SECRET_LENGTH),
        `at least ${MIN_SECRET_LENGTH} random characters (comma-separated to rotate: the first seals)`,
      ),
    PREVIEW_AUTH_INSECURE_COOKIES: z
      .enum(["true", "false", "1", "0", ""])
      .optional()
      .transform((v) => v === "true" || v === "1"),
    PREVIEW_AUTH_SESSION_TTL: z.coerce.number().int().min(300).max(86_400).default(28_800),
    PREVIEW_AUTH_ACCESS_TTL: z.coerce.number().int().min(10).max(900).default(120),
    PREVIEW_ACCESS_GATEWAY: z.enum(["ingress-nginx", "envoy-gateway", "gateway-api-external-auth"]).optional(),
    PREVIEW_AUTH_URL: z.url({ protocol: /^https?$/ }).optional(),
    PREVIEW_BOT_SERVICE: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9]*[a-z0-9])?:\d{1,5}$/, "namespace/name:port")
      .optional(),
    BOT_NAMESPACE: z.string().default("preview-bot"),
    GHE_HOST: z.string().optional(),
    GHE_PROTOCOL: z.enum(["http", "https"]).optional(),
    PREVIEW_BOT_ADMINS: z.string().optional(),
  })
  .superRefine((v, ctx) => {
    const url = new URL(v.PREVIEW_BOT_URL);
    if (v.PREVIEW_AUTH_INSECURE_COOKIES && !(url.protocol === "http:" && LOCAL_HOST.test(url.hostname)))
      ctx.addIssue({
        code: "custom",
        path: ["PREVIEW_AUTH_INSECURE_COOKIES"],
        message: "only for a bot on http://localhost (development); cookies are Secure everywhere else",
      });
    if (url.protocol === "http:" && !v.PREVIEW_AUTH_INSECURE_COOKIES)
      ctx.addIssue({
        code: "custom",
        path: ["PREVIEW_BOT_URL"],
        message:
          "must be https (Secure cookies); for http://localhost development set PREVIEW_AUTH_INSECURE_COOKIES=true",
      });
  });

const NAMES = ["PREVIEW_BOT_URL", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "PREVIEW_AUTH_SECRET"] as const;

/** The settings, or undefined when the page is not configured at all (none of its four required variables set). */
export function loadPageSettings(vars: Readonly<Record<string, string | undefined>>): PageSettings | undefined {
  const blank = (v: string | undefined) => v === undefined || v.trim() === "";
  if (NAMES.every((n) => blank(vars[n]))) return undefined;
  const cleaned = Object.fromEntries(Object.entries(vars).filter(([, v]) => !blank(v)));
  const r = schema.safeParse(cleaned);
  if (!r.success)
    throw new PageSettingsError(
      `invalid preview page settings:\n${r.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`).join("\n")}`,
    );
  const v = r.data;
  const botUrl = new URL(v.PREVIEW_BOT_URL).origin;
  const [svcNs, rest] = (v.PREVIEW_BOT_SERVICE ?? `${v.BOT_NAMESPACE}/preview-bot:80`).split("/") as [string, string];
  const [svcName, port] = rest.split(":") as [string, string];
  return {
    botUrl,
    clientId: v.GITHUB_CLIENT_ID,
    clientSecret: v.GITHUB_CLIENT_SECRET,
    secrets: v.PREVIEW_AUTH_SECRET,
    secureCookies: !v.PREVIEW_AUTH_INSECURE_COOKIES,
    sessionTtlMs: v.PREVIEW_AUTH_SESSION_TTL * 1000,
    accessTtlMs: v.PREVIEW_AUTH_ACCESS_TTL * 1000,
    github: githubEndpoints(v.GHE_HOST ?? "github.com", v.GHE_PROTOCOL ?? "https"),
    admins: (v.PREVIEW_BOT_ADMINS ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    ...(v.PREVIEW_ACCESS_GATEWAY ? { gateway: v.PREVIEW_ACCESS_GATEWAY } : {}),
    authUrl: v.PREVIEW_AUTH_URL ?? `${botUrl}/auth/check`,
    botService: { namespace: svcNs, name: svcName, port: Number(port) },
  };
}
