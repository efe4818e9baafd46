/**
 * The whole bot with its preview page on, for the page's end-to-end tests: the real server from the same factory
 * production uses (startServer → buildApp, through e2e-bot.ts), the fake API server as its cluster, and the loopback
 * GitHub (github-oauth-fake.ts) as where visitors sign in and what says who reads which repository. The bot's public
 * URL is `http://bot.localhost:<port>` (every `*.localhost` name is 127.0.0.1; browsers keep Secure cookies there), so
 * the page's settings are the production ones: Secure `__Host-` cookies, PREVIEW_BOT_URL, the App's client.
 */
import { createServer } from "node:net";
import { deriveBypassToken } from "../../src/services/shared/bypass-token.js";
import { startHarness, type Harness } from "./e2e-bot.js";
import { GitHubOAuthFake } from "./github-oauth-fake.js";

const PAGE_SECRET = "page-secret-0123456789abcdefghijklmnopqrstuvwxyz";

export interface PageBot {
  harness: Harness;
  github: GitHubOAuthFake;
  /** `http://bot.localhost:<port>` */
  botUrl: string;
  port: number;
  /** The bypass token the bot derives for a preview's deploy. */
  bypassToken(namespace: string, nonce: string): string;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, "127.0.0.1", ok));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

export async function startPageBot(
  o: {
    /** PREVIEW_ACCESS_GATEWAY (default ingress-nginx). */
    gateway?: string;
    admins?: string[];
    env?: Record<string, string>;
    harness?: Omit<NonNullable<Parameters<typeof startHarness>[0]>, "env" | "parts">;
  } = {},
): Promise<PageBot> {
  const github = await new GitHubOAuthFake().start();
  const port = await freePort();
  const botUrl = `http://bot.localhost:${port}`;
  github.callbackUrls = [`${botUrl}/auth/callback`];
  const harness = await startHarness({
    ...o.harness,
    env: {
      PORT: String(port),
      PREVIEW_BOT_URL: botUrl,
      GITHUB_CLIENT_ID: github.clientId,
      GITHUB_CLIENT_SECRET: github.clientSecret,
      PREVIEW_AUTH_SECRET: PAGE_SECRET,
      PREVIEW_ACCESS_GATEWAY: o.gateway ?? "ingress-nginx",
      PREVIEW_BOT_ADMINS: (o.admins ?? []).join(","),
      ...o.env,
    },
    parts: { signInGitHub: { web: github.url, api: `${github.url}/api/v3` } },
  });
  return {
    harness,
    github,
    botUrl,
    port,
    bypassToken: (namespace, nonce) => deriveBypassToken(PAGE_SECRET, namespace, nonce),
    async close() {
      await harness.stop();
      await github.stop();
    },
  };
}
