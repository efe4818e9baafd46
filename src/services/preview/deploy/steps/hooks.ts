/**
 * Hooks, as Argo CD runs Helm's (render/hooks.ts says which objects are hooks and when they run):
 * - "Pre-install hooks", before Apply: the bot's own objects the hooks may need (the database Secret, copied
 *   Secrets) are applied first; then each group of hooks of equal weight, lowest first: a `before-hook-creation`
 *   hook left from the last deploy is deleted, the group is applied, and waited for (Jobs until they complete, Pods
 *   until they succeed). A hook that fails, or is still running when `health.timeout` is up, stops the deploy with
 *   its diagnosis, before anything else of the PR's is applied (a migration that failed never meets the new code).
 * - "Post-install hooks", after Roll out (the preview is healthy): the same for post-install / post-upgrade hooks.
 * `hook-succeeded` / `hook-failed` hooks are deleted once they succeeded / failed. A hook kept afterwards is recorded
 * as applied, so Prune leaves it alone.
 */
import { describeRef, refOf, type HookResult, type KubeObject } from "../../../shared/preview.js";
import { hookDeletePolicies, planHooks, type HookPhase } from "../../render/hooks.js";
import type { DeployContext, DeployStep } from "../context.js";

/** How long a hook deleted before (or after) its run may take to go (its pods go in the background). */
const DELETE_WAIT_MS = 120_000;

const PHASE_WORDS: Record<HookPhase, string> = { pre: "pre-install", post: "post-install" };

function outcome(r: HookResult, deleted: boolean): string {
  return `${r.kind} "${r.name}" ${r.summary}${deleted ? " (deleted: its delete policy)" : ""}`;
}

async function runGroup(
  ctx: DeployContext,
  phase: HookPhase,
  group: KubeObject[],
  done: readonly string[],
  detail: (text: string) => void,
): Promise<string[]> {
  const { deps, config, signal } = ctx;
  const refs = group.map(refOf);
  for (const obj of group)
    if (hookDeletePolicies(obj).has("before-hook-creation"))
      await deps.cluster.deleteObject(refOf(obj), { waitMs: DELETE_WAIT_MS, ...(signal ? { signal } : {}) });
  await deps.cluster.apply(group);
  const results = await deps.cluster.waitForHooks(refs, config.health.timeout, signal);
  const lines: string[] = [];
  const failures: HookResult[] = [];
  for (const [i, r] of results.entries()) {
    const policies = hookDeletePolicies(group[i]!);
    const remove =
      (r.state === "succeeded" && policies.has("hook-succeeded")) ||
      (r.state === "failed" && policies.has("hook-failed"));
    if (remove) await deps.cluster.deleteObject(refs[i]!, { waitMs: DELETE_WAIT_MS, ...(signal ? { signal } : {}) });
    else ctx.applied.push(refs[i]!);
    lines.push(outcome(r, remove));
    if (r.state !== "succeeded") failures.push(r);
  }
  if (failures.length > 0) {
    const what = failures.map(
      (f) => `${describeRef(f)} ${f.state === "running" ? "did not finish in time" : f.summary}`,
    );
    // The step's line: every hook's outcome; the error: what failed, with each failure's diagnosis.
    detail([...done, ...lines].join("; "));
    throw new Error(
      `${PHASE_WORDS[phase]} hook${failures.length > 1 ? "s" : ""} ${what.join("; ")}` +
        failures.map((f) => (f.diagnosis ? `\n${describeRef(f)}:\n${f.diagnosis}` : "")).join(""),
    );
  }
  return lines;
}

async function runHooks(ctx: DeployContext, phase: HookPhase, detail: (text: string) => void): Promise<void> {
  const groups = planHooks(ctx.objects)[phase];
  const lines: string[] = [];
  for (const group of groups) {
    lines.push(...(await runGroup(ctx, phase, group, lines, detail)));
    detail(lines.join("; "));
  }
}

const noHooks = (phase: HookPhase) => (ctx: DeployContext) =>
  planHooks(ctx.objects)[phase].length === 0 ? `no ${phase}-install or ${phase}-upgrade hooks` : undefined;

export const preHooksStep: DeployStep = {
  name: "Pre-install hooks",
  progress: true,
  skip: noHooks("pre"),
  async run(ctx, detail) {
    // What the hooks may need that the bot writes (the database Secret, copied Secrets) goes first.
    if (ctx.ownObjects.length > 0) ctx.applied.push(...(await ctx.deps.cluster.apply(ctx.ownObjects)));
    await runHooks(ctx, "pre", detail);
  },
};

export const postHooksStep: DeployStep = {
  name: "Post-install hooks",
  progress: true,
  skip: noHooks("post"),
  run: (ctx, detail) => runHooks(ctx, "post", detail),
};
