/**
 * The preview page door on a real loopback server, with the loopback GitHub (github-oauth-fake.ts) as its GitHub
 * (reached through the Enterprise Server host setting, so the GHES URLs are what is exercised), and a small HTTP
 * client that behaves like a browser for what matters here: a cookie jar per host (cookies ignore ports, as in
 * browsers), redirects followed by hand, and any Host header (every name is served on 127.0.0.1).
 */
import { createServer, request, type Server } from "node:http";
import { pino } from "pino";
import { createPageListener } from "../../src/handlers/page/router.js";
import type { PageData, PreviewForHost } from "../../src/services/shared/page-data.js";
import { loadEnv } from "../../src/env.js";
import { pageSetup, type PageSettings } from "../../src/handlers/page/settings.js";
import { GitHubOAuthFake } from "./github-oauth-fake.js";

export interface PageHarness {
  /** `http://bot.localhost:<port>` */
  botUrl: string;
  port: number;
  github: GitHubOAuthFake;
  settings: PageSettings;
  server: Server;
  close(): Promise<void>;
}

export async function startPageHarness(p: {
  data: PageData;
  previewForHost: PreviewForHost;
  secureCookies?: boolean;
  admins?: string[];
  now?: () => number;
  accessTtlSeconds?: number;
}): Promise<PageHarness> {
  const github = await new GitHubOAuthFake().start();
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as { port: number }).port;
  const botUrl = `http://bot.localhost:${port}`;
  github.callbackUrls = [`${botUrl}/auth/callback`];
  const setup = pageSetup(
    loadEnv({
      PREVIEW_BOT_URL: botUrl,
      GITHUB_CLIENT_ID: github.clientId,
      GITHUB_CLIENT_SECRET: github.clientSecret,
      PREVIEW_AUTH_SECRET: "test-secret-0123456789abcdefghijklmnopqrstuvwxyz",
      PREVIEW_AUTH_INSECURE_COOKIES: "true",
      PREVIEW_AUTH_ACCESS_TTL: String(p.accessTtlSeconds ?? 120),
      GHE_HOST: github.host,
      GHE_PROTOCOL: "http",
      PREVIEW_BOT_ADMINS: (p.admins ?? []).join(","),
    }),
  );
  if (!setup.on) throw new Error(`page off: ${setup.reason}`);
  const loaded = setup.settings;
  // Secure cookies on http://*.localhost: browsers accept them there (a secure context), so tests can check the flag.
  const settings = { ...loaded, secureCookies: p.secureCookies ?? true };
  const listener = createPageListener({
    settings,
    data: p.data,
    previewForHost: p.previewForHost,
    logger: pino({ level: "silent" }),
    ...(p.now ? { now: p.now } : {}),
  });
  server.on("request", (req, res) => {
    listener(req, res).then(
      (handled) => void (handled || res.writeHead(404).end("not found")),
      (err: unknown) => void res.writeHead(500).end(String(err)),
    );
  });
  return {
    botUrl,
    port,
    github,
    settings,
    server,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      await github.stop();
    },
  };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Set-Cookie lines of this answer. */
  setCookies: string[];
}

/** A visitor's browser, as far as cookies and redirects go. */
export class Browser {
  /** hostname → cookie name → value */
  readonly jar = new Map<string, Map<string, string>>();
  readonly setCookieLines: string[] = [];

  constructor(private readonly portOf: (url: URL) => number) {}

  cookieHeader(host: string): string {
    return [...(this.jar.get(host) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  store(host: string, lines: string[]): void {
    for (const line of lines) {
      this.setCookieLines.push(line);
      const [pair, ...attrs] = line.split(";").map((s) => s.trim());
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      const jar = this.jar.get(host) ?? new Map<string, string>();
      this.jar.set(host, jar);
      if (attrs.some((a) => /^max-age=0$/i.test(a))) jar.delete(name);
      else jar.set(name, value);
    }
  }

  /** One request to `url` (connecting to 127.0.0.1), with this browser's cookies for its host. */
  async fetch(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string; jar?: boolean } = {},
  ): Promise<Reply> {
    const u = new URL(url);
    const cookie = init.jar === false ? "" : this.cookieHeader(u.hostname);
    const reply = await new Promise<Reply>((ok, fail) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: this.portOf(u),
          method: init.method ?? "GET",
          path: `${u.pathname}${u.search}`,
          headers: { host: u.host, accept: "text/html", ...(cookie ? { cookie } : {}), ...init.headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const sc = res.headers["set-cookie"] ?? [];
            ok({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString("utf8"),
              setCookies: sc,
            });
          });
        },
      );
      req.on("error", fail);
      req.end(init.body);
    });
    if (init.jar !== false) this.store(u.hostname, reply.setCookies);
    return reply;
  }

  /**
   * Follow redirects from `url` until an answer that is not one, or a redirect to a URL `stop` says to leave alone
   * (returned as that redirect, with `url` set to where it points).
   */
  async navigate(url: string, stop: (u: URL) => boolean = () => false, maxHops = 10): Promise<Reply & { url: string }> {
    let at = url;
    for (let i = 0; i < maxHops; i++) {
      const r = await this.fetch(at);
      if (r.status < 300 || r.status >= 400 || !r.headers.location) return { ...r, url: at };
      const next = new URL(String(r.headers.location), at);
      if (stop(next)) return { ...r, url: next.toString() };
      at = next.toString();
    }
    throw new Error(`more than ${maxHops} redirects from ${url}`);
  }
}

/** Where a test's page is served: this harness, or the whole bot (page-bot.ts). */
export type PageDoor = Pick<PageHarness, "botUrl" | "port" | "github">;

/** The harness's browser: the bot and GitHub on their ports. */
export function browserFor(h: PageDoor, extraPorts: Record<string, number> = {}): Browser {
  const github = new URL(h.github.url);
  return new Browser((u) => {
    if (u.host === github.host) return Number(github.port);
    return extraPorts[u.hostname] ?? h.port;
  });
}

/** Sign `login` in on the bot through GitHub's authorize page (the form the fake shows), landing where `rd` says. */
export async function signIn(
  b: Browser,
  h: PageDoor,
  login: string,
  rd = "/previews",
  stop: (u: URL) => boolean = () => false,
): Promise<Reply & { url: string }> {
  const toGitHub = await b.fetch(`${h.botUrl}/auth/signin?rd=${encodeURIComponent(rd)}`);
  if (toGitHub.status !== 302) throw new Error(`sign-in did not redirect to GitHub: ${toGitHub.status}`);
  const authorize = new URL(String(toGitHub.headers.location));
  const page = await b.fetch(authorize.toString());
  const fields = new URLSearchParams();
  for (const m of page.body.matchAll(/name="([^"]+)" value="([^"]*)"/g))
    fields.set(
      m[1]!,
      m[2]!.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))),
    );
  fields.delete("deny"); // the Cancel button's value: a form post carries only the button pressed
  fields.set("login", login);
  const back = await b.fetch(`${h.github.url}/login/oauth/authorize`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: fields.toString(),
  });
  return b.navigate(String(back.headers.location), stop);
}
