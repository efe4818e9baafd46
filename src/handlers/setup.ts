/**
 * First-run door: with no GitHub App credentials the bot still starts, and this serves GitHub's App Manifest flow
 * from app.yml (the Probot convention): GET /probot shows a "Register GitHub App" button; GitHub redirects back to
 * /probot/setup?code=…, which exchanges the code for the new app's id, key and webhook secret and writes them to the
 * env file. Restart, and the bot runs. With WEBHOOK_PROXY_URL set (local development: GitHub cannot reach localhost),
 * the app is registered with that proxy as its webhook URL.
 *
 * The same registration sets up the GitHub sign-in of the preview page (docs/preview-access.md): the manifest carries
 * the callback URL (`<PREVIEW_BOT_URL>/auth/callback`, or this server's own address when PREVIEW_BOT_URL is unset),
 * and the env file gets the App's client id and secret, PREVIEW_BOT_URL to match the callback, and a new
 * PREVIEW_AUTH_SECRET when there is none.
 *
 * Whoever completes the registration decides which GitHub App this bot becomes: someone else's app, registered into
 * it, would receive every webhook and act with the bot's cluster rights. So the registration pages answer only
 * requests from this machine itself (a loopback address, with no proxy's forwarding headers); anyone else gets 403
 * and the log says who tried. In a cluster, reach it with `kubectl port-forward`, or register on a laptop.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseYaml } from "yaml";
import type { Logger } from "../logger.js";

export interface SetupOptions {
  appYmlPath: string;
  envFile: string;
  /** `github.com` or a GitHub Enterprise Server host. */
  githubHost: string;
  githubProtocol?: string;
  /** WEBHOOK_PROXY_URL: registered as the app's webhook URL instead of this server's own. */
  webhookProxyUrl?: string;
  /** PREVIEW_BOT_URL, when set: the page's public origin (its callback URL); else this server's own address. */
  botUrl?: string;
  /** PREVIEW_AUTH_SECRET is set already (else a new one is written). */
  hasAuthSecret?: boolean;
  logger: Logger;
  fetchImpl?: typeof fetch;
}

/** A request from this machine itself: a loopback peer, and no proxy forwarding it from somewhere else. */
function fromThisMachine(req: IncomingMessage): boolean {
  const peer = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
  const loopback = peer === "::1" || /^127\.\d+\.\d+\.\d+$/.test(peer);
  const forwarded = ["forwarded", "x-forwarded-for", "x-real-ip"].some((h) => req.headers[h] !== undefined);
  return loopback && !forwarded;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function baseUrlOf(req: IncomingMessage): string {
  const proto = String(req.headers["x-forwarded-proto"] ?? "http")
    .split(",")[0]!
    .trim();
  const host = String(req.headers["x-forwarded-host"] ?? req.headers.host ?? "localhost:3000");
  return `${proto}://${host}`;
}

/**
 * The app manifest from app.yml; webhooks go to `webhookUrl` (a proxy) when given, else to this server. The page's
 * sign-in returns to `<botUrl>/auth/callback` (GitHub requires the redirect URI to be one of the App's callback URLs).
 */
function buildManifest(
  appYml: string,
  baseUrl: string,
  webhookUrl?: string,
  botUrl: string = baseUrl,
): Record<string, unknown> {
  const manifest = (parseYaml(appYml) ?? {}) as Record<string, unknown>;
  return {
    ...manifest,
    url: manifest.url ?? baseUrl,
    hook_attributes: { url: webhookUrl ?? `${baseUrl}/api/github/webhooks` },
    redirect_url: `${baseUrl}/probot/setup`,
    callback_urls: [`${new URL(botUrl).origin}/auth/callback`],
    public: manifest.public ?? false,
  };
}

const LOCAL_HOST = /^(localhost|127\.0\.0\.1|\[::1\]|[a-z0-9-]+\.localhost)$/;

/** What the env file gets for the page's sign-in, besides the App's id, key and webhook secret. */
function signInSettings(
  app: { client_id?: string; client_secret?: string },
  botUrl: string,
  hasAuthSecret: boolean,
): Record<string, string> {
  const url = new URL(botUrl);
  const local = url.protocol === "http:" && LOCAL_HOST.test(url.hostname);
  return {
    ...(app.client_id ? { GITHUB_CLIENT_ID: app.client_id } : {}),
    ...(app.client_secret ? { GITHUB_CLIENT_SECRET: app.client_secret } : {}),
    PREVIEW_BOT_URL: url.origin,
    // Secure cookies need https; a bot on http://localhost (development) may go without.
    ...(local ? { PREVIEW_AUTH_INSECURE_COOKIES: "true" } : {}),
    ...(hasAuthSecret ? {} : { PREVIEW_AUTH_SECRET: randomBytes(32).toString("base64url") }),
  };
}

/** Set KEY=value lines in an env file, replacing existing keys and keeping everything else. */
function updateEnvFile(path: string, values: Record<string, string>): void {
  const lines = existsSync(path) ? readFileSync(path, "utf8").split("\n") : [];
  const kept = lines.filter((l) => !Object.keys(values).some((k) => l.startsWith(`${k}=`)));
  const added = Object.entries(values).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`,
  );
  writeFileSync(path, [...kept.filter((l, i) => l !== "" || i < kept.length - 1), ...added, ""].join("\n"), {
    mode: 0o600,
  });
}

/** Where GitHub will send webhooks, said on the registration page (a localhost URL is unreachable for GitHub). */
function webhookNote(proxyUrl: string | undefined): string {
  if (proxyUrl)
    return `<p>Webhooks: GitHub sends them to your proxy <code>${escapeHtml(new URL(proxyUrl).host)}</code> (<code>WEBHOOK_PROXY_URL</code>), and preview-bot forwards them here.</p>`;
  return `<p>Webhooks: GitHub cannot deliver to <code>localhost</code>. For local development, create a channel at
<a href="https://smee.io/new">smee.io/new</a>, set <code>WEBHOOK_PROXY_URL</code> to it, restart and register then.
In a cluster, open this page at the bot's public address.</p>`;
}

export function createSetupHandler(opts: SetupOptions) {
  const fetchImpl = opts.fetchImpl ?? fetch;
  const api =
    opts.githubHost === "github.com"
      ? "https://api.github.com"
      : `${opts.githubProtocol ?? "https"}://${opts.githubHost}/api/v3`;
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method !== "GET") return false;
    if (["/", "/probot", "/probot/setup"].includes(url.pathname) && !fromThisMachine(req)) {
      opts.logger.warn(
        { peer: req.socket.remoteAddress, forwardedFor: req.headers["x-forwarded-for"] },
        `refused ${url.pathname} to a client that is not this machine: the GitHub App registration is served to loopback only`,
      );
      res
        .writeHead(403, { "content-type": "text/plain" })
        .end(
          "preview-bot is not registered yet, and registration is served only on this machine (loopback): open it there, or through `kubectl port-forward`.\n",
        );
      return true;
    }
    if (url.pathname === "/") {
      res.writeHead(302, { location: "/probot" }).end();
      return true;
    }
    if (url.pathname === "/probot") {
      const manifest = buildManifest(
        readFileSync(opts.appYmlPath, "utf8"),
        baseUrlOf(req),
        opts.webhookProxyUrl,
        opts.botUrl ?? baseUrlOf(req),
      );
      const org = url.searchParams.get("org");
      const target = `https://${opts.githubHost}/${org && /^[A-Za-z0-9-]+$/.test(org) ? `organizations/${org}/` : ""}settings/apps/new`;
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(`<!doctype html>
<html><head><meta charset="utf-8"><title>preview-bot setup</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 3em auto">
<h1>preview-bot is running, but not registered with GitHub yet</h1>
<p>Register the GitHub App from <code>app.yml</code> (least permissions, only the events preview-bot uses). GitHub
sends you back here, and the app's id, private key, webhook secret and sign-in client (for the preview page) are written to <code>${escapeHtml(opts.envFile)}</code>.
Then restart preview-bot and install the app on your repositories.</p>
<p>For an organization, open <code>/probot?org=&lt;your-org&gt;</code>.</p>
${webhookNote(opts.webhookProxyUrl)}
<form action="${escapeHtml(target)}" method="post">
<input type="hidden" name="manifest" value="${escapeHtml(JSON.stringify(manifest))}">
<button type="submit" style="font-size: 1.2em; padding: .5em 1em">Register GitHub App</button>
</form></body></html>`);
      return true;
    }
    if (url.pathname === "/probot/setup") {
      const code = url.searchParams.get("code") ?? "";
      if (!/^[A-Za-z0-9_-]{1,100}$/.test(code)) {
        res.writeHead(400, { "content-type": "text/plain" }).end("missing or invalid ?code");
        return true;
      }
      const r = await fetchImpl(`${api}/app-manifests/${code}/conversions`, {
        method: "POST",
        headers: { accept: "application/vnd.github+json" },
      });
      if (!r.ok) {
        opts.logger.error(`GitHub refused the app manifest code: ${r.status}`);
        res
          .writeHead(502, { "content-type": "text/plain" })
          .end(`GitHub answered ${r.status} to the manifest conversion; start again at /probot`);
        return true;
      }
      const app = (await r.json()) as {
        id: number;
        pem: string;
        webhook_secret: string;
        html_url: string;
        slug: string;
        client_id?: string;
        client_secret?: string;
      };
      updateEnvFile(opts.envFile, {
        APP_ID: String(app.id),
        PRIVATE_KEY: app.pem,
        WEBHOOK_SECRET: app.webhook_secret,
        ...signInSettings(app, opts.botUrl ?? baseUrlOf(req), opts.hasAuthSecret === true),
      });
      opts.logger.info(
        `GitHub App "${app.slug}" (id ${app.id}) registered; credentials written to ${opts.envFile}. Restart preview-bot.`,
      );
      res.writeHead(302, { location: `${app.html_url}/installations/new` }).end();
      return true;
    }
    return false;
  };
}
