/**
 * Process entry: one HTTP server, its doors — GitHub webhooks (Probot), Slack (Bolt), the preview page and sign-in
 * (when configured), health, metrics — and graceful shutdown. With no GitHub App credentials it still starts, serves /healthz, and walks the user through
 * registering the app (GitHub's manifest flow from app.yml).
 */
import { existsSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { VersionApi } from "@kubernetes/client-node";
import { createNodeMiddleware } from "probot";
import { buildApp, type App, type PartOverrides } from "./deps.js";
import {
  earlyVariable,
  githubConfigured,
  loadEnv,
  secretValues,
  slackConfigured,
  slackUserMap,
  type Env,
} from "./env.js";
import { createSlackApp } from "./handlers/slack.js";
import { createSetupHandler } from "./handlers/setup.js";
import { previewBot } from "./index.js";
import { createLogger, registerSecret, type Logger } from "./logger.js";
import { createMetrics, type Metrics } from "./services/metrics.js";
import { describeError } from "./services/shared/format.js";
import { startWebhookProxy, type WebhookProxy } from "./webhook-proxy.js";

export const WEBHOOKS_PATH = "/api/github/webhooks";

export interface StartOptions {
  env?: Env;
  logger?: Logger;
  /** Parts in place of the ones built from the settings (tests: the fake API server, a faster pace, …). */
  parts?: PartOverrides;
  /** Start the backup and sweep schedules and redeliver missed webhooks (default true; tests turn it off). */
  schedules?: boolean;
}

export interface RunningServer {
  server: Server;
  port: number;
  /** The parts, when the GitHub App is configured. */
  app?: App;
  close(): Promise<void>;
}

type Listener = (req: IncomingMessage, res: ServerResponse) => Promise<boolean> | boolean;

type Readiness = () => Promise<{ ok: boolean; checks: Record<string, string> }>;

export async function startServer(options: StartOptions = {}): Promise<RunningServer> {
  const env = options.env ?? loadEnv();
  const logger = options.logger ?? createLogger({ level: env.LOG_LEVEL });
  for (const s of secretValues(env)) registerSecret(s);
  const metrics = createMetrics();
  const listeners: Listener[] = [];
  let app: App | undefined;
  let ready: Readiness;

  if (!githubConfigured(env)) {
    listeners.push(setupDoor(env, logger));
    ready = async () => ({ ok: false, checks: { github: "not registered: open /probot to register the GitHub App" } });
  } else {
    app = buildApp(env, { logger, metrics, ...(options.parts ? { parts: options.parts } : {}) });
    listeners.push(...(await appDoors(env, logger, app)));
    ready = readiness(app);
  }

  const server = createServer(
    (req, res) =>
      void serve(req, res, { ready, metrics, listeners }).catch((err: unknown) => {
        logger.error({ err }, `${req.method} ${req.url} failed`);
        if (!res.headersSent) res.writeHead(500).end();
      }),
  );
  await listen(server, env);
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : env.PORT;
  let proxy: WebhookProxy | undefined;

  if (!app) {
    logger.warn(setupHint(`http://localhost:${port}`, env));
  } else {
    await app.start({ schedules: options.schedules !== false });
    logger.info(
      `preview-bot listening on port ${port}: GitHub webhooks at ${WEBHOOKS_PATH}${slackConfigured(env) ? ", Slack at /slack/events" : " (Slack not configured)"}`,
    );
    logPage(app, logger);
    if (env.WEBHOOK_PROXY_URL) {
      // Through this server's own webhook door (signature checked), on the port it actually listens on.
      proxy = await startWebhookProxy({
        source: env.WEBHOOK_PROXY_URL,
        target: `http://${loopbackHost(address)}:${port}${WEBHOOKS_PATH}`,
        logger,
      });
    }
  }

  return {
    server,
    port,
    ...(app ? { app } : {}),
    async close() {
      await proxy?.close();
      await new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections();
      await app?.close();
    },
  };
}

/** Listen on HOST:PORT; a port already in use is said plainly (another preview-bot, or another server). */
async function listen(server: Server, env: Env): Promise<void> {
  await new Promise<void>((ok, fail) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE")
        fail(
          new Error(
            `port ${env.PORT} on ${env.HOST} is already in use (another preview-bot, or another server?): stop it, or set PORT to a free port`,
          ),
        );
      else fail(err);
    });
    server.listen(env.PORT, env.HOST, ok);
  });
}

/** With no GitHub App yet: the first-run registration (GitHub's manifest flow from app.yml). */
function setupDoor(env: Env, logger: Logger): Listener {
  return createSetupHandler({
    appYmlPath: resolve(appRoot(), "app.yml"),
    envFile: env.ENV_FILE,
    ...(env.WEBHOOK_PROXY_URL ? { webhookProxyUrl: env.WEBHOOK_PROXY_URL } : {}),
    ...(env.PREVIEW_BOT_URL ? { botUrl: env.PREVIEW_BOT_URL } : {}),
    hasAuthSecret: Boolean(env.PREVIEW_AUTH_SECRET),
    githubHost: env.GHE_HOST ?? "github.com",
    ...(env.GHE_PROTOCOL ? { githubProtocol: env.GHE_PROTOCOL } : {}),
    logger,
  });
}

function setupHint(url: string, env: Env): string {
  return [
    `preview-bot is running on ${url} but has no GitHub App credentials yet.`,
    `Next: open ${url}/probot on this machine and click "Register GitHub App" (creates the app from app.yml and writes APP_ID, PRIVATE_KEY and WEBHOOK_SECRET to ${env.ENV_FILE}),`,
    `Registration is served to loopback only (127.0.0.1, ::1; in a cluster, kubectl port-forward): anyone else gets 403, so nobody on the network can register their own app into this bot.`,
    `or set APP_ID, PRIVATE_KEY_PATH and WEBHOOK_SECRET yourself (see .env.example). Then restart.`,
    env.WEBHOOK_PROXY_URL
      ? `The app will be registered with the webhook proxy (WEBHOOK_PROXY_URL) as its webhook URL.`
      : `GitHub cannot deliver webhooks to localhost: for local development set WEBHOOK_PROXY_URL to a smee.io channel (https://smee.io/new) before registering.`,
  ].join(" ");
}

/** The GitHub webhooks (Probot) and, when configured, Slack (Bolt) on /slack/events. */
async function appDoors(env: Env, logger: Logger, app: App): Promise<Listener[]> {
  // First: a sleeping preview's Host is answered by its wake page, whatever the path.
  const listeners: Listener[] = [app.wakeDoor.listener];
  const github = await createNodeMiddleware(
    previewBot({ intake: app.intake, queue: app.queue, appId: Number(env.APP_ID) }),
    { probot: app.probot, webhooksPath: WEBHOOKS_PATH },
  );
  if (slackConfigured(env)) {
    const slack = createSlackApp({
      signingSecret: env.SLACK_SIGNING_SECRET!,
      botToken: env.SLACK_BOT_TOKEN!,
      intake: app.intake,
      directory: app.directory,
      identities: slackUserMap(env),
      ...(app.backups ? { backups: app.backups.reads } : {}),
      logger,
    });
    listeners.push((req, res) => {
      // Bolt serves /slack/events only; other /slack/ paths fall through to the 404 below.
      if ((req.url ?? "").split("?")[0] !== "/slack/events") return false;
      slack.requestListener(req, res);
      return true;
    });
  }
  // The preview page and the sign-in (/previews, /auth/*), when its settings are there.
  if (app.page.listener) listeners.push(app.page.listener);
  listeners.push(async (req, res) => Boolean(await github(req, res)));
  return listeners;
}

/** Whether the page is on, and if not, what is missing: protected previews are refused until it is. */
function logPage(app: App, logger: Logger): void {
  const { page } = app;
  if (page.settings) {
    const gateway = page.settings.gateway
      ? `protected previews through ${page.settings.gateway}`
      : "no PREVIEW_ACCESS_GATEWAY: access: github previews are refused";
    logger.info(`preview page at ${page.settings.botUrl}/previews (GitHub sign-in; ${gateway})`);
  } else
    logger.warn(
      `preview page and GitHub sign-in off: ${page.off}. Previews with access: github (the default for private repositories) are refused until it is on`,
    );
}

/**
 * /readyz: the cluster answers, with DATABASE_URL the state database does, without it this replica holds the job Lease.
 */
function readiness(app: App): Readiness {
  const kube = app.kubeConfig.makeApiClient(VersionApi);
  return async () => {
    const checks: Record<string, string> = {};
    try {
      const v = await kube.getCode();
      checks.kubernetes = `ok (${v.gitVersion})`;
    } catch (err) {
      checks.kubernetes = `unreachable: ${describeError(err)}`;
    }
    if (app.queueLease) checks.queue = app.queueLease.status();
    checks.renderer = app.renderStatus.state;
    if (app.pool) {
      try {
        await app.pool.query("select 1");
        checks.state = "ok (DATABASE_URL)";
      } catch (err) {
        checks.state = `unreachable: ${describeError(err)}`;
      }
    }
    return { ok: Object.values(checks).every((c) => c.startsWith("ok")), checks };
  };
}

/** One request: health, readiness and metrics first, then the doors in order, else 404. */
async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  s: { ready: Readiness; metrics: Metrics; listeners: Listener[] },
): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method === "GET" && path === "/healthz")
    return void res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
  if (req.method === "GET" && path === "/readyz") {
    const r = await s.ready();
    return void res
      .writeHead(r.ok ? 200 : 503, { "content-type": "application/json" })
      .end(JSON.stringify({ status: r.ok ? "ready" : "not ready", ...r.checks }));
  }
  if (req.method === "GET" && path === "/metrics") {
    return void res
      .writeHead(200, { "content-type": s.metrics.registry.contentType })
      .end(await s.metrics.registry.metrics());
  }
  for (const l of s.listeners) if (await l(req, res)) return;
  if (!res.headersSent) res.writeHead(404, { "content-type": "text/plain" }).end("not found");
}

/** How this process reaches its own listening socket: loopback for a wildcard address, else the address itself. */
function loopbackHost(address: ReturnType<Server["address"]>): string {
  if (!address || typeof address !== "object") return "127.0.0.1";
  if (address.family === "IPv6") return address.address === "::" ? "[::1]" : `[${address.address}]`;
  return address.address === "0.0.0.0" ? "127.0.0.1" : address.address;
}

function appRoot(): string {
  return resolve(fileURLToPath(new URL(".", import.meta.url)), "..");
}

async function main(): Promise<void> {
  const envFile = resolve(earlyVariable("ENV_FILE") ?? ".env");
  if (existsSync(envFile)) process.loadEnvFile(envFile);
  const running = await startServer();
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    // Stop intake, let running jobs finish (bounded by the queue's stop timeout), then exit.
    const timer = setTimeout(() => process.exit(1), 30_000);
    timer.unref();
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
