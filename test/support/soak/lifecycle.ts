/**
 * The soak: randomized pull-request lifecycles against the soak world (world.ts), with faults, then quiescence and
 * the fleet's invariants. Seeded: the same seed draws the same lifecycles, operations and faults (their timing
 * against the bot's work still varies, which is the point).
 *
 * Operations are one table (`OPERATIONS`): each has a weight, says when it applies, and acts through GitHub's
 * webhooks and comments only — what a person or GitHub would do. Sleep and wake belong in it once previews sleep.
 * Faults are another table (`FAULTS`): the bot killed with SIGKILL mid-step and restarted, the API server restarted,
 * API 5xx and timeouts, PostgreSQL restarted, GitHub 5xx and secondary rate limits, Slack 429s.
 *
 * Invariants checked after quiescence (a sweep, as the schedule runs it, until nothing is left to do):
 * - every open PR's preview is at its head, ready (a fork PR: absent, or at a commit a maintainer deployed);
 * - nothing is left of closed PRs: namespaces, databases, roles, active GitHub deployments, seats or line places,
 *   unfinished jobs;
 * - the caps were never exceeded (every namespace event of the run, watched on the API server);
 * - one sticky comment per PR;
 * - every queued deploy was served: no check run left `queued`, nothing left in the line.
 *
 * Longer than 300 lines on purpose: the operations, the faults, the cap watch and the invariants are one model of a
 * pull request, read together.
 */
import { KubeConfig, Watch } from "@kubernetes/client-node";
import pg from "pg";
import { parseConfig } from "../../../src/config.js";
import { previewNamesFor } from "../../../src/services/preview/naming.js";
import {
  MANAGED_BY_KEY,
  PR_LABEL,
  REPOSITORY_ANNOTATION,
  SHA_ANNOTATION,
  STATE_ANNOTATION,
} from "../../../src/services/shared/labels.js";
import { example } from "./github-server.js";
import { OWNER, type SoakWorld } from "./world.js";

export interface SoakOptions {
  lifecycles: number;
  /** Lifecycles running at once. */
  concurrency: number;
  caps: { total: number; perRepo: number };
  /** Chance of a fault after each operation. */
  faultRate: number;
  log?: (line: string) => void;
}

export interface SoakResult {
  seed: number;
  lifecycles: number;
  operations: number;
  faults: Record<string, number>;
  orphans: string[];
  capViolations: string[];
  lostDeploys: string[];
  stickies: string[];
  /** Most previews seen at once, in all and in one repository. */
  peak: { total: number; perRepo: number };
  durationMs: number;
}

export interface Pr {
  repo: string;
  number: number;
  author: string;
  fork: boolean;
  shas: string[];
  open: boolean;
  /** Commits a maintainer deployed (fork PRs). */
  reviewed: Set<string>;
  /** Operations left in this lifecycle. */
  left: number;
}

interface Ctx {
  world: SoakWorld;
  random: () => number;
  prs: Pr[];
  nextNumber: () => number;
  repos: string[];
}

const pick = <T>(random: () => number, xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

function shaOf(random: () => number): string {
  let s = "";
  while (s.length < 40) s += Math.floor(random() * 16).toString(16);
  return s;
}

/** @public bench/soak.mjs drives the queue row with it (imported by URL, which knip cannot follow). */
export function pullEvent(pr: Pr, action: string, extra: Record<string, unknown> = {}): Record<string, any> {
  const p = example("pull_request", "opened");
  const repository = {
    ...p.repository,
    name: pr.repo,
    full_name: `${OWNER}/${pr.repo}`,
    owner: { ...p.repository.owner, login: OWNER },
  };
  p.action = action;
  p.installation = { id: 7, node_id: "x" };
  p.repository = repository;
  p.number = pr.number;
  p.pull_request.number = pr.number;
  p.pull_request.state = pr.open ? "open" : "closed";
  p.pull_request.user = { ...p.pull_request.user, login: pr.author };
  p.pull_request.head = {
    ...p.pull_request.head,
    sha: pr.shas.at(-1),
    ref: `soak-${pr.number}`,
    repo: pr.fork ? { ...repository, full_name: `fork-${pr.author}/${pr.repo}` } : repository,
  };
  p.pull_request.base = { ...p.pull_request.base, repo: repository };
  p.sender = { ...p.sender, login: pr.author };
  return Object.assign(p, extra);
}

function commentEvent(pr: Pr, body: string, login: string): Record<string, any> {
  const p = example("issue_comment", "created");
  p.installation = { id: 7, node_id: "x" };
  p.repository = {
    ...p.repository,
    name: pr.repo,
    full_name: `${OWNER}/${pr.repo}`,
    owner: { ...p.repository.owner, login: OWNER },
  };
  p.issue.number = pr.number;
  p.issue.state = pr.open ? "open" : "closed";
  p.issue.pull_request = { url: `https://api.github.com/repos/${OWNER}/${pr.repo}/pulls/${pr.number}` };
  p.comment = {
    ...p.comment,
    id: Math.floor(Math.random() * 1e9),
    body,
    created_at: new Date().toISOString(),
    user: { ...p.comment.user, login, type: "User" },
  };
  p.sender = { ...p.sender, login, type: "User" };
  return p;
}

/** Make the fake GitHub's PR what the model says, and its commit's tarball. @public bench/soak.mjs uses it too. */
export async function sync(world: SoakWorld, pr: Pr): Promise<void> {
  const state = world.github.repos.get(pr.repo)!;
  const sha = pr.shas.at(-1)!;
  if (!state.tarballs.has(sha))
    state.tarballs.set(
      sha,
      await world.tarball(pr.repo, sha, {
        "k8s/app.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: app }\ndata: { sha: "${sha}" }\n`,
      }),
    );
  state.pulls.set(pr.number, {
    number: pr.number,
    title: `soak ${pr.number}`,
    branch: `soak-${pr.number}`,
    sha,
    state: pr.open ? "open" : "closed",
    fork: pr.fork,
    draft: false,
    labels: [],
    author: pr.author,
    files: ["k8s/app.yaml"],
  });
}

export interface Operation {
  name: string;
  weight: number;
  applies(pr: Pr): boolean;
  run(ctx: Ctx, pr: Pr): Promise<void>;
}

const MAINTAINER = "soak-maintainer";

/** What a person or GitHub does to a pull request. Add sleep and wake here once previews sleep. */
const OPERATIONS: Operation[] = [
  {
    name: "push",
    weight: 4,
    applies: (pr) => pr.open,
    async run(ctx, pr) {
      pr.shas.push(shaOf(ctx.random));
      await sync(ctx.world, pr);
      await ctx.world.deliver("pull_request", pullEvent(pr, "synchronize"));
    },
  },
  {
    name: "label",
    weight: 1,
    applies: (pr) => pr.open,
    async run(ctx, pr) {
      await ctx.world.deliver(
        "pull_request",
        pullEvent(pr, "labeled", { label: { name: pick(ctx.random, ["preview", "bug"]) } }),
      );
    },
  },
  {
    name: "deploy command",
    weight: 2,
    applies: (pr) => pr.open,
    async run(ctx, pr) {
      const sha = pr.shas.at(-1)!;
      // A fork PR deploys only what a maintainer reviewed: the command names the commit.
      if (pr.fork) pr.reviewed.add(sha);
      const body = pr.fork
        ? `/preview deploy ${sha.slice(0, 12)}`
        : pick(ctx.random, ["/preview deploy", "/preview redeploy"]);
      await ctx.world.deliver("issue_comment", commentEvent(pr, body, MAINTAINER));
    },
  },
  {
    name: "destroy command",
    weight: 1,
    applies: (pr) => pr.open,
    async run(ctx, pr) {
      await ctx.world.deliver("issue_comment", commentEvent(pr, "/preview destroy", MAINTAINER));
    },
  },
  {
    name: "status or extend command",
    weight: 2,
    applies: (pr) => pr.open,
    async run(ctx, pr) {
      const body = pick(ctx.random, ["/preview status", "/preview extend 3d"]);
      await ctx.world.deliver("issue_comment", commentEvent(pr, body, MAINTAINER));
    },
  },
  {
    name: "close",
    weight: 2,
    applies: (pr) => pr.open,
    async run(ctx, pr) {
      pr.open = false;
      await sync(ctx.world, pr);
      await ctx.world.deliver("pull_request", pullEvent(pr, "closed"));
    },
  },
  {
    name: "reopen",
    weight: 1,
    applies: (pr) => !pr.open,
    async run(ctx, pr) {
      pr.open = true;
      await sync(ctx.world, pr);
      await ctx.world.deliver("pull_request", pullEvent(pr, "reopened"));
    },
  },
];

export interface Fault {
  name: string;
  weight: number;
  run(world: SoakWorld): Promise<void>;
}

/** What goes wrong around the bot. Each fault ends by itself (windows close after a few operations). */
const FAULTS: Fault[] = [
  {
    name: "bot killed (SIGKILL) and restarted",
    weight: 3,
    async run(world) {
      await world.bot()?.kill();
      await world.startBot();
    },
  },
  { name: "API server restarted", weight: 1, run: (world) => world.plane.restartApiServer() },
  {
    name: "PostgreSQL restarted",
    weight: 1,
    async run(world) {
      world.pg.restart();
    },
  },
  {
    name: "API 5xx and timeouts",
    weight: 2,
    async run(world) {
      world.proxy.faults.serverError = 0.1;
      world.proxy.faults.timeout = 0.03;
    },
  },
  {
    name: "GitHub 5xx and secondary rate limits",
    weight: 2,
    async run(world) {
      world.github.faults.serverError = 0.08;
      world.github.faults.secondaryRateLimit = 0.05;
    },
  },
  {
    name: "Slack 429",
    weight: 1,
    async run(world) {
      world.slack.faults.rateLimited = 0.3;
    },
  },
];

function calmDown(world: SoakWorld): void {
  world.proxy.faults.serverError = world.proxy.faults.timeout = 0;
  world.github.faults.serverError = world.github.faults.secondaryRateLimit = 0;
  world.slack.faults.rateLimited = 0;
}

function weighted<T extends { weight: number }>(random: () => number, xs: readonly T[]): T {
  let r = random() * xs.reduce((n, x) => n + x.weight, 0);
  for (const x of xs) if ((r -= x.weight) < 0) return x;
  return xs.at(-1)!;
}

/** Every namespace event of the run: the most previews at once, and every moment a cap was exceeded. */
function watchCaps(world: SoakWorld, caps: SoakOptions["caps"]) {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      { name: "soak", server: world.plane.server, caData: Buffer.from(world.plane.caData).toString("base64") },
    ],
    users: [{ name: "admin", token: world.plane.adminToken }],
    contexts: [{ name: "soak", cluster: "soak", user: "admin" }],
    currentContext: "soak",
  });
  const live = new Map<string, string>(); // namespace → repository
  const violations: string[] = [];
  const peak = { total: 0, perRepo: 0 };
  let stopped = false;
  let abort: AbortController | undefined;
  const judge = () => {
    const byRepo = new Map<string, number>();
    for (const r of live.values()) byRepo.set(r, (byRepo.get(r) ?? 0) + 1);
    const most = Math.max(0, ...byRepo.values());
    peak.total = Math.max(peak.total, live.size);
    peak.perRepo = Math.max(peak.perRepo, most);
    if (live.size > caps.total)
      violations.push(`${live.size} previews at once (cap ${caps.total}): ${[...live.keys()].join(", ")}`);
    for (const [r, n] of byRepo)
      if (n > caps.perRepo) violations.push(`${n} previews of ${r} at once (cap ${caps.perRepo})`);
  };
  // Each watch starts from "everything exists again" (ADDED for what exists): the set is rebuilt from it. A watch
  // ends when the API server closes it (a restart, a fault): then it is started again.
  const start = async () => {
    while (!stopped) {
      live.clear();
      await new Promise<void>((ended) => {
        new Watch(kc)
          .watch(
            "/api/v1/namespaces",
            { labelSelector: `${MANAGED_BY_KEY}=preview-bot` },
            (type, ns: { metadata: { name: string; annotations?: Record<string, string> } }) => {
              if (type === "ADDED") live.set(ns.metadata.name, ns.metadata.annotations?.[REPOSITORY_ANNOTATION] ?? "?");
              if (type === "DELETED") live.delete(ns.metadata.name);
              judge();
            },
            () => ended(),
          )
          .then(
            (controller) => {
              abort = controller;
              controller.signal.addEventListener("abort", () => ended());
            },
            () => ended(), // the API server is restarting: watch again
          );
      });
      if (!stopped) await new Promise((r) => setTimeout(r, 200));
    }
  };
  const restart = () => abort?.abort();
  void start();
  return {
    violations,
    peak,
    restart,
    stop() {
      stopped = true;
      abort?.abort();
    },
  };
}

export async function runSoak(world: SoakWorld, seed: number, o: SoakOptions): Promise<SoakResult> {
  const started = Date.now();
  const log = o.log ?? (() => undefined);
  const random = world.random;
  const repos = [...world.github.repos.keys()];
  for (const state of world.github.repos.values()) state.roles.set(MAINTAINER, "maintain");
  let number = 0;
  const ctx: Ctx = { world, random, prs: [], nextNumber: () => ++number, repos };
  const caps = watchCaps(world, o.caps);
  const faults: Record<string, number> = {};
  let operations = 0;
  let windowLeft = 0;
  let faulting = Promise.resolve();
  if (!world.bot()) await world.startBot();

  let begun = 0;
  const lifecycle = async () => {
    while (begun < o.lifecycles) {
      begun++;
      if (begun % 50 === 0) log(`${begun} of ${o.lifecycles} lifecycles begun, ${operations} operations so far`);
      const pr: Pr = {
        repo: pick(random, repos),
        number: ctx.nextNumber(),
        author: pick(random, ["ann", "bo", "cy", "di"]),
        fork: random() < 0.15,
        shas: [shaOf(random)],
        open: true,
        reviewed: new Set(),
        left: 2 + Math.floor(random() * 5),
      };
      ctx.prs.push(pr);
      await sync(ctx.world, pr);
      await world.deliver("pull_request", pullEvent(pr, "opened"));
      operations++;
      for (; pr.left > 0; pr.left--) {
        const choices = OPERATIONS.filter((op) => op.applies(pr));
        const op =
          pr.left === 1 && pr.open && random() < 0.8
            ? OPERATIONS.find((x) => x.name === "close")!
            : weighted(random, choices);
        await op.run(ctx, pr);
        operations++;
        if (windowLeft > 0 && --windowLeft === 0) calmDown(world);
        if (random() < o.faultRate) {
          const fault = weighted(random, FAULTS);
          faults[fault.name] = (faults[fault.name] ?? 0) + 1;
          log(`fault: ${fault.name}`);
          // One fault at a time: two restarts of one server at once would kill each other's new process.
          faulting = faulting.then(async () => {
            if (fault.name === "API server restarted") caps.restart();
            await fault.run(world);
          });
          await faulting;
          windowLeft = 5;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, lifecycle));
  calmDown(world);

  // The line must be able to empty: at most the caps' worth of PRs stay open.
  const open = ctx.prs.filter((p) => p.open && !p.fork);
  const keep = new Map<string, number>();
  let kept = 0;
  for (const pr of open) {
    const n = keep.get(pr.repo) ?? 0;
    if (n < o.caps.perRepo && kept < o.caps.total) {
      keep.set(pr.repo, n + 1);
      kept++;
      continue;
    }
    pr.open = false;
    await sync(ctx.world, pr);
    await world.deliver("pull_request", pullEvent(pr, "closed"));
  }
  for (const pr of ctx.prs.filter((p) => p.open && p.fork)) {
    pr.open = false; // fork previews wait on a maintainer: closed, so the end state is decided
    await sync(ctx.world, pr);
    await world.deliver("pull_request", pullEvent(pr, "closed"));
  }
  log("quiescence: sweeping until nothing is left to do");
  await quiesce(world);
  caps.stop();
  const result: SoakResult = {
    seed,
    lifecycles: o.lifecycles,
    operations,
    faults,
    ...(await invariants(world, ctx.prs)),
    capViolations: caps.violations,
    peak: caps.peak,
    durationMs: Date.now() - started,
  };
  return result;
}

/** Bring the bot back if it is down, then sweep until a sweep dispatches nothing and everything is idle. */
async function quiesce(world: SoakWorld): Promise<void> {
  if (
    !world.bot() ||
    (await world
      .bot()!
      .command("idle", 5_000)
      .catch(() => "dead")) === "dead"
  ) {
    await world.bot()?.kill();
    await world.startBot();
  }
  let swept = "";
  for (let round = 0; round < 12; round++) {
    await world.bot()!.command("idle");
    swept = await world.bot()!.command("sweep");
    await world.bot()!.command("idle");
    if (/"dispatched":\[\]/.test(swept) && /"errors":\[\]/.test(swept)) return;
  }
  throw new Error(`the soak did not reach quiescence: sweeps kept finding work after 12 rounds; the last: ${swept}`);
}

async function invariants(world: SoakWorld, prs: Pr[]) {
  const config = parseConfig(world.github.repos.values().next().value!.config!);
  if (!config.ok) throw new Error(`the soak's config is invalid: ${config.errors.join("; ")}`);
  const res = await fetch(
    `${world.proxy.url}/api/v1/namespaces?labelSelector=${encodeURIComponent(`${MANAGED_BY_KEY}=preview-bot`)}`,
  );
  if (!res.ok) throw new Error(`listing the previews' namespaces after the soak: ${res.status} ${await res.text()}`);
  const listed = (await res.json()) as {
    items: Array<{ metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> } }>;
  };
  const namespaces = listed.items.map(({ metadata: m }) => ({
    name: m.name,
    labels: m.labels ?? {},
    annotations: m.annotations ?? {},
  }));
  const admin = new pg.Client({ connectionString: world.pg.url });
  await admin.connect();
  const dbs = new Set(
    (await admin.query<{ datname: string }>("select datname from pg_database")).rows.map((r) => r.datname),
  );
  const roles = new Set(
    (await admin.query<{ rolname: string }>("select rolname from pg_roles")).rows.map((r) => r.rolname),
  );
  await admin.end();
  const waiting = new Set(
    (
      await world.state.query<{ key: string }>("select key from preview_bot_fleet_waiting").catch(() => ({ rows: [] }))
    ).rows.map((r) => r.key),
  );
  const seats = new Set(
    (
      await world.state.query<{ key: string }>("select key from preview_bot_fleet_seats").catch(() => ({ rows: [] }))
    ).rows.map((r) => r.key),
  );
  const jobs = new Set(
    (
      await world.state
        .query<{ key: string }>(
          "select distinct singleton_key as key from pgboss.job where state < 'completed' and singleton_key is not null",
        )
        .catch(() => ({ rows: [] as Array<{ key: string }> }))
    ).rows.map((r) => r.key),
  );
  const orphans: string[] = [];
  const lostDeploys: string[] = [];
  const stickies: string[] = [];
  for (const pr of prs) {
    const key = `${OWNER}/${pr.repo}#${pr.number}`;
    const state = world.github.repos.get(pr.repo)!;
    const ns = namespaces.filter(
      (n) => n.annotations[REPOSITORY_ANNOTATION] === `${OWNER}/${pr.repo}` && n.labels[PR_LABEL] === String(pr.number),
    );
    const names = previewNamesFor(
      { owner: OWNER, repo: pr.repo, number: pr.number, branch: `soak-${pr.number}`, sha: pr.shas.at(-1)! },
      config.config,
    );
    const sticky = state.comments.filter((c) => c.issue === pr.number && c.body.includes("preview-bot:sticky"));
    if (sticky.length > 1) stickies.push(`${key}: ${sticky.length} sticky comments`);
    const runs = state.checkRuns.filter((r) => r.name === "preview" && r.external_id === key);
    for (const r of runs.filter((x) => x.status === "queued"))
      lostDeploys.push(`${key}: check run of ${r.head_sha.slice(0, 7)} left queued`);
    if (waiting.has(key)) lostDeploys.push(`${key}: still waiting in line`);
    if (!pr.open) {
      for (const n of ns) orphans.push(`${key} (closed): namespace ${n.name}`);
      if (dbs.has(names.database)) orphans.push(`${key} (closed): database ${names.database}`);
      if (roles.has(names.role)) orphans.push(`${key} (closed): role ${names.role}`);
      for (const d of state.deployments.filter((x) => x.environment === names.environment))
        if (d.statuses.length && d.statuses.at(-1).state !== "inactive")
          orphans.push(`${key} (closed): deployment ${d.id} still ${d.statuses.at(-1).state}`);
      if (seats.has(key)) orphans.push(`${key} (closed): still holds a seat`);
      if (jobs.has(key)) orphans.push(`${key} (closed): an unfinished job`);
      continue;
    }
    const head = pr.shas.at(-1)!;
    const ready = ns.find((n) => n.annotations[SHA_ANNOTATION] === head && n.annotations[STATE_ANNOTATION] === "ready");
    if (!pr.fork && !ready)
      lostDeploys.push(
        `${key}: open, but its preview is ${ns.length ? `at ${ns[0]!.annotations[SHA_ANNOTATION]?.slice(0, 7)} (${ns[0]!.annotations[STATE_ANNOTATION]})` : "missing"}, head ${head.slice(0, 7)}`,
      );
    if (pr.fork)
      for (const n of ns)
        if (!pr.reviewed.has(n.annotations[SHA_ANNOTATION] ?? ""))
          lostDeploys.push(`${key}: a fork preview at an unreviewed commit`);
  }
  return { orphans, lostDeploys, stickies };
}
