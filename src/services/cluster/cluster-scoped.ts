/**
 * The preview's cluster-scoped objects (kinds a repository allows with `allowClusterScoped`): their kinds are
 * recorded on the preview namespace (APPLIED_CLUSTER_KINDS_ANNOTATION), so prune can find what left the render and
 * teardown what the preview made, by the preview's ownership labels — never by name alone. They are also owned by
 * the namespace (apply.ts), so the garbage collector removes them if the namespace goes some other way.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "../../logger.js";
import { MANAGED_BY, PR_LABEL, REPO_LABEL } from "../shared/labels.js";
import { describeRef, type ObjectRef } from "../shared/preview.js";
import { isNotFound, kubeError } from "./kube-errors.js";
import { APPLIED_CLUSTER_KINDS_ANNOTATION } from "./namespace-meta.js";
import { isOurs, kindKey, parseKindKey, selectorOf, type ObjectApi } from "./support.js";

export function recordedClusterKinds(annotations: Record<string, string> | undefined): string[] {
  return (annotations?.[APPLIED_CLUSTER_KINDS_ANNOTATION] ?? "").split(",").filter((k) => k !== "");
}

/**
 * The labels that make a cluster-scoped object this preview's; undefined when the selector does not name one preview.
 */
export function previewSelector(labels: Record<string, string> | undefined): Record<string, string> | undefined {
  const repo = labels?.[REPO_LABEL];
  const pr = labels?.[PR_LABEL];
  return repo && pr ? { ...MANAGED_BY, [REPO_LABEL]: repo, [PR_LABEL]: pr } : undefined;
}

export interface ClusterScopedResult {
  /** Deleted (or, in a dry run, to be deleted). */
  refs: ObjectRef[];
  errors: Error[];
  /** Kinds that must stay recorded (a list or a delete failed). */
  keepKinds: Set<string>;
}

/**
 * This preview's cluster-scoped objects of the recorded kinds, owned by this namespace (`owner` uid: another namespace
 * of the same preview keeps its own), that are not in `keep`; deleted unless `dryRun`. Errors are collected, not
 * thrown: prune and teardown keep going.
 */
export async function removeClusterScoped(
  objects: ObjectApi,
  log: Logger,
  doing: string,
  scope: { kinds: readonly string[]; selector: Record<string, string>; owner: string },
  keep: readonly ObjectRef[],
  dryRun: boolean,
): Promise<ClusterScopedResult> {
  const { kinds, selector, owner } = scope;
  const kept = new Set(keep.filter((k) => !k.namespace).map((k) => `${kindKey(k.apiVersion, k.kind)}/${k.name}`));
  const out: ClusterScopedResult = {
    refs: [],
    errors: [],
    keepKinds: new Set(keep.filter((k) => !k.namespace).map((k) => kindKey(k.apiVersion, k.kind))),
  };
  for (const key of kinds) {
    const gk = parseKindKey(key);
    if (!gk) continue;
    let items: KubernetesObject[];
    try {
      if ((await objects.namespaced(gk.apiVersion, gk.kind)) !== false) continue;
      items = (
        await objects.list(
          gk.apiVersion,
          gk.kind,
          undefined,
          undefined,
          undefined,
          undefined,
          undefined,
          selectorOf(selector),
        )
      ).items;
    } catch (err) {
      if (isNotFound(err)) continue;
      out.errors.push(kubeError(`${doing}: listing ${key}`, err));
      out.keepKinds.add(key);
      continue;
    }
    for (const item of items) {
      const name = item.metadata?.name ?? "";
      const labels = item.metadata?.labels ?? {};
      const owned = (item.metadata?.ownerReferences ?? []).some((r) => r.kind === "Namespace" && r.uid === owner);
      if (
        !owned ||
        !isOurs(labels) ||
        Object.entries(selector).some(([k, v]) => labels[k] !== v) ||
        kept.has(`${key}/${name}`)
      )
        continue;
      const ref: ObjectRef = { apiVersion: gk.apiVersion, kind: gk.kind, name };
      if (dryRun) {
        out.refs.push(ref);
        continue;
      }
      try {
        await objects.delete({ apiVersion: gk.apiVersion, kind: gk.kind, metadata: { name } });
        out.refs.push(ref);
        log.info({ ref }, "deleted a cluster-scoped object of the preview");
      } catch (err) {
        if (isNotFound(err)) out.refs.push(ref);
        else {
          out.errors.push(kubeError(`${doing}: deleting ${describeRef(ref)}`, err));
          out.keepKinds.add(key);
        }
      }
    }
  }
  return out;
}
