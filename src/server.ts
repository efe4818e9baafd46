/**
 * Process entry: one HTTP server, four doors — GitHub webhooks (Probot), Slack (Bolt), health, metrics — and
 * graceful shutdown. With no GitHub App credentials it still starts, serves /healthz, and walks the user through
 * registering the app (GitHub's manifest flow from app.yml).
 */
import { existsSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { VersionApi } from "@kubernetes/client-node";
import { createNodeMiddleware, type Probot, type ProbotOctokit } from "probot";
import { buildDeps, createProbotApp, type Deps, type DepsOverrides } from "./deps.js";
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
import { createAuthorizer, type PermissionClient } from "./services/github/authz.js";
import { getPull, loadRepoConfig, type Octokit } from "./services/github/reads.js";
import { createMetrics } from "./services/metrics.js";
import { redeliverMissed } from "./services/github/redeliver.js";
import { startWebhookProxy, type WebhookProxy } from "./webhook-proxy.js";

export const WEBHOOKS_PATH = "/api/github/webhooks";

export interface StartOptions extends DepsOverrides {
  env?: Env;
  logger?: Logger;
  /** Octokit class for Probot (tests disable retries and throttling). */
  Octokit?: typeof ProbotOctokit;
  /** Start the backup and sweep schedules and redeliver missed webhooks (default true; tests turn it off). */
  background?: boolean;
}

export interface RunningServer {
  server: Server;
  port: number;
  deps?: Deps;
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
  let deps: Deps | undefined;
  let probot: Probot | undefined;
  let ready: Readiness;

  if (!githubConfigured(env)) {
    listeners.push(setupDoor(env, logger));
    ready = async () => ({ ok: false, checks: { github: "not registered: open /probot to register the GitHub App" } });
  } else {
    probot = createProbotApp(env, logger, options.Octokit);
    deps = buildDeps(env, logger, probot, metrics, options);
    // Without DATABASE_URL, only the replica holding the job Lease runs jobs: tried once before serving (a lone replica is
    // ready at once), but an API server that does not answer must not keep the doors closed.
    if (deps.queueLease)
      await Promise.race([deps.queueLease.start(), new Promise((r) => setTimeout(r, 10_000).unref())]);
    listeners.push(...(await appDoors(env, logger, probot, deps)));
    ready = readiness(deps);
  }

  const server = createServer(
    (req, res) =>
      void serve(req, res, { ready, metrics, listeners }).catch((err: unknown) => {
        logger.error({ err }, `${req.method} ${req.url} failed`);
        if (!res.headersSent) res.writeHead(500).end();
      }),
  );
  await new Promise<void>((ok) => server.listen(env.PORT, env.HOST, ok));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : env.PORT;
  let proxy: WebhookProxy | undefined;

  if (!probot || !deps) {
    logger.warn(setupHint(`http://localhost:${port}`, env));
  } else {
    if (options.background !== false) {
      deps.startSchedules();
      // GitHub does not retry failed deliveries: ask for the recent failures and redeliver them (never throws).
      const lock = deps.scheduleLock;
      void probot.auth().then((octokit) => redeliverMissed({ octokit: octokit as Octokit, logger, lock }));
    }
    logger.info(
      `preview-bot listening on port ${port}: GitHub webhooks at ${WEBHOOKS_PATH}${slackConfigured(env) ? ", Slack at /slack/events" : " (Slack not configured)"}`,
    );
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
    ...(deps ? { deps } : {}),
    async close() {
      await proxy?.close();
      await new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections();
      await deps?.close();
    },
  };
}

/** With no GitHub App yet: the first-run registration (GitHub's manifest flow from app.yml). */
function setupDoor(env: Env, logger: Logger): Listener {
  return createSetupHandler({
    appYmlPath: resolve(appRoot(), "app.yml"),
    envFile: env.ENV_FILE,
    ...(env.WEBHOOK_PROXY_URL ? { webhookProxyUrl: env.WEBHOOK_PROXY_URL } : {}),
    githubHost: env.GHE_HOST ?? "github.com",
    ...(env.GHE_PROTOCOL ? { githubProtocol: env.GHE_PROTOCOL } : {}),
    logger,
  });
}

function setupHint(url: string, env: Env): string {
  return [
    `preview-bot is running on ${url} but has no GitHub App credentials yet.`,
    `Next: open ${url}/probot and click "Register GitHub App" (creates the app from app.yml and writes APP_ID, PRIVATE_KEY and WEBHOOK_SECRET to ${env.ENV_FILE}),`,
    `or set APP_ID, PRIVATE_KEY_PATH and WEBHOOK_SECRET yourself (see .env.example). Then restart.`,
    env.WEBHOOK_PROXY_URL
      ? `The app will be registered with the webhook proxy (WEBHOOK_PROXY_URL) as its webhook URL.`
      : `GitHub cannot deliver webhooks to localhost: for local development set WEBHOOK_PROXY_URL to a smee.io channel (https://smee.io/new) before registering.`,
  ].join(" ");
}

/** The GitHub webhooks (Probot) and, when configured, Slack (Bolt) on /slack/events. */
async function appDoors(env: Env, logger: Logger, probot: Probot, deps: Deps): Promise<Listener[]> {
  const listeners: Listener[] = [];
  const github = await createNodeMiddleware(
    previewBot({
      enqueue: deps.enqueue,
      enqueueComment: deps.enqueueComment,
      heads: deps.heads,
      appId: Number(env.APP_ID),
    }),
    { probot, webhooksPath: WEBHOOKS_PATH },
  );
  if (slackConfigured(env)) {
    const slack = createSlackApp({
      signingSecret: env.SLACK_SIGNING_SECRET!,
      botToken: env.SLACK_BOT_TOKEN!,
      dispatcher: deps.dispatcher,
      directory: deps.directory,
      identities: slackUserMap(env),
      ...(deps.backups && deps.databases ? { backups: previewBackupCatalog(deps) } : {}),
      ...(deps.backupTargets ? { targets: deps.backupTargets } : {}),
      // Slack authorization = GitHub authorization: the repository's own `permissions` policy and the fork rule.
      authorizer: createAuthorizer({
        clientFor: async (owner, repo) =>
          (await installationOctokit(probot, owner, repo)) as unknown as PermissionClient,
        policyFor: async (owner, repo) => {
          const config = await loadRepoConfig(await installationOctokit(probot, owner, repo), owner, repo);
          return config
            ? { enrolled: true, ...(config.ok ? { policy: config.config.permissions } : {}) }
            : { enrolled: false };
        },
        isForkPr: async (owner, repo, number) =>
          (await getPull(await installationOctokit(probot, owner, repo), owner, repo, number)).fork,
      }),
      pulls: async (owner, repo, number) =>
        getPull(await installationOctokit(probot, owner, repo), owner, repo, number),
      admins: env.PREVIEW_BOT_ADMINS,
      logger,
    });
    listeners.push((req, res) => {
      // Bolt serves /slack/events only; other /slack/ paths fall through to the 404 below.
      if ((req.url ?? "").split("?")[0] !== "/slack/events") return false;
      slack.requestListener(req, res);
      return true;
    });
  }
  listeners.push(async (req, res) => Boolean(await github(req, res)));
  return listeners;
}

/** /readyz: the cluster answers, with DATABASE_URL the state database does, without it this replica holds the job Lease. */
function readiness(deps: Deps): Readiness {
  const kube = deps.kubeConfig.makeApiClient(VersionApi);
  return async () => {
    const checks: Record<string, string> = {};
    try {
      const v = await kube.getCode();
      checks.kubernetes = `ok (${v.gitVersion})`;
    } catch (err) {
      checks.kubernetes = `unreachable: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (deps.queueLease) checks.queue = deps.queueLease.status();
    if (deps.pool) {
      try {
        await deps.pool.query("select 1");
        checks.state = "ok (DATABASE_URL)";
      } catch (err) {
        checks.state = `unreachable: ${err instanceof Error ? err.message : String(err)}`;
      }
    }
    return { ok: Object.values(checks).every((c) => c.startsWith("ok")), checks };
  };
}

/** One request: health, readiness and metrics first, then the doors in order, else 404. */
async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  s: { ready: Readiness; metrics: ReturnType<typeof createMetrics>; listeners: Listener[] },
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

/** `/preview backups owner/repo#N` in Slack: the backups of that preview's database(s). */
function previewBackupCatalog(deps: Deps) {
  return {
    async list(k: { owner: string; repo: string; number: number }) {
      const key = `${k.owner}/${k.repo}#${k.number}`;
      const out: Array<{ name: string; createdAt?: string; sizeBytes?: number }> = [];
      for (const db of (await deps.databases!.list()).filter((d) => d.key === key)) {
        for (const b of await deps.backups!.list(db))
          out.push({
            name: b.name,
            createdAt: b.time.toISOString(),
            ...(b.size !== undefined ? { sizeBytes: b.size } : {}),
          });
      }
      return out;
    },
  };
}

async function installationOctokit(probot: Probot, owner: string, repo: string): Promise<Octokit> {
  const app = (await probot.auth()) as Octokit;
  const { data } = await app.rest.apps.getRepoInstallation({ owner, repo });
  return (await probot.auth(data.id)) as Octokit;
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
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Stop intake, let running jobs finish (bounded by the queue's stop timeout), then exit.
    const timer = setTimeout(() => process.exit(1), 30_000);
    timer.unref();
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
    void signal;
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
