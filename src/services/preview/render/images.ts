/**
 * Step 4: pin images to the PR's build. For every container and initContainer of a pod template, an image whose
 * repository (the reference without tag or digest) equals `images[].name` — or, for a prefix name
 * `registry/org/*`, starts with `registry/org/` — gets `newName` (when set; a prefix newName replaces the prefix)
 * and the expanded tag; the digest, if any, is dropped (the tag is now the pin). An exact name wins over a prefix,
 * a longer prefix over a shorter one. Images not listed are left alone.
 */
import type { KubeObject } from "../../shared/preview.js";

/** Docker's tag grammar. */
export const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export interface ImagePin {
  name: string;
  newName?: string;
  /** Expanded and validated tag. */
  tag: string;
}

/** `registry:5000/team/app:1.2@sha256:…` → `registry:5000/team/app`. */
export function imageRepository(image: string): string {
  const noDigest = image.split("@")[0]!;
  const lastSlash = noDigest.lastIndexOf("/");
  const lastColon = noDigest.lastIndexOf(":");
  return lastColon > lastSlash ? noDigest.slice(0, lastColon) : noDigest;
}

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;

/** The pod spec of a workload object, if it has one. */
export function podSpecOf(obj: KubeObject): Rec | undefined {
  const spec = asRec(obj.spec);
  switch (obj.kind) {
    case "Pod":
      return spec;
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
    case "ReplicaSet":
    case "ReplicationController":
    case "Job":
      return asRec(asRec(spec?.template)?.spec);
    case "CronJob":
      return asRec(asRec(asRec(asRec(spec?.jobTemplate)?.spec)?.template)?.spec);
    default:
      return undefined;
  }
}

/** The pin for an image repository: its exact entry, else the longest matching prefix entry. */
function pinFor(pins: readonly ImagePin[], repo: string): ImagePin | undefined {
  const exact = pins.find((p) => p.name === repo);
  if (exact) return exact;
  return pins
    .filter((p) => p.name.endsWith("/*") && repo.startsWith(p.name.slice(0, -1)))
    .sort((a, b) => b.name.length - a.name.length)[0];
}

/** Rewrite images in place. Entries that matched no container are reported in `warnings`. */
export function pinImages(objects: KubeObject[], pins: readonly ImagePin[], warnings: string[]): KubeObject[] {
  if (pins.length === 0) return objects;
  const used = new Set<string>();
  for (const obj of objects) {
    const pod = podSpecOf(obj);
    if (!pod) continue;
    for (const field of ["initContainers", "containers"] as const) {
      const list = pod[field];
      if (!Array.isArray(list)) continue;
      for (const c of list) {
        const container = asRec(c);
        if (!container || typeof container.image !== "string") continue;
        const repo = imageRepository(container.image);
        const pin = pinFor(pins, repo);
        if (!pin) continue;
        const renamed =
          pin.newName === undefined
            ? repo
            : pin.name.endsWith("/*")
              ? `${pin.newName.slice(0, -1)}${repo.slice(pin.name.length - 1)}`
              : pin.newName;
        container.image = `${renamed}:${pin.tag}`;
        used.add(pin.name);
      }
    }
  }
  for (const pin of pins) {
    if (!used.has(pin.name)) warnings.push(`images: no container uses ${pin.name}; nothing pinned for it`);
  }
  return objects;
}
