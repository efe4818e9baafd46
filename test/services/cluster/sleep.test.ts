/**
 * SleepControl (cluster/sleep.ts) on the real control plane: what a deploy applied (server-side apply, manager
 * `preview-bot`) is put to sleep and woken by the sleep's own field manager — replicas and HPA minimums kept,
 * CronJobs suspended and resumed (one suspended by its manifest stays so), HTTPRoute and Ingress backends swapped to
 * the bot's wake Service and back (with the ReferenceGrant and the ExternalName Service in between) — and a deploy
 * in between takes its fields back without a conflict, the next wake leaving the deploy's values alone.
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import {
  AppsV1Api,
  AutoscalingV2Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  NetworkingV1Api,
} from "@kubernetes/client-node";
import { createLogger } from "../../../src/logger.js";
import { createCluster } from "../../../src/services/cluster/cluster.js";
import { createSleepControl } from "../../../src/services/cluster/sleep.js";
import { MANAGED_BY } from "../../../src/services/shared/labels.js";
import type { Cluster, KubeObject } from "../../../src/services/shared/preview.js";
import {
  SLEEP_BACKENDS_ANNOTATION,
  SLEEP_REPLICAS_ANNOTATION,
  type SleepControl,
} from "../../../src/services/shared/sleep.js";
import { describeWithRealCluster } from "../../support/kube-real/index.js";

const logger = createLogger({ level: "silent" });
const labels = { ...MANAGED_BY, "preview-bot.dev/pr": "7" };

function workload(kind: "Deployment" | "StatefulSet", ns: string, name: string, replicas?: number): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind,
    metadata: { name, namespace: ns, labels },
    spec: {
      ...(replicas !== undefined ? { replicas } : {}),
      ...(kind === "StatefulSet" ? { serviceName: name } : {}),
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [{ name: "main", image: "web:1", resources: { requests: { cpu: "250m", memory: "256Mi" } } }],
        },
      },
    },
  };
}

function manifests(ns: string): KubeObject[] {
  const cron = (name: string, suspend: boolean): KubeObject => ({
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name, namespace: ns, labels },
    spec: {
      schedule: "0 3 * * *",
      ...(suspend ? { suspend: true } : {}),
      jobTemplate: {
        spec: {
          template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "job:1" }] } },
        },
      },
    },
  });
  return [
    workload("Deployment", ns, "web", 3), // autoscaled: the deploy leaves its replicas to the HPA (minimum 2)
    workload("Deployment", ns, "api", 3),
    workload("Deployment", ns, "worker"), // no replicas in the manifest: the server's default 1
    workload("StatefulSet", ns, "db", 2),
    {
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: { name: "web", namespace: ns, labels },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
        minReplicas: 2,
        maxReplicas: 5,
        metrics: [
          { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } } },
        ],
      },
    },
    cron("nightly", false),
    cron("manual", true),
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: ns, labels },
      spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] },
    },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name: "web", namespace: ns, labels },
      spec: {
        parentRefs: [{ name: "previews", namespace: "gateway" }],
        hostnames: [`${ns}.previews.example.test`],
        rules: [
          { matches: [{ path: { type: "PathPrefix", value: "/api" } }], backendRefs: [{ name: "web", port: 80 }] },
          {
            backendRefs: [
              { name: "web", port: 80, weight: 3 },
              { name: "worker", port: 80, weight: 1 },
            ],
          },
        ],
      },
    },
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: { name: "web", namespace: ns, labels },
      spec: {
        defaultBackend: { service: { name: "web", port: { number: 80 } } },
        rules: [
          {
            host: `ing-${ns}.previews.example.test`,
            http: {
              paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }],
            },
          },
        ],
      },
    },
  ];
}

describeWithRealCluster("sleep and wake on the real control plane", (kube) => {
  const id = randomBytes(3).toString("hex");
  const ns = `sleep-${id}`;
  const botNs = `bot-${id}`;
  let cluster: Cluster;
  let control: SleepControl;
  let apps: AppsV1Api;
  let hpas: AutoscalingV2Api;
  let batch: BatchV1Api;
  let core: CoreV1Api;
  let net: NetworkingV1Api;
  let custom: CustomObjectsApi;

  const replicas = async () => {
    const [web, api, worker, db] = await Promise.all([
      apps.readNamespacedDeployment({ name: "web", namespace: ns }),
      apps.readNamespacedDeployment({ name: "api", namespace: ns }),
      apps.readNamespacedDeployment({ name: "worker", namespace: ns }),
      apps.readNamespacedStatefulSet({ name: "db", namespace: ns }),
    ]);
    return { web: web.spec?.replicas, api: api.spec?.replicas, worker: worker.spec?.replicas, db: db.spec?.replicas };
  };
  const suspended = async () => ({
    nightly: (await batch.readNamespacedCronJob({ name: "nightly", namespace: ns })).spec?.suspend ?? false,
    manual: (await batch.readNamespacedCronJob({ name: "manual", namespace: ns })).spec?.suspend ?? false,
  });
  const route = async () =>
    (await custom.getNamespacedCustomObject({
      group: "gateway.networking.k8s.io",
      version: "v1",
      namespace: ns,
      plural: "httproutes",
      name: "web",
    })) as { metadata: { annotations?: Record<string, string> }; spec: { rules: Array<{ backendRefs?: unknown[] }> } };
  const routeRefs = async () =>
    (await route()).spec.rules.map((r) =>
      (r.backendRefs ?? []).map((b) => {
        const ref = b as { name: string; namespace?: string; port: number; weight?: number };
        return `${ref.namespace ?? ns}/${ref.name}:${ref.port}${ref.weight !== undefined && ref.weight !== 1 ? ` w${ref.weight}` : ""}`;
      }),
    );
  const ingressBackends = async () => {
    const ing = await net.readNamespacedIngress({ name: "web", namespace: ns });
    return [
      ing.spec?.defaultBackend?.service?.name,
      ...(ing.spec?.rules ?? []).flatMap((r) => (r.http?.paths ?? []).map((p) => p.backend.service?.name)),
    ];
  };
  const exists = async (read: () => Promise<unknown>) =>
    read().then(
      () => true,
      (err: { code?: number }) => {
        if (err.code === 404) return false;
        throw err;
      },
    );
  const grantExists = () =>
    exists(() =>
      custom.getNamespacedCustomObject({
        group: "gateway.networking.k8s.io",
        version: "v1beta1",
        namespace: botNs,
        plural: "referencegrants",
        name: `preview-wake-${ns}`,
      }),
    );
  const wakeServiceExists = () => exists(() => core.readNamespacedService({ name: "preview-bot-wake", namespace: ns }));

  beforeAll(async () => {
    const kc = kube().kubeConfig();
    cluster = createCluster({ kubeConfig: kc, logger, pollMs: 100 });
    control = createSleepControl({
      kubeConfig: kc,
      backend: { namespace: botNs, name: "preview-bot", port: 8080, clusterDomain: "cluster.local" },
      logger,
      pollMs: 100,
    });
    apps = kc.makeApiClient(AppsV1Api);
    hpas = kc.makeApiClient(AutoscalingV2Api);
    batch = kc.makeApiClient(BatchV1Api);
    core = kc.makeApiClient(CoreV1Api);
    net = kc.makeApiClient(NetworkingV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
    await core.createNamespace({ body: { metadata: { name: botNs } } });
    await cluster.ensureNamespace(ns, { "preview-bot.dev/pr": "7" }, {});
    await cluster.apply(manifests(ns));
    // The HPA raises web to its minimum (the deploy applied no replicas for it): its decision is what sleep keeps.
    const deadline = Date.now() + 60_000;
    while ((await replicas()).web !== 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  }, 90_000);

  afterAll(async () => {
    await Promise.all([ns, botNs].map((name) => core.deleteNamespace({ name }).catch(() => undefined)));
  });

  it("wakes up from awake: nothing recorded, nothing restored", async () => {
    expect(await control.restoreWorkloads(ns)).toEqual({ workloads: [], autoscalers: [], cronJobs: [] });
    expect(await control.restoreRoutes(ns)).toEqual({ routes: [] });
    expect(await replicas()).toEqual({ web: 2, api: 3, worker: 1, db: 2 });
  });

  it("sleeps: replicas 0 and recorded, HPA kept, CronJobs suspended, both kinds of route at the wake door", async () => {
    const out = await control.sleep(ns);
    expect(out.workloads).toEqual(['Deployment "api"', 'Deployment "web"', 'Deployment "worker"', 'StatefulSet "db"']);
    expect(out.cronJobs).toEqual(['CronJob "nightly"']);
    expect(out.routes).toEqual(['HTTPRoute "web"', 'Ingress "web"']);
    expect(out.hosts).toEqual([`${ns}.previews.example.test`, `ing-${ns}.previews.example.test`].sort());
    expect(await replicas()).toEqual({ web: 0, api: 0, worker: 0, db: 0 });
    const web = await apps.readNamespacedDeployment({ name: "web", namespace: ns });
    expect(web.metadata?.annotations?.[SLEEP_REPLICAS_ANNOTATION]).toBe("2");
    expect((await hpas.readNamespacedHorizontalPodAutoscaler({ name: "web", namespace: ns })).spec?.minReplicas).toBe(
      2,
    );
    expect(await suspended()).toEqual({ nightly: true, manual: true });
    expect(await routeRefs()).toEqual([[`${botNs}/preview-bot:8080`], [`${botNs}/preview-bot:8080`]]);
    expect(JSON.parse((await route()).metadata.annotations![SLEEP_BACKENDS_ANNOTATION]!)).toHaveLength(2);
    expect(await ingressBackends()).toEqual(["preview-bot-wake", "preview-bot-wake"]);
    expect(await grantExists()).toBe(true);
    const svc = await core.readNamespacedService({ name: "preview-bot-wake", namespace: ns });
    expect(svc.spec?.externalName).toBe(`preview-bot.${botNs}.svc.cluster.local`);
  });

  it("sleeps again without recording the 0 over the replicas it kept", async () => {
    await control.sleep(ns);
    const api = await apps.readNamespacedDeployment({ name: "api", namespace: ns });
    expect(api.metadata?.annotations?.[SLEEP_REPLICAS_ANNOTATION]).toBe("3");
    expect((await control.requests(ns)).map((w) => [w.workload, w.replicas])).toEqual(
      expect.arrayContaining([
        ['Deployment "web"', 2],
        ['Deployment "api"', 3],
        ['Deployment "worker"', 1],
        ['StatefulSet "db"', 2],
      ]),
    );
  });

  it("wakes: replicas back, ready, routes back, the wake door's objects gone", async () => {
    const w = await control.restoreWorkloads(ns);
    expect(w.workloads).toEqual(['Deployment "api"', 'Deployment "web"', 'Deployment "worker"', 'StatefulSet "db"']);
    expect(await replicas()).toEqual({ web: 2, api: 3, worker: 1, db: 2 });
    expect(await suspended()).toEqual({ nightly: false, manual: true });
    expect(await control.waitAwake(ns, 120_000)).toBe(true);
    expect((await control.restoreRoutes(ns)).routes).toEqual(['HTTPRoute "web"', 'Ingress "web"']);
    expect(await routeRefs()).toEqual([[`${ns}/web:80`], [`${ns}/web:80 w3`, `${ns}/worker:80`]]);
    expect(await ingressBackends()).toEqual(["web", "web"]);
    expect(await grantExists()).toBe(false);
    expect(await wakeServiceExists()).toBe(false);
    const web = await apps.readNamespacedDeployment({ name: "web", namespace: ns });
    expect(web.metadata?.annotations?.[SLEEP_REPLICAS_ANNOTATION]).toBeUndefined();
    expect((await hpas.readNamespacedHorizontalPodAutoscaler({ name: "web", namespace: ns })).spec?.minReplicas).toBe(
      2,
    );
  }, 150_000);

  it("a deploy while asleep takes its fields back without a conflict; the wake then restores only what it left", async () => {
    await control.sleep(ns);
    const changed = manifests(ns);
    (changed[1]!.spec as { replicas: number }).replicas = 4; // the new commit asks for 4 api replicas
    await cluster.apply(changed);
    // The deploy forces what its manifests say (api, db); web (the HPA's) and worker (no replicas) stay the sleep's.
    expect(await replicas()).toEqual({ web: 0, api: 4, worker: 0, db: 2 });
    expect(await routeRefs()).toEqual([[`${ns}/web:80`], [`${ns}/web:80 w3`, `${ns}/worker:80`]]);
    const w = await control.restoreWorkloads(ns);
    // What the sleep still held comes back; the deploy's values stand.
    expect(w.workloads).toEqual(['Deployment "web"', 'Deployment "worker"']);
    expect(await replicas()).toEqual({ web: 2, api: 4, worker: 1, db: 2 });
    expect((await control.restoreRoutes(ns)).routes).toEqual([]);
    expect(await grantExists()).toBe(false);
    expect(await wakeServiceExists()).toBe(false);
    expect((await route()).metadata.annotations?.[SLEEP_BACKENDS_ANNOTATION]).toBeUndefined();
    // Nothing of the sleep's is left to fight the next deploy over.
    for (const name of ["web", "api", "worker"]) {
      const d = await apps.readNamespacedDeployment({ name, namespace: ns });
      expect(d.metadata?.annotations?.[SLEEP_REPLICAS_ANNOTATION]).toBeUndefined();
    }
  }, 60_000);
});
