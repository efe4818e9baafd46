#!/usr/bin/env node
/**
 * `npm run bench -- webhooks`: (1) webhook acknowledgement latency of the real one-port server (dist/server.js,
 * embedded queue, job handler stubbed so only the door is measured) under a burst of 500 signed deliveries, as a
 * ratio to a bare Probot app that does nothing, same machine, same run (target ≤ 1.5×); the cost the PostgreSQL
 * queue adds to an acknowledgement (its enqueue: dedupe row + pg-boss send in one transaction) under the same burst;
 * (2) a 200-PR storm through the real runner (dist/) against the project's fake Kubernetes API server: time until
 * every preview is ready, API calls per deploy, peak concurrency.
 *
 * The fake API server, fake GitHub and PostgreSQL starter are TypeScript in test/support/; this script re-runs
 * itself under Node's --experimental-transform-types (they use parameter properties) with a `.js` → `.ts`
 * resolve hook to import them. The bot itself comes from dist/ (`npm run bench` builds first).
 */
import { generateKeyPairSync } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchScript } from "./support/script.mjs";
import { signedBurst } from "./support/deliveries.mjs";

const { dist, support } = benchScript(import.meta.url, {}, { tools: true });

const DELIVERIES = 500;
const IN_FLIGHT = 50;
const PRS = 200;

const { Probot, ProbotOctokit, createNodeMiddleware } = await import("probot");
const { pino } = await import("pino");
const { startServer } = await import(dist("server.js"));
const { loadEnv } = await import(dist("env.js"));
const { createLogger } = await import(dist("logger.js"));
const { examplePayload, fakeGitHub } = await import(support("github-fake.ts"));
// As test/support/github.ts has them (that file imports @jest/globals): retries and throttling off.
const TestOctokit = ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } });
const silentLogger = pino({ level: "silent" });

const SECRET = "bench-secret";
const privateKey = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs1", format: "pem" },
}).privateKey;
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const ms = (x) => `${x.toFixed(2)} ms`;

function bodies() {
  return Array.from({ length: DELIVERIES }, (_, i) => {
    const payload = examplePayload("pull_request", "synchronize");
    payload.installation = { id: 2, node_id: "x" };
    payload.number = payload.pull_request.number = 1 + (i % 100);
    return JSON.stringify(payload);
  });
}

/** POST every body, IN_FLIGHT at a time; per-request latency (ms). */
/** Signed `pull_request` deliveries of these bodies, IN_FLIGHT at a time; per-request latency in ms. */
const burst = (url, list) =>
  signedBurst(
    url,
    list.map((body) => ({ event: "pull_request", body })),
    IN_FLIGHT,
    SECRET,
  );

async function bareProbot(list) {
  const probot = new Probot({ appId: 123, privateKey, secret: SECRET, log: silentLogger });
  const mw = await createNodeMiddleware((app) => app.on("pull_request", async () => {}), {
    probot,
    webhooksPath: "/api/github/webhooks",
  });
  const server = createServer((req, res) => void mw(req, res));
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}/api/github/webhooks`;
  await burst(url, list.slice(0, 50)); // warm-up
  const times = await burst(url, list);
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  return times;
}

async function previewBot(list) {
  const env = loadEnv({
    PORT: "0",
    HOST: "127.0.0.1",
    APP_ID: "123",
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: SECRET,
    LOG_LEVEL: "silent",
  });
  const bot = await startServer({ env, logger: createLogger({ level: "silent" }), parts: { Octokit: TestOctokit } });
  let jobs = 0;
  bot.app.queue.register("preview", async () => void jobs++); // measure the door, not the runner
  const url = `http://127.0.0.1:${bot.port}/api/github/webhooks`;
  await burst(url, list.slice(0, 50));
  const times = await burst(url, list);
  await bot.app.idle();
  await bot.close();
  return { times, jobs };
}

async function pgEnqueue() {
  let pgServer;
  try {
    const { startPostgres } = await import(support("postgres.ts"));
    pgServer = await startPostgres();
  } catch (err) {
    return { skipped: `no PostgreSQL server binaries (${err.message.split("\n")[0]})` };
  }
  const { createPgQueue } = await import(dist("services/jobs/queue-pg.js"));
  const queue = createPgQueue({ connectionString: pgServer.url, work: false });
  await queue.start();
  const times = [];
  let next = 0;
  const worker = async () => {
    while (next < DELIVERIES) {
      const i = next++;
      const t = performance.now();
      await queue.enqueue({
        kind: "preview",
        key: `acme/web#${i % 100}`,
        payload: { i },
        dedupeId: crypto.randomUUID(),
        supersedes: true,
      });
      times.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  await queue.stop(1000);
  pgServer.stop();
  return { times };
}

async function storm() {
  const nock = (await import("nock")).default;
  const { c: tarCreate } = await import("tar");
  const { startFakeKube } = await import(support("fake-kube/index.ts"));
  const { createCluster } = await import(dist("services/cluster/cluster.js"));
  const { createRunner } = await import(dist("services/preview/runner.js"));
  const { createRenderer } = await import(dist("services/preview/render/index.js"));
  const { renderWorkerFrom } = await import(dist("services/preview/render/settings.js"));
  const { imageDepsFrom } = await import(dist("parts.js"));
  const { DEFAULT_PACE } = await import(dist("services/shared/pace.js"));
  const { createReporter } = await import(dist("services/github/reporter.js"));
  const { createMemoryQueue } = await import(dist("services/jobs/queue.js"));
  const { guardrailSettings } = await import(dist("services/preview/guardrails/namespace-guardrails.js"));
  const logger = createLogger({ level: "silent" });
  const workDir = mkdtempSync(join(tmpdir(), "bench-storm-"));
  // As the bot's start does: as root, the sandbox renders as an unprivileged uid that must pass through this directory.
  if (process.getuid?.() === 0) chmodSync(workDir, 0o711);
  nock.disableNetConnect();
  nock.enableNetConnect((h) => h.startsWith("127.0.0.1"));
  const gh = fakeGitHub({
    owner: "acme",
    repo: "web",
    installationId: 2,
    config: `manifests:\n  path: deploy\nnames:\n  namespace: "web-pr-{number}"\nhealth:\n  timeout: 30s\n`,
  });
  const sha = "a".repeat(40);
  const top = join(workDir, "src", `acme-web-${sha.slice(0, 7)}`, "deploy");
  mkdirSync(top, { recursive: true });
  writeFileSync(
    join(top, "web.yaml"),
    `apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\nspec:\n  replicas: 1\n  selector: { matchLabels: { app: web } }\n  template:\n    metadata: { labels: { app: web } }\n    spec:\n      containers: [{ name: web, image: ghcr.io/acme/web:latest }]\n---\napiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec:\n  selector: { app: web }\n  ports: [{ port: 80 }]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings }\ndata: { mode: preview }\n`,
  );
  const chunks = [];
  for await (const c of tarCreate({ gzip: true, cwd: join(workDir, "src"), portable: true }, [
    `acme-web-${sha.slice(0, 7)}`,
  ]))
    chunks.push(c);
  gh.state.tarballs.set(sha, Buffer.concat(chunks));
  for (let n = 1; n <= PRS; n++)
    gh.state.pulls.set(n, {
      number: n,
      title: `PR ${n}`,
      branch: `b${n}`,
      sha,
      state: "open",
      fork: false,
      draft: false,
      labels: [],
      author: "acme",
      files: [],
    });

  const fake = await startFakeKube({ namespaceFinalizeMs: 20, controllerTickMs: 20 });
  const cluster = createCluster({ kubeConfig: fake.kubeConfig(), pollMs: 100, logger });
  const runner = createRunner({
    cluster,
    renderer: createRenderer({
      worker: renderWorkerFrom(loadEnv({ PATH: process.env.PATH }), logger),
      logger,
      toolPath: process.env.PATH,
    }),
    github: {
      octokitFor: async () => new TestOctokit({ auth: { token: "ghs_bench" }, log: silentLogger }),
      reporterFor: (octokit, owner, repo) => createReporter({ octokit, owner, repo, logger }),
    },
    logger,
    workDir,
    namespaceDeleteTimeoutMs: 5000,
    guardrails: guardrailSettings(loadEnv({})),
    images: imageDepsFrom(loadEnv({}), cluster, DEFAULT_PACE),
  });
  const queue = createMemoryQueue({ concurrency: 8 });
  await queue.start();
  let inFlight = 0;
  let peak = 0;
  const states = new Map();
  queue.register("preview", async (job, signal) => {
    peak = Math.max(peak, ++inFlight);
    try {
      const report = await runner.deploy(job.payload, signal);
      states.set(job.payload.number, report?.state ?? "skipped");
    } finally {
      inFlight--;
    }
  });
  const before = fake.requests.length;
  const t0 = performance.now();
  for (let n = 1; n <= PRS; n++) {
    await queue.enqueue({
      kind: "preview",
      key: `acme/web#${n}`,
      payload: {
        installationId: 2,
        owner: "acme",
        repo: "web",
        number: n,
        action: "deploy",
        source: "webhook",
        trigger: "bench",
      },
      supersedes: true,
    });
  }
  await queue.onIdle();
  const seconds = (performance.now() - t0) / 1000;
  const ready = [...states.values()].filter((s) => s === "success").length;
  const calls = fake.requests.length - before;
  await queue.stop();
  await fake.stop();
  nock.cleanAll();
  nock.restore();
  rmSync(workDir, { recursive: true, force: true });
  return { seconds, ready, calls, peak, concurrency: 8 };
}

const list = bodies();
// Bare before and after the bot, keeping the faster run: neither side pays for being first.
const bareRuns = [await bareProbot(list)];
const bot = await previewBot(list);
bareRuns.push(await bareProbot(list));
const bare = bareRuns.sort((a, b) => pct(a, 50) - pct(b, 50))[0];
const pgq = await pgEnqueue();
const s = await storm();

const rows = [
  ["| measurement | p50 | p99 | note |", "|---|---|---|---|"],
  [
    `| bare Probot app, ack | ${ms(pct(bare, 50))} | ${ms(pct(bare, 99))} | ${DELIVERIES} signed deliveries, ${IN_FLIGHT} in flight |`,
  ],
  [
    `| preview-bot server (embedded queue), ack | ${ms(pct(bot.times, 50))} | ${ms(pct(bot.times, 99))} | ${bot.jobs} jobs run (incl. 50 warm-up), handler stubbed |`,
  ],
  [
    `| ratio preview-bot / bare | ${(pct(bot.times, 50) / pct(bare, 50)).toFixed(2)}× | ${(pct(bot.times, 99) / pct(bare, 99)).toFixed(2)}× | target ≤ 1.5× |`,
  ],
  pgq.times
    ? [
        `| PostgreSQL queue enqueue (added to an ack) | ${ms(pct(pgq.times, 50))} | ${ms(pct(pgq.times, 99))} | dedupe + supersede + send, one transaction, ${IN_FLIGHT} at once |`,
      ]
    : [`| PostgreSQL queue enqueue | – | – | skipped: ${pgq.skipped} |`],
].flat();
console.log(rows.join("\n"));
console.log(
  `\n| 200-PR storm (fake API server) | value |\n|---|---|\n| all previews ready | ${s.seconds.toFixed(1)} s (${s.ready}/${PRS} ready) |\n| API calls per deploy | ${(s.calls / PRS).toFixed(1)} |\n| peak concurrent deploys | ${s.peak} (queue concurrency ${s.concurrency}) |`,
);
process.exit(0);
