/**
 * Deploy by digest: every container running a resolved image gets `name@sha256:…` (so a tag pushed again changes
 * nothing that runs until the next deploy), and each workload says in one annotation, for people, which tag each of
 * its containers came from (`preview-bot.dev/images`, one `container=repository:tag` line per container, with
 * ` (reused from main)` for an image taken from the base branch). On the workload, not its pod template: a tag's new
 * name with the same digest must not restart pods.
 *
 * With a pull secret (PREVIEW_IMAGE_PULL_SECRET), every pod spec of the render names it in `imagePullSecrets`, and the
 * Secret itself is added to what is applied. Pure.
 */
import type { KubeObject, PreviewNames } from "../../shared/preview.js";
import { containersOf, podSpecOf } from "../render/images.js";

export const IMAGES_ANNOTATION = "preview-bot.dev/images";
/** The pull secret's name in every preview namespace. */
export const PULL_SECRET_NAME = "preview-bot-image-pull";

export interface ResolvedImage {
  /** What the containers said (`repository:prTag`). */
  image: string;
  repository: string;
  /** The tag that was resolved (the PR's, or the base branch's). */
  tag: string;
  digest: string;
  /** `repository@digest`: what the containers run. */
  pinned: string;
  /** The base branch, when the image is the base branch's. */
  reusedFrom?: string;
}

/** Rewrite containers to digests and annotate each workload; add imagePullSecrets when a pull secret is given. */
export function pinDigests(
  objects: KubeObject[],
  resolved: ReadonlyMap<string, ResolvedImage>,
  pullSecret?: string,
): { containers: number } {
  let containers = 0;
  for (const obj of objects) {
    const pod = podSpecOf(obj);
    if (!pod) continue;
    const lines: string[] = [];
    for (const { container } of containersOf(pod)) {
      const r = typeof container.image === "string" ? resolved.get(container.image) : undefined;
      if (!r) continue;
      container.image = r.pinned;
      containers++;
      const name = typeof container.name === "string" ? container.name : "?";
      lines.push(`${name}=${r.repository}:${r.tag}${r.reusedFrom ? ` (reused from ${r.reusedFrom})` : ""}`);
    }
    if (lines.length > 0)
      obj.metadata.annotations = { ...(obj.metadata.annotations ?? {}), [IMAGES_ANNOTATION]: lines.join("\n") };
    if (pullSecret) {
      const list = Array.isArray(pod.imagePullSecrets) ? (pod.imagePullSecrets as unknown[]) : [];
      if (!list.some((s) => (s as { name?: unknown } | null)?.name === pullSecret))
        pod.imagePullSecrets = [...list, { name: pullSecret }];
    }
  }
  return { containers };
}

/** The pull secret for the preview namespace: the operator's dockerconfigjson, owned by the preview like the rest. */
export function pullSecretObject(names: PreviewNames, dockerconfigjson: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/dockerconfigjson",
    metadata: {
      name: PULL_SECRET_NAME,
      namespace: names.namespace,
      labels: { ...names.labels },
      annotations: { ...names.annotations },
    },
    data: { ".dockerconfigjson": Buffer.from(dockerconfigjson, "utf8").toString("base64") },
  };
}
