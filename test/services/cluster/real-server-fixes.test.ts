/**
 * The Cluster service where a real API server disagreed with what the bot did (found by test/contract): run against
 * the fake API server and against the real control plane, with the same expectations. A changed Job template is
 * replaced and reported; server-owned metadata is taken out of rendered objects; the namespace's state annotations
 * neither stick nor get lost across a deploy, `/preview extend` and an older bot's merge patches; an autoscaled
 * workload's replicas stay the autoscaler's; cluster-scoped objects are checked for ownership, pruned and deleted.
 */
import { expect, it } from "@jest/globals";
import { AppsV1Api, BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { OwnershipError } from "../../../src/services/cluster/cluster.js";
import { EXPIRES_ANNOTATION, STATE_ANNOTATION, URL_ANNOTATION } from "../../../src/services/shared/labels.js";
import type { KubeObject } from "../../../src/services/shared/preview.js";
import { describeOnBoth, until, type Target } from "./targets.js";

const MERGE = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

const job = (ns: string, labels: Record<string, string>, image: string): KubeObject => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name: "migrate", namespace: ns, labels },
  spec: { backoffLimit: 0, template: { spec: { restartPolicy: "Never", containers: [{ name: "migrate", image }] } } },
});

const web = (ns: string, labels: Record<string, string>, image: string, replicas?: number): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: ns, labels },
  spec: {
    ...(replicas !== undefined ? { replicas } : {}),
    selector: { matchLabels: { app: "web" } },
    template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image }] } },
  },
});

const hpa = (ns: string, labels: Record<string, string>, min: number): KubeObject => ({
  apiVersion: "autoscaling/v2",
  kind: "HorizontalPodAutoscaler",
  metadata: { name: "web", namespace: ns, labels },
  spec: {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
    minReplicas: min,
    maxReplicas: 5,
    metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 80 } } }],
  },
});

type Managed = Array<{ manager?: string; operation?: string; fieldsV1?: Record<string, unknown> }>;
const annotationOwners = (managed: Managed | undefined, key: string): string[] =>
  (managed ?? [])
    .filter(
      (m) =>
        (m.fieldsV1?.["f:metadata"] as Record<string, Record<string, unknown>> | undefined)?.["f:annotations"]?.[
          `f:${key}`
        ] !== undefined,
    )
    .map((m) => `${m.manager}/${m.operation}`);

describeOnBoth("Cluster fixes for what a real API server does", "bf", (target: () => Target) => {
  it("replaces a Job whose template changed (Foreground delete, then create) and says so; a PVC is refused, not replaced", async () => {
    const { ns, labels } = await target().preview();
    const batch = target().kc.makeApiClient(BatchV1Api);
    const [first] = await target().cluster.apply([job(ns, labels, "migrate:1")]);
    expect(first?.replaced).toBeUndefined();
    const before = await batch.readNamespacedJob({ name: "migrate", namespace: ns });
    const [second] = await target().cluster.apply([job(ns, labels, "migrate:2")]);
    expect(second).toMatchObject({ kind: "Job", name: "migrate", replaced: ["spec.template"] });
    const after = await batch.readNamespacedJob({ name: "migrate", namespace: ns });
    expect(after.metadata?.uid).not.toBe(before.metadata?.uid);
    expect(after.spec?.template.spec?.containers[0]?.image).toBe("migrate:2");
    expect((await target().cluster.apply([job(ns, labels, "migrate:2")]))[0]?.replaced).toBeUndefined();

    const pvc = (mode: string): KubeObject => ({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "data", namespace: ns, labels },
      spec: { accessModes: [mode], storageClassName: "none", resources: { requests: { storage: "1Gi" } } },
    });
    await target().cluster.apply([pvc("ReadWriteOnce")]);
    await expect(target().cluster.apply([pvc("ReadWriteMany")])).rejects.toThrow(
      /^applying PersistentVolumeClaim ".*\/data": 422 .*never deleted and re-created automatically \(its data would go\)/s,
    );
    expect(
      (await target().kc.makeApiClient(CoreV1Api).readNamespacedPersistentVolumeClaim({ name: "data", namespace: ns }))
        .spec?.accessModes,
    ).toEqual(["ReadWriteOnce"]);
  }, 240_000);

  it("does not replace a Job that is not preview-bot's", async () => {
    const { ns, labels } = await target().preview();
    const batch = target().kc.makeApiClient(BatchV1Api);
    const theirs = job(ns, { team: "data" }, "migrate:1");
    await batch.createNamespacedJob({ namespace: ns, body: theirs });
    await expect(target().cluster.apply([job(ns, labels, "migrate:2")])).rejects.toBeInstanceOf(OwnershipError);
    expect(
      (await batch.readNamespacedJob({ name: "migrate", namespace: ns })).spec?.template.spec?.containers[0]?.image,
    ).toBe("migrate:1");
  });

  it("takes server-owned metadata, ownerReferences and status out of a rendered object before applying it", async () => {
    const { ns, labels } = await target().preview();
    const copied: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "from-kubectl-get",
        namespace: ns,
        labels,
        resourceVersion: "1",
        uid: "6a5e2d57-0000-4000-8000-00000000aaaa",
        creationTimestamp: "2020-01-01T00:00:00Z",
        generation: 3,
        managedFields: [
          {
            manager: "kubectl",
            operation: "Update",
            apiVersion: "v1",
            fieldsType: "FieldsV1",
            fieldsV1: { "f:data": {} },
          },
        ],
        ownerReferences: [
          { apiVersion: "apps/v1", kind: "Deployment", name: "gone", uid: "6a5e2d57-0000-4000-8000-00000000bbbb" },
        ],
        annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}", keep: "me" },
      },
      data: { a: "1" },
      status: { phase: "whatever" },
    };
    const [ref] = await target().cluster.apply([copied]);
    expect(ref?.stripped?.sort()).toEqual([
      'metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]',
      "metadata.creationTimestamp",
      "metadata.generation",
      "metadata.managedFields",
      "metadata.ownerReferences",
      "metadata.resourceVersion",
      "metadata.uid",
      "status",
    ]);
    const cm = await target()
      .kc.makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: "from-kubectl-get", namespace: ns });
    expect(cm.data).toEqual({ a: "1" });
    expect(cm.metadata?.annotations).toEqual({ keep: "me" });
    // Nothing for the garbage collector to hold against it: no ownerReferences at all.
    expect(cm.metadata?.ownerReferences).toBeUndefined();
    expect(copied.metadata.resourceVersion).toBe("1"); // the render is not modified
  });

  it("keeps the state annotations exact across a deploy, /preview extend and an older bot's merge patches", async () => {
    const { ns, labels } = await target().preview();
    const core = target().kc.makeApiClient(CoreV1Api);
    const annotations = (): Promise<Record<string, string>> =>
      core.readNamespace({ name: ns }).then((n) => n.metadata?.annotations ?? {});
    await target().cluster.ensureNamespace(ns, labels, {
      [STATE_ANNOTATION]: "deploying",
      [URL_ANNOTATION]: "https://a.example",
      [EXPIRES_ANNOTATION]: "2030-01-01T00:00:00Z",
    });
    await target().cluster.apply([
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: ns, labels }, data: {} },
    ]);
    await target().cluster.annotateNamespace(ns, { [EXPIRES_ANNOTATION]: "2030-02-01T00:00:00Z" }); // /preview extend
    await target().cluster.annotateNamespace(ns, { [STATE_ANNOTATION]: "ready" });
    expect(await annotations()).toMatchObject({
      [STATE_ANNOTATION]: "ready",
      [URL_ANNOTATION]: "https://a.example",
      [EXPIRES_ANNOTATION]: "2030-02-01T00:00:00Z",
      "preview-bot.dev/applied-kinds": "v1/ConfigMap",
    });
    // A person's annotation (another field manager) is left alone.
    await core.patchNamespace(
      {
        name: ns,
        body: { metadata: { annotations: { "team.example.com/owner": "data" } } },
        fieldManager: "kubectl-annotate",
      },
      MERGE,
    );
    // The next deploy no longer sets an expiry (the ttl was removed) nor a URL: both go; the bookkeeping stays.
    await target().cluster.ensureNamespace(ns, labels, { [STATE_ANNOTATION]: "deploying" });
    let now = await annotations();
    expect(now[EXPIRES_ANNOTATION]).toBeUndefined();
    expect(now[URL_ANNOTATION]).toBeUndefined();
    expect(now).toMatchObject({
      [STATE_ANNOTATION]: "deploying",
      "preview-bot.dev/applied-kinds": "v1/ConfigMap",
      "team.example.com/owner": "data",
    });
    // An older preview-bot extended with a merge patch: that Update entry co-owns the expiry, yet the deploy decides.
    await target().cluster.ensureNamespace(ns, labels, {
      [STATE_ANNOTATION]: "deploying",
      [EXPIRES_ANNOTATION]: "2030-03-01T00:00:00Z",
    });
    await core.patchNamespace(
      {
        name: ns,
        body: { metadata: { annotations: { [EXPIRES_ANNOTATION]: "2030-04-01T00:00:00Z" } } },
        fieldManager: "preview-bot",
      },
      MERGE,
    );
    expect(
      annotationOwners((await core.readNamespace({ name: ns })).metadata?.managedFields as Managed, EXPIRES_ANNOTATION),
    ).toEqual(["preview-bot/Update"]);
    await target().cluster.ensureNamespace(ns, labels, { [STATE_ANNOTATION]: "deploying" });
    now = await annotations();
    expect(now[EXPIRES_ANNOTATION]).toBeUndefined();
    await target().cluster.annotateNamespace(ns, { [STATE_ANNOTATION]: "ready" });
    const ns2 = await core.readNamespace({ name: ns });
    expect(annotationOwners(ns2.metadata?.managedFields as Managed, STATE_ANNOTATION)).toEqual(["preview-bot/Apply"]);
    expect(ns2.metadata?.labels).toMatchObject(labels);
  });

  it("leaves an autoscaled Deployment's replicas to its HPA: never reset, never fought over", async () => {
    const { ns, labels } = await target().preview();
    const apps = target().kc.makeApiClient(AppsV1Api);
    const replicas = async (): Promise<number | undefined> =>
      (await apps.readNamespacedDeployment({ name: "web", namespace: ns })).spec?.replicas;
    await target().cluster.apply([web(ns, labels, "web:1", 2)]); // before the HPA: preview-bot owns replicas
    const refs = await target().cluster.apply([web(ns, labels, "web:2", 2), hpa(ns, labels, 3)]);
    expect(refs.find((r) => r.kind === "Deployment")).toMatchObject({ autoscaled: true });
    expect(await replicas()).not.toBe(1); // handed over, not dropped back to the default
    if (target().name === "fake") {
      // The fake has no HPA controller: scale the way it does, through the scale subresource.
      await apps.patchNamespacedDeploymentScale(
        { name: "web", namespace: ns, body: { spec: { replicas: 3 } }, fieldManager: "kube-controller-manager" },
        MERGE,
      );
    }
    await until("the HPA scaling to minReplicas", async () => ((await replicas()) === 3 ? true : undefined));
    await target().cluster.apply([web(ns, labels, "web:3", 2), hpa(ns, labels, 3)]);
    expect(await replicas()).toBe(3);
    const d = await apps.readNamespacedDeployment({ name: "web", namespace: ns });
    expect(d.spec?.template.spec?.containers[0]?.image).toBe("web:3");
    const botOwnsReplicas = (d.metadata?.managedFields as Managed).some(
      (m) =>
        m.manager === "preview-bot" &&
        m.operation === "Apply" &&
        (m.fieldsV1?.["f:spec"] as Record<string, unknown> | undefined)?.["f:replicas"] !== undefined,
    );
    expect(botOwnsReplicas).toBe(false);
  }, 180_000);
});
