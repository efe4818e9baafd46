/**
 * The API server's verbs over the store: get, list, create, update, patch (apply / merge), the scale subresource and
 * delete (deletion.ts). Every write keeps managedFields the real way (ownership.ts), refuses changes to immutable
 * fields (immutable.ts) and validates metadata with the real messages (validate.ts).
 */
import { randomUUID } from "node:crypto";
import { parse as parseYaml } from "yaml";
import { Deletion, now, type Propagation } from "./deletion.js";
import { immutableCauses } from "./immutable.js";
import { apiVersionOf, type KindRegistry, type KindSpec } from "./kinds.js";
import { clone, isObject, mergePatch, type Json, type JsonObject } from "./merge.js";
import { applyFields, conflictStatus, updateFields } from "./ownership.js";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "./selectors.js";
import { alreadyExists, badRequest, conflict, forbidden, invalid, notFound, StatusError } from "./status.js";
import type { KubeObj, Store } from "./store.js";
import {
  applyDefaults,
  checkApplyBody,
  keepAllocated,
  omitEmpty,
  reconcileWithUrl,
  validateObject,
} from "./validate.js";

export { now };

export interface WriteQuery {
  fieldManager?: string | undefined;
  force?: string | undefined;
  dryRun?: string | undefined;
}

const APPLY = "application/apply-patch+yaml";
const MERGE = "application/merge-patch+json";
const STRATEGIC = "application/strategic-merge-patch+json";
/** Metadata only the server sets: never taken from a request body. */
const SERVER_METADATA = [
  "uid",
  "resourceVersion",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "generation",
  "managedFields",
  "selfLink",
];
const SCALABLE = new Set(["Deployment", "StatefulSet", "ReplicaSet"]);

export class FakeApi {
  readonly deletion: Deletion;

  constructor(
    readonly registry: KindRegistry,
    readonly store: Store,
    namespaceFinalizeMs: number,
  ) {
    this.deletion = new Deletion(registry, store, namespaceFinalizeMs);
  }

  /** Namespaces kept Terminating forever (see FakeKube.stickNamespace). */
  get stuck(): Set<string> {
    return this.deletion.stuck;
  }

  get(kind: KindSpec, namespace: string | undefined, name: string): KubeObj {
    const obj = this.store.get(kind, namespace, name);
    if (!obj) throw notFound(kind.plural, kind.group, name);
    return obj;
  }

  /** Objects matching the selectors; `namespace` undefined lists across namespaces. */
  select(
    kind: KindSpec,
    namespace: string | undefined,
    labelSelector?: string | null,
    fieldSelector?: string | null,
  ): KubeObj[] {
    const labels = parseLabelSelector(labelSelector);
    const fields = parseFieldSelector(fieldSelector, kind.kind);
    return this.store
      .list(kind, namespace)
      .filter((o) => matchesLabels(labels, o.metadata.labels) && matchesFields(fields, o));
  }

  /** A `<Kind>List`; items carry no apiVersion/kind, exactly like the real server's JSON lists. */
  list(
    kind: KindSpec,
    namespace: string | undefined,
    labelSelector?: string | null,
    fieldSelector?: string | null,
  ): JsonObject {
    const items = this.select(kind, namespace, labelSelector, fieldSelector).map(
      ({ apiVersion: _a, kind: _k, ...rest }) => rest,
    );
    return {
      kind: `${kind.kind}List`,
      apiVersion: apiVersionOf(kind),
      metadata: { resourceVersion: String(this.store.resourceVersion) },
      items,
    };
  }

  private manager(q: WriteQuery): string {
    return q.fieldManager ?? "unknown";
  }

  create(kind: KindSpec, namespace: string | undefined, body: unknown, q: WriteQuery): KubeObj {
    const obj = reconcileWithUrl(kind, body, namespace);
    for (const k of SERVER_METADATA) delete obj.metadata[k];
    if (kind.statusSubresource) delete obj.status;
    const managedFields = updateFields(undefined, obj, {
      manager: this.manager(q),
      apiVersion: apiVersionOf(kind),
      now: now(),
      skipStatus: kind.statusSubresource === true,
    });
    return this.insert(kind, obj, q, managedFields);
  }

  replace(kind: KindSpec, namespace: string | undefined, name: string, body: unknown, q: WriteQuery): KubeObj {
    const next = reconcileWithUrl(kind, body, namespace, name);
    const existing = this.get(kind, namespace, name);
    const rv = next.metadata.resourceVersion;
    if (rv !== undefined && rv !== "" && rv !== existing.metadata.resourceVersion) {
      throw conflict(
        kind.plural,
        kind.group,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
      );
    }
    return this.updateBy(kind, existing, next, q);
  }

  patch(
    kind: KindSpec,
    namespace: string | undefined,
    name: string,
    contentType: string,
    raw: string,
    q: WriteQuery,
  ): KubeObj {
    if (contentType === APPLY) return this.apply(kind, namespace, name, raw, q);
    if (contentType !== MERGE && contentType !== STRATEGIC) {
      throw new StatusError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: ${MERGE}, ${STRATEGIC}, ${APPLY}`,
        {},
      );
    }
    if (q.force !== undefined) {
      throw invalid("PatchOptions", "meta.k8s.io", "", [
        {
          reason: "FieldValueForbidden",
          message: "Forbidden: may not be specified for non-apply patch",
          field: "force",
        },
      ]);
    }
    const patch = this.parsePatch(raw);
    const existing = this.get(kind, namespace, name);
    return this.updateBy(kind, existing, reconcileWithUrl(kind, mergePatch(existing, patch), namespace, name), q);
  }

  private parsePatch(raw: string): Json {
    try {
      return JSON.parse(raw) as Json;
    } catch (e) {
      throw badRequest(`error decoding patch: ${(e as Error).message}`);
    }
  }

  /** An update by a non-apply write: the manager owns what it changed. */
  private updateBy(kind: KindSpec, existing: KubeObj, next: KubeObj, q: WriteQuery): KubeObj {
    keepAllocated(kind, existing, next);
    const skipStatus = kind.statusSubresource === true;
    if (skipStatus) next.status = existing.status ?? null;
    if (next.status === null) delete next.status;
    next.metadata.managedFields = updateFields(existing, next, {
      manager: this.manager(q),
      apiVersion: apiVersionOf(kind),
      now: now(),
      skipStatus,
    });
    return this.update(kind, existing, next, q);
  }

  private apply(kind: KindSpec, namespace: string | undefined, name: string, raw: string, q: WriteQuery): KubeObj {
    if (!q.fieldManager) {
      throw invalid("PatchOptions", "meta.k8s.io", "", [
        { reason: "FieldValueRequired", message: "Required value: is required for apply patch", field: "fieldManager" },
      ]);
    }
    let body: unknown;
    try {
      body = parseYaml(raw) as unknown;
    } catch (e) {
      throw badRequest(`error decoding YAML: ${(e as Error).message}`);
    }
    if (
      isObject(body) &&
      (typeof body.apiVersion !== "string" ||
        typeof body.kind !== "string" ||
        body.apiVersion === "" ||
        body.kind === "")
    ) {
      const gv = typeof body.apiVersion === "string" ? body.apiVersion : "";
      throw badRequest(
        `invalid object type: ${gv.includes("/") ? gv : `/${gv}`}, Kind=${typeof body.kind === "string" ? body.kind : ""}`,
      );
    }
    const existing = this.store.get(kind, namespace, name);
    checkApplyBody(kind, name, body, existing);
    const applied = reconcileWithUrl(kind, body, namespace, name);
    for (const k of SERVER_METADATA) delete applied.metadata[k];
    if (kind.statusSubresource) delete applied.status;
    const skipStatus = kind.statusSubresource === true;
    const result = applyFields(existing, applied, {
      manager: q.fieldManager,
      force: q.force === "true",
      apiVersion: apiVersionOf(kind),
      now: now(),
      skipStatus,
    });
    if (result.conflicts.length > 0) {
      const { message, causes } = conflictStatus(result.conflicts);
      throw new StatusError(409, "Conflict", message, { causes });
    }
    const next = result.object as KubeObj;
    if (!existing) return this.insert(kind, next, q, next.metadata.managedFields as Json[]);
    if (skipStatus) next.status = existing.status ?? null;
    if (next.status === null) delete next.status;
    return this.update(kind, existing, next, q);
  }

  private insert(kind: KindSpec, obj: KubeObj, q: WriteQuery, managedFields: Json[]): KubeObj {
    const meta = obj.metadata;
    validateObject(kind, obj, true);
    const name = meta.name;
    if (kind.namespaced) {
      const ns = this.store.get(this.registry.byKind("v1", "Namespace")!, undefined, meta.namespace ?? "");
      if (!ns) throw notFound("namespaces", "", meta.namespace ?? "");
      if (ns.metadata.deletionTimestamp) {
        throw forbidden(
          kind.plural,
          kind.group,
          name,
          `unable to create new content in namespace ${ns.metadata.name} because it is being terminated`,
          [
            {
              reason: "NamespaceTerminating",
              message: `namespace ${ns.metadata.name} is being terminated`,
              field: "metadata.namespace",
            },
          ],
        );
      }
    }
    if (this.store.get(kind, meta.namespace, name)) throw alreadyExists(kind.plural, kind.group, name);
    if (kind.statusSubresource) delete obj.status;
    applyDefaults(kind, obj);
    omitEmpty(kind, obj);
    if (kind.kind === "Namespace") obj.status = { phase: "Active" };
    Object.assign(meta, { uid: randomUUID(), creationTimestamp: now(), generation: 1, managedFields });
    if (managedFields.length === 0) delete meta.managedFields;
    return q.dryRun === "All" ? obj : this.store.write(kind, obj);
  }

  /** Write `next` (managedFields already computed) over `existing`: validation, immutable fields, generation. */
  private update(kind: KindSpec, existing: KubeObj, next: KubeObj, q: WriteQuery): KubeObj {
    validateObject(kind, next, false);
    const old = existing.metadata;
    applyDefaults(kind, next);
    const causes = immutableCauses(kind.kind, existing, next);
    if (causes.length > 0) throw invalid(kind.kind, kind.group, next.metadata.name, causes);
    omitEmpty(kind, next);
    const specOf = (o: KubeObj): string =>
      JSON.stringify(Object.entries(o).filter(([k]) => k !== "metadata" && k !== "status"));
    const generation = typeof old.generation === "number" ? old.generation : 1;
    const managedFields = next.metadata.managedFields;
    for (const k of SERVER_METADATA) delete next.metadata[k];
    Object.assign(next.metadata, {
      uid: old.uid,
      creationTimestamp: old.creationTimestamp,
      generation: specOf(next) === specOf(existing) ? generation : generation + 1,
    });
    if (Array.isArray(managedFields) && managedFields.length > 0) next.metadata.managedFields = managedFields;
    if (old.deletionTimestamp !== undefined)
      Object.assign(next.metadata, {
        deletionTimestamp: old.deletionTimestamp,
        deletionGracePeriodSeconds: old.deletionGracePeriodSeconds ?? 0,
      });
    if (q.dryRun === "All") return next;
    if (this.deletion.finishIfReleased(kind, next)) return next;
    return this.store.write(kind, next);
  }

  /** Controllers write status directly (no generation bump), like a `/status` subresource update. */
  writeStatus(kind: KindSpec, obj: KubeObj, status: JsonObject): KubeObj | undefined {
    const current = this.store.get(kind, obj.metadata.namespace, obj.metadata.name);
    if (!current) return undefined;
    current.status = status;
    return this.store.write(kind, current);
  }

  /** GET, PUT or merge-PATCH `/scale` of a Deployment, StatefulSet or ReplicaSet (an `autoscaling/v1` Scale). */
  scale(
    kind: KindSpec,
    namespace: string | undefined,
    name: string,
    method: string,
    raw: string,
    q: WriteQuery,
  ): JsonObject {
    if (!SCALABLE.has(kind.kind)) throw notFound(kind.plural, kind.group, name);
    let obj = this.get(kind, namespace, name);
    if (method === "PATCH" || method === "PUT") {
      const body = this.parsePatch(raw);
      const replicas = isObject(body) && isObject(body.spec) ? body.spec.replicas : undefined;
      if (typeof replicas !== "number") throw badRequest("the scale body has no spec.replicas");
      const next = clone(obj);
      next.spec = { ...(isObject(next.spec) ? next.spec : {}), replicas };
      next.metadata.managedFields = updateFields(obj, next, {
        manager: this.manager(q),
        apiVersion: apiVersionOf(kind),
        now: now(),
        skipStatus: true,
        subresource: "scale",
        onlyIfOwned: true,
      });
      obj = this.update(kind, obj, next, q);
    }
    const spec = isObject(obj.spec) ? obj.spec : {};
    const selector =
      isObject(spec.selector) && isObject(spec.selector.matchLabels)
        ? Object.entries(spec.selector.matchLabels)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(",")
        : "";
    const status = isObject(obj.status) ? obj.status : {};
    const { uid, resourceVersion, creationTimestamp } = obj.metadata;
    return {
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      metadata: {
        name,
        namespace: namespace ?? "",
        uid: uid ?? null,
        resourceVersion: resourceVersion ?? null,
        creationTimestamp: creationTimestamp ?? null,
      },
      spec: { replicas: typeof spec.replicas === "number" ? spec.replicas : 1 },
      status: { replicas: typeof status.replicas === "number" ? status.replicas : 0, selector },
    };
  }

  delete(
    kind: KindSpec,
    namespace: string | undefined,
    name: string,
    propagation: Propagation = "Background",
  ): JsonObject {
    return this.deletion.delete(kind, this.get(kind, namespace, name), propagation);
  }

  deleteCollection(kind: KindSpec, namespace: string | undefined, labelSelector: string | null): JsonObject {
    if (kind.kind === "Namespace")
      throw new StatusError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {},
      );
    const removed = this.select(kind, namespace, labelSelector).map((o) => {
      this.deletion.remove(kind, o, "Background");
      const { apiVersion: _a, kind: _k, ...rest } = o;
      return rest;
    });
    return {
      kind: `${kind.kind}List`,
      apiVersion: apiVersionOf(kind),
      metadata: { resourceVersion: String(this.store.resourceVersion) },
      items: removed,
    };
  }

  /** Let a stuck namespace finish terminating. */
  release(name: string): void {
    this.deletion.release(name);
  }

  close(): void {
    this.deletion.close();
  }
}
