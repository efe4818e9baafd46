/**
 * Apply: server-side apply of every object but the hooks (the hook steps run those, before and after), with
 * preview-bot's field manager. The step's detail says what the apply had to do beyond that: objects replaced because
 * an immutable field changed (a Job's template), replicas left to an autoscaler, server-owned fields taken out of
 * the manifests.
 */
import { MANAGED_BY, PR_LABEL, REPO_LABEL } from "../../../shared/labels.js";
import { describeRef, type AppliedRef } from "../../../shared/preview.js";
import { planHooks } from "../../render/hooks.js";
import type { DeployStep } from "../context.js";

const list = (refs: AppliedRef[], what: (r: AppliedRef) => string): string =>
  `${refs.slice(0, 5).map(what).join(", ")}${refs.length > 5 ? ", …" : ""}`;

/** The apply step's detail line. */
function applyDetail(refs: AppliedRef[]): string {
  const parts = [`${refs.length} objects applied (server-side apply)`];
  const replaced = refs.filter((r) => r.replaced);
  if (replaced.length > 0)
    parts.push(
      `replaced ${replaced.length} (immutable fields changed, deleted and created again): ${list(replaced, (r) => `${describeRef(r)} (${r.replaced!.join(", ")})`)}`,
    );
  const autoscaled = refs.filter((r) => r.autoscaled);
  if (autoscaled.length > 0) parts.push(`replicas left to the autoscaler: ${list(autoscaled, describeRef)}`);
  const stripped = refs.filter((r) => r.stripped);
  if (stripped.length > 0)
    parts.push(
      `server-owned fields removed from ${stripped.length}: ${list(stripped, (r) => `${describeRef(r)} (${r.stripped!.join(", ")})`)}`,
    );
  return parts.join("; ");
}

export const applyStep: DeployStep = {
  name: "Apply",
  progress: true,
  async run(ctx, detail) {
    // Before the routes: what lets a protected preview's policy reach the bot's check (or, after a switch to public
    // or another gateway, none of the preview's grants any more).
    const { deps, names, access } = ctx;
    if (access.grants.length && !deps.accessGrants)
      throw new Error("access: github needs objects in the bot's namespace, and this bot cannot write there");
    const grants = await deps.accessGrants?.sync(
      { ...MANAGED_BY, [REPO_LABEL]: names.labels[REPO_LABEL] ?? "", [PR_LABEL]: names.labels[PR_LABEL] ?? "" },
      access.grants,
    );
    const refs = await ctx.deps.cluster.apply(planHooks(ctx.objects).main);
    ctx.applied.push(...refs);
    ctx.report.applied = refs.map(describeRef);
    const granted = grants?.applied.length ? `; in the bot's namespace: ${grants.applied.join(", ")}` : "";
    detail(`${applyDetail(refs)}${granted}`);
  },
};
