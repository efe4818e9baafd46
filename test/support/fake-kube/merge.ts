/**
 * Patch semantics.
 * - JSON merge patch (RFC 7386) for `application/merge-patch+json`.
 * - `application/strategic-merge-patch+json` is APPROXIMATED as a merge patch: lists are replaced whole instead of
 *   merged by key (`containers` by name, etc.). Good enough for the bot, which uses SSA and merge patches.
 * - Server-side apply is SIMPLIFIED: each manager owns exactly the fields it last applied (recorded as FieldsV1 in
 *   `managedFields`, lists atomic, no `k:{…}` keys); re-applying removes fields the manager owned and no longer
 *   sends, maps are merged and lists/scalars replaced. Conflicts between managers are never reported (as if
 *   `force=true` always), and a field co-owned by two managers is removed when either drops it.
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };
/** FieldsV1 as the real server writes it: `{"f:metadata":{"f:labels":{"f:app":{}}}}`. */
export type FieldSet = { [k: string]: FieldSet };

export function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** RFC 7386: null deletes, objects merge recursively, everything else replaces. */
export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** The fields an applied configuration sets (apiVersion, kind, metadata.name/namespace excluded, as for real). */
export function fieldSetOf(obj: JsonObject, top = true): FieldSet {
  const set: FieldSet = {};
  for (const [k, v] of Object.entries(obj)) {
    if (top && (k === "apiVersion" || k === "kind")) continue;
    if (top && k === "metadata" && isObject(v)) {
      const meta: JsonObject = {};
      for (const [mk, mv] of Object.entries(v)) if (mk === "labels" || mk === "annotations" || mk === "ownerReferences" || mk === "finalizers") meta[mk] = mv;
      const inner = fieldSetOf(meta, false);
      if (Object.keys(inner).length > 0) set["f:metadata"] = inner;
      continue;
    }
    set[`f:${k}`] = isObject(v) ? fieldSetOf(v, false) : {};
  }
  return set;
}

/** Leaves of `prev` that `next` no longer mentions (a whole subtree when `next` drops its parent). */
export function removedFields(prev: FieldSet, next: FieldSet): FieldSet {
  const out: FieldSet = {};
  for (const [k, sub] of Object.entries(prev)) {
    const n = next[k];
    if (n === undefined) out[k] = {};
    else if (Object.keys(sub).length > 0 && Object.keys(n).length > 0) {
      const inner = removedFields(sub, n);
      if (Object.keys(inner).length > 0) out[k] = inner;
    }
  }
  return out;
}

export function removeFieldSet(obj: JsonObject, removed: FieldSet): void {
  for (const [k, sub] of Object.entries(removed)) {
    const key = k.slice(2);
    const v = obj[key];
    if (Object.keys(sub).length === 0) delete obj[key];
    else if (isObject(v)) {
      removeFieldSet(v, sub);
      if (Object.keys(v).length === 0) delete obj[key];
    }
  }
}

/** Apply merge: maps merge recursively, lists and scalars from `applied` replace. */
export function applyMerge(existing: JsonObject, applied: JsonObject): JsonObject {
  const out = clone(existing);
  for (const [k, v] of Object.entries(applied)) {
    const cur = out[k];
    out[k] = isObject(v) && isObject(cur) ? applyMerge(cur, v) : clone(v);
  }
  return out;
}
