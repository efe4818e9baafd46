/**
 * A queue worker in its own process, for the crash-recovery test (run with Node's --experimental-transform-types
 * (cluster.ts has parameter properties) and the `.js` → `.ts` resolve hook from test/support/azurite.ts). Its one job
 * kind provisions the preview's database and namespace (the runner's idempotent steps) and records each attempt; with
 * CRASH=1 it then hangs, to be killed.
 *
 * env: QUEUE_URL, ADMIN_URL (PostgreSQL for the preview databases), KUBE_URL (fake API server), CRASH
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
const kc = new KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: "fake", server: env.KUBE_URL!, skipTLSVerify: true }],
  users: [{ name: "fake" }],
  contexts: [{ name: "fake", cluster: "fake", user: "fake" }],
  currentContext: "fake",
});
const cluster = createCluster({ kubeConfig: kc, logger });
const databases = createDatabases({ adminUrl: env.ADMIN_URL!, logger });
const log = new pg.Pool({ connectionString: env.QUEUE_URL, max: 2 });
await log.query(
  "create table if not exists crash_log (at timestamptz default clock_timestamp(), pid int, job text, phase text)",
);

const queue = createPgQueue({
  connectionString: env.QUEUE_URL!,
  concurrency: 2,
  leaseSeconds: 10,
  superviseIntervalSeconds: 1,
  logger,
});
queue.register<{ owner: string; repo: string; number: number; database: string; namespace: string }>(
  "provision",
  async (job) => {
    const p = job.payload;
    await log.query("insert into crash_log (pid, job, phase) values ($1, $2, 'start')", [process.pid, job.id]);
    await databases.provision({ key: job.key, database: p.database, role: `${p.database}_app` });
    await cluster.ensureNamespace(p.namespace, ownershipLabels(p.owner, p.repo, p.number), {
      "preview-bot.dev/repository": `${p.owner}/${p.repo}`,
    });
    if (env.CRASH === "1") {
      await log.query("insert into crash_log (pid, job, phase) values ($1, $2, 'holding')", [process.pid, job.id]);
      process.stdout.write("holding\n");
      await new Promise(() => undefined); // killed here, mid-job
    }
    await log.query("insert into crash_log (pid, job, phase) values ($1, $2, 'done')", [process.pid, job.id]);
  },
);
await queue.start();
process.stdout.write("ready\n");
process.on("SIGTERM", () => {
  void queue
    .stop(2_000)
    .then(() => Promise.all([databases.close(), log.end()]))
    .then(() => process.exit(0));
});
