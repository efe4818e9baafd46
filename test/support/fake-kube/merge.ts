/**
 * JSON values and patch semantics.
 * - JSON merge patch (RFC 7386) for `application/merge-patch+json`.
 * - `application/strategic-merge-patch+json` is APPROXIMATED as a merge patch: lists are replaced whole instead of
 *   merged by key (`containers` by name, etc.). Good enough for the bot, which uses SSA and merge patches.
 * - Server-side apply and field ownership are in fields.ts and ownership.ts.
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
