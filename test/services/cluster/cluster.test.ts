/** The real Cluster service, through @kubernetes/client-node, against the project's fake API server over HTTP. */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { CoreV1Api } from "@kubernetes/client-node";
import { createLogger } from "../../../src/logger.js";
import { createCluster, OwnershipError } from "../../../src/services/cluster/cluster.js";
import { APPLIED_KINDS_ANNOTATION, MANAGED_BY } from "../../../src/services/shared/labels.js";
import type { Cluster, KubeObject } from "../../../src/services/shared/preview.js";
import { startFakeKube, type FakeKube } from "../../support/fake-kube/index.js";

let fake: FakeKube;
let cluster: Cluster;
let core: CoreV1Api;

beforeAll(async () => {
  fake = await startFakeKube({ namespaceFinalizeMs: 30, controllerTickMs: 10 });
  fake.registerKind({
    group: "secrets-store.csi.x-k8s.io",
    version: "v1",
    kind: "SecretProviderClass",
    plural: "secretproviderclasses",
    namespaced: true,
  });
  cluster = createCluster({
    kubeConfig: fake.kubeConfig(),
    protectedNamespaces: ["production"],
    pollMs: 10,
    namespaceWaitMs: 60_000,
    logger: createLogger({ level: "silent" }),
  });
  core = fake.kubeConfig().makeApiClient(CoreV1Api);
});
afterAll(async () => fake.stop());

const owned = { ...MANAGED_BY, "preview-bot.dev/pr": "42" };

function deployment(ns: string, name: string, labels: Record<string, string> = owned, image = "web:1"): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns, labels },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "main", image }] } },
    },
  };
}
const configMap = (ns: string, name: string, labels: Record<string, string> = owned): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: ns, labels },
  data: { k: "v" },
});

describe("Cluster.ensureNamespace", () => {
  it("creates the namespace with our labels and annotations, then updates them", async () => {
    await cluster.ensureNamespace(
      "pr-1",
      { "preview-bot.dev/pr": "1" },
      { "preview-bot.dev/head-sha": "a".repeat(40) },
    );
    let ns = fake.get("v1", "Namespace", undefined, "pr-1");
    expect(ns?.metadata.labels).toMatchObject({ ...MANAGED_BY, "preview-bot.dev/pr": "1" });
    await cluster.ensureNamespace(
      "pr-1",
      { "preview-bot.dev/pr": "1" },
      { "preview-bot.dev/head-sha": "b".repeat(40) },
    );
    ns = fake.get("v1", "Namespace", undefined, "pr-1");
    expect(ns?.metadata.annotations).toEqual({ "preview-bot.dev/head-sha": "b".repeat(40) });
    expect(
      fake.requests.some(
        (r) => r.path === "/api/v1/namespaces/pr-1" && r.contentType === "application/apply-patch+yaml",
      ),
    ).toBe(true);
  });

  it("refuses a namespace someone else owns, kube-system and configured protected namespaces", async () => {
    await core.createNamespace({ body: { metadata: { name: "team-x", labels: { owner: "team-x" } } } });
    await expect(cluster.ensureNamespace("team-x", {}, {})).rejects.toBeInstanceOf(OwnershipError);
    expect(fake.get("v1", "Namespace", undefined, "team-x")?.metadata.labels).toEqual({
      owner: "team-x",
      "kubernetes.io/metadata.name": "team-x",
    });
    await expect(cluster.ensureNamespace("kube-system", {}, {})).rejects.toBeInstanceOf(OwnershipError);
    await expect(cluster.ensureNamespace("production", {}, {})).rejects.toThrow(/protected/);
    expect(fake.get("v1", "Namespace", undefined, "production")).toBeUndefined();
  });

  it("waits for an old namespace of the same name to finish terminating, then creates it", async () => {
    await cluster.ensureNamespace("pr-2", {}, {});
    fake.stickNamespace("pr-2");
    await core.deleteNamespace({ name: "pr-2" });
    const seen = fake.requests.length;
    const ensured = cluster.ensureNamespace("pr-2", {}, {});
    // release it only once ensureNamespace has found it terminating (it reads the namespace, then waits)
    for (
      let i = 0;
      i < 6000 && !fake.requests.slice(seen).some((r) => r.method === "GET" && r.path === "/api/v1/namespaces/pr-2");
      i++
    )
      await new Promise((r) => setTimeout(r, 10));
    fake.releaseNamespace("pr-2");
    await ensured;
    const ns = fake.get("v1", "Namespace", undefined, "pr-2");
    expect(ns?.metadata.deletionTimestamp).toBeUndefined();
    expect((ns?.status as { phase?: string }).phase).toBe("Active");
  });
});

describe("Cluster.apply and prune", () => {
  it("applies in dependency order with server-side apply, then updates in place", async () => {
    await cluster.ensureNamespace("pr-3", {}, {});
    const spc: KubeObject = {
      apiVersion: "secrets-store.csi.x-k8s.io/v1",
      kind: "SecretProviderClass",
      metadata: { name: "kv", namespace: "pr-3", labels: owned },
      spec: { provider: "azure" },
    };
    const refs = await cluster.apply([deployment("pr-3", "web"), spc, configMap("pr-3", "cfg")]);
    expect(refs.map((r) => r.kind)).toEqual(["ConfigMap", "SecretProviderClass", "Deployment"]);
    const first = fake.get("apps/v1", "Deployment", "pr-3", "web");
    await cluster.apply([deployment("pr-3", "web", owned, "web:2")]);
    const second = fake.get("apps/v1", "Deployment", "pr-3", "web");
    expect(second?.metadata.uid).toBe(first?.metadata.uid);
    expect(second?.metadata.generation).toBe(2);
    const applies = fake.requests.filter(
      (r) => r.method === "PATCH" && r.path === "/apis/apps/v1/namespaces/pr-3/deployments/web",
    );
    expect(applies).toHaveLength(2);
    expect(
      applies.every(
        (r) => r.contentType === "application/apply-patch+yaml" && r.query.includes("fieldManager=preview-bot"),
      ),
    ).toBe(true);
    const kinds = fake.get("v1", "Namespace", undefined, "pr-3")?.metadata.annotations?.[APPLIED_KINDS_ANNOTATION];
    expect(String(kinds).split(",")).toEqual([
      "apps/v1/Deployment",
      "secrets-store.csi.x-k8s.io/v1/SecretProviderClass",
      "v1/ConfigMap",
    ]);
  });

  it("names the object and the server's reason when the server refuses it", async () => {
    await cluster.ensureNamespace("pr-4", {}, {});
    const err = await cluster
      .apply([configMap("pr-4", "fine"), deployment("pr-4", "bad_name")])
      .catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      /^applying Deployment "pr-4\/bad_name": 422 Deployment.apps "bad_name" is invalid: metadata.name: Invalid value/,
    );
    expect((err as Error).cause).toBeDefined();
    await expect(cluster.apply([{ ...configMap("pr-4", "x"), metadata: { name: "x" } }])).rejects.toThrow(
      /needs metadata.namespace/,
    );
    await expect(cluster.apply([configMap("team-x", "x")])).rejects.toBeInstanceOf(OwnershipError);
  });

  it("sends a write again when the quota admission controller answers 409 (writes racing to charge the quota)", async () => {
    await cluster.ensureNamespace("pr-quota", {}, {});
    // The real kube-apiserver's answer when parallel creates in one namespace update its ResourceQuota at once.
    let refused = 0;
    fake.setFaults((req) => {
      if (req.method !== "PATCH" || !req.path.endsWith("/namespaces/pr-quota/configmaps/raced") || refused >= 2)
        return undefined;
      refused++;
      return {
        code: 409,
        reason: "Conflict",
        message:
          'Operation cannot be fulfilled on resourcequotas "preview-bot-guardrails": the object has been modified; please apply your changes to the latest version and try again',
      };
    });
    try {
      await cluster.apply([configMap("pr-quota", "raced")]);
    } finally {
      fake.setFaults(undefined);
    }
    expect(refused).toBe(2);
    const live = await core.readNamespacedConfigMap({ name: "raced", namespace: "pr-quota" });
    expect(live.data).toEqual({ k: "v" });
  });

  it("does not send a write again on any other 409", async () => {
    await cluster.ensureNamespace("pr-conflict", {}, {});
    let refused = 0;
    fake.setFaults((req) => {
      if (req.method !== "PATCH" || !req.path.endsWith("/namespaces/pr-conflict/configmaps/taken")) return undefined;
      refused++;
      return {
        code: 409,
        reason: "Conflict",
        message: 'Apply failed with 1 conflict: conflict with "kubectl": .data.k',
      };
    });
    try {
      await expect(cluster.apply([configMap("pr-conflict", "taken")])).rejects.toThrow(
        /^applying ConfigMap "pr-conflict\/taken": 409 Apply failed with 1 conflict/,
      );
    } finally {
      fake.setFaults(undefined);
    }
    expect(refused).toBe(1);
  });

  it("dry run: the 500 a field of the wrong type gets is that object's refusal; any other 500 is thrown", async () => {
    await cluster.ensureNamespace("pr-typed", {}, {});
    // kube-apiserver's answer to applying `env: [{ name: X, value: false }]` (kubernetes/kubernetes#139253).
    const typed =
      "failed to create typed patch object (/v1, Kind=ConfigMap): .data.k: expected string, got &value.valueUnstructured{Value:false}";
    fake.setFaults((req) =>
      req.method === "PATCH" && req.path.endsWith("/namespaces/pr-typed/configmaps/typed")
        ? { code: 500, reason: "InternalError", message: typed }
        : req.method === "PATCH" && req.path.endsWith("/namespaces/pr-typed/configmaps/down")
          ? 500
          : undefined,
    );
    try {
      expect(await cluster.dryRun([configMap("pr-typed", "typed"), configMap("pr-typed", "fine")])).toEqual([
        expect.objectContaining({ outcome: "refused", status: 500, message: typed }),
        expect.objectContaining({ outcome: "accepted" }),
      ]);
      await expect(cluster.dryRun([configMap("pr-typed", "down")])).rejects.toThrow(
        /^dry-running ConfigMap "pr-typed\/down": 500 fake-kube: injected fault 500/,
      );
    } finally {
      fake.setFaults(undefined);
    }
  });

  it("prunes what the render dropped, including a whole kind, but never objects without our label", async () => {
    await cluster.ensureNamespace("pr-5", {}, {});
    await cluster.apply([configMap("pr-5", "keep"), configMap("pr-5", "dropped"), deployment("pr-5", "old-worker")]);
    await core.createNamespacedConfigMap({
      namespace: "pr-5",
      body: { metadata: { name: "someone-elses", labels: { "preview-bot.dev/pr": "42" } } },
    });
    const keep = await cluster.apply([configMap("pr-5", "keep")]);

    const planned = await cluster.prune("pr-5", { "preview-bot.dev/pr": "42" }, keep, { dryRun: true });
    expect(planned.map((r) => `${r.kind}/${r.name}`).sort()).toEqual(["ConfigMap/dropped", "Deployment/old-worker"]);
    expect(fake.get("v1", "ConfigMap", "pr-5", "dropped")).toBeDefined();

    const pruned = await cluster.prune("pr-5", { "preview-bot.dev/pr": "42" }, keep);
    expect(pruned.map((r) => `${r.kind}/${r.name}`).sort()).toEqual(["ConfigMap/dropped", "Deployment/old-worker"]);
    expect(fake.get("v1", "ConfigMap", "pr-5", "dropped")).toBeUndefined();
    expect(fake.get("apps/v1", "Deployment", "pr-5", "old-worker")).toBeUndefined();
    expect(fake.get("v1", "ConfigMap", "pr-5", "keep")).toBeDefined();
    expect(fake.get("v1", "ConfigMap", "pr-5", "someone-elses")).toBeDefined();
    expect(fake.get("v1", "Namespace", undefined, "pr-5")?.metadata.annotations?.[APPLIED_KINDS_ANNOTATION]).toBe(
      "v1/ConfigMap",
    );
  });
});

describe("Cluster.waitForRollout", () => {
  it("reports ready workloads once rolled out", async () => {
    await cluster.ensureNamespace("pr-6", {}, {});
    await cluster.apply([deployment("pr-6", "web"), deployment("pr-6", "api")]);
    const health = await cluster.waitForRollout("pr-6", 120_000); // returns as soon as both are ready
    expect(health.map((h) => [h.name, h.ready, h.summary]).sort()).toEqual([
      ["api", true, "1/1 ready"],
      ["web", true, "1/1 ready"],
    ]);
  });

  it("waits for ReplicationControllers too; one whose pod template changed is replaced, one whose replicas changed is not", async () => {
    const rc = (image: string, replicas = 1): KubeObject => ({
      apiVersion: "v1",
      kind: "ReplicationController",
      metadata: { name: "redis", namespace: "pr-16", labels: owned },
      spec: {
        replicas,
        selector: { app: "redis" },
        template: { metadata: { labels: { app: "redis" } }, spec: { containers: [{ name: "redis", image }] } },
      },
    });
    await cluster.ensureNamespace("pr-16", {}, {});
    expect(await cluster.apply([rc("redis:7")])).toEqual([
      { apiVersion: "v1", kind: "ReplicationController", namespace: "pr-16", name: "redis" },
    ]);
    expect((await cluster.waitForRollout("pr-16", 120_000)).map((h) => [h.kind, h.name, h.summary])).toEqual([
      ["ReplicationController", "redis", "1/1 ready"],
    ]);
    const uid = () => fake.get("v1", "ReplicationController", "pr-16", "redis")?.metadata.uid;
    const first = uid();
    expect(await cluster.apply([rc("redis:7", 2)])).toEqual([
      { apiVersion: "v1", kind: "ReplicationController", namespace: "pr-16", name: "redis" },
    ]);
    expect(uid()).toBe(first);
    expect(await cluster.apply([rc("redis:8", 2)])).toEqual([
      {
        apiVersion: "v1",
        kind: "ReplicationController",
        namespace: "pr-16",
        name: "redis",
        replaced: ["spec.template"],
      },
    ]);
    expect(uid()).not.toBe(first);
    const health = await cluster.waitForRollout("pr-16", 120_000);
    expect(health.map((h) => h.summary)).toEqual(["2/2 ready"]);
  });

  it("diagnoses failing workloads with reasons, events and a redacted log tail, without throwing", async () => {
    fake.setWorkloadBehaviour((o) => {
      if (o.metadata.namespace !== "pr-7") return "ready";
      if (o.metadata.name === "web")
        return { fail: "ImagePullBackOff", message: 'Failed to pull image "web:missing": manifest unknown' };
      if (o.metadata.name === "worker")
        return { fail: "CrashLoopBackOff", log: "booting\nPASSWORD=hunter2\nerror: cannot connect to database\n" };
      return "ready";
    });
    await cluster.ensureNamespace("pr-7", {}, {});
    await cluster.apply([
      deployment("pr-7", "web", owned, "web:missing"),
      deployment("pr-7", "worker"),
      deployment("pr-7", "fine"),
    ]);
    // every workload reconciled by the fake's controller first, so the short wait below sees final states on any
    // machine
    for (
      let i = 0;
      i < 6000 &&
      !["web", "worker", "fine"].every(
        (n) =>
          (fake.get("apps/v1", "Deployment", "pr-7", n)?.status as { observedGeneration?: number } | undefined)
            ?.observedGeneration,
      );
      i++
    )
      await new Promise((r) => setTimeout(r, 10));
    const health = await cluster.waitForRollout("pr-7", 400);
    const byName = Object.fromEntries(health.map((h) => [h.name, h]));
    expect(byName.fine).toMatchObject({ ready: true });
    expect(byName.web).toMatchObject({ ready: false, summary: "0/1 ready: ImagePullBackOff" });
    expect(byName.web?.diagnosis).toContain("waiting ImagePullBackOff");
    expect(byName.web?.diagnosis).toContain('event Failed: Failed to pull image "web:missing": manifest unknown');
    expect(byName.worker).toMatchObject({ ready: false, summary: "0/1 ready: CrashLoopBackOff" });
    expect(byName.worker?.diagnosis).toContain("error: cannot connect to database");
    expect(byName.worker?.diagnosis).toContain("PASSWORD=[REDACTED]");
    expect(JSON.stringify(health)).not.toContain("hunter2");
    expect(fake.requests.some((r) => r.path.endsWith("/log") && r.query.includes("tailLines=20"))).toBe(true);
  });
});

describe("Cluster secrets, CronJobs and namespace teardown", () => {
  it("upserts an Opaque secret with our labels and refuses to overwrite someone else's", async () => {
    await cluster.ensureNamespace("pr-8", {}, {});
    await cluster.upsertSecret("pr-8", "db", { PASSWORD: "pw-1", USER: "u" }, { "preview-bot.dev/pr": "8" });
    await cluster.upsertSecret("pr-8", "db", { PASSWORD: "pw-2" }, { "preview-bot.dev/pr": "8" });
    const s = fake.get("v1", "Secret", "pr-8", "db");
    expect(s?.data).toEqual({ PASSWORD: Buffer.from("pw-2").toString("base64") });
    expect(s?.metadata.labels).toMatchObject(MANAGED_BY);
    await core.createNamespacedSecret({
      namespace: "pr-8",
      body: { metadata: { name: "theirs" }, stringData: { a: "b" } },
    });
    await expect(cluster.upsertSecret("pr-8", "theirs", { a: "c" }, {})).rejects.toBeInstanceOf(OwnershipError);
  });

  it("suspends every CronJob with a merge patch", async () => {
    await cluster.ensureNamespace("pr-9", {}, {});
    const cron = (name: string): KubeObject => ({
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name, namespace: "pr-9", labels: owned },
      spec: {
        schedule: "*/5 * * * *",
        jobTemplate: {
          spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "busybox" }] } } },
        },
      },
    });
    await cluster.apply([cron("nightly"), cron("hourly")]);
    expect((await cluster.suspendCronJobs("pr-9")).sort()).toEqual(["hourly", "nightly"]);
    for (const n of ["nightly", "hourly"])
      expect((fake.get("batch/v1", "CronJob", "pr-9", n)?.spec as { suspend?: boolean }).suspend).toBe(true);
    expect(
      fake.requests
        .filter((r) => r.method === "PATCH" && r.path.startsWith("/apis/batch/v1/namespaces/pr-9/cronjobs/"))
        .map((r) => r.contentType),
    ).toContain("application/merge-patch+json");
    expect(await cluster.suspendCronJobs("pr-9")).toHaveLength(2);
  });

  it("deletes our namespace and waits for it, says absent when there is none, and stuck when it hangs", async () => {
    await cluster.ensureNamespace("pr-10", { "preview-bot.dev/pr": "10" }, {});
    expect((await cluster.listNamespaces({ "preview-bot.dev/pr": "10" })).map((n) => [n.name, n.phase])).toEqual([
      ["pr-10", "Active"],
    ]);
    expect(await cluster.deleteNamespace("pr-10", { waitMs: 2000 })).toBe("deleted");
    expect(fake.get("v1", "Namespace", undefined, "pr-10")).toBeUndefined();
    expect(await cluster.deleteNamespace("pr-10", { waitMs: 100 })).toBe("absent");

    await cluster.ensureNamespace("pr-11", {}, {});
    fake.stickNamespace("pr-11");
    expect(await cluster.deleteNamespace("pr-11", { waitMs: 150 })).toBe("stuck");
    expect(await cluster.deleteNamespace("pr-11", { waitMs: 50 })).toBe("stuck"); // already Terminating: no second DELETE error
    fake.releaseNamespace("pr-11");

    await expect(cluster.deleteNamespace("team-x", { waitMs: 100 })).rejects.toBeInstanceOf(OwnershipError);
    await expect(cluster.deleteNamespace("kube-system", { waitMs: 100 })).rejects.toBeInstanceOf(OwnershipError);
    expect(fake.get("v1", "Namespace", undefined, "team-x")).toBeDefined();
  });
});

describe("Cluster.resourceScope", () => {
  it("reads a kind's scope from API discovery, custom kinds included, and says when a kind is not served", async () => {
    expect(await cluster.resourceScope("v1", "ConfigMap")).toBe("Namespaced");
    expect(await cluster.resourceScope("v1", "Namespace")).toBe("Cluster");
    expect(await cluster.resourceScope("rbac.authorization.k8s.io/v1", "ClusterRole")).toBe("Cluster");
    expect(await cluster.resourceScope("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass")).toBe("Namespaced");
    expect(await cluster.resourceScope("example.com/v1", "Widget")).toBeUndefined();
  });
});

describe("Cluster.readObject", () => {
  it("reads one object, and answers undefined for a missing object or a kind the cluster does not serve", async () => {
    fake.registerKind({
      group: "gateway.networking.k8s.io",
      version: "v1",
      kind: "Gateway",
      plural: "gateways",
      namespaced: true,
    });
    fake.seed({
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: "shared", namespace: "infra" },
      spec: { listeners: [{ name: "https", protocol: "HTTPS", port: 443 }] },
    });
    const gw = await cluster.readObject("gateway.networking.k8s.io/v1", "Gateway", "infra", "shared");
    expect((gw?.spec as { listeners: unknown[] }).listeners).toEqual([{ name: "https", protocol: "HTTPS", port: 443 }]);
    expect(await cluster.readObject("gateway.networking.k8s.io/v1", "Gateway", "infra", "nope")).toBeUndefined();
    expect(await cluster.readObject("example.com/v1", "Widget", "infra", "w")).toBeUndefined();
  });
});
