#!/usr/bin/env node
/**
 * `npm run bench -- soak`: the fleet under a soak (test/support/soak/), the bot as a child process on its own real
 * control plane and PostgreSQL, GitHub and Slack on loopback.
 *
 * Rows:
 *  - `soak: 1000 randomized lifecycles with faults`: orphans, cap violations, lost deploys (and duplicate sticky
 *    comments) after quiescence, with the duration and the faults injected. `--lifecycles N` runs another count (the
 *    row then names N); `--seed S` reproduces a run (the seed is printed either way).
 *  - `queue: slot freed to next deploy started`: with the caps full and one deploy waiting, the time from a PR's
 *    `closed` delivery to the waiting deploy's check run turning `in_progress` (its deploy started), and to its
 *    namespace existing; `--rounds N` (default 10) closes in a row. Target ≤ 10 s.
 *
 * Options: `--only soak|queue`, `--lifecycles N` (default 1000), `--concurrency N` (default 6), `--seed S`,
 * `--rounds N`. SOAK_LOG_LEVEL=info and SOAK_LOG_FILE=<path> keep the bot's log.
 */
import { benchScript } from "./support/script.mjs";

const { opts, support } = benchScript(
  import.meta.url,
  {
    only: { type: "string" },
    lifecycles: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "6" },
    seed: { type: "string" },
    rounds: { type: "string", default: "10" },
  },
  { tools: true },
);
const { startSoakWorld } = await import(support("soak/world.ts"));
const { runSoak, sync, pullEvent } = await import(support("soak/lifecycle.ts"));

const rows = [];
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function soak() {
  const lifecycles = Number(opts.lifecycles);
  const seed = Number(opts.seed ?? Math.floor(Math.random() * 2 ** 31));
  const caps = { total: 4, perRepo: 2 };
  console.log(`soak: ${lifecycles} lifecycles, seed ${seed} (reproduce with --seed ${seed})`);
  const world = await startSoakWorld({
    seed,
    repos: ["web", "api", "docs"],
    caps,
    ...(process.env.SOAK_LOG_FILE ? { logFile: process.env.SOAK_LOG_FILE } : {}),
  });
  try {
    const r = await runSoak(world, seed, {
      lifecycles,
      concurrency: Number(opts.concurrency),
      caps,
      faultRate: 0.12,
      log: (line) => console.log(`  ${new Date().toISOString().slice(11, 19)} ${line}`),
    });
    const faults = Object.entries(r.faults)
      .map(([k, n]) => `${k} ×${n}`)
      .join(", ");
    const injected = `GitHub 5xx ${world.github.injected.serverError}, secondary rate limits ${world.github.injected.secondaryRateLimit}, API 5xx ${world.proxy.injected.serverError}, API timeouts ${world.proxy.injected.timeout}, Slack 429 ${world.slack.injected.rateLimited}`;
    rows.push(
      `| soak: ${lifecycles} randomized lifecycles with faults | orphans **${r.orphans.length}**, cap violations **${r.capViolations.length}**, lost deploys **${r.lostDeploys.length}**, duplicate stickies ${r.stickies.length}; ${seconds(r.durationMs)} | ${r.operations} operations, concurrency ${opts.concurrency}, caps ${caps.total} (${caps.perRepo} per repository; peak ${r.peak.total}/${r.peak.perRepo}); faults: ${faults}; requests answered with a fault: ${injected}; seed ${seed} |`,
    );
    for (const p of [...r.orphans, ...r.capViolations, ...r.lostDeploys, ...r.stickies].slice(0, 30))
      console.log(`  problem: ${p}`);
  } finally {
    await world.stop();
  }
}

/** Caps of 2; PRs opened one after another, so two run and one waits; then the oldest running one closes. */
async function queue() {
  const rounds = Number(opts.rounds);
  const seed = Number(opts.seed ?? 1);
  const world = await startSoakWorld({ seed, repos: ["web"], caps: { total: 2, perRepo: 2 } });
  try {
    await world.startBot();
    const gh = world.github.repos.get("web");
    let number = 0;
    let shaCounter = 0;
    const open = async () => {
      const pr = {
        repo: "web",
        number: ++number,
        author: "ann",
        fork: false,
        shas: [(++shaCounter).toString(16).padStart(40, "a")],
        open: true,
        reviewed: new Set(),
        left: 0,
      };
      await sync(world, pr);
      if (!(await world.deliver("pull_request", pullEvent(pr, "opened"))))
        throw new Error(`delivering the opening of #${pr.number}`);
      return pr;
    };
    const run = (pr) => gh.checkRuns.filter((r) => r.name === "preview" && r.head_sha === pr.shas[0]).at(-1);
    const until = async (what, test, ms = 300_000) => {
      const end = Date.now() + ms;
      while (!test()) {
        if (Date.now() > end) throw new Error(`queue bench: ${what} within ${ms} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return Date.now();
    };
    const namespaceOf = async (pr) => {
      const res = await fetch(`${world.proxy.url}/api/v1/namespaces/web-${pr.number}`);
      await res.arrayBuffer();
      return res.ok;
    };
    const running = [await open(), await open()];
    for (const pr of running) await until(`#${pr.number} ready`, () => run(pr)?.conclusion === "success");
    const started = [];
    const namespaced = [];
    for (let i = 0; i < rounds; i++) {
      const waiting = await open();
      await until(`#${waiting.number} queued`, () => run(waiting)?.status === "queued");
      const closing = running.shift();
      closing.open = false;
      await sync(world, closing);
      const t0 = Date.now();
      if (!(await world.deliver("pull_request", pullEvent(closing, "closed"))))
        throw new Error(`delivering the close of #${closing.number}`);
      started.push((await until(`#${waiting.number} started`, () => run(waiting)?.status !== "queued")) - t0);
      const end = Date.now() + 300_000;
      while (!(await namespaceOf(waiting))) {
        if (Date.now() > end) throw new Error(`queue bench: #${waiting.number}'s namespace within 300 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      namespaced.push(Date.now() - t0);
      await until(`#${waiting.number} ready`, () => run(waiting)?.conclusion === "success");
      running.push(waiting);
    }
    rows.push(
      `| queue: slot freed to next deploy started | p50 **${seconds(pct(started, 50))}**, p95 **${seconds(pct(started, 95))}**, max ${seconds(Math.max(...started))} to the waiting deploy's check run in progress; its namespace after p50 ${seconds(pct(namespaced, 50))}, p95 ${seconds(pct(namespaced, 95))} | ${rounds} closes, caps 2, the bot as a child process on the real control plane and PostgreSQL; from the \`closed\` delivery (teardown included) |`,
    );
  } finally {
    await world.stop();
  }
}

if (!opts.only || opts.only === "queue") await queue();
if (!opts.only || opts.only === "soak") await soak();
console.log(`\n| benchmark | measured | context |\n|---|---|---|\n${rows.join("\n")}`);
