#!/usr/bin/env node
/**
 * `npm run bench -- url`: time to URL on the real control plane. The whole bot as production builds it
 * (bench/support/bot.mjs: startServer → buildApp, production pace), pointed at a private real control plane
 * (bench/support/control-plane.mjs: etcd, kube-apiserver, controller-manager, scheduler, kwok) as admin; GitHub on the
 * project's fake (nock), Octokit without throttling; signed real `pull_request` payloads.
 *
 * Row `time to URL on the real control plane`: from a signed `opened` delivery's POST to the `preview` check run
 * completed successfully (health check passed), over `--deploys N` pull requests (default 15) after one warm-up,
 * each closed (teardown awaited, not measured) before the next. The app: two Deployments (web ×2, api ×1) with their
 * Services and a ConfigMap, plain YAML, one URL with a health check on `/` (answered by nock: kwok runs no
 * containers). The steps' shares are read from the bot's own step records (the check run's step table, 0.1 s
 * resolution): the preflight's (its Preflight and Dry run steps), then every other step's, largest first.
 *
 * Options: `--deploys N`. BENCH_LOG_LEVEL=warn shows what the bot logs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { benchBot, OWNER, pct, REPO, SECRET, sha } from "./support/bot.mjs";
import { startBenchControlPlane } from "./support/control-plane.mjs";
import { signedBurst } from "./support/deliveries.mjs";
import { benchScript } from "./support/script.mjs";

const { root, opts } = benchScript(import.meta.url, { deploys: { type: "string", default: "15" } }, { tools: true });
const DEPLOYS = Number(opts.deploys);
const INSTALLATION = 2;
const CONFIG = `manifests: { path: deploy }
names: { namespace: "ttu-{number}" }
route:
  host: "{name}.previews.example.test"
  scheme: http
  expose: { service: web, port: 80 }
health:
  timeout: 2m
  checks: [{ path: / }]
`;
const deployment = (name, replicas) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
        - name: ${name}
          image: ghcr.io/acme/${name}:1
          envFrom: [{ configMapRef: { name: settings } }]
          ports: [{ containerPort: 8080 }]
---
apiVersion: v1
kind: Service
metadata: { name: ${name} }
spec:
  selector: { app: ${name} }
  ports: [{ port: 80, targetPort: 8080 }]
`;
const FILES = {
  "deploy/web.yaml": deployment("web", 2),
  "deploy/api.yaml": deployment("api", 1),
  "deploy/settings.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings }\ndata: { GREETING: hello }\n`,
};

const nock = (await import("nock")).default;
const { CoreV1Api } = await import("@kubernetes/client-node");
const { parseConfig } = await import(pathToFileURL(join(root, "dist", "config.js")).href);
const { previewNamesFor } = await import(pathToFileURL(join(root, "dist", "services/preview/naming.js")).href);
const bench = await benchBot();

/** A check run's step table (`| Name | ✅ | 1.2 s | … |`) as name → ms. */
function stepTimes(summary) {
  const out = {};
  for (const m of summary.matchAll(/^\| ([^|]+?) \| \S+ \| (?:(\d+) min )?([\d.]+) s \|/gm))
    out[m[1]] = (Number(m[2] ?? 0) * 60 + Number(m[3])) * 1000;
  return out;
}

const loadNow = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
const loadAtStart = loadNow();
const { kube, kubeConfig } = await startBenchControlPlane();
const workDir = mkdtempSync(join(tmpdir(), "bench-url-"));
nock.disableNetConnect();
nock.enableNetConnect((h) => h.startsWith("127.0.0.1"));
let bot;
try {
  // The bot's own namespace: its job Lease lives there (no DATABASE_URL).
  await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: "preview-bot" } } });
  const gh = bench.fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: CONFIG });
  const tar = await bench.tarball(FILES);
  const parsed = parseConfig(CONFIG);
  if (!parsed.ok) throw new Error(`the bench's config: ${parsed.errors.join("; ")}`);
  bot = await bench.startBot({
    workDir,
    env: { PREVIEW_GATEWAY: "gateway-system/previews", NAMESPACE_DELETE_TIMEOUT: "300" },
    parts: { kubeConfig, Octokit: bench.Unthrottled },
  });
  const url = `http://127.0.0.1:${bot.port}/api/github/webhooks`;
  const deliver = (number, action) =>
    signedBurst(
      url,
      [{ event: "pull_request", body: bench.pullRequest(OWNER, INSTALLATION, number, action) }],
      1,
      SECRET,
    );
  const pull = (number, state) => ({
    number,
    title: `PR ${number}`,
    branch: `b${number}`,
    sha: sha(number),
    state,
    fork: false,
    draft: false,
    labels: [],
    author: OWNER,
    files: ["deploy/web.yaml"],
  });

  const totals = [];
  const steps = [];
  for (let i = 0; i <= DEPLOYS; i++) {
    const number = 100 + i;
    const names = previewNamesFor(
      { owner: OWNER, repo: REPO, number, branch: `b${number}`, sha: sha(number) },
      parsed.config,
    );
    nock(`http://${names.host}`).persist().get("/").reply(200, "ok");
    gh.state.tarballs.set(sha(number), tar);
    gh.state.pulls.set(number, pull(number, "open"));
    const run = () => gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === sha(number)).at(-1);
    const t0 = performance.now();
    await deliver(number, "opened");
    const end = Date.now() + 300_000;
    while (run()?.status !== "completed") {
      if (Date.now() > end) throw new Error(`#${number}: no completed check run within 300 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const total = performance.now() - t0;
    const done = run();
    if (done.conclusion !== "success")
      throw new Error(`#${number}: ${done.conclusion}: ${done.output?.summary ?? ""}\n${done.output?.text ?? ""}`);
    if (i > 0) {
      totals.push(total);
      steps.push(stepTimes(done.output?.summary ?? ""));
    }
    console.log(`  #${number}: ${(total / 1000).toFixed(2)} s${i === 0 ? " (warm-up)" : ""}`);
    await bot.app.idle();
    gh.state.pulls.set(number, pull(number, "closed"));
    await deliver(number, "closed");
    await bot.app.idle();
  }

  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const all = sum(totals);
  const share = (...names) => sum(steps.map((s) => sum(names.map((n) => s[n] ?? 0))));
  const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;
  const percent = (ms) => `${Math.round((100 * ms) / all)} %`;
  const perDeploy = (ms) => `${seconds(ms / totals.length)}`;
  const preflight = share("Preflight", "Dry run");
  // Every other step by its share, largest first; those under 1 % together.
  const others = [...new Set(steps.flatMap((s) => Object.keys(s)))]
    .filter((n) => n !== "Preflight" && n !== "Dry run")
    .map((n) => [n, share(n)])
    .sort((a, b) => b[1] - a[1]);
  const small = others.filter(([, ms]) => ms < all / 100);
  const parts = [
    ...others.filter(([, ms]) => ms >= all / 100),
    ...(small.length ? [[`the rest (${small.map(([n]) => n).join(", ")})`, sum(small.map(([, ms]) => ms))]] : []),
    ["outside the steps (intake, queue, GitHub writes)", all - sum(steps.map((s) => sum(Object.values(s))))],
  ];
  console.log(`\n| benchmark | measured | conditions |\n|---|---|---|`);
  console.log(
    `| time to URL on the real control plane | p50 **${seconds(pct(totals, 50))}**, p95 **${seconds(pct(totals, 95))}** over ${totals.length} deploys; the preflight's share **${percent(preflight)}** (${perDeploy(preflight)} a deploy); ${parts
      .map(([n, ms]) => `${n} ${percent(ms)} (${perDeploy(ms)})`)
      .join(
        ", ",
      )} | webhook POST → \`preview\` check run completed with success; kube-apiserver ${kube.version} with kwok pods (image pull and app start excluded), the bot as admin; plain YAML: 2 Deployments (3 pods), 2 Services, 1 ConfigMap, 1 HTTPRoute; production pace (roll-out polled every 1 s, health every 2 s); shares from the bot's step records; load average ${loadAtStart} at the start, ${loadNow()} at the end |`,
  );
} finally {
  await bot?.close();
  await kube.stop();
  nock.cleanAll();
  rmSync(workDir, { recursive: true, force: true });
}
process.exit(0);
