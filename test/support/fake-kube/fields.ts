/**
 * Field ownership for the fake, the way kube-apiserver's field manager keeps it (measured by test/contract):
 * - every write records, per (manager, operation[, subresource]), the set of fields it owns, as FieldsV1;
 * - an Apply owns every field it sends (equal values are shared with other owners); sending another owner's field
 *   with a different value is a conflict (409, FieldManagerConflict causes) unless `force` takes it over; a field the
 *   applier sent last time and no longer sends is removed, unless someone else also owns it;
 * - an Update (create, PUT, merge patch, scale) owns only the fields it changed, and takes them from everyone else.
 *
 * Simplified: every list is atomic (one field), where the real server merges lists like `containers` per key, and
 * FieldsV1 carries no `k:{…}`/`v:` entries or `.` markers on Update entries. The contract suite marks that case as
 * real only; the bot applies whole objects, so it never depends on it.
 */
import { clone, isObject, type FieldSet, type Json, type JsonObject } from "./merge.js";

/** One field path, e.g. ["metadata", "annotations", "example.com/x"]. */
export type Path = string[];

const SEP = "\u0000";
const keyOf = (p: Path): string => p.join(SEP);
const pathOf = (k: string): Path => (k === "" ? [] : k.split(SEP));

/** A set of field paths (FieldsV1 as data). */
export class PathSet {
  private readonly keys = new Set<string>();

  static of(paths: Iterable<Path>): PathSet {
    const s = new PathSet();
    for (const p of paths) s.add(p);
    return s;
  }

  static fromFieldsV1(f: unknown): PathSet {
    const s = new PathSet();
    const walk = (node: FieldSet, at: Path): void => {
      const children = Object.entries(node).filter(([k]) => k !== ".");
      if (children.length === 0 || "." in node) s.add(at);
      for (const [k, sub] of children) walk(isObject(sub) ? sub : {}, [...at, k.startsWith("f:") ? k.slice(2) : k]);
    };
    if (isObject(f))
      for (const [k, sub] of Object.entries(f)) walk(isObject(sub) ? (sub as FieldSet) : {}, [k.slice(2)]);
    return s;
  }

  add(p: Path): void {
    if (p.length > 0) this.keys.add(keyOf(p));
  }
  has(p: Path): boolean {
    return this.keys.has(keyOf(p));
  }
  delete(p: Path): void {
    this.keys.delete(keyOf(p));
  }
  get size(): number {
    return this.keys.size;
  }
  paths(): Path[] {
    return [...this.keys].map(pathOf);
  }
  /** Paths strictly below `p`. */
  under(p: Path): Path[] {
    const prefix = keyOf(p) + SEP;
    return [...this.keys].filter((k) => k.startsWith(prefix)).map(pathOf);
  }

  toFieldsV1(): FieldSet {
    const root: FieldSet = {};
    const members = [...this.keys].map(pathOf).sort((a, b) => a.length - b.length);
    for (const p of members) {
      let node = root;
      for (const seg of p) node = node[`f:${seg}`] ??= {};
    }
    // A member that also has children is marked with ".", as the real server writes it.
    for (const p of members) {
      let node: FieldSet = root;
      for (const seg of p) node = node[`f:${seg}`]!;
      if (Object.keys(node).some((k) => k !== ".")) node["."] = {};
    }
    return root;
  }
}

/** The metadata fields an object's owners can hold (name, namespace, uid, … belong to nobody). */
const OWNED_METADATA = ["labels", "annotations", "ownerReferences", "finalizers"];

/** Leaf paths of an object as a writer sets it: non-empty maps are walked, everything else is one field. */
export function leafPaths(obj: JsonObject, skipStatus: boolean): PathSet {
  const out = new PathSet();
  const walk = (v: Json, at: Path): void => {
    if (isObject(v) && Object.keys(v).length > 0) for (const [k, sub] of Object.entries(v)) walk(sub, [...at, k]);
    else out.add(at);
  };
  for (const [k, v] of Object.entries(obj)) {
    if (k === "apiVersion" || k === "kind" || (k === "status" && skipStatus)) continue;
    if (k === "metadata") {
      if (isObject(v)) for (const mk of OWNED_METADATA) if (v[mk] !== undefined) walk(v[mk], ["metadata", mk]);
      continue;
    }
    walk(v, [k]);
  }
  return out;
}

export function valueAt(obj: Json | undefined, p: Path): Json | undefined {
  let cur: Json | undefined = obj;
  for (const seg of p) {
    if (!isObject(cur)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

/** Remove the field at `p`, and parent maps it leaves empty (up to, not including, a path in `keep`). */
export function removeAt(obj: JsonObject, p: Path, keep: PathSet): void {
  const parents: JsonObject[] = [obj];
  for (const seg of p.slice(0, -1)) {
    const next = parents.at(-1)![seg];
    if (!isObject(next)) return;
    parents.push(next);
  }
  delete parents.at(-1)![p.at(-1)!];
  for (let i = parents.length - 1; i > 0; i--) {
    const at = p.slice(0, i);
    if (Object.keys(parents[i]!).length > 0 || keep.has(at)) break;
    delete parents[i - 1]![at.at(-1)!];
  }
}

export function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/** Apply merge: maps merge recursively; lists and scalars from `applied` replace. */
export function applyMerge(existing: JsonObject, applied: JsonObject): JsonObject {
  const out = clone(existing);
  for (const [k, v] of Object.entries(applied)) {
    const cur = out[k];
    out[k] = isObject(v) && isObject(cur) ? applyMerge(cur, v) : clone(v);
  }
  return out;
}

/** `.data.x` — how the real server names a field in conflict messages. */
export const fieldString = (p: Path): string => p.map((s) => `.${s}`).join("");
