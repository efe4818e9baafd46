/**
 * Fields the real API server refuses to change on update (422), for the kinds the bot applies, with the real
 * messages where they can be reproduced (a Go struct dump in the value cannot: there the fake shows JSON and keeps
 * the field, reason and the message's ending, which is what the contract suite compares).
 */
import { deepEqual } from "./fields.js";
import { isObject, type Json, type JsonObject } from "./merge.js";
import type { StatusCause } from "./status.js";
import type { KubeObj } from "./store.js";

const obj = (v: Json | undefined): JsonObject => (isObject(v) ? v : {});
const immutable = (field: string, value: Json | undefined): StatusCause => ({
  reason: "FieldValueInvalid",
  field,
  message: `Invalid value: ${JSON.stringify(value ?? null)}: field is immutable`,
});
const forbidden = (field: string, why: string): StatusCause => ({
  reason: "FieldValueForbidden",
  field,
  message: `Forbidden: ${why}`,
});

const WORKLOADS = new Set(["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"]);
/** StatefulSet spec fields that may change (everything else is refused). */
const STS_MUTABLE = new Set([
  "replicas",
  "ordinals",
  "template",
  "updateStrategy",
  "persistentVolumeClaimRetentionPolicy",
  "minReadySeconds",
  "revisionHistoryLimit",
]);

function without(spec: JsonObject, keys: Iterable<string>): JsonObject {
  const out: JsonObject = { ...spec };
  for (const k of keys) delete out[k];
  return out;
}

function statefulSetCauses(old: JsonObject, next: JsonObject): StatusCause[] {
  if (!deepEqual(old.serviceName, next.serviceName)) return [immutable("spec.serviceName", next.serviceName)];
  if (!deepEqual(old.volumeClaimTemplates, next.volumeClaimTemplates))
    return [immutable("spec.volumeClaimTemplates", next.volumeClaimTemplates)];
  const rest = (s: JsonObject): JsonObject =>
    without(s, [...STS_MUTABLE, "selector", "serviceName", "volumeClaimTemplates"]);
  if (!deepEqual(rest(old), rest(next))) {
    return [
      forbidden(
        "spec",
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
      ),
    ];
  }
  return [];
}

function serviceCauses(old: JsonObject, next: JsonObject): StatusCause[] {
  const was = old.clusterIP;
  if (was === undefined || was === "" || deepEqual(was, next.clusterIP)) return [];
  return [
    {
      reason: "FieldValueInvalid",
      field: "spec.clusterIPs[0]",
      message: `Invalid value: ${JSON.stringify([next.clusterIP ?? ""])}: may not change once set`,
    },
  ];
}

function pvcCauses(old: JsonObject, next: JsonObject): StatusCause[] {
  const fixed = (s: JsonObject): JsonObject => {
    const r = without(s, ["volumeAttributesClassName", "volumeName"]);
    r.resources = { ...obj(s.resources) };
    delete r.resources.requests;
    return r;
  };
  if (deepEqual(fixed(old), fixed(next))) return [];
  return [
    forbidden(
      "spec",
      "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
    ),
  ];
}

function frozenDataCauses(old: KubeObj, next: KubeObj): StatusCause[] {
  if (old.immutable !== true) return [];
  const why = "field is immutable when `immutable` is set";
  if (next.immutable !== true) return [forbidden("immutable", why)];
  const causes: StatusCause[] = [];
  if (!deepEqual(old.data ?? {}, next.data ?? {})) causes.push(forbidden("data", why));
  if (!deepEqual(old.binaryData ?? {}, next.binaryData ?? {})) causes.push(forbidden("binaryData", why));
  return causes;
}

/** Causes for a 422 when `next` changes a field of `old` that may not change; empty when the update is allowed. */
export function immutableCauses(kind: string, old: KubeObj, next: KubeObj): StatusCause[] {
  const o = obj(old.spec);
  const n = obj(next.spec);
  if (WORKLOADS.has(kind) && o.selector !== undefined && !deepEqual(o.selector, n.selector))
    return [immutable("spec.selector", n.selector)];
  switch (kind) {
    case "Job": {
      if (o.selector !== undefined && !deepEqual(o.selector, n.selector))
        return [immutable("spec.selector", n.selector)];
      return deepEqual(o.template, n.template) ? [] : [immutable("spec.template", n.template)];
    }
    case "StatefulSet":
      return statefulSetCauses(o, n);
    case "Service":
      return serviceCauses(o, n);
    case "PersistentVolumeClaim":
      return pvcCauses(o, n);
    case "ConfigMap":
    case "Secret":
      return frozenDataCauses(old, next);
    default:
      return [];
  }
}
