/**
 * The page's and the sign-in's settings, from the bot's settings (env.ts validates each variable; this decides whether
 * they add up). The page is on when PREVIEW_BOT_URL, GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET and PREVIEW_AUTH_SECRET
 * are all set and agree with each other. Otherwise it is off, with the reason naming every missing or conflicting
 * variable: the bot still starts (the composition root logs the reason), the page and /auth/* are not served, and the
 * render refuses `access: github` previews with that reason (a protected preview is never left public).
 */
import type { Env } from "../../env.js";
import { githubEndpoints, type GitHubEndpoints } from "../../services/github/user-auth.js";
import type { AccessGateway, AccessSettings } from "../../services/preview/render/preview-access.js";

export type { AccessGateway };

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

/** The page's settings, or why it is off. */
export type PageSetup = { on: true; settings: PageSettings } | { on: false; reason: string };

const LOCAL_HOST = /^(localhost|127\.0\.0\.1|\[::1\]|[a-z0-9-]+\.localhost)$/;

const REQUIRED = ["PREVIEW_BOT_URL", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET", "PREVIEW_AUTH_SECRET"] as const;

/** Whether the page can run with these settings, and with what; `github` replaces GitHub's URLs (tests). */
export function pageSetup(env: Env, github?: GitHubEndpoints): PageSetup {
  const missing = REQUIRED.filter((n) => !env[n]);
  if (missing.length === REQUIRED.length)
    return { on: false, reason: `not configured (set ${REQUIRED.join(", ")}; see docs/preview-access.md)` };
  const problems = missing.map((n) => `${n} is missing`);
  if (env.PREVIEW_BOT_URL) {
    const url = new URL(env.PREVIEW_BOT_URL);
    const local = url.protocol === "http:" && LOCAL_HOST.test(url.hostname);
    if (env.PREVIEW_AUTH_INSECURE_COOKIES && !local)
      problems.push(
        "PREVIEW_AUTH_INSECURE_COOKIES is only for a bot on http://localhost (development); cookies are Secure everywhere else",
      );
    // Browsers keep Secure cookies on http://localhost (a secure context); anywhere else http would lose them.
    if (url.protocol === "http:" && !local)
      problems.push("PREVIEW_BOT_URL must be https (Secure cookies); http only for a bot on localhost (development)");
  }
  if (problems.length) return { on: false, reason: problems.join("; ") };
  const botUrl = new URL(env.PREVIEW_BOT_URL!).origin;
  const [svcNs, rest] = (env.PREVIEW_BOT_SERVICE ?? `${env.BOT_NAMESPACE}/preview-bot:80`).split("/") as [
    string,
    string,
  ];
  const [svcName, port] = rest.split(":") as [string, string];
  return {
    on: true,
    settings: {
      botUrl,
      clientId: env.GITHUB_CLIENT_ID!,
      clientSecret: env.GITHUB_CLIENT_SECRET!,
      secrets: env
        .PREVIEW_AUTH_SECRET!.split(",")
        .map((s) => s.trim())
        .filter(Boolean),
      secureCookies: !env.PREVIEW_AUTH_INSECURE_COOKIES,
      sessionTtlMs: env.PREVIEW_AUTH_SESSION_TTL * 1000,
      accessTtlMs: env.PREVIEW_AUTH_ACCESS_TTL * 1000,
      github: github ?? githubEndpoints(env.GHE_HOST ?? "github.com", env.GHE_PROTOCOL ?? "https"),
      admins: env.PREVIEW_BOT_ADMINS,
      ...(env.PREVIEW_ACCESS_GATEWAY ? { gateway: env.PREVIEW_ACCESS_GATEWAY } : {}),
      authUrl: env.PREVIEW_AUTH_URL ?? `${botUrl}/auth/check`,
      botService: { namespace: svcNs, name: svcName, port: Number(port) },
    },
  };
}

/** What the render needs to protect a preview, or why it cannot (the page being off). */
export function accessSettingsOf(setup: PageSetup): AccessSettings | { unavailable: string } {
  if (!setup.on) return { unavailable: `the bot's GitHub sign-in (the preview page) is off: ${setup.reason}` };
  const s = setup.settings;
  return {
    ...(s.gateway ? { gateway: s.gateway } : {}),
    botUrl: s.botUrl,
    authUrl: s.authUrl,
    botService: s.botService,
  };
}
