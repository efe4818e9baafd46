/**
 * Helm hooks, handled as Argo CD handles them (gitops-engine `pkg/sync/hook/helm`): an object annotated
 * `helm.sh/hook` is not applied with the others.
 * - `pre-install` / `pre-upgrade` run before the apply (Argo CD's PreSync): applied, then waited for (a Job until it
 *   completes, a Pod until it succeeds); a failure stops the deploy. `post-install` / `post-upgrade` run after the
 *   roll-out is healthy (PostSync). Every deploy of a preview is both an install and an upgrade, so both run each time.
 * - Within a phase, hooks run in groups of equal `helm.sh/hook-weight`, lowest first (Helm's order; Argo CD's waves).
 * - `helm.sh/hook-delete-policy`: `before-hook-creation` (the default when none is given, in Helm and Argo CD alike)
 *   deletes the hook left from the last deploy before creating it again, so a migration Job runs on every deploy;
 *   `hook-succeeded` / `hook-failed` delete it once it succeeded / failed.
 * - Other hooks (`test`, `pre-delete`, `post-delete`, `pre-rollback`, `post-rollback`) are left out of the preview
 *   with a note: nothing in a preview's life runs them. `crd-install` is not a hook (as in Argo CD).
 */
import type { KubeObject } from "../../shared/preview.js";
import { describeObject } from "./cluster-scoped.js";

const HOOK_ANNOTATION = "helm.sh/hook";
const HOOK_WEIGHT_ANNOTATION = "helm.sh/hook-weight";
const HOOK_DELETE_POLICY_ANNOTATION = "helm.sh/hook-delete-policy";

export type HookPhase = "pre" | "post";
export type HookDeletePolicy = "before-hook-creation" | "hook-succeeded" | "hook-failed";

const PHASES: Record<string, HookPhase> = {
  "pre-install": "pre",
  "pre-upgrade": "pre",
  "post-install": "post",
  "post-upgrade": "post",
};
const DELETE_POLICIES: readonly HookDeletePolicy[] = ["before-hook-creation", "hook-succeeded", "hook-failed"];

function csv(obj: KubeObject, key: string): string[] {
  const text = obj.metadata.annotations?.[key];
  return typeof text === "string"
    ? text
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
}

/** The object's hook types, `crd-install` aside (not a hook). Empty for an ordinary object. */
function hookTypes(obj: KubeObject): string[] {
  return csv(obj, HOOK_ANNOTATION).filter((t) => t !== "crd-install");
}

export const isHook = (obj: KubeObject): boolean => hookTypes(obj).length > 0;

/** The phases a hook runs in (a hook may name both, e.g. `pre-install,post-install`); empty: it never runs here. */
function hookPhases(obj: KubeObject): HookPhase[] {
  return [...new Set(hookTypes(obj).flatMap((t) => (PHASES[t] ? [PHASES[t]] : [])))].sort();
}

/** `helm.sh/hook-weight` (an integer; anything else counts as 0, as in Helm). */
function hookWeight(obj: KubeObject): number {
  const w = Number(obj.metadata.annotations?.[HOOK_WEIGHT_ANNOTATION]);
  return Number.isInteger(w) ? w : 0;
}

/** The hook's delete policies; none given means `before-hook-creation`. */
export function hookDeletePolicies(obj: KubeObject): Set<HookDeletePolicy> {
  const given = csv(obj, HOOK_DELETE_POLICY_ANNOTATION).filter((p): p is HookDeletePolicy =>
    (DELETE_POLICIES as readonly string[]).includes(p),
  );
  return new Set(given.length > 0 ? given : ["before-hook-creation"]);
}

/**
 * Leave out the hooks a preview never runs, before the transforms (a test Pod the guardrails would refuse must not
 * fail a preview that never runs it). Returns what is kept (sources kept parallel) and one note per hook left out.
 */
export function leaveOutHooks(
  objects: readonly KubeObject[],
  sources: readonly string[] | undefined,
): { objects: KubeObject[]; sources?: string[]; notes: string[] } {
  const kept: KubeObject[] = [];
  const keptSources: string[] = [];
  const notes: string[] = [];
  objects.forEach((obj, i) => {
    const types = hookTypes(obj);
    if (types.length > 0 && hookPhases(obj).length === 0) {
      const where = sources?.[i] ? ` (${sources[i]})` : "";
      const why = types.every((t) => t.startsWith("test"))
        ? "test hooks run with `helm test`, which a preview does not run"
        : "a preview runs only install and upgrade hooks";
      notes.push(`left out ${describeObject(obj)}${where}: helm.sh/hook ${types.join(",")}: ${why}`);
      return;
    }
    kept.push(obj);
    if (sources) keptSources.push(sources[i] ?? "");
  });
  return { objects: kept, ...(sources ? { sources: keptSources } : {}), notes };
}

export interface HookPlan {
  /** What the Apply step applies: every object that is not a hook. */
  main: KubeObject[];
  /** Hooks of each phase, in groups of equal weight, lowest weight first. */
  pre: KubeObject[][];
  post: KubeObject[][];
}

function byWeight(hooks: KubeObject[]): KubeObject[][] {
  const groups = new Map<number, KubeObject[]>();
  for (const h of hooks) groups.set(hookWeight(h), [...(groups.get(hookWeight(h)) ?? []), h]);
  return [...groups.entries()].sort(([a], [b]) => a - b).map(([, g]) => g);
}

export function planHooks(objects: readonly KubeObject[]): HookPlan {
  const main: KubeObject[] = [];
  const pre: KubeObject[] = [];
  const post: KubeObject[] = [];
  for (const obj of objects) {
    const phases = hookPhases(obj);
    if (phases.length === 0) main.push(obj);
    if (phases.includes("pre")) pre.push(obj);
    if (phases.includes("post")) post.push(obj);
  }
  return { main, pre: byWeight(pre), post: byWeight(post) };
}

/** One line per phase with hooks, e.g. `before the apply: Job "db-migrate" (weight -5), ConfigMap "x"`. */
export function describeHooks(plan: HookPlan): string[] {
  const line = (groups: KubeObject[][]): string =>
    groups
      .flat()
      .map((o) => `${describeObject(o)}${hookWeight(o) ? ` (weight ${hookWeight(o)})` : ""}`)
      .join(", ");
  return [
    ...(plan.pre.length ? [`hooks before the apply (pre-install, pre-upgrade): ${line(plan.pre)}`] : []),
    ...(plan.post.length ? [`hooks after the roll-out (post-install, post-upgrade): ${line(plan.post)}`] : []),
  ];
}
