#!/usr/bin/env node
/**
 * `npm run bench -- isolation`: what rendering pull-request content where nothing is worth stealing costs, and what
 * hostile text costs the bot. Built code (dist/), the pinned tools (.tools/bin), the real sandbox.
 *
 * Rows:
 *  - `hostile render isolation overhead`: the seed overlay (test/fixtures/kubernetesmooc, kustomize) and a Helm chart
 *    (test/fixtures/helm-chart-app) rendered by the sandboxed worker (a fresh process per render, as the bot does) vs
 *    the same render code in-process (no isolation: what the bot did before). Medians of --runs N (default 9),
 *    interleaved; the ratio's target is ≤ 1.3×. Renders are --gap ms apart (default 2000), as pull-request events
 *    are: the bot starts the next render's worker after each render, so a render finds it waiting. The same renders
 *    back to back (no gap: the worker may still be starting) are shown too, for what a burst costs. `--sandbox PATH`
 *    measures another build of preview-sandbox (default .tools/bin/preview-sandbox).
 *  - `redaction of 10 MB hostile text`: CPU time of the logger's redactText on one core (process.cpuUsage, which a
 *    loaded machine changes far less than wall time; wall time shown beside it).
 *    The texts are the ones that made the old expressions quadratic, 10 MB each; the slowest, target ≤ 1 s.
 *  - `event-loop stall during a hostile render`: the bot's longest event-loop delay while it renders a kustomization
 *    whose error output is huge (a 100 KB `resources` entry); target ≤ 200 ms.
 */
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { spawnSync } from "node:child_process";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const { values: opts } = parseArgs({
  args: process.argv.slice(2),
  options: {
    runs: { type: "string", default: "9" },
    gap: { type: "string", default: "2000" },
    "no-build": { type: "boolean" },
    // Another build of preview-sandbox (default .tools/bin/preview-sandbox), e.g. one being changed.
    sandbox: { type: "string" },
  },
});
if (!opts["no-build"]) spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
const tools = join(root, ".tools", "bin");
process.env.PATH = `${tools}:${process.env.PATH}`;
const sandboxBin = opts.sandbox ?? join(tools, "preview-sandbox");
if (!existsSync(sandboxBin)) {
  console.error(`bench isolation: ${sandboxBin} is missing: run \`bash tools/build.sh\``);
  process.exit(1);
}
const dist = (p) => pathToFileURL(join(root, "dist", p)).href;
const { createLogger, redactText } = await import(dist("logger.js"));
const { parseConfig } = await import(dist("config.js"));
const { createRenderer, findRenderTools, previewNamesFor } = await import(dist("services/preview/render/index.js"));
const { createSandboxWorker, DEFAULT_RENDER_LIMITS } = await import(dist("services/preview/render/isolation.js"));
const { renderTree } = await import(dist("services/preview/render/sandboxed/render-tree.js"));

const logger = createLogger({ level: "silent" });
const ref = { owner: "acme", repo: "shop", number: 7, branch: "feature", sha: "7".repeat(40) };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const work = await mkdtemp(join(tmpdir(), "bench-isolation-"));
await chmod(work, 0o755);
const sandboxed = createSandboxWorker({
  sandbox: [sandboxBin],
  path: process.env.PATH,
  isolation: "auto",
  limits: DEFAULT_RENDER_LIMITS,
  logger,
  cacheDir: join(work, "render-cache"),
  warmDir: work,
  // As settings.ts gives them: the directories of the tools the renders will ask for.
  toolDirs: findRenderTools(process.env.PATH).then((t) => t.dirs),
});
// As the bot does at start-up: the probe says which isolation renders get, and fills the worker's compile cache.
const probeDir = await mkdtemp(join(work, "probe-"));
const probed = await sandboxed.probe(probeDir);
console.log(`renders run isolated: ${probed.detail}\n`);
/** What the bot did before: the same render code, in its own process. */
const inProcess = {
  async run(request) {
    return { response: await renderTree(request), isolation: { isolation: "none", detail: "in-process" } };
  },
  async probe() {
    return { isolation: "none", detail: "in-process" };
  },
};

/** GitHub's tarball of a fixture (`owner-repo-sha/` top directory), as the bot downloads it. */
async function tarballOf(dir) {
  const { c } = await import("tar");
  const file = join(work, `${Math.random().toString(36).slice(2)}.tar.gz`);
  await c({ gzip: true, cwd: dirname(dir), portable: true, file, prefix: "" }, [dir.split("/").pop()]);
  return file;
}

async function timeRender(worker, dir, yaml) {
  const config = parseConfig(yaml);
  if (!config.ok) throw new Error(config.errors.join("; "));
  const renderer = createRenderer({ worker, logger, toolPath: process.env.PATH });
  const runDir = await mkdtemp(join(work, "bench-render-"));
  try {
    const file = join(runDir, "source.tar.gz");
    const { copyFile } = await import("node:fs/promises");
    await copyFile(await tarballs.get(dir), file);
    await chmod(file, 0o644);
    const t0 = performance.now();
    const r = await renderer.render({
      source: { kind: "tarball", file },
      runDir,
      config: config.config,
      ref,
      names: previewNamesFor(ref, config.config),
    });
    const ms = performance.now() - t0;
    return { ms, objects: r.objects.length, isolation: r.isolation.isolation };
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}

const cases = [
  {
    name: "seed overlay (kustomize)",
    dir: join(root, "test/fixtures/kubernetesmooc"),
    // The example config of examples/kubernetesmooc/preview.yml, pointed at the fixture's copy of the overlay.
    yaml: readFileSync(join(root, "examples/kubernetesmooc/preview.yml"), "utf8").replaceAll(
      "course_project/manifests/overlays/feature",
      "manifests/overlays/feature",
    ),
  },
  { name: "Helm chart", dir: join(root, "test/fixtures/helm-chart-app"), yaml: "manifests:\n  path: deploy/chart\n" },
];
/** One tarball per fixture (renders get a copy each: a warm worker takes its tarball). */
const tarballs = {
  cache: new Map(),
  async get(dir) {
    if (!this.cache.has(dir)) this.cache.set(dir, await tarballOf(dir));
    return this.cache.get(dir);
  },
};
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const rows = [
  "| render (GitHub's tarball, extracted and built) | in-process (median) | sandboxed (median) | ratio | back to back | isolation |",
  "|---|---|---|---|---|---|",
];
for (const c of cases) {
  if (!existsSync(c.dir)) {
    rows.push(`| ${c.name} | missing fixture ${c.dir} | | | | |`);
    continue;
  }
  const a = [];
  const b = [];
  const burst = [];
  let isolation = "";
  await timeRender(inProcess, c.dir, c.yaml); // warm the tools' page cache
  for (let i = 0; i < Number(opts.runs); i++) {
    await pause(Number(opts.gap));
    a.push((await timeRender(inProcess, c.dir, c.yaml)).ms);
    await pause(Number(opts.gap));
    const s = await timeRender(sandboxed, c.dir, c.yaml);
    b.push(s.ms);
    isolation = s.isolation;
    burst.push((await timeRender(sandboxed, c.dir, c.yaml)).ms);
  }
  rows.push(
    `| hostile render isolation overhead: ${c.name} | ${median(a).toFixed(0)} ms | ${median(b).toFixed(0)} ms | ${(median(b) / median(a)).toFixed(2)}× | ${median(burst).toFixed(0)} ms (${(median(burst) / median(a)).toFixed(2)}×) | ${isolation} |`,
  );
}
console.log(rows.join("\n"));

const MB = 1024 * 1024;
const hostile = [
  ["scheme-like run", "a".repeat(10 * MB)],
  ["url openings", "a://b:".repeat((10 * MB) / 6)],
  ["secret-word identifier", "PASSWORDSECRETTOKEN_".repeat((10 * MB) / 20)],
  ["unterminated quotes", 'password="'.repeat((10 * MB) / 10)],
  ["key headers without end", "-----BEGIN RSA PRIVATE KEY-----".repeat(Math.floor((10 * MB) / 31))],
  ["SQL passwords with open quotes", "password '".repeat((10 * MB) / 10)],
  ["bearer words", "Bearer ".repeat(Math.floor((10 * MB) / 7))],
  ["token prefixes", "ghp_".repeat((10 * MB) / 4)],
  ["a 10 MB resources entry", `resources:\n- ${"../".repeat((10 * MB) / 3)}`],
];
let slowest = 0;
console.log("\n| redaction of 10 MB hostile text | CPU time | wall time |\n|---|---|---|");
for (const [name, text] of hostile) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  redactText(text);
  const cpu = process.cpuUsage(c0);
  const ms = (cpu.user + cpu.system) / 1000;
  slowest = Math.max(slowest, ms);
  console.log(`| ${name} | ${ms.toFixed(0)} ms | ${(performance.now() - t0).toFixed(0)} ms |`);
}
console.log(
  `| **redaction of 10 MB hostile text** (slowest, CPU time; target ≤ 1000 ms) | **${slowest.toFixed(0)} ms** | |`,
);

// The bot's event loop while a hostile render fails with a huge message.
const hostileDir = await mkdtemp(join(tmpdir(), "bench-hostile-"));
await chmod(hostileDir, 0o755);
const { mkdir, writeFile } = await import("node:fs/promises");
await mkdir(join(hostileDir, "k8s"), { recursive: true });
await writeFile(join(hostileDir, "k8s", "kustomization.yaml"), `resources:\n- ${"x".repeat(100_000)}\n`);
await chmod(join(hostileDir, "k8s"), 0o755);
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
const t0 = performance.now();
await timeRender(sandboxed, hostileDir, "manifests:\n  path: k8s\n").catch(() => undefined);
const renderMs = performance.now() - t0;
loop.disable();
console.log(
  `\n| event-loop stall during a hostile render (100 KB resources entry) | max ${(loop.max / 1e6).toFixed(0)} ms (target ≤ 200 ms), render ${renderMs.toFixed(0)} ms |`,
);
await rm(hostileDir, { recursive: true, force: true });
await rm(work, { recursive: true, force: true });
