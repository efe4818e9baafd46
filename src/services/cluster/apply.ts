/**
 * Applying one rendered object the way a real API server needs it (each rule found by the contract suite and the
 * real control plane, see test/contract):
 * - server-owned metadata, ownerReferences and status are taken out first (managed-fields.ts);
 * - a workload an autoscaler in the render scales is applied without `spec.replicas`, after handing the field over
 *   (kubernetes.io "transferring ownership"), so the HPA keeps it and a deploy never resets or fights it;
 * - a cluster-scoped object must carry this preview's ownership labels, an existing one must already be this
 *   preview's, and it is owned by the preview namespace (so the garbage collector removes it with the namespace);
 * - an object the server refuses to update because an immutable field changed (a Job's template, a selector, a
 *   Service's clusterIP) is deleted (Foreground, uid precondition) and created again — unless it holds data (a PVC);
 * - a ReplicationController whose pod template changed is deleted and created again the same way: its controller
 *   never replaces running pods when the template changes, so without this a new image would never reach them.
 */
import { PatchStrategy, type KubernetesObject, type V1Namespace } from "@kubernetes/client-node";
import type { Logger } from "../../logger.js";
import { MANAGED_BY_KEY, MANAGED_BY_VALUE, PR_LABEL, REPO_LABEL } from "../shared/labels.js";
import { describeRef, refOf, type AppliedRef, type KubeObject } from "../shared/preview.js";
import { autoscaledWorkloads, workloadKey } from "./autoscaled.js";
import { immutableFields, NEVER_REPLACED } from "./immutable.js";
import { isNotFound, kubeError } from "./kube-errors.js";
import { appliedOwns } from "./managed-fields.js";
import { againOnQuotaConflict, isOurs, ObjectApi, sleep } from "./support.js";

/** Thrown instead of touching a namespace or object that is not ours (no managed-by label) or is protected. */
export class OwnershipError extends Error {
  constructor(
    message: string,
    readonly target: string,
  ) {
    super(message);
    this.name = "OwnershipError";
  }
}

export interface ApplierOptions {
  objects: ObjectApi;
  fieldManager: string;
  log: Logger;
  pollMs: number;
  /** How long a replaced object may take to go before the apply gives up (default 120 s). */
  replaceWaitMs: number;
}

/** What one apply run knows about the whole render. */
export interface ApplyRun {
  /** Workloads an HPA or ScaledObject in the render scales (autoscaled.ts keys). */
  autoscaled: Set<string>;
  /** The preview namespace, owner of the render's cluster-scoped objects. */
  anchor?: V1Namespace;
}

export function applyRun(objects: readonly KubeObject[], anchor?: V1Namespace): ApplyRun {
  return { autoscaled: autoscaledWorkloads(objects), ...(anchor ? { anchor } : {}) };
}

/** A workload's pod template as the server holds it (defaults filled in), for comparing two versions. */
const templateOf = (o: KubernetesObject): string =>
  JSON.stringify((o as { spec?: { template?: unknown } }).spec?.template ?? null);

export class Applier {
  constructor(private readonly o: ApplierOptions) {}

  private ssa(obj: KubernetesObject, manager = this.o.fieldManager): Promise<KubernetesObject> {
    return againOnQuotaConflict(() =>
      this.o.objects.patch(obj, undefined, undefined, manager, true, PatchStrategy.ServerSideApply),
    );
  }

  private async live(obj: KubeObject): Promise<KubernetesObject | undefined> {
    try {
      return await this.o.objects.read({
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        metadata: {
          name: obj.metadata.name!,
          ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
        },
      });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Apply one object (already without server-owned fields); `namespaced` is its scope from discovery. */
  async apply(obj: KubeObject, namespaced: boolean, run: ApplyRun): Promise<AppliedRef> {
    const ref = refOf(obj);
    const what = `applying ${describeRef(ref)}`;
    try {
      if (!namespaced && obj.kind !== "Namespace") await this.claimClusterScoped(obj, run.anchor, what);
      const key = workloadKey(obj.metadata.namespace, obj.apiVersion, obj.kind, obj.metadata.name ?? "");
      const autoscaled =
        run.autoscaled.has(key) && (obj.spec as { replicas?: unknown } | undefined)?.replicas !== undefined;
      if (run.autoscaled.has(key)) await this.handOverReplicas(obj);
      const before = obj.kind === "ReplicationController" ? await this.live(obj) : undefined;
      try {
        const after = await this.ssa(obj);
        if (before && templateOf(before) !== templateOf(after)) {
          await this.replace(obj, ["spec.template"], what);
          return { ...ref, replaced: ["spec.template"] };
        }
      } catch (err) {
        const fields = immutableFields(err);
        if (!fields) throw err;
        if (NEVER_REPLACED.has(obj.kind)) {
          const refused = kubeError(what, err).message;
          throw new Error(
            `${refused} — a ${obj.kind} is never deleted and re-created automatically (its data would go): delete it yourself, or destroy the preview and deploy again`,
            { cause: err },
          );
        }
        await this.replace(obj, fields, what);
        return { ...ref, replaced: fields };
      }
      return autoscaled ? { ...ref, autoscaled: true } : ref;
    } catch (err) {
      if (err instanceof OwnershipError || (err instanceof Error && err.message.startsWith(what))) throw err;
      throw kubeError(what, err);
    }
  }

  /**
   * Leave `spec.replicas` to the autoscaler. If preview-bot applied it before, a second field manager applies the
   * live value first (shared ownership), so dropping it from preview-bot's apply keeps the value instead of
   * resetting it to 1; the HPA takes the field on its next scale.
   */
  private async handOverReplicas(obj: KubeObject): Promise<void> {
    const spec = obj.spec as { replicas?: unknown } | undefined;
    if (spec) delete spec.replicas;
    const live = await this.live(obj);
    if (!live || !appliedOwns(live, this.o.fieldManager, ["spec", "replicas"])) return;
    const replicas = (live as { spec?: { replicas?: number } }).spec?.replicas;
    if (typeof replicas !== "number") return;
    const handover = {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: { name: obj.metadata.name!, namespace: obj.metadata.namespace! },
      spec: { replicas },
    };
    await this.ssa(handover, `${this.o.fieldManager}-handover`);
    this.o.log.info({ ref: refOf(obj), replicas }, "replicas handed over to the autoscaler");
  }

  /**
   * Ownership for a cluster-scoped object: this preview's labels, an existing one already this preview's, owned by the
   * namespace.
   */
  private async claimClusterScoped(obj: KubeObject, anchor: V1Namespace | undefined, what: string): Promise<void> {
    const labels = obj.metadata.labels ?? {};
    if (labels[MANAGED_BY_KEY] !== MANAGED_BY_VALUE || !labels[REPO_LABEL] || !labels[PR_LABEL]) {
      throw new OwnershipError(
        `${what}: a cluster-scoped object must carry the preview's ownership labels (${MANAGED_BY_KEY}, ${REPO_LABEL}, ${PR_LABEL})`,
        describeRef(refOf(obj)),
      );
    }
    if (!anchor?.metadata?.name || !anchor.metadata.uid) {
      throw new Error(
        `${what}: a cluster-scoped object needs the preview namespace to belong to, and the render has no namespaced object`,
      );
    }
    const live = await this.live(obj);
    const theirs = live?.metadata?.labels ?? {};
    if (
      live &&
      (!isOurs(theirs) || theirs[REPO_LABEL] !== labels[REPO_LABEL] || theirs[PR_LABEL] !== labels[PR_LABEL])
    ) {
      const owner = isOurs(theirs)
        ? `another preview (${theirs[REPO_LABEL] ?? "?"}#${theirs[PR_LABEL] ?? "?"})`
        : "someone else (no preview-bot ownership labels)";
      throw new OwnershipError(
        `${what}: it already exists and belongs to ${owner}; preview-bot does not overwrite it`,
        describeRef(refOf(obj)),
      );
    }
    obj.metadata.ownerReferences = [
      { apiVersion: "v1", kind: "Namespace", name: anchor.metadata.name, uid: anchor.metadata.uid },
    ];
  }

  /** Delete (Foreground, only the object we saw) and create again; waits until the old one is gone. */
  private async replace(obj: KubeObject, fields: string[], what: string): Promise<void> {
    const live = await this.live(obj);
    if (live && !isOurs(live.metadata?.labels)) {
      throw new OwnershipError(
        `${what}: immutable ${fields.join(", ")} changed, and the object is not managed by preview-bot, so it is not replaced`,
        describeRef(refOf(obj)),
      );
    }
    const uid = live?.metadata?.uid;
    if (uid) {
      const spec = {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        metadata: {
          name: obj.metadata.name!,
          ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
        },
      };
      try {
        await this.o.objects.delete(spec, undefined, undefined, undefined, undefined, "Foreground", {
          preconditions: { uid },
          propagationPolicy: "Foreground",
        });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      const deadline = Date.now() + this.o.replaceWaitMs;
      for (;;) {
        const still = await this.live(obj);
        if (!still || still.metadata?.uid !== uid) break;
        if (Date.now() >= deadline)
          throw new Error(
            `${what}: immutable ${fields.join(", ")} changed; the old object is still being deleted after ${Math.round(this.o.replaceWaitMs / 1000)} s`,
          );
        await sleep(this.o.pollMs);
      }
    }
    await this.ssa(obj);
    this.o.log.info({ ref: refOf(obj), fields }, "replaced: immutable fields changed");
  }
}
