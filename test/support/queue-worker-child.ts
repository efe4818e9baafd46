/**
 * A queue worker in its own process, for the crash-recovery tests (run with Node's --experimental-transform-types
 * (cluster.ts has parameter properties) and the `.js` → `.ts` resolve hook from test/support/azurite.ts). It records
 * each attempt in `crash_log`; with CRASH=1 it then hangs, to be killed. Two job kinds:
 * - `provision` (when KUBE_URL and ADMIN_URL are set): the preview's database and namespace, the runner's idempotent
 *   steps (test/services/jobs/queue-crash.test.ts);
 * - `work` (payload `{ tag }`): nothing but the record, the queue contract suite's job kind
 *   (test/services/jobs/queue-contract.test.ts).
 *
 * env: QUEUE_URL, QUEUE_NAME (optional), ADMIN_URL (PostgreSQL for the preview databases), KUBE_URL (fake API
 * server), CRASH
 */
import { KubeConfig } from "@kubernetes/client-node";
import pg from "pg";
import { createLogger } from "../../src/logger.js";
import { createCluster } from "../../src/services/cluster/cluster.js";
import { createDatabases } from "../../src/services/data/databases.js";
import { ownershipLabels } from "../../src/services/preview/naming.js";
import { createPgQueue } from "../../src/services/jobs/queue-pg.js";

const env = process.env;
const logger = createLogger({ level: "warn" });
const log = new pg.Pool({ connectionString: env.QUEUE_URL, max: 2 });
await log.query(
  "create table if not exists crash_log (at timestamptz default clock_timestamp(), pid int, job text, phase text)",
);
const record = (job: string, phase: string) =>
  log.query("insert into crash_log (pid, job, phase) values ($1, $2, $3)", [process.pid, job, phase]);

/** With CRASH=1: say so (log and stdout), then never return — killed here, mid-job. */
async function holdIfCrashing(job: string): Promise<void> {
  if (env.CRASH !== "1") return;
  await record(job, "holding");
  process.stdout.write("holding\n");
  await new Promise(() => undefined);
}

const queue = createPgQueue({
  connectionString: env.QUEUE_URL!,
  ...(env.QUEUE_NAME ? { queueName: env.QUEUE_NAME } : {}),
  concurrency: 2,
  leaseSeconds: 10,
  superviseIntervalSeconds: 1,
  logger,
});

const databases = env.ADMIN_URL ? createDatabases({ adminUrl: env.ADMIN_URL, logger }) : undefined;
if (env.KUBE_URL && databases) {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "fake", server: env.KUBE_URL, skipTLSVerify: true }],
    users: [{ name: "fake" }],
    contexts: [{ name: "fake", cluster: "fake", user: "fake" }],
    currentContext: "fake",
  });
  const cluster = createCluster({ kubeConfig: kc, logger });
  queue.register<{ owner: string; repo: string; number: number; database: string; namespace: string }>(
    "provision",
    async (job) => {
      const p = job.payload;
      await record(job.id, "start");
      await databases.provision({ key: job.key, database: p.database, role: `${p.database}_app` });
      await cluster.ensureNamespace(p.namespace, ownershipLabels(p.owner, p.repo, p.number), {
        "preview-bot.dev/repository": `${p.owner}/${p.repo}`,
      });
      await holdIfCrashing(job.id);
      await record(job.id, "done");
    },
  );
}
queue.register<{ tag: string }>("work", async (job) => {
  await record(job.id, "start");
  await holdIfCrashing(job.id);
  await record(job.id, "done");
});
await queue.start();
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void queue
    .stop(2_000)
    .then(() => Promise.all([databases?.close(), log.end()]))
    .then(() => process.exit(0));
});
