#!/usr/bin/env node
/**
 * `npm run bench -- wake`: how fast a sleeping preview answers and wakes. Built code (dist/), a private real control
 * plane (etcd, kube-apiserver, controller-manager, scheduler, kwok: test/support/kube-real), the Gateway API CRDs.
 *
 * Rows:
 *  - `wake: first byte of the waking page`: a browser's GET at a sleeping preview's host → the first byte of the
 *    waking page, through the wake door (src/handlers/wake.ts) on a loopback HTTP server, with its look-ups of the
 *    sleeping hosts on the real API server. Half the requests find the door's look-up expired (one list of the
 *    namespaces first: the slow case), half within it. The wake it starts is handed to a submit that returns at
 *    once (in the bot: the intake's enqueue, which runs after the page is sent). Target ≤ 200 ms p95.
 *  - `wake: control-plane wake on the real control plane`: SleepControl's wake of a preview (2 Deployments, 3 and 1
 *    replicas, an HTTPRoute): replicas restored, readiness awaited, route restored. kwok makes pods Ready as soon as
 *    they are scheduled: image pull and app start are excluded (they are the app's, and add to this in a real
 *    cluster). Target ≤ 5 s p95.
 */
import { createServer, request } from "node:http";
import { benchScript } from "./support/script.mjs";
import { startBenchControlPlane } from "./support/control-plane.mjs";

const { opts, dist } = benchScript(import.meta.url, {
  wakes: { type: "string", default: "20" },
  requests: { type: "string", default: "200" },
});

const { CoreV1Api } = await import("@kubernetes/client-node");
const { createLogger } = await import(dist("logger.js"));
const { createCluster } = await import(dist("services/cluster/cluster.js"));
const { createSleepControl } = await import(dist("services/cluster/sleep.js"));
const { createWakeDoor } = await import(dist("handlers/wake.js"));
const { ASLEEP_SINCE_ANNOTATION, WAKE_HOSTS_ANNOTATION } = await import(dist("services/shared/sleep.js"));
const { REPOSITORY_ANNOTATION } = await import(dist("services/shared/labels.js"));

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const ms = (v) => `${v.toFixed(v < 10 ? 1 : 0)} ms`;

const logger = createLogger({ level: "silent" });
const { kube, kubeConfig: kc } = await startBenchControlPlane();
const ns = "bench-wake-pr-1";
const host = `${ns}.previews.example.test`;
const labels = { "app.kubernetes.io/managed-by": "preview-bot", "preview-bot.dev/pr": "1" };
const cluster = createCluster({ kubeConfig: kc, logger, pollMs: 100 });
const control = createSleepControl({
  kubeConfig: kc,
  backend: { namespace: "preview-bot", name: "preview-bot", port: 80, clusterDomain: "cluster.local" },
  logger,
  pollMs: 100,
});
let server;
try {
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: "preview-bot" } } });
  await cluster.ensureNamespace(ns, { "preview-bot.dev/pr": "1" }, { [REPOSITORY_ANNOTATION]: "acme/shop" });
  const deployment = (name, replicas) => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns, labels },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: `${name}:1` }] } },
    },
  });
  await cluster.apply([
    deployment("web", 3),
    deployment("worker", 1),
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "web", namespace: ns, labels },
      spec: {
        parentRefs: [{ name: "previews", namespace: "gateway-system" }],
        hostnames: [host],
        rules: [{ backendRefs: [{ name: "web", port: 80 }] }],
      },
    },
  ]);
  if (!(await control.waitAwake(ns, 120_000))) throw new Error("the bench's workloads never became ready");

  // Control-plane wake: sleep, then time the wake as the runner does it.
  const wakes = [];
  for (let i = 0; i < Number(opts.wakes); i++) {
    await control.sleep(ns);
    const started = performance.now();
    await control.restoreWorkloads(ns);
    if (!(await control.waitAwake(ns, 120_000))) throw new Error(`wake ${i + 1}: not ready within 120 s`);
    await control.restoreRoutes(ns);
    wakes.push(performance.now() - started);
  }

  // The waking page: the preview asleep as the runner leaves it, the door on a loopback server.
  const out = await control.sleep(ns);
  await cluster.annotateNamespace(ns, {
    [ASLEEP_SINCE_ANNOTATION]: new Date().toISOString(),
    [WAKE_HOSTS_ANNOTATION]: out.hosts.join(","),
  });
  let submitted = 0;
  const door = createWakeDoor({
    cluster,
    submit: async () => void submitted++,
    logger,
    resubmitMs: 0,
  });
  server = createServer(async (req, res) => {
    if (!(await door.listener(req, res))) res.writeHead(404).end();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const port = server.address().port;
  const firstByte = () =>
    new Promise((resolveByte, reject) => {
      const started = performance.now();
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: "/",
          agent: false,
          headers: { host, "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36" },
        },
        (res) => {
          res.once("data", () => {
            const t = performance.now() - started;
            if (res.statusCode !== 503) reject(new Error(`the door answered ${res.statusCode}`));
            res.resume();
            res.on("end", () => resolveByte(t));
          });
        },
      );
      req.on("error", reject).end();
    });
  const cold = [];
  const warm = [];
  for (let i = 0; i < Number(opts.requests); i++) {
    if (i % 2 === 0) {
      door.refresh();
      cold.push(await firstByte());
    } else warm.push(await firstByte());
  }
  const all = [...cold, ...warm];
  console.log("\n| benchmark | measured | target |\n|---|---|---|");
  console.log(
    `| wake: first byte of the waking page | p50 **${ms(pct(all, 50))}**, p95 **${ms(pct(all, 95))}** over ${all.length} (look-up expired: p50 ${ms(pct(cold, 50))}, p95 ${ms(pct(cold, 95))}; within it: p50 ${ms(pct(warm, 50))}, p95 ${ms(pct(warm, 95))}); ${submitted} wakes asked for | ≤ 200 ms p95 |`,
  );
  console.log(
    `| wake: control-plane wake on the real control plane | p50 **${(pct(wakes, 50) / 1000).toFixed(2)} s**, p95 **${(pct(wakes, 95) / 1000).toFixed(2)} s** over ${wakes.length} (2 Deployments, 4 replicas, 1 HTTPRoute; kwok pods: image pull and app start excluded) | ≤ 5 s p95 |`,
  );
} finally {
  server?.close();
  await kube.stop();
}
