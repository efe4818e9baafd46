/**
 * One builder per part of the bot, from the settings (the composition root, deps.ts, puts them together). Each
 * builds and starts nothing, except `startBackupSchedules`, which the root's start step calls.
 *
 * Longer than 300 lines on purpose: one short builder per part (queue, fleet, images, sleep, backups, Slack, …), side by
 * side; split, deps.ts would import from as many files as it has parts.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { CoordinationV1Api, KubeConfig } from "@kubernetes/client-node";
import type pg from "pg";
import { Probot, ProbotOctokit } from "probot";
import { privateKey, variablesOf, type Env } from "./env.js";
import type { Intake } from "./intake/gate.js";
import type { Logger } from "./logger.js";
import {
  createSlackNotifier,
  createSlackWebClient,
  MemoryThreadStore,
  type Notifier,
} from "./services/chat/notifier.js";
import type { createSlackResponder } from "./services/chat/slack-reply.js";
import { PgThreadStore } from "./services/chat/slack-threads.js";
import { QueueLease } from "./services/cluster/queue-lease.js";
import { appJwtSigner, withAppJwt } from "./services/github/app-jwt.js";
import type { GitHubClients } from "./services/github/app-clients.js";
import { createFleet, type Fleet } from "./services/preview/fleet/fleet.js";
import { PgSeatStore } from "./services/preview/fleet/seat-store-pg.js";
import { MemorySeatStore } from "./services/preview/fleet/seat-store.js";
import { evictionRequest, fleetCaps } from "./services/preview/fleet/settings.js";
import { createStandingTeller, createWithdrawer } from "./services/preview/fleet/tell-standing.js";
import { PREVIEW_JOB } from "./services/shared/dispatch.js";
import { previewKey } from "./services/shared/preview.js";
import type { Request } from "./services/shared/request.js";
import { blobStoreFromEnv } from "./services/data/backups/blob-store.js";
import { createBackupService, type BackupService } from "./services/data/backups/service.js";
import { loadTargets } from "./services/data/backups/targets.js";
import { createDatabases } from "./services/data/databases.js";
import { createPgQueue } from "./services/jobs/queue-pg.js";
import { createMemoryQueue, type Queue } from "./services/jobs/queue.js";
import { SlotScheduler, type ScheduleLock } from "./services/jobs/schedule.js";
import type { Metrics } from "./services/metrics.js";
import type { Databases } from "./services/shared/preview.js";
import type { IsolationReport, RenderWorker } from "./services/preview/render/isolation.js";
import { describeError } from "./services/shared/format.js";
import { createSleepControl } from "./services/cluster/sleep.js";
import { openCostSource } from "./services/preview/sleep/opencost.js";
import type { PreviewSleepDeps } from "./services/preview/context.js";
import { defaultCredential } from "./services/data/backups/blob-store.js";
import type { ImageDeps } from "./services/preview/images/image-deps.js";
import {
  loadCredentials,
  parseCredentialSource,
  readSource,
  reloadingRegistryClient,
  type CredentialSource,
  type SecretReader,
} from "./services/registry/credential-sources.js";
import type { Cluster } from "./services/shared/preview.js";
import type { Pace } from "./services/shared/pace.js";
import type { TokenCredential } from "@azure/identity";

/** The GitHub App, from the environment (GitHub Enterprise Server aware). */
export function createProbotApp(env: Env, logger: Logger, Octokit?: typeof ProbotOctokit): Probot {
  const key = privateKey(env)!;
  return new Probot({
    appId: env.APP_ID!,
    // Probot wants the key; its Octokit signs the App's JWTs with a KeyObject parsed here once (app-jwt.ts).
    privateKey: key,
    secret: env.WEBHOOK_SECRET!,
    log: logger.child({ component: "probot" }),
    ...(env.GHE_HOST ? { baseUrl: `${env.GHE_PROTOCOL ?? "https"}://${env.GHE_HOST}/api/v3` } : {}),
    Octokit: withAppJwt(Octokit ?? ProbotOctokit, appJwtSigner(key)),
  });
}

export function loadKubeConfig(env: Env): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault(); // in-cluster service account, else $KUBECONFIG, else ~/.kube/config
  if (env.KUBE_CONTEXT) kc.setCurrentContext(env.KUBE_CONTEXT);
  return kc;
}

/** The targets' schedule (each slot enqueues one backup job, once across replicas) and the missed-backup alarm. */
export function startBackupSchedules(
  backups: BackupService,
  intake: Intake,
  lock: ScheduleLock,
  logger: Logger,
): Array<{ stop(): Promise<void> | void }> {
  if (backups.schedules.length === 0) return [];
  const schedule = new SlotScheduler({
    jobs: backups.schedules,
    lock,
    logger: logger.child({ component: "backups" }),
    run: async (name, slot) => {
      await intake.submit({
        door: "schedule",
        action: "backup",
        subject: { kind: "target", name },
        actor: "schedule",
        args: {},
        trigger: `schedule (${slot.toISOString()})`,
        deliveryId: `backup ${name} ${slot.toISOString()}`,
      });
    },
  });
  schedule.start();
  // A target counts from when this process started scheduling it, so a new one is quiet.
  const since = new Date();
  const missed = setInterval(() => {
    backups.checkMissed(lock, since).catch((err: unknown) => logger.warn({ err }, "missed-backup check failed"));
  }, 10 * 60_000);
  missed.unref();
  return [schedule, { stop: () => clearInterval(missed) }];
}

export function databasesFrom(env: Env, logger: Logger): Databases | undefined {
  if (!env.PREVIEW_DATABASE_URL) return undefined;
  return createDatabases({
    adminUrl: env.PREVIEW_DATABASE_URL,
    ...(env.PREVIEW_DATABASE_SSLMODE
      ? {
          ssl: {
            mode: env.PREVIEW_DATABASE_SSLMODE,
            ...(env.PREVIEW_DATABASE_SSL_CA_FILE ? { ca: readFileSync(env.PREVIEW_DATABASE_SSL_CA_FILE, "utf8") } : {}),
          },
        }
      : {}),
    ...(env.PREVIEW_DATABASE_PUBLIC_HOST ? { publicHost: env.PREVIEW_DATABASE_PUBLIC_HOST } : {}),
    ...(env.PREVIEW_DATABASE_PUBLIC_PORT ? { publicPort: env.PREVIEW_DATABASE_PUBLIC_PORT } : {}),
    ...(env.PREVIEW_DATABASE_PASSWORD_KEY ? { passwordKey: env.PREVIEW_DATABASE_PASSWORD_KEY } : {}),
    templates: env.PREVIEW_DATABASE_TEMPLATES,
    adminExtensions: env.PREVIEW_DATABASE_ADMIN_EXTENSIONS,
    logger: logger.child({ component: "databases" }),
  });
}

/** Slack's Web API client (Slack is off without SLACK_BOT_TOKEN); SLACK_API_URL points it at GovSlack or a proxy. */
export function slackClientFrom(env: Env): ReturnType<typeof createSlackWebClient> | undefined {
  if (!env.SLACK_BOT_TOKEN) return undefined;
  return createSlackWebClient(env.SLACK_BOT_TOKEN, env.SLACK_API_URL ? { slackApiUrl: env.SLACK_API_URL } : {});
}

export function notifierFrom(
  env: Env,
  client: ReturnType<typeof createSlackWebClient>,
  pool: pg.Pool | undefined,
  logger: Logger,
): Notifier {
  return createSlackNotifier({
    client,
    threads: pool ? new PgThreadStore(pool) : new MemoryThreadStore(),
    // A repository's `slack.channel` comes with each message (from its config); this is the fallback.
    channelFor: () => env.SLACK_DEFAULT_CHANNEL,
    ...(env.SLACK_DEFAULT_CHANNEL ? { announceChannel: env.SLACK_DEFAULT_CHANNEL } : {}),
    logger,
  });
}

/**
 * The fleet: seats and the fair line in PostgreSQL with DATABASE_URL (shared by replicas), else in memory. A promoted
 * deploy goes straight onto the queue (it passed the intake when it first came); an eviction goes through the intake.
 */
export function fleetFrom(
  env: Env,
  o: {
    pool: pg.Pool | undefined;
    queue: Queue;
    github: GitHubClients;
    notifier: Notifier | undefined;
    submit(request: Request): Promise<unknown>;
    logger: Logger;
  },
): Fleet {
  return createFleet({
    seats: o.pool ? new PgSeatStore(o.pool) : new MemorySeatStore(),
    caps: fleetCaps(env),
    start: async (job) => {
      await o.queue.enqueue({ kind: PREVIEW_JOB, key: previewKey(job), payload: job });
    },
    tell: createStandingTeller({ github: o.github, ...(o.notifier ? { notifier: o.notifier } : {}) }),
    withdraw: createWithdrawer({ github: o.github }),
    evictAsleep: {
      enabled: env.EVICT_ASLEEP_PREVIEWS,
      destroy: (key) => o.submit(evictionRequest(key)).then(() => {}),
    },
    logger: o.logger,
  });
}

/** Backups, when blob storage is configured. */
export function backupsFrom(
  env: Env,
  o: {
    databases: Databases | undefined;
    metrics: Metrics;
    notifier: Notifier | undefined;
    answerSlack: ReturnType<typeof createSlackResponder> | undefined;
    logger: Logger;
  },
): BackupService | undefined {
  if (!env.AZURE_STORAGE_ACCOUNT_URL && !env.AZURE_STORAGE_CONNECTION_STRING) return undefined;
  const variables = variablesOf(env);
  return createBackupService({
    store: blobStoreFromEnv(variables),
    targets: loadTargets(variables),
    variables,
    ...(env.PREVIEW_DATABASE_URL
      ? {
          previews: {
            adminUrl: env.PREVIEW_DATABASE_URL,
            container: env.PREVIEW_BACKUP_CONTAINER,
            adminExtensions: env.PREVIEW_DATABASE_ADMIN_EXTENSIONS,
          },
        }
      : {}),
    ...(o.databases ? { databases: o.databases } : {}),
    metrics: o.metrics,
    ...(o.notifier ? { announcer: o.notifier } : {}),
    ...(o.answerSlack ? { answerSlack: o.answerSlack } : {}),
    logger: o.logger,
  });
}

/** The Lease for one queue per fleet, in the bot's own namespace; none outside a cluster (one process, then). */
export function queueLeaseFrom(env: Env, kubeConfig: KubeConfig, logger: Logger): QueueLease | undefined {
  const namespace = botNamespace(env);
  if (!namespace) return undefined;
  return new QueueLease({
    api: kubeConfig.makeApiClient(CoordinationV1Api),
    namespace,
    name: "preview-bot-queue",
    identity: `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`,
    logger: logger.child({ component: "queue-lease" }),
  });
}

/** Durable keyed jobs with DATABASE_URL (several replicas, restarts, retries); in memory otherwise. */
export function queueFrom(
  env: Env,
  metrics: Metrics,
  logger: Logger,
  notifier: Notifier | undefined,
  gate?: QueueLease,
): Queue {
  const queueLog = logger.child({ component: "queue" });
  if (!env.DATABASE_URL)
    return createMemoryQueue({ concurrency: env.JOB_CONCURRENCY, logger: queueLog, ...(gate ? { gate } : {}) });
  return createPgQueue({
    connectionString: env.DATABASE_URL,
    concurrency: env.JOB_CONCURRENCY,
    logger: queueLog,
    metrics,
    ...(notifier ? { announcer: notifier } : {}),
  });
}

/**
 * Which isolation renders get here, said once at start-up: at info level when there is some, loudly when there is
 * none (RENDER_ISOLATION=none) or when renders cannot run at all (no sandbox).
 */
export async function probeRenderer(
  worker: RenderWorker,
  workDir: string,
  status: RenderStatus,
  logger: Logger,
): Promise<void> {
  const dir = await mkdtemp(join(workDir, "probe-"));
  try {
    const isolation = await worker.probe(dir);
    status.isolation = isolation;
    status.state = isolation.isolation === "none" ? `NO ISOLATION: ${isolation.detail}` : `ok (${isolation.detail})`;
    if (isolation.isolation === "none")
      logger.error(
        "renders run WITHOUT ISOLATION (RENDER_ISOLATION=none): pull-request content can read this host's files",
      );
    else
      logger.info(`renders run isolated: ${isolation.detail}${isolation.fallback ? ` (${isolation.fallback})` : ""}`);
  } catch (err) {
    status.state = `unavailable: ${describeError(err)}`;
    logger.error({ err }, `renders cannot run: ${describeError(err)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What the start-up probe found out about where renders run (shown by /readyz). */
export interface RenderStatus {
  state: string;
  isolation?: IsolationReport;
}

/**
 * Sleep and wake, when sleeping routes have somewhere to point: PREVIEW_BOT_SERVICE, else `preview-bot:80` in the
 * bot's own namespace (POD_NAMESPACE or the service account's). Outside a cluster with neither, nothing sleeps.
 */
export function sleepFrom(
  env: Env,
  kubeConfig: KubeConfig,
  logger: Logger,
  fetchImpl?: typeof fetch,
): PreviewSleepDeps | undefined {
  const service = env.PREVIEW_BOT_SERVICE ?? (botNamespace(env) ? `${botNamespace(env)}/preview-bot:80` : undefined);
  const m = service ? /^([^/]+)\/([^:]+):(\d+)$/.exec(service) : null;
  if (!m) return undefined;
  const backend = { namespace: m[1]!, name: m[2]!, port: Number(m[3]), clusterDomain: env.CLUSTER_DOMAIN };
  return {
    control: createSleepControl({
      kubeConfig,
      backend,
      protectedNamespaces: env.PROTECTED_NAMESPACES,
      logger,
    }),
    ...(env.PREVIEW_SLEEP_AFTER !== undefined ? { defaultAfterMs: env.PREVIEW_SLEEP_AFTER } : {}),
    wakeTimeoutMs: WAKE_TIMEOUT_MS,
    cost: {
      ...(env.OPENCOST_URL ? { source: openCostSource(env.OPENCOST_URL, fetchImpl) } : {}),
      ...(env.PREVIEW_COST_CPU_HOUR !== undefined ? { cpuHour: env.PREVIEW_COST_CPU_HOUR } : {}),
      ...(env.PREVIEW_COST_MEMORY_GIB_HOUR !== undefined ? { memoryGibHour: env.PREVIEW_COST_MEMORY_GIB_HOUR } : {}),
      currency: env.PREVIEW_COST_CURRENCY,
    },
  };
}

/** How long a wake waits for the workloads before it points the routes back anyway. */
const WAKE_TIMEOUT_MS = 5 * 60_000;

/** The bot's own namespace: POD_NAMESPACE, else the service account's (in a cluster); undefined outside one. */
function botNamespace(env: Env): string | undefined {
  const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
  return (
    env.POD_NAMESPACE ??
    (existsSync(SERVICE_ACCOUNT_NAMESPACE) ? readFileSync(SERVICE_ACCOUNT_NAMESPACE, "utf8").trim() : undefined)
  );
}
/** How long credentials read from files and Secrets are kept before they are read again (rotation). */
const CREDENTIALS_TTL_MS = 600_000;

/**
 * The deploy's image resolution: the Registry boundary with the operator's credentials (PREVIEW_IMAGE_PULL_SECRET,
 * then REGISTRY_CREDENTIALS: a later source wins per registry), read on first use through the cluster for
 * `secret:<name>` sources; Azure Container Registries through the bot's Azure identity (Workload Identity), built
 * only when one is asked. Builds without reading anything.
 */
export function imageDepsFrom(env: Env, cluster: Pick<Cluster, "readObject">, pace: Pace): ImageDeps {
  const namespace = env.BOT_NAMESPACE;
  const readSecret: SecretReader = async (name) => {
    const secret = await cluster.readObject("v1", "Secret", namespace, name);
    if (!secret) return undefined;
    const data = (secret.data ?? {}) as Record<string, unknown>;
    const raw = data[".dockerconfigjson"];
    return {
      ...(typeof secret.type === "string" ? { type: secret.type } : {}),
      ...(typeof raw === "string" ? { dockerconfigjson: Buffer.from(raw, "base64").toString("utf8") } : {}),
    };
  };
  const pull = env.PREVIEW_IMAGE_PULL_SECRET
    ? parseCredentialSource(env.PREVIEW_IMAGE_PULL_SECRET, "PREVIEW_IMAGE_PULL_SECRET")
    : undefined;
  const sources: CredentialSource[] = [
    ...(pull ? [pull] : []),
    ...env.REGISTRY_CREDENTIALS.map((s) => parseCredentialSource(s, "REGISTRY_CREDENTIALS")),
  ];
  let azure: TokenCredential | undefined;
  const lazyAzure: TokenCredential = {
    getToken: (scopes, options) => (azure ??= defaultCredential(variablesOf(env))).getToken(scopes, options),
  };
  const registry = reloadingRegistryClient({
    load: () => loadCredentials(sources, readSecret, namespace),
    ttlMs: CREDENTIALS_TTL_MS,
    azure: { credential: lazyAzure },
  });
  let pullText: { text: Promise<string>; at: number } | undefined;
  const pullSecret = pull
    ? () => {
        if (!pullText || Date.now() - pullText.at > CREDENTIALS_TTL_MS) {
          const entry = { text: readSource(pull, readSecret, namespace), at: Date.now() };
          pullText = entry;
          entry.text.catch(() => {
            if (pullText === entry) pullText = undefined;
          });
        }
        return pullText.text;
      }
    : undefined;
  return {
    registry,
    defaultWaitMs: env.IMAGE_WAIT * 1000,
    pollMs: pace.imagePollMs,
    maxPollMs: pace.imagePollMaxMs,
    ...(pullSecret ? { pullSecret } : {}),
  };
}
