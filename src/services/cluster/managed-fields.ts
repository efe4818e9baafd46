/**
 * Reading server-side apply state off a live object, and cleaning what the bot sends: which labels and annotations
 * preview-bot's Apply entry owns (so a later apply can send them all again instead of losing the ones it leaves out),
 * who owns a field, and the metadata only a server sets (never part of an apply body: a real API server answers 400
 * or 409, or the garbage collector deletes an object whose ownerReferences point nowhere).
 */
import type { KubeObject } from "../shared/preview.js";

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

function entries(obj: { metadata?: { managedFields?: unknown } } | undefined): ManagedFieldsEntry[] {
  const list = obj?.metadata?.managedFields;
  return Array.isArray(list) ? list.filter(isRecord) : [];
}

/** The `f:` keys of a FieldsV1 map node (without the `.` self marker). */
function keysOf(node: unknown): string[] {
  return isRecord(node)
    ? Object.keys(node)
        .filter((k) => k.startsWith("f:"))
        .map((k) => k.slice(2))
    : [];
}

/** Does this entry's FieldsV1 contain the path (e.g. ["spec", "replicas"])? */
function owns(fieldsV1: unknown, path: readonly string[]): boolean {
  let node: unknown = fieldsV1;
  for (const seg of path) {
    if (!isRecord(node)) return false;
    node = node[`f:${seg}`];
  }
  return node !== undefined;
}

/** Whether `manager`'s Apply entry owns `path`. */
export function appliedOwns(
  obj: { metadata?: { managedFields?: unknown } } | undefined,
  manager: string,
  path: readonly string[],
): boolean {
  return entries(obj).some(
    (e) => e.manager === manager && e.operation === "Apply" && !e.subresource && owns(e.fieldsV1, path),
  );
}

/**
 * The labels and annotations `manager`'s Apply entry owns, with their live values: the metadata an apply must send
 * again to keep it. Without managedFields (a server that does not report them) it is undefined.
 */
export function appliedMetadata(
  obj:
    | { metadata?: { managedFields?: unknown; labels?: Record<string, string>; annotations?: Record<string, string> } }
    | undefined,
  manager: string,
): { labels: Record<string, string>; annotations: Record<string, string> } | undefined {
  const entry = entries(obj).find((e) => e.manager === manager && e.operation === "Apply" && !e.subresource);
  if (!entry) return entries(obj).length > 0 ? { labels: {}, annotations: {} } : undefined;
  const meta = isRecord(entry.fieldsV1) ? entry.fieldsV1["f:metadata"] : undefined;
  const pick = (what: "labels" | "annotations"): Record<string, string> => {
    const live = obj?.metadata?.[what] ?? {};
    return Object.fromEntries(
      keysOf(isRecord(meta) ? meta[`f:${what}`] : undefined)
        .filter((k) => k in live)
        .map((k) => [k, live[k]!]),
    );
  };
  return { labels: pick("labels"), annotations: pick("annotations") };
}

/** Metadata only an API server sets. */
const SERVER_METADATA = [
  "managedFields",
  "resourceVersion",
  "uid",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "generation",
  "selfLink",
  "ownerReferences",
];
/** Annotations that describe a previous client-side apply or a controller's bookkeeping, not the desired object. */
const SERVER_ANNOTATIONS = ["kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision"];

/**
 * A copy of a rendered object fit to apply, and what was taken out of it: server-owned metadata, ownerReferences
 * (they name uids of another cluster or a past object: the garbage collector would delete the object) and status.
 */
export function withoutServerFields(obj: KubeObject): { object: KubeObject; removed: string[] } {
  const object = structuredClone(obj);
  const removed: string[] = [];
  for (const k of SERVER_METADATA) {
    if (object.metadata[k] !== undefined) {
      delete object.metadata[k];
      removed.push(`metadata.${k}`);
    }
  }
  for (const k of SERVER_ANNOTATIONS) {
    if (object.metadata.annotations?.[k] !== undefined) {
      delete object.metadata.annotations[k];
      removed.push(`metadata.annotations["${k}"]`);
    }
  }
  if (object.metadata.annotations && Object.keys(object.metadata.annotations).length === 0 && removed.length > 0)
    delete object.metadata.annotations;
  if (object.status !== undefined) {
    delete object.status;
    removed.push("status");
  }
  return { object, removed };
}
