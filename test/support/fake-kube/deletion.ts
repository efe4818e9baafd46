/**
 * Deletion in the fake, as the real API server, namespace controller and garbage collector do it (measured by
 * test/contract): an object with finalizers only gets a deletionTimestamp and goes when the last finalizer is
 * removed; a deleted namespace is Terminating while its content goes and reports what holds it in its conditions;
 * the garbage collector deletes dependents of a deleted owner (Background, or first with Foreground; Orphan keeps
 * them) and dependents none of whose owners exist. The real controllers take seconds; the fake takes milliseconds.
 */
import type { KindRegistry, KindSpec } from "./kinds.js";
import { isObject, type Json, type JsonObject } from "./merge.js";
import { forbidden, qualified } from "./status.js";
import type { KubeObj, Store } from "./store.js";

/** Namespaces the real server refuses to delete. */
const UNDELETABLE = ["default", "kube-system", "kube-public"];
export type Propagation = "Background" | "Foreground" | "Orphan";

export function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

const ownerUids = (o: KubeObj): string[] =>
  (Array.isArray(o.metadata.ownerReferences) ? o.metadata.ownerReferences : [])
    .filter(isObject)
    .map((r) => String(r.uid));
const finalizersOf = (o: KubeObj): string[] =>
  Array.isArray(o.metadata.finalizers) ? o.metadata.finalizers.map(String) : [];

export class Deletion {
  /** Namespaces kept Terminating forever (see FakeKube.stickNamespace). */
  readonly stuck = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly registry: KindRegistry,
    private readonly store: Store,
    private readonly namespaceFinalizeMs: number,
  ) {
    // The garbage collector: a write of an object whose owners are all gone collects it, a moment later.
    this.unsubscribe = store.subscribe((e) => {
      if (e.type !== "DELETED" && ownerUids(e.object).length > 0)
        this.later(() => this.collectIfOrphaned(e.kind, e.object), 20);
    });
  }

  private nsKind(): KindSpec {
    return this.registry.byKind("v1", "Namespace")!;
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private collectIfOrphaned(kind: KindSpec, obj: KubeObj): void {
    const current = this.store.get(kind, obj.metadata.namespace, obj.metadata.name);
    if (!current || current.metadata.uid !== obj.metadata.uid) return;
    const owners = ownerUids(current);
    if (owners.length > 0 && !owners.some((u) => this.store.hasUid(u))) this.remove(kind, current, "Background");
  }

  /** DELETE of one object (not a namespace): returns what the real server answers with. */
  delete(kind: KindSpec, obj: KubeObj, propagation: Propagation): JsonObject {
    if (kind.kind === "Namespace") return this.deleteNamespace(obj);
    const result = this.remove(kind, obj, propagation);
    if (result) return result;
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details: {
        name: obj.metadata.name,
        ...(kind.group ? { group: kind.group } : {}),
        kind: kind.plural,
        uid: String(obj.metadata.uid),
      },
    };
  }

  /**
   * Remove an object, or mark it deleted when finalizers hold it (returns the marked object); then its dependents
   * go as the propagation policy says.
   */
  remove(kind: KindSpec, obj: KubeObj, propagation: Propagation): KubeObj | undefined {
    const dependents = this.dependentsOf(obj);
    if (propagation === "Orphan") {
      for (const d of dependents) {
        d.object.metadata.ownerReferences = (d.object.metadata.ownerReferences as Json[]).filter(
          (r) => !(isObject(r) && r.uid === obj.metadata.uid),
        );
        this.store.write(d.kind, d.object);
      }
    } else if (propagation === "Foreground") for (const d of dependents) this.remove(d.kind, d.object, "Foreground");
    if (finalizersOf(obj).length > 0) {
      if (obj.metadata.deletionTimestamp) return obj;
      obj.metadata.deletionTimestamp = now();
      obj.metadata.deletionGracePeriodSeconds = 0;
      return this.store.write(kind, obj);
    }
    this.store.remove(kind, obj.metadata.namespace, obj.metadata.name);
    if (propagation === "Background")
      for (const d of this.dependentsOf(obj)) this.remove(d.kind, d.object, "Background");
    if (obj.metadata.namespace) this.finalizeNamespace(obj.metadata.namespace);
    return undefined;
  }

  /**
   * Objects owned by `owner` (a cluster-scoped owner can own cluster-scoped objects, a namespaced one its neighbours).
   */
  private dependentsOf(owner: KubeObj): Array<{ kind: KindSpec; object: KubeObj }> {
    const ns = owner.metadata.namespace;
    const out: Array<{ kind: KindSpec; object: KubeObj }> = [];
    for (const kind of this.registry.all()) {
      if (ns && !kind.namespaced) continue;
      for (const object of this.store.list(kind, ns)) {
        if (
          (ns === undefined || object.metadata.namespace === ns) &&
          ownerUids(object).includes(String(owner.metadata.uid))
        )
          out.push({ kind, object });
      }
    }
    return out;
  }

  /** An update that removed the last finalizer of a deleted object completes its deletion. */
  finishIfReleased(kind: KindSpec, obj: KubeObj): boolean {
    if (!obj.metadata.deletionTimestamp || finalizersOf(obj).length > 0 || kind.kind === "Namespace") return false;
    this.remove(kind, obj, "Background");
    return true;
  }

  private deleteNamespace(ns: KubeObj): JsonObject {
    const name = ns.metadata.name;
    if (UNDELETABLE.includes(name)) throw forbidden("namespaces", "", name, "this namespace may not be deleted");
    if (ns.metadata.deletionTimestamp) return ns; // deleting a Terminating namespace again: 200 with it
    ns.metadata.deletionTimestamp = now();
    ns.status = { phase: "Terminating" };
    const stored = this.store.write(this.nsKind(), ns);
    this.later(() => this.finalizeNamespace(name), this.namespaceFinalizeMs);
    return stored;
  }

  /** Delete a Terminating namespace's content; remove the namespace once nothing is left (unless it is stuck). */
  finalizeNamespace(name: string): void {
    const ns = this.store.get(this.nsKind(), undefined, name);
    if (!ns?.metadata.deletionTimestamp || this.stuck.has(name)) return;
    for (const { kind, object } of this.store.inNamespace(name, this.registry.all())) {
      if (!object.metadata.deletionTimestamp) this.remove(kind, object, "Background");
    }
    const left = this.store.inNamespace(name, this.registry.all());
    if (left.length === 0) {
      if (this.store.get(this.nsKind(), undefined, name)) {
        this.store.remove(this.nsKind(), undefined, name);
        for (const d of this.dependentsOf(ns)) this.remove(d.kind, d.object, "Background");
      }
      return;
    }
    this.reportRemaining(ns, left);
  }

  /** The conditions the namespace controller sets while content with finalizers remains. */
  private reportRemaining(ns: KubeObj, left: Array<{ kind: KindSpec; object: KubeObj }>): void {
    const byResource = new Map<string, number>();
    const byFinalizer = new Map<string, number>();
    for (const { kind, object } of left) {
      const r = `${qualified(kind.plural, kind.group)}${kind.group ? "" : "."}`;
      byResource.set(r, (byResource.get(r) ?? 0) + 1);
      for (const f of finalizersOf(object)) byFinalizer.set(f, (byFinalizer.get(f) ?? 0) + 1);
    }
    const t = now();
    const list = (m: Map<string, number>, verb: string): string =>
      [...m]
        .sort()
        .map(([k, n]) => `${k} ${verb} ${n} resource instances`)
        .join(", ");
    const conditions: Json[] = [
      {
        type: "NamespaceContentRemaining",
        status: "True",
        lastTransitionTime: t,
        reason: "SomeResourcesRemain",
        message: `Some resources are remaining: ${list(byResource, "has")}`,
      },
      {
        type: "NamespaceFinalizersRemaining",
        status: "True",
        lastTransitionTime: t,
        reason: "SomeFinalizersRemain",
        message: `Some content in the namespace has finalizers remaining: ${list(byFinalizer, "in")}`,
      },
    ];
    const current = this.store.get(this.nsKind(), undefined, ns.metadata.name);
    if (!current) return;
    current.status = { phase: "Terminating", conditions };
    this.store.write(this.nsKind(), current);
  }

  /** Let a stuck namespace finish terminating. */
  release(name: string): void {
    this.stuck.delete(name);
    this.later(() => this.finalizeNamespace(name), this.namespaceFinalizeMs);
  }

  close(): void {
    this.unsubscribe();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
