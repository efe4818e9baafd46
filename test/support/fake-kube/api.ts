/** The API server's verbs over the store: get, list, create, update, patch (apply / merge), delete, namespace lifecycle. */
import { randomUUID } from "node:crypto";
import { parse as parseYaml } from "yaml";
import { apiVersionOf, type KindRegistry, type KindSpec } from "./kinds.js";
import { applyMerge, clone, fieldSetOf, isObject, mergePatch, removedFields, removeFieldSet, type FieldSet, type Json, type JsonObject } from "./merge.js";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "./selectors.js";
import { alreadyExists, badRequest, conflict, forbidden, invalid, notFound, StatusError, successStatus } from "./status.js";
import type { KubeObj, Store } from "./store.js";
import { applyDefaults, reconcileWithUrl, validateObject } from "./validate.js";

export interface WriteQuery {
  fieldManager?: string | undefined;
  force?: string | undefined;
  dryRun?: string | undefined;
}

const APPLY = "application/apply-patch+yaml";
const MERGE = "application/merge-patch+json";
const STRATEGIC = "application/strategic-merge-patch+json";
/** Namespaces the real server refuses to delete. */
const UNDELETABLE = ["default", "kube-system", "kube-public"];

export function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

export class FakeApi {
  /** Namespaces kept Terminating forever (see FakeKube.stickNamespace). */
  readonly stuck = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly registry: KindRegistry,
    readonly store: Store,
    private readonly namespaceFinalizeMs: number,
  ) {}

  private nsKind(): KindSpec {
    return this.registry.byKind("v1", "Namespace")!;
  }

  get(kind: KindSpec, namespace: string | undefined, name: string): KubeObj {
    const obj = this.store.get(kind, namespace, name);
    if (!obj) throw notFound(kind.plural, kind.group, name);
    return obj;
  }

  /** Objects matching the selectors; `namespace` undefined lists across namespaces. */
  select(kind: KindSpec, namespace: string | undefined, labelSelector?: string | null, fieldSelector?: string | null): KubeObj[] {
    const labels = parseLabelSelector(labelSelector);
    const fields = parseFieldSelector(fieldSelector, kind.kind);
    return this.store.list(kind, namespace).filter((o) => matchesLabels(labels, o.metadata.labels) && matchesFields(fields, o));
  }

  /** A `<Kind>List`; items carry no apiVersion/kind, exactly like the real server's JSON lists. */
  list(kind: KindSpec, namespace: string | undefined, labelSelector?: string | null, fieldSelector?: string | null): JsonObject {
    const items = this.select(kind, namespace, labelSelector, fieldSelector).map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
    return { kind: `${kind.kind}List`, apiVersion: apiVersionOf(kind), metadata: { resourceVersion: String(this.store.resourceVersion) }, items };
  }

  create(kind: KindSpec, namespace: string | undefined, body: unknown, q: WriteQuery): KubeObj {
    const obj = reconcileWithUrl(kind, body, namespace);
    return this.insert(kind, obj, q, q.fieldManager ? this.entry(q.fieldManager, "Update", kind, fieldSetOf(obj)) : undefined);
  }

  replace(kind: KindSpec, namespace: string | undefined, name: string, body: unknown, q: WriteQuery): KubeObj {
    const next = reconcileWithUrl(kind, body, namespace, name);
    const existing = this.get(kind, namespace, name);
    const rv = next.metadata.resourceVersion;
    if (rv !== undefined && rv !== "" && rv !== existing.metadata.resourceVersion) {
      throw conflict(kind.plural, kind.group, name, "the object has been modified; please apply your changes to the latest version and try again");
    }
    return this.update(kind, existing, next, q, this.entry(q.fieldManager ?? "unknown", "Update", kind, fieldSetOf(next)));
  }

  patch(kind: KindSpec, namespace: string | undefined, name: string, contentType: string, raw: string, q: WriteQuery): KubeObj {
    if (contentType === APPLY) return this.apply(kind, namespace, name, raw, q);
    if (contentType !== MERGE && contentType !== STRATEGIC) {
      throw new StatusError(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: ${MERGE}, ${STRATEGIC}, ${APPLY}`, {});
    }
    if (q.force !== undefined) {
      throw invalid("PatchOptions", "meta.k8s.io", "", [{ reason: "FieldValueForbidden", message: "Forbidden: may not be specified for non-apply patch", field: "force" }]);
    }
    let patch: Json;
    try {
      patch = JSON.parse(raw) as Json;
    } catch (e) {
      throw badRequest(`error decoding patch: ${(e as Error).message}`);
    }
    const existing = this.get(kind, namespace, name);
    const merged = mergePatch(existing, patch);
    const next = reconcileWithUrl(kind, merged, namespace, name);
    const set = isObject(patch) ? fieldSetOf(patch) : {};
    return this.update(kind, existing, next, q, this.entry(q.fieldManager ?? "unknown", "Update", kind, set));
  }

  private apply(kind: KindSpec, namespace: string | undefined, name: string, raw: string, q: WriteQuery): KubeObj {
    if (!q.fieldManager) {
      throw invalid("PatchOptions", "meta.k8s.io", "", [{ reason: "FieldValueRequired", message: "Required value: is required for apply patch", field: "fieldManager" }]);
    }
    let body: unknown;
    try {
      body = parseYaml(raw) as unknown;
    } catch (e) {
      throw badRequest(`error decoding YAML: ${(e as Error).message}`);
    }
    if (isObject(body) && (body.apiVersion === undefined || body.kind === undefined)) {
      throw badRequest("invalid object type: apiVersion and kind must be set in an apply configuration");
    }
    const applied = reconcileWithUrl(kind, body, namespace, name);
    if (kind.statusSubresource) delete applied.status;
    const set = fieldSetOf(applied);
    const entry = this.entry(q.fieldManager, "Apply", kind, set);
    const existing = this.store.get(kind, namespace, name);
    if (!existing) return this.insert(kind, applied, q, entry);
    const managed = Array.isArray(existing.metadata.managedFields) ? existing.metadata.managedFields : [];
    const previous = managed.find((m) => isObject(m) && m.manager === q.fieldManager && m.operation === "Apply");
    const prevSet = isObject(previous) && isObject(previous.fieldsV1) ? (previous.fieldsV1 as FieldSet) : {};
    const base = clone(existing);
    removeFieldSet(base, removedFields(prevSet, set));
    const next = applyMerge(base, applied) as KubeObj;
    return this.update(kind, existing, next, q, entry);
  }

  private entry(manager: string, operation: "Apply" | "Update", kind: KindSpec, fieldsV1: FieldSet): JsonObject {
    return { manager, operation, apiVersion: apiVersionOf(kind), time: now(), fieldsType: "FieldsV1", fieldsV1 };
  }

  private withManager(list: unknown, entry: JsonObject | undefined): Json[] {
    const current = Array.isArray(list) ? (list as Json[]) : [];
    if (!entry) return current;
    const rest = current.filter((m) => !(isObject(m) && m.manager === entry.manager && m.operation === entry.operation));
    return [...rest, entry];
  }

  private insert(kind: KindSpec, obj: KubeObj, q: WriteQuery, entry: JsonObject | undefined): KubeObj {
    const meta = obj.metadata;
    for (const k of ["uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation", "managedFields"]) delete meta[k];
    validateObject(kind, obj, true);
    const name = meta.name;
    if (kind.namespaced) {
      const ns = this.store.get(this.nsKind(), undefined, meta.namespace ?? "");
      if (!ns) throw notFound("namespaces", "", meta.namespace ?? "");
      if (ns.metadata.deletionTimestamp) {
        throw forbidden(kind.plural, kind.group, name, `unable to create new content in namespace ${ns.metadata.name} because it is being terminated`, [
          { reason: "NamespaceTerminating", message: `namespace ${ns.metadata.name} is being terminated`, field: "metadata.namespace" },
        ]);
      }
    }
    if (this.store.get(kind, meta.namespace, name)) throw alreadyExists(kind.plural, kind.group, name);
    if (kind.statusSubresource) delete obj.status;
    applyDefaults(kind, obj);
    if (kind.kind === "Namespace") obj.status = { phase: "Active" };
    Object.assign(meta, { uid: randomUUID(), creationTimestamp: now(), generation: 1, managedFields: this.withManager([], entry) });
    return q.dryRun === "All" ? obj : this.store.write(kind, obj);
  }

  private update(kind: KindSpec, existing: KubeObj, next: KubeObj, q: WriteQuery, entry: JsonObject | undefined): KubeObj {
    validateObject(kind, next, false);
    const old = existing.metadata;
    if (kind.statusSubresource) {
      if (existing.status !== undefined) next.status = existing.status;
      else delete next.status;
    }
    applyDefaults(kind, next);
    const specOf = (o: KubeObj): string => JSON.stringify(Object.entries(o).filter(([k]) => k !== "metadata" && k !== "status"));
    const generation = typeof old.generation === "number" ? old.generation : 1;
    Object.assign(next.metadata, {
      uid: old.uid,
      creationTimestamp: old.creationTimestamp,
      generation: specOf(next) === specOf(existing) ? generation : generation + 1,
      managedFields: this.withManager(old.managedFields, entry),
    });
    if (old.deletionTimestamp !== undefined) next.metadata.deletionTimestamp = old.deletionTimestamp;
    else delete next.metadata.deletionTimestamp;
    delete next.metadata.resourceVersion;
    return q.dryRun === "All" ? next : this.store.write(kind, next);
  }

  /** Controllers write status directly (no generation bump), like a `/status` subresource update. */
  writeStatus(kind: KindSpec, obj: KubeObj, status: JsonObject): KubeObj | undefined {
    const current = this.store.get(kind, obj.metadata.namespace, obj.metadata.name);
    if (!current) return undefined;
    current.status = status;
    return this.store.write(kind, current);
  }

  delete(kind: KindSpec, namespace: string | undefined, name: string): Record<string, unknown> {
    const existing = this.get(kind, namespace, name);
    if (kind.kind === "Namespace") return this.deleteNamespace(existing);
    this.removeCascading(kind, existing);
    return successStatus({
      name, ...(kind.group ? { group: kind.group } : {}), kind: kind.plural, uid: String(existing.metadata.uid) });
  }

  deleteCollection(kind: KindSpec, namespace: string | undefined, labelSelector: string | null): JsonObject {
    if (kind.kind === "Namespace") throw new StatusError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {});
    const removed = this.select(kind, namespace, labelSelector).map((o) => {
      this.removeCascading(kind, o);
      const { apiVersion: _a, kind: _k, ...rest } = o;
      return rest;
    });
    return { kind: `${kind.kind}List`, apiVersion: apiVersionOf(kind), metadata: { resourceVersion: String(this.store.resourceVersion) }, items: removed };
  }

  /** Remove an object and (background cascading, like the garbage collector) everything it owns. */
  removeCascading(kind: KindSpec, obj: KubeObj): void {
    this.store.remove(kind, obj.metadata.namespace, obj.metadata.name);
    const ns = obj.metadata.namespace;
    if (!ns) return;
    for (const dep of this.store.inNamespace(ns, this.registry.all())) {
      const owners = Array.isArray(dep.object.metadata.ownerReferences) ? dep.object.metadata.ownerReferences : [];
      if (owners.some((o) => isObject(o) && o.uid === obj.metadata.uid)) this.removeCascading(dep.kind, dep.object);
    }
  }

  private deleteNamespace(ns: KubeObj): JsonObject {
    const name = ns.metadata.name;
    if (UNDELETABLE.includes(name)) throw forbidden("namespaces", "", name, "this namespace may not be deleted");
    if (ns.metadata.deletionTimestamp) {
      throw conflict("namespaces", "", name, "The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.");
    }
    ns.metadata.deletionTimestamp = now();
    ns.status = { phase: "Terminating" };
    const stored = this.store.write(this.nsKind(), ns);
    this.scheduleFinalize(name);
    return stored;
  }

  private scheduleFinalize(name: string): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.finalizeNamespace(name);
    }, this.namespaceFinalizeMs);
    this.timers.add(t);
  }

  /** Remove a Terminating namespace's content and then the namespace (unless it is stuck). */
  finalizeNamespace(name: string): void {
    if (this.stuck.has(name)) return;
    const ns = this.store.get(this.nsKind(), undefined, name);
    if (!ns?.metadata.deletionTimestamp) return;
    for (const { kind, object } of this.store.inNamespace(name, this.registry.all())) this.store.remove(kind, name, object.metadata.name);
    this.store.remove(this.nsKind(), undefined, name);
  }

  /** Let a stuck namespace finish terminating. */
  release(name: string): void {
    this.stuck.delete(name);
    this.scheduleFinalize(name);
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
