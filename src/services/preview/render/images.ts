/**
 * Step 4: pin images to the PR's build. For every container and initContainer of a pod template, an image whose
 * repository (the reference without tag or digest, as registry/image-reference.ts reads it) equals `images[].name` —
 * or, for a prefix name `registry/org/*`, starts with `registry/org/` — gets `newName` (when set; a prefix newName
 * replaces the prefix) and the expanded tag; the digest, if any, is dropped (the tag is now the pin; the deploy's
 * Images step resolves it to a digest). An exact name wins over a prefix, a longer prefix over a shorter one. Images
 * not listed, and references that do not parse, are left alone.
 */
import { parseImageReference } from "../../registry/image-reference.js";
import type { KubeObject } from "../../shared/preview.js";

export { TAG_PATTERN } from "../../registry/image-reference.js";

export interface ImagePin {
  name: string;
  newName?: string;
  /** Expanded and validated tag. */
  tag: string;
}

/** One image the pins put into the render: which entry, the reference written (`repo:tag`), and where. */
export interface PinnedImage {
  /** The `images[].name` entry that pinned it. */
  entry: string;
  /** The repository as written into the containers (after newName), without tag. */
  repository: string;
  tag: string;
  /** `repository:tag`, exactly as the containers now say. */
  image: string;
  /** Where: `Deployment web, container app` (one line per container). */
  containers: string[];
}

/**
 * `registry:5000/team/app:1.2@sha256:…` → `registry:5000/team/app`; undefined when the name does not parse. A digest
 * is not checked: pinning replaces it.
 */
export function imageRepository(image: string): string | undefined {
  try {
    return parseImageReference(image.split("@")[0]!).name;
  } catch {
    return undefined;
  }
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

/** Every container and initContainer of a pod spec, with its list's name. */
export function containersOf(pod: Rec): Array<{ field: "initContainers" | "containers"; container: Rec }> {
  const out: Array<{ field: "initContainers" | "containers"; container: Rec }> = [];
  for (const field of ["initContainers", "containers"] as const) {
    const list = pod[field];
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      const container = asRec(c);
      if (container) out.push({ field, container });
    }
  }
  return out;
}

/** The pin for an image repository: its exact entry, else the longest matching prefix entry. */
function pinFor(pins: readonly ImagePin[], repo: string): ImagePin | undefined {
  const exact = pins.find((p) => p.name === repo);
  if (exact) return exact;
  return pins
    .filter((p) => p.name.endsWith("/*") && repo.startsWith(p.name.slice(0, -1)))
    .sort((a, b) => b.name.length - a.name.length)[0];
}

/**
 * Rewrite images in place. Entries that matched no container are reported in `warnings`; what was pinned is added
 * to `pinned` (one record per distinct image written), when given.
 */
export function pinImages(
  objects: KubeObject[],
  pins: readonly ImagePin[],
  warnings: string[],
  pinned: PinnedImage[] = [],
): KubeObject[] {
  if (pins.length === 0) return objects;
  const used = new Set<string>();
  for (const obj of objects) {
    const pod = podSpecOf(obj);
    if (!pod) continue;
    for (const { field, container } of containersOf(pod)) {
      if (typeof container.image !== "string") continue;
      const repo = imageRepository(container.image);
      const pin = repo === undefined ? undefined : pinFor(pins, repo);
      if (!pin || repo === undefined) continue;
      const renamed =
        pin.newName === undefined
          ? repo
          : pin.name.endsWith("/*")
            ? `${pin.newName.slice(0, -1)}${repo.slice(pin.name.length - 1)}`
            : pin.newName;
      const image = `${renamed}:${pin.tag}`;
      container.image = image;
      used.add(pin.name);
      const where = `${obj.kind} ${obj.metadata.name ?? "?"}, ${field === "initContainers" ? "init container" : "container"} ${typeof container.name === "string" ? container.name : "?"}`;
      const record = pinned.find((p) => p.image === image);
      if (record) record.containers.push(where);
      else pinned.push({ entry: pin.name, repository: renamed, tag: pin.tag, image, containers: [where] });
    }
  }
  for (const pin of pins) {
    if (!used.has(pin.name)) warnings.push(`images: no container uses ${pin.name}; nothing pinned for it`);
  }
  return objects;
}
