#!/usr/bin/env node
/**
 * `npm run bench -- github`: preview-bot at GitHub's pace, through the real one-port server (dist/server.js) with
 * Probot's own Octokit — throttling on, as in production: writes ≥ 1 s apart per installation, comments ≥ 3 s — and
 * GitHub's REST API on the project's fake (test/support/github-fake.ts) answering after ~150 ms.
 *
 * Rows:
 *  - `comment command ack`: p50/p99 acknowledgement of signed `issue_comment` deliveries (`/preview status` by a
 *    writer), as a ratio to a bare Probot app that does nothing, same run. The comment jobs run for real behind it.
 *  - `GitHub writes per deploy`: counted on the wire (throttling off here: only the count matters) for a new commit,
 *    the next commit, a redeploy that changes nothing, and a teardown.
 *  - `200-PR storm with write pacing`: 200 PRs opened at once against the fake Kubernetes API server (queue
 *    concurrency 8); the time until the last PR's check run is completed, and until every write has landed, for
 *    one installation and for the same 200 PRs across 10 installations.
 *
 * Options: `--only ack|writes|storm`, `--prs N` (storm size, default 200), `--latency MS` (default 150), `--comments N`
 * and `--rounds N` for the ack row (default 300 and 3), `--installations N` for one storm only.
 * `BENCH_DIST=<dir>` measures another build (e.g. an older commit's dist/) with the same harness.
 * Like bench/webhooks.mjs, it re-runs itself under --experimental-transform-types to import the TypeScript support.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { benchScript } from "./support/script.mjs";
import { signedBurst } from "./support/deliveries.mjs";
import { benchBot, OWNER, pct, REPO, SECRET, sha } from "./support/bot.mjs";

const { opts, support } = benchScript(
  import.meta.url,
  {
    only: { type: "string" },
    prs: { type: "string", default: "200" },
    latency: { type: "string", default: "150" },
    rounds: { type: "string", default: "3" },
    installations: { type: "string" },
    comments: { type: "string", default: "300" },
  },
  { tools: true },
);
const PRS = Number(opts.prs);
const LATENCY = Number(opts.latency);

const { Probot, createNodeMiddleware } = await import("probot");
const { pino } = await import("pino");
const nock = (await import("nock")).default;
const { startFakeKube } = await import(support("fake-kube/index.ts"));
const bench = await benchBot();
const { privateKey, Unthrottled, examplePayload, fakeGitHub, repository } = bench;

const silent = pino({ level: "silent" });
const fmt = (x) => `${x.toFixed(1)} ms`;
const rows = [];

nock.disableNetConnect();
nock.enableNetConnect((h) => h.startsWith("127.0.0.1"));

/** POST each delivery (event, body) with `inFlight` at once, signed; per-request latency in ms. */
const burst = (url, deliveries, inFlight) => signedBurst(url, deliveries, inFlight, SECRET);

const prOpened = (owner, installationId, number) => bench.pullRequest(owner, installationId, number);

function commentOn(number, i) {
  const p = examplePayload("issue_comment", "created");
  p.installation = { id: 2, node_id: "x" };
  p.repository = repository(OWNER);
  p.issue.number = number;
  p.issue.pull_request = { url: `https://api.github.com/repos/${OWNER}/${REPO}/pulls/${number}` };
  p.comment = {
    ...p.comment,
    id: 50_000 + i,
    body: "/preview status",
    created_at: new Date().toISOString(),
    user: { ...p.comment.user, login: "wes-write", type: "User" },
  };
  p.sender = { ...p.sender, login: "wes-write", type: "User" };
  return JSON.stringify(p);
}

/** The repository's files: one Deployment and its Service under deploy/. */
const tarball = () =>
  bench.tarball({
    "deploy/web.yaml": `apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\nspec:\n  replicas: 1\n  selector: { matchLabels: { app: web } }\n  template:\n    metadata: { labels: { app: web } }\n    spec:\n      containers: [{ name: web, image: ghcr.io/acme/web:latest }]\n---\napiVersion: v1\nkind: Service\nmetadata: { name: web }\nspec:\n  selector: { app: web }\n  ports: [{ port: 80 }]\n`,
  });

/** The bot as production builds it, pointed at the fake cluster; `Octokit` is Probot's own unless given. */
const startBot = (fake, workDir, env = {}, Octokit) =>
  bench.startBot({
    workDir,
    env,
    parts: {
      ...(Octokit ? { Octokit } : {}),
      ...(fake ? { kubeConfig: fake.kubeConfig(), pace: { pollMs: 100 } } : {}),
    },
  });

async function commentAck() {
  const N = Number(opts.comments);
  const IN_FLIGHT = 20;
  const ROUNDS = Number(opts.rounds);
  const list = Array.from({ length: N + 20 }, (_, i) => ({ event: "issue_comment", body: commentOn(1 + (i % 50), i) }));
  const bare = async () => {
    const probot = new Probot({ appId: 123, privateKey, secret: SECRET, log: silent });
    const mw = await createNodeMiddleware((app) => app.on("issue_comment.created", async () => {}), {
      probot,
      webhooksPath: "/api/github/webhooks",
    });
    const server = createServer((req, res) => void mw(req, res));
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${server.address().port}/api/github/webhooks`;
    await burst(url, list.slice(0, 20), IN_FLIGHT);
    const times = await burst(url, list.slice(20), IN_FLIGHT);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    return times;
  };
  const gh = fakeGitHub({
    owner: OWNER,
    repo: REPO,
    installationId: 2,
    config: "manifests: { path: deploy }\ntrigger: { on: command }\n",
    latencyMs: LATENCY,
  });
  gh.state.roles.set("wes-write", "write");
  for (let n = 1; n <= 50; n++)
    gh.state.pulls.set(n, {
      number: n,
      title: `PR ${n}`,
      branch: `b${n}`,
      sha: sha(n),
      state: "open",
      fork: false,
      draft: false,
      labels: [],
      author: "acme",
      files: [],
    });
  /** Acks of the bot; `jobs: false` stubs the comment jobs too (the door alone). */
  const bot = async (jobs) => {
    const workDir = mkdtempSync(join(tmpdir(), "bench-ack-"));
    const b = await startBot(undefined, workDir);
    b.app.queue.register("preview", async () => {}); // the door and its comment job, not the runner
    if (!jobs) b.app.queue.register("comment", async () => {});
    const url = `http://127.0.0.1:${b.port}/api/github/webhooks`;
    await burst(url, list.slice(0, 20), IN_FLIGHT);
    const times = await burst(url, list.slice(20), IN_FLIGHT);
    void b.close(); // the comment jobs' paced writes are not waited for
    rmSync(workDir, { recursive: true, force: true });
    return times;
  };
  // Interleaved rounds on a shared machine; each side's median p50 and p99 over the rounds.
  const sides = { bare: [], door: [], full: [] };
  for (let r = 0; r < ROUNDS; r++) {
    sides.bare.push(await bare());
    sides.door.push(await bot(false));
    sides.full.push(await bot(true));
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const at = (side, p) => med(sides[side].map((t) => pct(t, p)));
  const ratio = (side, p) =>
    `${fmt(at(side, p))} vs ${fmt(at("bare", p))} → **${(at(side, p) / at("bare", p)).toFixed(2)}×**`;
  rows.push(
    `| comment command ack | p50 ${ratio("full", 50)}; p99 ${ratio("full", 99)} (the door alone, comment jobs stubbed: ${(at("door", 50) / at("bare", 50)).toFixed(2)}× / ${(at("door", 99) / at("bare", 99)).toFixed(2)}×) | ${N} signed \`/preview status\` comments, ${IN_FLIGHT} in flight, vs a bare Probot app; their comment jobs run in the same process against GitHub at ${LATENCY} ms, Probot throttling on; median of ${ROUNDS} interleaved rounds |`,
  );
}

const isWrite = (w) => !/\/access_tokens$/.test(w.path);

async function writesPerDeploy() {
  const workDir = mkdtempSync(join(tmpdir(), "bench-writes-"));
  const fake = await startFakeKube({ namespaceFinalizeMs: 20, controllerTickMs: 20 });
  const gh = fakeGitHub({
    owner: OWNER,
    repo: REPO,
    installationId: 2,
    config: `manifests: { path: deploy }\nnames: { namespace: "w-{number}" }\nroute: { host: "{name}.previews.example.test" }\n`,
  });
  const tar = await tarball();
  for (const n of [1, 2]) gh.state.tarballs.set(sha(n), tar);
  gh.state.roles.set("wes-write", "write");
  const pull = (s, state = "open") => ({
    number: 7,
    title: "PR",
    branch: "b7",
    sha: s,
    state,
    fork: false,
    draft: false,
    labels: [],
    author: "acme",
    files: [],
  });
  const bot = await startBot(fake, workDir, {}, Unthrottled);
  const url = `http://127.0.0.1:${bot.port}/api/github/webhooks`;
  const step = async (event, body) => {
    const from = gh.state.writes.length;
    await burst(url, [{ event, body }], 1);
    await bot.app.idle();
    return gh.state.writes.slice(from).filter(isWrite);
  };
  const open = JSON.parse(prOpened(OWNER, 2, 7));
  gh.state.pulls.set(7, pull(sha(1)));
  open.pull_request.head.sha = sha(1);
  const fresh = await step("pull_request", JSON.stringify(open));
  gh.state.pulls.set(7, pull(sha(2)));
  const sync = {
    ...open,
    action: "synchronize",
    pull_request: { ...open.pull_request, head: { ...open.pull_request.head, sha: sha(2) } },
  };
  const next = await step("pull_request", JSON.stringify(sync));
  const comment = JSON.parse(commentOn(7, 1));
  comment.comment.body = "/preview redeploy";
  const redeploy = (await step("issue_comment", JSON.stringify(comment))).filter((w) => !w.path.endsWith("/reactions"));
  gh.state.pulls.set(7, pull(sha(2), "closed"));
  const closed = await step(
    "pull_request",
    JSON.stringify({ ...sync, action: "closed", pull_request: { ...sync.pull_request, state: "closed" } }),
  );
  await bot.close();
  await fake.stop();
  rmSync(workDir, { recursive: true, force: true });
  const kinds = (ws) =>
    ws.map((w) => `${w.method} ${w.path.replace(/^\/repos\/[^/]+\/[^/]+/, "").replace(/\/\d+/g, "/:id")}`).join(", ");
  rows.push(
    `| GitHub writes per deploy | new commit **${fresh.length}**, next commit **${next.length}**, unchanged redeploy **${redeploy.length}**, teardown ${closed.length} | new: ${kinds(fresh)}; redeploy: ${kinds(redeploy)} (plus the comment's 👀) |`,
  );
}

async function pacedStorm(installations) {
  const workDir = mkdtempSync(join(tmpdir(), "bench-storm-"));
  const fake = await startFakeKube({ namespaceFinalizeMs: 20, controllerTickMs: 20 });
  // One fake GitHub serves every installation: its routes answer any owner, and PR numbers are unique.
  const gh = fakeGitHub({
    owner: OWNER,
    repo: REPO,
    installationId: 100,
    config: `manifests: { path: deploy }\nnames: { namespace: "s-{owner}-{number}" }\nhealth: { timeout: 60s }\n`,
    latencyMs: LATENCY,
  });
  const tar = await tarball();
  const deliveries = [];
  for (let n = 1; n <= PRS; n++) {
    const i = (n - 1) % installations;
    gh.state.tarballs.set(sha(n), tar);
    gh.state.pulls.set(n, {
      number: n,
      title: `PR ${n}`,
      branch: `b${n}`,
      sha: sha(n),
      state: "open",
      fork: false,
      draft: false,
      labels: [],
      author: "acme",
      files: [],
    });
    deliveries.push({
      event: "pull_request",
      body: prOpened(installations === 1 ? OWNER : `${OWNER}${i}`, 100 + i, n),
    });
  }
  const bot = await startBot(fake, workDir);
  const url = `http://127.0.0.1:${bot.port}/api/github/webhooks`;
  const t0 = performance.now();
  await burst(url, deliveries, 20);
  const completed = () =>
    new Set(gh.state.checkRuns.filter((r) => r.name === "preview" && r.status === "completed").map((r) => r.head_sha))
      .size;
  let lastCheckRun;
  const watch = setInterval(() => {
    if (lastCheckRun === undefined && completed() === PRS) lastCheckRun = performance.now() - t0;
  }, 50);
  await bot.app.idle(); // every job done and every write landed
  clearInterval(watch);
  lastCheckRun ??= performance.now() - t0;
  const drained = performance.now() - t0;
  const writes = gh.state.writes.filter(isWrite).length;
  const runs = gh.state.checkRuns.filter((r) => r.name === "preview");
  const ok = runs.filter((r) => r.conclusion === "success").length;
  for (const r of runs.filter((x) => x.conclusion !== "success").slice(0, 3))
    console.error(`not ready: ${r.external_id}: ${r.status} ${r.conclusion ?? ""} ${r.output?.title ?? ""}`);
  const done = new Set(runs.filter((r) => r.conclusion === "success").map((r) => r.head_sha));
  const missing = Array.from({ length: PRS }, (_, i) => i + 1).filter((n) => !done.has(sha(n)));
  if (missing.length)
    console.error(
      `PRs without a successful check run: ${missing.slice(0, 10).join(", ")}${missing.length > 10 ? ", …" : ""} (${runs.length} check runs in all)`,
    );
  await bot.close();
  await fake.stop();
  rmSync(workDir, { recursive: true, force: true });
  nock.cleanAll();
  return { lastCheckRun, drained, writes, ok };
}

async function storms() {
  for (const installations of opts.installations ? [Number(opts.installations)] : [1, 10]) {
    const s = await pacedStorm(installations);
    rows.push(
      `| 200-PR storm with write pacing, ${installations === 1 ? "1 installation" : `${installations} installations`} | last check run completed after **${(s.lastCheckRun / 1000).toFixed(1)} s**; every write landed after ${(s.drained / 1000).toFixed(1)} s | ${PRS} PRs opened at once, ${s.ok}/${PRS} succeeded, ${(s.writes / PRS).toFixed(1)} writes per PR, Probot throttling on, GitHub ${LATENCY} ms, queue concurrency 8 |`,
    );
    console.log(rows.at(-1));
  }
}

if (!opts.only || opts.only === "ack") await commentAck();
if (!opts.only || opts.only === "writes") await writesPerDeploy();
if (!opts.only || opts.only === "storm") await storms();
console.log(["| benchmark | measured | conditions |", "|---|---|---|", ...rows].join("\n"));
process.exit(0);
