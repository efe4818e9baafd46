/**
 * The real Cluster (the interface is in shared/preview.ts): server-side apply with one field manager, namespace
 * lifecycle with ownership checks, label-based prune, rollout gate with diagnosis. Talks to Kubernetes only through
 * @kubernetes/client-node; tests run it against test/support/fake-kube over HTTP and against the real control plane.
 * One object's apply is apply.ts (server-owned fields out, replace on immutable fields, autoscaled replicas,
 * cluster-scoped ownership), the namespace's own metadata namespace-meta.ts, the preview's cluster-scoped objects
 * cluster-scoped.ts.
 *
 * Longer than 300 lines: one class implements the whole Cluster interface, and every method goes through the same
 * ownership checks (ownedNamespace, isOurs); splitting it would scatter those guards across files.
 */
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  PatchStrategy,
  RbacAuthorizationV1Api,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
  type V1Namespace,
} from "@kubernetes/client-node";
import type { Logger } from "../../logger.js";
import { isConflict, isNotFound, kubeError } from "./kube-errors.js";
import {
  APPLIED_KINDS_ANNOTATION,
  isProtectedNamespace,
  MANAGED_BY,
  MANAGED_BY_KEY,
  MANAGED_BY_VALUE,
  PR_LABEL,
  REPO_LABEL,
  REPOSITORY_ANNOTATION,
} from "../shared/labels.js";
import {
  describeRef,
  refOf,
  type AppliedRef,
  type Cluster,
  type ClusterCapabilities,
  type DryRunAnswer,
  type HookResult,
  type KubeObject,
  type NamespaceListing,
  type ObjectRef,
  type RoleBindingRequest,
  type WorkloadHealth,
} from "../shared/preview.js";
import { discoverCapabilities } from "./discovery.js";
import { dryRunObjects } from "./dry-run.js";
import { bindClusterRole, waitForQuotas } from "./guardrail-support.js";
import { waitForHooks } from "./hooks.js";
import { Applier, applyRun, OwnershipError } from "./apply.js";
import { previewSelector, recordedClusterKinds, removeClusterScoped } from "./cluster-scoped.js";
import { withoutServerFields } from "./managed-fields.js";
import { APPLIED_CLUSTER_KINDS_ANNOTATION, NamespaceMeta } from "./namespace-meta.js";
import { isRolledOut, workloadHealth, type Workload } from "./rollout-health.js";
import {
  againOnQuotaConflict,
  groupOf,
  isOurs,
  kindKey,
  ObjectApi,
  parseKindKey,
  rank,
  selectorOf,
  sleep,
} from "./support.js";

export { OwnershipError };

export interface ClusterOptions {
  kubeConfig: KubeConfig;
  fieldManager?: string;
  /** Namespaces never touched, on top of `default` and `kube-*`. */
  protectedNamespaces?: readonly string[];
  logger: Logger;
  /** How often rollout and namespace-deletion waits look again (default 1000 ms). */
  pollMs?: number;
  /** How long ensureNamespace waits for an old namespace of the same name to finish terminating (default 120 s). */
  namespaceWaitMs?: number;
  /**
   * After this long, a roll-out wait ends early when a pod is stuck on ImagePullBackOff, CrashLoopBackOff, … (default
   * 90 s).
   */
  failFastMs?: number;
  /** How long an object replaced for an immutable-field change may take to be deleted (default 120 s). */
  replaceWaitMs?: number;
  /** How long the cluster's version and API versions are kept before discovery is asked again (default 10 min). */
  capabilitiesTtlMs?: number;
}

/** Waiting reasons that do not heal by themselves: worth ending a roll-out wait early for. */
// FailedCreate: the controller cannot create the pods (quota, Pod Security); it can heal when quota frees up, so it
// ends the wait only once it has lasted failFastMs, like the others.
const FATAL_REASON =
  /\b(ImagePullBackOff|ErrImagePull|InvalidImageName|CrashLoopBackOff|CreateContainerConfigError|ProgressDeadlineExceeded|FailedCreate)\b/;

export function createCluster(options: ClusterOptions): Cluster {
  return new KubeCluster(options);
}

class KubeCluster implements Cluster {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly batch: BatchV1Api;
  private readonly rbac: RbacAuthorizationV1Api;
  private readonly objects: ObjectApi;
  private readonly fieldManager: string;
  private readonly protectedNamespaces: readonly string[];
  private readonly log: Logger;
  private readonly pollMs: number;
  private readonly failFastMs: number;
  private readonly namespaceWaitMs: number;
  private readonly mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  private readonly applier: Applier;
  private readonly meta: NamespaceMeta;
  private readonly kubeConfig: KubeConfig;
  private readonly capabilitiesTtlMs: number;
  private discovered: { at: number; value: Promise<ClusterCapabilities> } | undefined;

  constructor(o: ClusterOptions) {
    this.kubeConfig = o.kubeConfig;
    this.capabilitiesTtlMs = o.capabilitiesTtlMs ?? 600_000;
    this.core = o.kubeConfig.makeApiClient(CoreV1Api);
    this.apps = o.kubeConfig.makeApiClient(AppsV1Api);
    this.batch = o.kubeConfig.makeApiClient(BatchV1Api);
    this.rbac = o.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    this.objects = o.kubeConfig.makeApiClient(ObjectApi);
    this.fieldManager = o.fieldManager ?? "preview-bot";
    this.protectedNamespaces = o.protectedNamespaces ?? [];
    this.log = o.logger.child({ component: "cluster" });
    this.pollMs = o.pollMs ?? 1000;
    this.failFastMs = o.failFastMs ?? 90_000;
    this.namespaceWaitMs = o.namespaceWaitMs ?? 120_000;
    this.applier = new Applier({
      objects: this.objects,
      fieldManager: this.fieldManager,
      log: this.log,
      pollMs: this.pollMs,
      replaceWaitMs: o.replaceWaitMs ?? 120_000,
    });
    this.meta = new NamespaceMeta({ core: this.core, objects: this.objects, fieldManager: this.fieldManager });
  }

  private async readNamespace(name: string): Promise<V1Namespace | undefined> {
    try {
      return await this.core.readNamespace({ name });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw kubeError(`reading namespace "${name}"`, err);
    }
  }

  /** Throws OwnershipError for a protected namespace or an existing one without our label; returns it if ours. */
  private async ownedNamespace(name: string, doing: string): Promise<V1Namespace | undefined> {
    if (isProtectedNamespace(name, this.protectedNamespaces))
      throw new OwnershipError(`${doing}: namespace "${name}" is protected`, name);
    const ns = await this.readNamespace(name);
    if (ns && !isOurs(ns.metadata?.labels)) {
      throw new OwnershipError(
        `${doing}: namespace "${name}" exists but is not managed by preview-bot (no ${MANAGED_BY_KEY}=${MANAGED_BY_VALUE} label)`,
        name,
      );
    }
    return ns;
  }

  /** Poll until the namespace is gone; false when it is still there after `waitMs`. */
  private async waitNamespaceGone(name: string, waitMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      signal?.throwIfAborted();
      if (!(await this.readNamespace(name))) return true;
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(this.pollMs, deadline - Date.now()), signal);
    }
  }

  private async serverSideApply(obj: KubernetesObject): Promise<void> {
    await againOnQuotaConflict(() =>
      this.objects.patch(obj, undefined, undefined, this.fieldManager, true, PatchStrategy.ServerSideApply),
    );
  }

  /** Our namespace, read for a write (it must exist by then). */
  private async mustRead(name: string, doing: string): Promise<V1Namespace> {
    const ns = await this.ownedNamespace(name, doing);
    if (!ns) throw new Error(`${doing}: namespace does not exist (ensureNamespace first)`);
    return ns;
  }

  async ensureNamespace(
    name: string,
    labels: Record<string, string>,
    annotations: Record<string, string>,
  ): Promise<void> {
    const doing = `ensuring namespace "${name}"`;
    let ns = await this.ownedNamespace(name, doing);
    if (ns?.metadata?.deletionTimestamp) {
      this.log.info({ namespace: name }, "namespace is still terminating; waiting for it to go before re-creating");
      if (!(await this.waitNamespaceGone(name, this.namespaceWaitMs)))
        throw new Error(`${doing}: the old namespace is still terminating after ${this.namespaceWaitMs} ms`);
      ns = undefined;
    }
    if (!ns) {
      // Create first (not apply) so a namespace someone else creates meanwhile is never adopted: that is a 409.
      // Only what identifies the preview and never changes: whatever a create sets, its Update entry owns for good,
      // and the apply below could never remove it again (a state annotation would stick). Identity it must carry
      // at once: if the apply fails, teardown and the sweeper still find the namespace by its labels. The Pod
      // Security labels too: a namespace must never exist, even for a moment, without them (deploy/'s admission
      // policy refuses a create that lacks them), and they are never removed.
      const identity = Object.fromEntries(
        Object.entries(labels).filter(
          ([k]) => k === REPO_LABEL || k === PR_LABEL || k.startsWith("pod-security.kubernetes.io/"),
        ),
      );
      const repository = annotations[REPOSITORY_ANNOTATION];
      const metadata = {
        name,
        labels: { ...identity, ...MANAGED_BY },
        ...(repository ? { annotations: { [REPOSITORY_ANNOTATION]: repository } } : {}),
      };
      try {
        await this.core.createNamespace({ body: { metadata }, fieldManager: this.fieldManager });
      } catch (err) {
        if (isConflict(err)) {
          await this.ownedNamespace(name, doing);
        } else throw kubeError(doing, err);
      }
    }
    await this.meta.ensure(name, () => this.mustRead(name, doing), labels, annotations);
  }

  async annotateNamespace(name: string, annotations: Record<string, string | null>): Promise<void> {
    const doing = `annotating namespace "${name}"`;
    await this.meta.annotate(name, () => this.mustRead(name, doing), annotations, doing);
  }

  async apply(objects: KubeObject[]): Promise<AppliedRef[]> {
    const prepared = objects
      .map((o) => withoutServerFields(o))
      .sort((a, b) => rank(a.object.kind) - rank(b.object.kind));
    const kindsByNamespace = new Map<string, Set<string>>();
    const clusterKinds = new Set<string>();
    const scope = new Map<KubeObject, boolean>();
    for (const { object: obj } of prepared) {
      const what = `applying ${describeRef(refOf(obj))}`;
      if (!obj.metadata.name) throw new Error(`${what}: the object has no metadata.name`);
      let namespaced: boolean | undefined;
      try {
        namespaced = await this.objects.namespaced(obj.apiVersion, obj.kind);
      } catch (err) {
        throw kubeError(what, err);
      }
      if (namespaced === undefined)
        throw new Error(`${what}: the cluster does not serve ${obj.apiVersion} ${obj.kind}`);
      scope.set(obj, namespaced);
      if (obj.kind === "Namespace") await this.ownedNamespace(obj.metadata.name, what);
      if (!namespaced) {
        if (obj.kind !== "Namespace") clusterKinds.add(kindKey(obj.apiVersion, obj.kind));
        continue;
      }
      const ns = obj.metadata.namespace;
      if (!ns)
        throw new Error(`${what}: a namespaced object needs metadata.namespace (refusing to fall back to "default")`);
      if (!kindsByNamespace.has(ns)) kindsByNamespace.set(ns, new Set());
      kindsByNamespace.get(ns)!.add(kindKey(obj.apiVersion, obj.kind));
    }
    // Record kinds before applying: a half-applied render must still be prunable.
    for (const [ns, kinds] of kindsByNamespace) await this.recordKinds(ns, kinds, true);
    // Cluster-scoped objects belong to the preview namespace: the one namespace of the render's namespaced objects.
    const anchorName = kindsByNamespace.size === 1 ? [...kindsByNamespace.keys()][0]! : undefined;
    const anchor =
      clusterKinds.size > 0 && anchorName
        ? await this.mustRead(anchorName, `recording cluster-scoped kinds on namespace "${anchorName}"`)
        : undefined;
    if (anchor && anchorName) await this.recordKinds(anchorName, clusterKinds, true, APPLIED_CLUSTER_KINDS_ANNOTATION);
    const run = applyRun(
      prepared.map((p) => p.object),
      anchor,
    );
    const applied: AppliedRef[] = [];
    for (const { object, removed } of prepared) {
      const ref = await this.applier.apply(object, scope.get(object)!, run);
      this.log.debug({ ref }, "applied");
      applied.push(removed.length > 0 ? { ...ref, stripped: removed } : ref);
    }
    return applied;
  }

  /** Write an applied-kinds annotation on our namespace (`union` keeps what is recorded already). */
  private async recordKinds(
    namespace: string,
    kinds: Set<string>,
    union: boolean,
    key = APPLIED_KINDS_ANNOTATION,
  ): Promise<void> {
    const doing = `recording applied kinds on namespace "${namespace}"`;
    const ns = await this.mustRead(namespace, doing);
    const current = (ns.metadata?.annotations?.[key] ?? "").split(",").filter((k) => k !== "");
    const next = [...new Set([...(union ? current : []), ...kinds])].sort();
    if (next.join(",") === [...current].sort().join(",")) return;
    await this.meta.annotate(
      namespace,
      () => this.mustRead(namespace, doing),
      { [key]: next.length > 0 ? next.join(",") : null },
      doing,
    );
  }

  async prune(
    namespace: string,
    selector: Record<string, string>,
    keep: ObjectRef[],
    opts: { dryRun?: boolean } = {},
  ): Promise<ObjectRef[]> {
    const doing = `pruning namespace "${namespace}"`;
    const ns = await this.ownedNamespace(namespace, doing);
    if (!ns) return [];
    const { victims, errors, stillRecorded } = await this.pruneCandidates(ns, namespace, selector, keep, doing);
    // The preview's cluster-scoped objects: only by the preview's own labels (repo and PR), never just managed-by.
    const clusterSelector = previewSelector(selector);
    const owner = ns.metadata?.uid ?? "";
    const cluster = clusterSelector
      ? await removeClusterScoped(
          this.objects,
          this.log,
          doing,
          { kinds: recordedClusterKinds(ns.metadata?.annotations), selector: clusterSelector, owner },
          keep,
          opts.dryRun === true,
        )
      : undefined;
    if (opts.dryRun) return [...victims, ...(cluster?.refs ?? [])];
    const deleted: ObjectRef[] = [];
    for (const ref of victims) {
      try {
        await this.objects.delete({
          apiVersion: ref.apiVersion,
          kind: ref.kind,
          metadata: { name: ref.name, namespace },
        });
        deleted.push(ref);
        this.log.info({ ref }, "pruned");
      } catch (err) {
        if (isNotFound(err)) {
          deleted.push(ref);
          continue;
        }
        errors.push(kubeError(`${doing}: deleting ${describeRef(ref)}`, err));
        stillRecorded.add(kindKey(ref.apiVersion, ref.kind));
      }
    }
    await this.recordKinds(namespace, stillRecorded, false);
    if (cluster) {
      errors.push(...cluster.errors);
      deleted.push(...cluster.refs);
      await this.recordKinds(namespace, cluster.keepKinds, false, APPLIED_CLUSTER_KINDS_ANNOTATION);
    }
    if (errors.length > 0)
      throw new Error(`${doing}: ${errors.length} failed: ${errors.map((e) => e.message).join("; ")}`, {
        cause: new AggregateError(errors),
      });
    return deleted;
  }

  /** Namespaced objects with our labels, of the recorded kinds, that are not in `keep`. */
  private async pruneCandidates(
    ns: V1Namespace,
    namespace: string,
    selector: Record<string, string>,
    keep: ObjectRef[],
    doing: string,
  ): Promise<{ victims: ObjectRef[]; errors: Error[]; stillRecorded: Set<string> }> {
    const namespacedKeep = keep.filter((k) => k.namespace !== undefined);
    const recorded = (ns.metadata?.annotations?.[APPLIED_KINDS_ANNOTATION] ?? "").split(",").filter((k) => k !== "");
    const kinds = new Set([...recorded, ...namespacedKeep.map((k) => kindKey(k.apiVersion, k.kind))]);
    const refKey = (apiVersion: string, kind: string, name: string): string => `${groupOf(apiVersion)}/${kind}/${name}`;
    const kept = new Set(
      namespacedKeep.filter((k) => k.namespace === namespace).map((k) => refKey(k.apiVersion, k.kind, k.name)),
    );
    const labelSelector = selectorOf({ ...selector, ...MANAGED_BY });
    const victims: ObjectRef[] = [];
    const errors: Error[] = [];
    const stillRecorded = new Set(namespacedKeep.map((k) => kindKey(k.apiVersion, k.kind)));
    for (const key of kinds) {
      const gk = parseKindKey(key);
      if (!gk || gk.kind === "Namespace") continue;
      let items: KubernetesObject[];
      try {
        if (!(await this.objects.namespaced(gk.apiVersion, gk.kind))) continue;
        items = (
          await this.objects.list(
            gk.apiVersion,
            gk.kind,
            namespace,
            undefined,
            undefined,
            undefined,
            undefined,
            labelSelector,
          )
        ).items;
      } catch (err) {
        if (isNotFound(err)) continue; // the kind is no longer served, so nothing of it is left
        errors.push(kubeError(`${doing}: listing ${key}`, err));
        stillRecorded.add(key);
        continue;
      }
      for (const item of items) {
        const name = item.metadata?.name ?? "";
        if (
          item.metadata?.namespace !== namespace ||
          !isOurs(item.metadata?.labels) ||
          kept.has(refKey(gk.apiVersion, gk.kind, name))
        )
          continue;
        victims.push({ apiVersion: gk.apiVersion, kind: gk.kind, namespace, name });
      }
    }
    return { victims, errors, stillRecorded };
  }

  private async workloads(namespace: string): Promise<Workload[]> {
    try {
      const [deployments, statefulSets, controllers] = await Promise.all([
        this.apps.listNamespacedDeployment({ namespace }),
        this.apps.listNamespacedStatefulSet({ namespace }),
        this.core.listNamespacedReplicationController({ namespace }),
      ]);
      return [
        ...deployments.items.map((object): Workload => ({
          kind: "Deployment",
          object: { ...object, metadata: { ...object.metadata, namespace } },
        })),
        ...statefulSets.items.map((object): Workload => ({
          kind: "StatefulSet",
          object: { ...object, metadata: { ...object.metadata, namespace } },
        })),
        ...controllers.items.map((object): Workload => ({
          kind: "ReplicationController",
          object: { ...object, metadata: { ...object.metadata, namespace } },
        })),
      ];
    } catch (err) {
      throw kubeError(`listing workloads in namespace "${namespace}"`, err);
    }
  }

  async waitForRollout(namespace: string, timeoutMs: number, signal?: AbortSignal): Promise<WorkloadHealth[]> {
    const started = Date.now();
    const deadline = started + timeoutMs;
    let lastFatalCheck = 0;
    for (;;) {
      const workloads = await this.workloads(namespace);
      if (workloads.every(isRolledOut) || Date.now() >= deadline || signal?.aborted) {
        return Promise.all(workloads.map((w) => workloadHealth(this.core, w)));
      }
      // Fail fast: a pod that has been stuck on a reason that does not heal by itself (bad image, crash loop,
      // missing Secret key, pods the quota or Pod Security refuses) for failFastMs ends the wait instead of burning the
      // whole timeout.
      const now = Date.now();
      if (now - started >= this.failFastMs && now - lastFatalCheck >= Math.max(this.pollMs, 5_000)) {
        lastFatalCheck = now;
        const health = await Promise.all(workloads.map((w) => workloadHealth(this.core, w)));
        if (health.some((h) => !h.ready && FATAL_REASON.test(h.summary))) return health;
      }
      await sleep(Math.min(this.pollMs, deadline - Date.now()), signal);
    }
  }

  async upsertSecret(
    namespace: string,
    name: string,
    data: Record<string, string>,
    labels: Record<string, string>,
  ): Promise<void> {
    const doing = `writing Secret "${namespace}/${name}"`;
    try {
      const existing = await this.core.readNamespacedSecret({ name, namespace });
      if (!isOurs(existing.metadata?.labels))
        throw new OwnershipError(`${doing}: it exists but is not managed by preview-bot`, `${namespace}/${name}`);
    } catch (err) {
      if (err instanceof OwnershipError) throw err;
      if (!isNotFound(err)) throw kubeError(doing, err);
    }
    const encoded = Object.fromEntries(
      Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")]),
    );
    try {
      await this.serverSideApply({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name, namespace, labels: { ...labels, ...MANAGED_BY } },
        type: "Opaque",
        data: encoded,
      } as KubernetesObject);
    } catch (err) {
      throw kubeError(doing, err);
    }
  }

  async readSecret(
    namespace: string,
    name: string,
  ): Promise<{ type: string; data: Record<string, string> } | undefined> {
    try {
      const secret = await this.core.readNamespacedSecret({ name, namespace });
      return { type: secret.type ?? "Opaque", data: { ...(secret.data ?? {}) } };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw kubeError(`reading Secret "${namespace}/${name}"`, err);
    }
  }

  async suspendCronJobs(namespace: string): Promise<string[]> {
    const doing = `suspending CronJobs in namespace "${namespace}"`;
    let names: Array<{ name: string; suspended: boolean }>;
    try {
      names = (await this.batch.listNamespacedCronJob({ namespace })).items.map((c) => ({
        name: c.metadata?.name ?? "",
        suspended: c.spec?.suspend === true,
      }));
    } catch (err) {
      if (isNotFound(err)) return [];
      throw kubeError(doing, err);
    }
    for (const { name, suspended } of names) {
      if (suspended) continue;
      try {
        await this.batch.patchNamespacedCronJob(
          { name, namespace, body: { spec: { suspend: true } }, fieldManager: this.fieldManager },
          this.mergePatch,
        );
      } catch (err) {
        if (!isNotFound(err)) throw kubeError(`${doing}: ${name}`, err);
      }
    }
    return names.map((n) => n.name);
  }

  async deleteNamespace(
    name: string,
    opts: { waitMs: number; signal?: AbortSignal },
  ): Promise<"deleted" | "absent" | "stuck"> {
    const doing = `deleting namespace "${name}"`;
    const ns = await this.ownedNamespace(name, doing);
    if (!ns) return "absent";
    if (!ns.metadata?.deletionTimestamp) {
      try {
        await this.core.deleteNamespace({ name });
      } catch (err) {
        if (isNotFound(err)) return "absent";
        if (!isConflict(err)) throw kubeError(doing, err); // 409: already terminating
      }
    }
    return (await this.waitNamespaceGone(name, opts.waitMs, opts.signal)) ? "deleted" : "stuck";
  }

  async dryRun(objects: readonly KubeObject[]): Promise<DryRunAnswer[]> {
    return dryRunObjects(this.objects, this.fieldManager, objects);
  }

  async resourceScope(apiVersion: string, kind: string): Promise<"Namespaced" | "Cluster" | undefined> {
    try {
      const namespaced = await this.objects.namespaced(apiVersion, kind);
      return namespaced === undefined ? undefined : namespaced ? "Namespaced" : "Cluster";
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw kubeError(`looking up ${apiVersion} ${kind} in API discovery`, err);
    }
  }

  async bindClusterRole(namespace: string, binding: RoleBindingRequest): Promise<"created" | "kept" | "replaced"> {
    await this.ownedNamespace(namespace, `binding ClusterRole "${binding.clusterRole}" in namespace "${namespace}"`);
    return bindClusterRole(this.rbac, namespace, binding, this.fieldManager);
  }

  async waitForQuotas(namespace: string, names: string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return waitForQuotas(this.core, namespace, names, timeoutMs, this.pollMs, signal);
  }

  async readObject(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
  ): Promise<KubeObject | undefined> {
    try {
      if ((await this.objects.namespaced(apiVersion, kind)) === undefined) return undefined; // the cluster does not serve the kind
      return await this.objects.read<KubeObject>({
        apiVersion,
        kind,
        metadata: { name, ...(namespace ? { namespace } : {}) },
      });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw kubeError(`reading ${kind} "${namespace ? `${namespace}/` : ""}${name}"`, err);
    }
  }

  capabilities(): Promise<ClusterCapabilities> {
    const now = Date.now();
    if (!this.discovered || now - this.discovered.at > this.capabilitiesTtlMs) {
      const value = discoverCapabilities(this.kubeConfig, this.objects);
      this.discovered = { at: now, value };
      // A failure is not kept: the next render asks again.
      value.catch(() => {
        if (this.discovered?.value === value) this.discovered = undefined;
      });
    }
    return this.discovered.value;
  }

  async deleteObject(ref: ObjectRef, opts: { waitMs: number; signal?: AbortSignal }): Promise<"deleted" | "absent"> {
    const doing = `deleting ${describeRef(ref)}`;
    if (!ref.namespace) throw new Error(`${doing}: only a namespaced object is deleted this way`);
    await this.mustRead(ref.namespace, doing);
    const spec = { apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } };
    const read = async (): Promise<KubernetesObject | undefined> => {
      try {
        return await this.objects.read(spec);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw kubeError(doing, err);
      }
    };
    const current = await read();
    if (!current) return "absent";
    if (!isOurs(current.metadata?.labels))
      throw new OwnershipError(`${doing}: it is not managed by preview-bot`, `${ref.namespace}/${ref.name}`);
    try {
      // Background: the Job goes at once and its pods after it (a Job's API default would orphan them).
      await this.objects.delete(spec, undefined, undefined, undefined, undefined, "Background");
    } catch (err) {
      if (!isNotFound(err)) throw kubeError(doing, err);
    }
    const deadline = Date.now() + opts.waitMs;
    for (;;) {
      const still = await read();
      if (!still || still.metadata?.uid !== current.metadata?.uid) return "deleted";
      if (Date.now() >= deadline) throw new Error(`${doing}: still there after ${opts.waitMs} ms (a finalizer?)`);
      opts.signal?.throwIfAborted();
      await sleep(Math.min(this.pollMs, deadline - Date.now()), opts.signal);
    }
  }

  async waitForHooks(refs: readonly ObjectRef[], timeoutMs: number, signal?: AbortSignal): Promise<HookResult[]> {
    return waitForHooks({ core: this.core, batch: this.batch, pollMs: this.pollMs }, refs, timeoutMs, signal);
  }

  async listNamespaces(selector: Record<string, string>): Promise<NamespaceListing[]> {
    try {
      const list = await this.core.listNamespace({ labelSelector: selectorOf(selector) });
      return list.items.map((ns) => {
        const created = ns.metadata?.creationTimestamp;
        return {
          name: ns.metadata?.name ?? "",
          labels: ns.metadata?.labels ?? {},
          annotations: ns.metadata?.annotations ?? {},
          phase: ns.status?.phase ?? "Unknown",
          ...(created ? { createdAt: new Date(created).toISOString() } : {}),
        };
      });
    } catch (err) {
      throw kubeError("listing preview namespaces", err);
    }
  }

  async deleteClusterScoped(namespace: string, opts: { dryRun?: boolean } = {}): Promise<ObjectRef[]> {
    const doing = `deleting the cluster-scoped objects of namespace "${namespace}"`;
    const ns = await this.ownedNamespace(namespace, doing);
    const selector = previewSelector(ns?.metadata?.labels);
    if (!ns || !selector) return [];
    const kinds = recordedClusterKinds(ns.metadata?.annotations);
    const result = await removeClusterScoped(
      this.objects,
      this.log,
      doing,
      { kinds, selector, owner: ns.metadata?.uid ?? "" },
      [],
      opts.dryRun === true,
    );
    if (!opts.dryRun && result.errors.length === 0 && kinds.length > 0)
      await this.recordKinds(namespace, new Set(), false, APPLIED_CLUSTER_KINDS_ANNOTATION);
    if (result.errors.length > 0)
      throw new Error(`${doing}: ${result.errors.length} failed: ${result.errors.map((e) => e.message).join("; ")}`, {
        cause: new AggregateError(result.errors),
      });
    return result.refs;
  }
}
