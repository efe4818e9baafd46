/**
 * managedFields bookkeeping for the fake's writes (the rules are in fields.ts): `applyFields` for server-side apply
 * (conflicts, force, removal of what the applier stopped sending), `updateFields` for every other write.
 */
import { clone, isObject, type Json, type JsonObject } from "./merge.js";
import { applyMerge, deepEqual, fieldString, leafPaths, PathSet, removeAt, valueAt, type Path } from "./fields.js";
import type { StatusCause } from "./status.js";

interface Owned {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  subresource?: string;
  time: string;
  set: PathSet;
}

export interface Conflict {
  owner: string;
  path: Path;
}

function read(managedFields: unknown): Owned[] {
  if (!Array.isArray(managedFields)) return [];
  return managedFields.filter(isObject).map((m) => ({
    manager: String(m.manager ?? ""),
    operation: m.operation === "Apply" ? "Apply" : "Update",
    apiVersion: String(m.apiVersion ?? ""),
    ...(typeof m.subresource === "string" ? { subresource: m.subresource } : {}),
    time: String(m.time ?? ""),
    set: PathSet.fromFieldsV1(m.fieldsV1),
  }));
}

function write(owned: Owned[]): Json[] {
  return owned
    .filter((o) => o.set.size > 0)
    .map((o) => ({
      manager: o.manager,
      operation: o.operation,
      apiVersion: o.apiVersion,
      time: o.time,
      fieldsType: "FieldsV1",
      fieldsV1: o.set.toFieldsV1(),
      ...(o.subresource ? { subresource: o.subresource } : {}),
    }));
}

/** `"m1"`, or `"m1" using v1` for an Update entry — how the real server names an owner in a conflict. */
const ownerName = (o: Owned): string =>
  o.operation === "Apply" ? `"${o.manager}"` : `"${o.manager}" using ${o.apiVersion}`;

const dropUnder = (set: PathSet, p: Path): void => {
  set.delete(p);
  for (const q of set.under(p)) set.delete(q);
};

/** The 409 an apply conflict answers with: message and causes as the real server words them. */
export function conflictStatus(conflicts: Conflict[]): { message: string; causes: StatusCause[] } {
  const byOwner = new Map<string, string[]>();
  for (const c of conflicts) byOwner.set(c.owner, [...(byOwner.get(c.owner) ?? []), fieldString(c.path)]);
  const owners = [...byOwner.keys()].sort();
  const n = conflicts.length;
  const body =
    n === 1
      ? `conflict with ${owners[0]}: ${byOwner.get(owners[0]!)![0]}`
      : owners
          .map(
            (o) =>
              `conflicts with ${o}:\n${byOwner
                .get(o)!
                .sort()
                .map((f) => `- ${f}`)
                .join("\n")}`,
          )
          .join("\n");
  return {
    message: `Apply failed with ${n} conflict${n === 1 ? "" : "s"}: ${body}`,
    causes: conflicts.map((c) => ({
      reason: "FieldManagerConflict",
      message: `conflict with ${c.owner}`,
      field: fieldString(c.path),
    })),
  };
}

export interface ApplyResult {
  object: JsonObject;
  conflicts: Conflict[];
}

/**
 * Server-side apply of `applied` (already stripped of server-owned metadata) by `manager` over `existing` (undefined
 * on create). With conflicts and no force, `object` is undefined-equivalent: the caller answers 409.
 */
export function applyFields(
  existing: JsonObject | undefined,
  applied: JsonObject,
  o: { manager: string; force: boolean; apiVersion: string; now: string; skipStatus: boolean },
): ApplyResult {
  const newSet = leafPaths(applied, o.skipStatus);
  const owned = read(existing && isObject(existing.metadata) ? existing.metadata.managedFields : undefined);
  let mine = owned.find((e) => e.manager === o.manager && e.operation === "Apply" && !e.subresource);
  const others = owned.filter((e) => e !== mine);
  // A changed field conflicts with its other owners; a changed list or scalar also with owners of what was below it.
  const contested: Array<{ e: Owned; p: Path; atomic: boolean }> = [];
  for (const p of existing ? newSet.paths() : []) {
    const want = valueAt(applied, p);
    if (deepEqual(want, valueAt(existing, p))) continue;
    for (const e of others)
      if (e.set.has(p) || (!isObject(want) && e.set.under(p).length > 0))
        contested.push({ e, p, atomic: !isObject(want) });
  }
  const conflicts = contested.map(({ e, p }) => ({ owner: ownerName(e), path: p }));
  if (conflicts.length > 0 && !o.force) return { object: existing!, conflicts };
  for (const { e, p, atomic } of contested) {
    if (atomic) dropUnder(e.set, p);
    else e.set.delete(p);
  }
  const base = existing
    ? clone(existing)
    : { apiVersion: applied.apiVersion ?? null, kind: applied.kind ?? null, metadata: {} };
  for (const p of mine?.set.paths() ?? []) {
    if (newSet.has(p) || others.some((e) => e.set.has(p) || e.set.under(p).length > 0)) continue;
    removeAt(base, p, newSet);
  }
  const object = applyMerge(base, applied);
  if (!mine) {
    mine = { manager: o.manager, operation: "Apply", apiVersion: o.apiVersion, time: o.now, set: newSet };
    owned.push(mine);
  } else if (!deepEqual(mine.set.toFieldsV1(), newSet.toFieldsV1()) || !deepEqual(existing, object)) {
    Object.assign(mine, { set: newSet, time: o.now, apiVersion: o.apiVersion });
  }
  (object.metadata as JsonObject).managedFields = write(owned);
  return { object, conflicts: [] };
}

/**
 * An Update by `manager` (create, PUT, merge patch, a subresource): it owns what it changed, taken from everyone else;
 * fields the write removed leave every owner's set. Returns the new managedFields.
 */
export function updateFields(
  old: JsonObject | undefined,
  next: JsonObject,
  o: {
    manager: string;
    apiVersion: string;
    now: string;
    skipStatus: boolean;
    subresource?: string;
    onlyIfOwned?: boolean;
  },
): Json[] {
  const before = old ? leafPaths(old, o.skipStatus) : new PathSet();
  const after = leafPaths(next, o.skipStatus);
  const changed = after.paths().filter((p) => !deepEqual(valueAt(old, p), valueAt(next, p)));
  const gone = before.paths().filter((p) => !after.has(p));
  const owned = read(old && isObject(old.metadata) ? old.metadata.managedFields : undefined);
  // The scale subresource records replicas only when someone owned it before (measured on v1.37).
  const taken = o.onlyIfOwned ? changed.filter((p) => owned.some((e) => e.set.has(p))) : changed;
  for (const e of owned) for (const p of [...changed, ...gone]) dropUnder(e.set, p);
  if (taken.length > 0) {
    let mine = owned.find(
      (e) => e.manager === o.manager && e.operation === "Update" && e.subresource === o.subresource,
    );
    if (!mine) {
      mine = {
        manager: o.manager,
        operation: "Update",
        apiVersion: o.apiVersion,
        time: o.now,
        set: new PathSet(),
        ...(o.subresource ? { subresource: o.subresource } : {}),
      };
      owned.push(mine);
    }
    for (const p of taken) mine.set.add(p);
    mine.time = o.now;
  }
  return write(owned);
}
