/**
 * The pull request's details in every container's environment, as Heroku Review Apps give HEROKU_PR_NUMBER and
 * HEROKU_BRANCH: PREVIEW_PR_NUMBER, PREVIEW_BRANCH, PREVIEW_SHA, PREVIEW_URL (the primary) and PREVIEW_URL_<NAME>
 * for every URL by name, PREVIEW_NAMESPACE, PREVIEW_REPOSITORY — in containers and init containers of every pod
 * template (Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, Pod). A container
 * that sets one of these names itself keeps its own value. `previewEnv: false` turns it off. The values change with
 * each commit, so every workload rolls on every deploy (as it would for a new image).
 */
import type { KubeObject, PreviewNames, PreviewRef } from "../../shared/preview.js";

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;

/** `results` → `PREVIEW_URL_RESULTS`; `admin-ui` → `PREVIEW_URL_ADMIN_UI`. */
const urlVariable = (name: string): string => `PREVIEW_URL_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;

export function previewEnv(
  ref: PreviewRef,
  names: PreviewNames,
  urls: ReadonlyArray<{ name: string; url: string }>,
): Array<{ name: string; value: string }> {
  const vars: Array<[string, string | undefined]> = [
    ["PREVIEW_PR_NUMBER", String(ref.number)],
    ["PREVIEW_BRANCH", ref.branch],
    ["PREVIEW_SHA", ref.sha],
    ["PREVIEW_URL", names.url],
    ...urls.map((u): [string, string] => [urlVariable(u.name), u.url]),
    ["PREVIEW_NAMESPACE", names.namespace],
    ["PREVIEW_REPOSITORY", `${ref.owner}/${ref.repo}`],
  ];
  const seen = new Set<string>();
  return vars.flatMap(([name, value]) => {
    if (value === undefined || seen.has(name)) return [];
    seen.add(name);
    return [{ name, value }];
  });
}

/** The pod spec inside a workload, wherever its kind keeps it. */
function podSpec(obj: KubeObject): Rec | undefined {
  const spec = asRec(obj.spec);
  if (obj.kind === "Pod") return spec;
  if (obj.kind === "CronJob") return asRec(asRec(asRec(asRec(spec?.jobTemplate)?.spec)?.template)?.spec);
  if (["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job"].includes(obj.kind))
    return asRec(asRec(spec?.template)?.spec);
  return undefined;
}

/** Add the variables to every container (in place); returns how many containers got them. */
export function injectPreviewEnv(objects: KubeObject[], vars: ReadonlyArray<{ name: string; value: string }>): number {
  let count = 0;
  for (const obj of objects) {
    const pod = podSpec(obj);
    if (!pod) continue;
    for (const list of [pod.initContainers, pod.containers]) {
      if (!Array.isArray(list)) continue;
      for (const c of list.map(asRec)) {
        if (!c) continue;
        const env = Array.isArray(c.env) ? (c.env as unknown[]) : [];
        const own = new Set(env.map((e) => asRec(e)?.name));
        c.env = [...env, ...vars.filter((v) => !own.has(v.name)).map((v) => ({ ...v }))];
        count += 1;
      }
    }
  }
  return count;
}
