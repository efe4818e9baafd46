/**
 * Guardrails: after the Namespace step and before any of the PR's objects are applied, hold the render inside the
 * guardrails (guardrails/confine-objects.ts: refuse what would take one over, narrow NetworkPolicies that would reach
 * past it), then give the preview namespace its guardrails (guardrails/namespace-guardrails.ts), in the only order that
 * works:
 *   1. the bot's RoleBinding of the preview ClusterRole (cluster-wide the bot may only create it; every other right
 *      it has in the namespace comes from this binding, which RBAC takes a moment to see: 403s are retried briefly);
 *   2. the ResourceQuota, LimitRange and NetworkPolicy, plus the PR's own ResourceQuotas and LimitRanges (they can
 *      only tighten: every quota and limit in a namespace holds);
 *   3. a wait until the quota controller has computed each quota: until then a quota does not hold.
 */
import type { Cluster } from "../../../shared/preview.js";
import { confineObjects } from "../../guardrails/confine-objects.js";
import {
  describeGuardrails,
  guardrailObjects,
  guardrailRoleBinding,
  resolveGuardrails,
} from "../../guardrails/namespace-guardrails.js";
import { fitOwnQuotas } from "../../guardrails/quota.js";
import type { DeployStep } from "../context.js";

/** How long the RoleBinding may take to be seen by RBAC, and the quota controller to compute a quota. */
const BINDING_WAIT_MS = 30_000;
const QUOTA_WAIT_MS = 60_000;

export const guardrailsStep: DeployStep = {
  name: "Guardrails",
  async run(ctx, detail) {
    const { deps, config, names, signal } = ctx;
    const { settings, notes } = resolveGuardrails(deps.guardrails, config.guardrails, config.route);
    const confined = confineObjects(ctx.objects, settings, names.namespace);
    if (confined.problems.length > 0) {
      throw new Error(
        `the render would take over preview-bot's guardrails (${confined.problems.length}): ${confined.problems.join("; ")}`,
      );
    }
    ctx.objects = confined.objects;
    notes.push(...fitOwnQuotas(settings, confined.objects));
    for (const line of [...notes, ...confined.rewrites]) deps.logger.info({ key: names.key }, `guardrails: ${line}`);

    await deps.cluster.bindClusterRole(names.namespace, guardrailRoleBinding(settings));
    const fence = guardrailObjects(names.namespace, settings);
    const own = confined.objects.filter((o) => o.kind === "ResourceQuota" || o.kind === "LimitRange");
    await whileRbacCatchesUp(() => deps.cluster.apply([...fence, ...own]), signal);
    const quotas = [...fence, ...own].filter((o) => o.kind === "ResourceQuota").map((o) => o.metadata.name!);
    await deps.cluster.waitForQuotas(names.namespace, quotas, QUOTA_WAIT_MS, signal);

    // Each change is said in the check run (the first few in full, all of them in the log).
    const changes = [...notes, ...confined.rewrites];
    const shown = changes
      .slice(0, 3)
      .map((c) => c.slice(0, 200))
      .join("; ");
    detail(
      `${describeGuardrails(settings)}${changes.length ? `. ${changes.length} change(s): ${shown}${changes.length > 3 ? "; …" : ""}` : ""}`,
    );
  },
};

/** The error chain's Kubernetes status and message: kubeError wraps the client's ApiException as its cause. */
function rbacDenied(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (typeof (e as { code?: unknown }).code === "number" && (e as { code: number }).code === 403) {
      // RBAC says `User "…" cannot <verb> resource …`; admission refusals (quota, Pod Security, policies) do not.
      return /\bcannot [a-z]+ resource\b/.test(String((e as { body?: unknown }).body ?? (e as Error).message));
    }
  }
  return false;
}

/**
 * Run `apply`, retrying RBAC refusals with backoff until the new RoleBinding is seen (bounded): an API server
 * authorizes from a cache, and in a cluster with several API servers the one answering may not have the binding yet.
 */
export async function whileRbacCatchesUp(
  apply: () => ReturnType<Cluster["apply"]>,
  signal?: AbortSignal,
  waitMs = BINDING_WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
    try {
      await apply();
      return;
    } catch (err) {
      if (!rbacDenied(err) || Date.now() + delay > deadline) throw err;
    }
    signal?.throwIfAborted();
    await new Promise((r) => setTimeout(r, delay));
  }
}
