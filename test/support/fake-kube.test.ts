/** The fake API server, checked through the real @kubernetes/client-node (what the bot will run against). */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  type KubernetesObject,
  type V1Deployment,
} from "@kubernetes/client-node";
import { startFakeKube, type FakeKube } from "./fake-kube/index.js";

let fake: FakeKube;
let core: CoreV1Api;
let apps: AppsV1Api;
let objects: KubernetesObjectApi;

beforeAll(async () => {
  fake = await startFakeKube({ namespaceFinalizeMs: 30, controllerTickMs: 10 });
  const kc = fake.kubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  apps = kc.makeApiClient(AppsV1Api);
  objects = KubernetesObjectApi.makeApiClient(kc);
});
afterAll(async () => fake.stop());

/** Run `fn` and return the ApiException it throws (fails the test when it does not throw one). */
async function apiError(fn: () => Promise<unknown>): Promise<{ code: number; status: Record<string, unknown> }> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof ApiException)) throw e;
    const body =
      typeof e.body === "string"
        ? (JSON.parse(e.body) as Record<string, unknown>)
        : (e.body as Record<string, unknown>);
    return { code: e.code, status: body };
  }
  throw new Error("expected the call to fail");
}

const deployment = (ns: string, name: string, image = "nginx:1"): V1Deployment & KubernetesObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace: ns, labels: { app: name } },
  spec: {
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "main", image }] } },
  },
});

async function until<T>(fn: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("fake Kubernetes API server, through @kubernetes/client-node", () => {
  it("answers 409 AlreadyExists with a Status body on a duplicate create", async () => {
    await core.createNamespace({ body: { metadata: { name: "dup" } } });
    const ns = await core.readNamespace({ name: "dup" });
    expect(ns.status?.phase).toBe("Active");
    expect(ns.metadata?.uid).toMatch(/[0-9a-f-]{36}/);
    expect(ns.metadata?.labels?.["kubernetes.io/metadata.name"]).toBe("dup");
    const err = await apiError(() => core.createNamespace({ body: { metadata: { name: "dup" } } }));
    expect(err.code).toBe(409);
    expect(err.status).toMatchObject({
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      reason: "AlreadyExists",
      code: 409,
      details: { name: "dup", kind: "namespaces" },
    });
  });

  it("answers 404 for a missing object, a missing namespace and an unknown kind", async () => {
    const missing = await apiError(() => core.readNamespacedConfigMap({ name: "nope", namespace: "default" }));
    expect(missing).toMatchObject({
      code: 404,
      status: { reason: "NotFound", message: 'configmaps "nope" not found' },
    });
    const noNs = await apiError(() =>
      core.createNamespacedConfigMap({ namespace: "ghost", body: { metadata: { name: "c" } } }),
    );
    expect(noNs).toMatchObject({ code: 404, status: { message: 'namespaces "ghost" not found' } });
    await expect(
      objects.read({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w", namespace: "default" } }),
    ).rejects.toThrow(/404/);
    await expect(
      objects.read({ apiVersion: "v1", kind: "Widget", metadata: { name: "w", namespace: "default" } }),
    ).rejects.toThrow(/Unrecognized API version and kind/);
    const del = await apiError(() => core.deleteNamespacedSecret({ name: "nope", namespace: "default" }));
    expect(del.code).toBe(404);
  });

  it("serves registered custom kinds in discovery and CRUD", async () => {
    fake.registerKind({
      group: "alb.networking.azure.io",
      version: "v1",
      kind: "HealthCheckPolicy",
      plural: "healthcheckpolicies",
      namespaced: true,
    });
    const applied = await objects.patch(
      {
        apiVersion: "alb.networking.azure.io/v1",
        kind: "HealthCheckPolicy",
        metadata: { name: "hc", namespace: "default" },
        spec: { default: { interval: "5s" } },
      } as KubernetesObject,
      undefined,
      undefined,
      "test",
      true,
      PatchStrategy.ServerSideApply,
    );
    expect(applied.metadata?.uid).toBeDefined();
    const list = await objects.list("alb.networking.azure.io/v1", "HealthCheckPolicy", "default");
    expect(list.items.map((i) => i.metadata?.name)).toEqual(["hc"]);
  });

  it("rejects names that are not DNS-1123 and a body namespace that disagrees with the URL", async () => {
    const ns = await apiError(() => core.createNamespace({ body: { metadata: { name: "Bad_Name" } } }));
    expect(ns).toMatchObject({
      code: 422,
      status: { reason: "Invalid", details: { kind: "Namespace", causes: [{ field: "metadata.name" }] } },
    });
    expect(String(ns.status.message)).toContain("RFC 1123 label");
    const dotted = await apiError(() =>
      core.createNamespacedService({ namespace: "default", body: { metadata: { name: "a.b" } } }),
    );
    expect(dotted.code).toBe(422); // services are labels, not subdomains
    await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "a.b" } } }); // configmaps are subdomains
    const noName = await apiError(() =>
      core.createNamespacedConfigMap({ namespace: "default", body: { metadata: {} } }),
    );
    expect(noName).toMatchObject({ code: 422, status: { details: { causes: [{ reason: "FieldValueRequired" }] } } });
    const badLabel = await apiError(() =>
      core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "l", labels: { a: "x".repeat(64) } } },
      }),
    );
    expect(badLabel.code).toBe(422);
    const mismatch = await apiError(() =>
      core.createNamespacedConfigMap({
        namespace: "default",
        body: { metadata: { name: "m", namespace: "kube-system" } },
      }),
    );
    expect(mismatch).toMatchObject({ code: 400, status: { reason: "BadRequest" } });
  });

  it("server-side applies: creates, then updates, with the apply content type and managedFields", async () => {
    await core.createNamespace({ body: { metadata: { name: "ssa" } } });
    const cm: KubernetesObject & { data?: Record<string, string> } = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "cfg", namespace: "ssa", labels: { a: "1", b: "2" } },
      data: { x: "1" },
    };
    const created = await objects.patch(
      structuredClone(cm),
      undefined,
      undefined,
      "mgr",
      true,
      PatchStrategy.ServerSideApply,
    );
    const updated = await objects.patch(
      { ...structuredClone(cm), metadata: { ...cm.metadata, labels: { a: "1" } }, data: { x: "2" } },
      undefined,
      undefined,
      "mgr",
      true,
      PatchStrategy.ServerSideApply,
    );
    expect(updated.metadata?.uid).toBe(created.metadata?.uid);
    expect(Number(updated.metadata?.resourceVersion)).toBeGreaterThan(Number(created.metadata?.resourceVersion));
    const stored = fake.get("v1", "ConfigMap", "ssa", "cfg");
    expect(stored?.data).toEqual({ x: "2" });
    expect(stored?.metadata.labels).toEqual({ a: "1" }); // a field the manager stopped applying is removed
    expect(stored?.metadata.managedFields).toEqual([
      expect.objectContaining({ manager: "mgr", operation: "Apply", fieldsType: "FieldsV1" }),
    ]);
    const patches = fake.requests.filter(
      (r) => r.method === "PATCH" && r.path === "/api/v1/namespaces/ssa/configmaps/cfg",
    );
    expect(patches.map((r) => r.contentType)).toEqual(["application/apply-patch+yaml", "application/apply-patch+yaml"]);
    expect(patches[0]?.query).toContain("fieldManager=mgr");
  });

  it("requires a fieldManager for apply and refuses unknown patch types with 415", async () => {
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "nofm", namespace: "default" } };
    const noManager = await apiError(() =>
      objects.patch(structuredClone(cm), undefined, undefined, undefined, undefined, PatchStrategy.ServerSideApply),
    );
    expect(noManager).toMatchObject({ code: 422, status: { reason: "Invalid" } });
    await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "nofm" } } });
    const jsonPatch = await apiError(() =>
      objects.patch(structuredClone(cm), undefined, undefined, "m", undefined, PatchStrategy.JsonPatch),
    );
    expect(jsonPatch.code).toBe(415);
    const merged = await objects.patch(
      { ...structuredClone(cm), data: { k: "v" } },
      undefined,
      undefined,
      "m",
      undefined,
      PatchStrategy.MergePatch,
    );
    expect((merged as { data?: unknown }).data).toEqual({ k: "v" });
  });

  it("bumps generation on spec change only and keeps status out of user writes", async () => {
    await core.createNamespace({ body: { metadata: { name: "gen" } } });
    const d = await apps.createNamespacedDeployment({ namespace: "gen", body: deployment("gen", "web") });
    expect(d.metadata?.generation).toBe(1);
    expect(d.spec?.replicas).toBe(1); // defaulted
    const relabelled = await apps
      .patchNamespacedDeployment({ name: "web", namespace: "gen", body: [{ op: "add", path: "/x", value: 1 }] })
      .catch((e: unknown) => e);
    expect(relabelled).toBeInstanceOf(ApiException); // the typed client defaults to JSON Patch, which the fake refuses (415)
    const replaced = await apps.replaceNamespacedDeployment({
      name: "web",
      namespace: "gen",
      body: { ...deployment("gen", "web", "nginx:2"), status: { replicas: 99 } },
    });
    expect(replaced.metadata?.generation).toBe(2);
    expect(replaced.status?.replicas).not.toBe(99);
  });

  it("filters lists by equality and set-based label selectors and by field selectors", async () => {
    await core.createNamespace({ body: { metadata: { name: "sel" } } });
    const mk = (name: string, labels: Record<string, string>) =>
      core.createNamespacedConfigMap({ namespace: "sel", body: { metadata: { name, labels } } });
    await mk("a", { tier: "web", env: "pr" });
    await mk("b", { tier: "db", env: "pr" });
    await mk("c", { tier: "cache" });
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (
        await core.listNamespacedConfigMap({
          namespace: "sel",
          ...(labelSelector ? { labelSelector } : {}),
          ...(fieldSelector ? { fieldSelector } : {}),
        })
      ).items.map((i) => i.metadata?.name);
    expect(await names("tier=web")).toEqual(["a"]);
    expect(await names("tier==db")).toEqual(["b"]);
    expect(await names("tier!=web")).toEqual(["b", "c"]);
    expect(await names("tier in (web,cache)")).toEqual(["a", "c"]);
    expect(await names("tier notin (web),env")).toEqual(["b"]);
    expect(await names("!env")).toEqual(["c"]);
    expect(await names(undefined, "metadata.name=b")).toEqual(["b"]);
    expect(await names("env", "metadata.name!=a")).toEqual(["b"]);
    const list = await core.listNamespacedConfigMap({ namespace: "sel" });
    expect(Number(list.metadata?.resourceVersion)).toBeGreaterThan(0);
    expect(
      (await apiError(() => core.listNamespacedConfigMap({ namespace: "sel", labelSelector: "tier in web" }))).code,
    ).toBe(400);
    expect(
      (await apiError(() => core.listNamespacedConfigMap({ namespace: "sel", fieldSelector: "data.x=1" }))).code,
    ).toBe(400);
  });

  it("streams watch events after a resourceVersion, and current objects as ADDED without one", async () => {
    await core.createNamespace({ body: { metadata: { name: "w" } } });
    await core.createNamespacedConfigMap({
      namespace: "w",
      body: { metadata: { name: "before", labels: { app: "x" } } },
    });
    const list = await core.listNamespacedConfigMap({ namespace: "w" });
    const fromNow: string[] = [];
    const fromStart: string[] = [];
    const watch = new Watch(fake.kubeConfig());
    const path = "/api/v1/namespaces/w/configmaps";
    const c1 = await watch.watch(
      path,
      { resourceVersion: list.metadata?.resourceVersion, labelSelector: "app=x" },
      (type, obj: KubernetesObject) => fromNow.push(`${type} ${obj.metadata?.name}`),
      () => {},
    );
    const c2 = await watch.watch(
      path,
      {},
      (type, obj: KubernetesObject) => fromStart.push(`${type} ${obj.metadata?.name}`),
      () => {},
    );
    await core.createNamespacedConfigMap({
      namespace: "w",
      body: { metadata: { name: "after", labels: { app: "x" } } },
    });
    await core.createNamespacedConfigMap({ namespace: "w", body: { metadata: { name: "other" } } });
    await core.deleteNamespacedConfigMap({ name: "after", namespace: "w" });
    await until(() => (fromNow.length >= 2 && fromStart.length >= 4 ? true : undefined));
    c1.abort();
    c2.abort();
    expect(fromNow).toEqual(["ADDED after", "DELETED after"]);
    expect(fromStart).toEqual(["ADDED before", "ADDED after", "ADDED other", "DELETED after"]);
  });

  it("terminates a deleted namespace, then removes it and its content; a stuck one stays Terminating", async () => {
    await core.createNamespace({ body: { metadata: { name: "bye" } } });
    await core.createNamespacedSecret({ namespace: "bye", body: { metadata: { name: "s" }, stringData: { k: "v" } } });
    expect(fake.get("v1", "Secret", "bye", "s")?.data).toEqual({ k: Buffer.from("v").toString("base64") });
    fake.stickNamespace("bye");
    await core.createNamespace({ body: { metadata: { name: "bye-control" } } });
    await core.deleteNamespace({ name: "bye" });
    await core.deleteNamespace({ name: "bye-control" });
    // the one deleted with it, not stuck, is gone: the finalizing pass has run, and only stickiness keeps "bye"
    await until(() => (fake.get("v1", "Namespace", undefined, "bye-control") ? undefined : true));
    const terminating = await core.readNamespace({ name: "bye" });
    expect(terminating.status?.phase).toBe("Terminating");
    expect(terminating.metadata?.deletionTimestamp).toBeDefined();
    const forbidden = await apiError(() =>
      core.createNamespacedConfigMap({ namespace: "bye", body: { metadata: { name: "late" } } }),
    );
    expect(forbidden).toMatchObject({ code: 403, status: { reason: "Forbidden" } });
    expect(String(forbidden.status.message)).toContain("because it is being terminated");
    await core.deleteNamespace({ name: "bye" }); // deleting a Terminating namespace again is a 200, as for real
    expect((await core.readNamespace({ name: "bye" })).status?.phase).toBe("Terminating");
    fake.releaseNamespace("bye");
    await until(() => (fake.get("v1", "Namespace", undefined, "bye") ? undefined : true));
    expect(fake.get("v1", "Secret", "bye", "s")).toBeUndefined();
    expect((await apiError(() => core.readNamespace({ name: "bye" }))).code).toBe(404);

    await core.createNamespace({ body: { metadata: { name: "quick" } } });
    await core.deleteNamespace({ name: "quick" });
    await until(() => (fake.get("v1", "Namespace", undefined, "quick") ? undefined : true));
    expect((await apiError(() => core.deleteNamespace({ name: "kube-system" }))).code).toBe(403);
  });

  it("rolls workloads out ready by default, and fails them with pods, events and logs on request", async () => {
    await core.createNamespace({ body: { metadata: { name: "roll" } } });
    fake.setWorkloadBehaviour((o) =>
      o.metadata.name === "bad" ? { fail: "CrashLoopBackOff", log: "one\ntwo\nthree\n" } : "ready",
    );
    await apps.createNamespacedDeployment({ namespace: "roll", body: deployment("roll", "good") });
    await apps.createNamespacedDeployment({ namespace: "roll", body: deployment("roll", "bad") });
    const good = await until(async () => {
      const d = await apps.readNamespacedDeployment({ name: "good", namespace: "roll" });
      return d.status?.observedGeneration === 1 ? d : undefined;
    });
    expect(good.status).toMatchObject({ replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 });
    const bad = await until(async () => {
      const d = await apps.readNamespacedDeployment({ name: "bad", namespace: "roll" });
      return d.status?.observedGeneration === 1 ? d : undefined;
    });
    expect(bad.status?.readyReplicas ?? 0).toBe(0);
    const pods = await core.listNamespacedPod({ namespace: "roll", labelSelector: "app=bad" });
    expect(pods.items).toHaveLength(1);
    const pod = pods.items[0]!;
    expect(pod.status?.containerStatuses?.[0]?.state?.waiting?.reason).toBe("CrashLoopBackOff");
    expect(pod.metadata?.ownerReferences?.[0]?.kind).toBe("ReplicaSet");
    const events = await core.listNamespacedEvent({
      namespace: "roll",
      fieldSelector: `involvedObject.kind=Pod,involvedObject.name=${pod.metadata?.name}`,
    });
    expect(events.items.map((e) => [e.type, e.reason])).toEqual([["Warning", "BackOff"]]);
    const log = await core.readNamespacedPodLog({
      name: pod.metadata!.name!,
      namespace: "roll",
      container: "main",
      tailLines: 2,
    });
    expect(log).toBe("two\nthree\n");
    const allPods = await core.listPodForAllNamespaces({ labelSelector: "app in (good,bad)" });
    expect(allPods.items).toHaveLength(2);
    await apps.deleteNamespacedDeployment({ name: "bad", namespace: "roll" });
    expect((await core.listNamespacedPod({ namespace: "roll", labelSelector: "app=bad" })).items).toHaveLength(0); // garbage collected
  });
});
