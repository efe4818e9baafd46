/**
 * Preflight: before anything is written (no database, no namespace, no object), judge the render by the rules that
 * need no cluster (preflight/offline.ts): the namespace it would get, its quotas (the guardrails this repository gets
 * and the PR's own) against every workload's pods with LimitRange defaults × replicas, Pod Security at the level the
 * namespace will enforce, and the objects the Guardrails step would refuse; then ask the API server, as the bot and
 * as a dry run, whether it would accept the preview Namespace itself (deploy/'s admission policy, its labels). Every
 * refusal is listed at once, each with the file it came from; a deploy that cannot fit fails here, never after a
 * roll-out timeout. What only the cluster can say about the PR's objects (RBAC, admission, schema) is asked once the
 * namespace and its guardrails exist (the Dry run step).
 */
import { redactedCredentialsSecret } from "../../../data/database-secret.js";
import { confineObjects } from "../../guardrails/confine-objects.js";
import {
  guardrailObjects,
  guardrailRoleBinding,
  previewNamespaceLabels,
  resolveGuardrails,
  roleBindingObject,
} from "../../guardrails/namespace-guardrails.js";
import { preflightOffline } from "../../preflight/offline.js";
import type { KubeObject } from "../../../shared/preview.js";
import { excerpt } from "../../steps.js";
import type { DeployStep } from "../context.js";

/**
 * Thrown when the preflight (this step or the Dry run) refuses the deploy: `problems` has one line per refusal, each
 * naming the object, the file it came from and what to set; the run's report lists them (RunReport.refusals).
 */
export class PreflightError extends Error {
  constructor(
    message: string,
    readonly problems: readonly string[],
  ) {
    super(message);
    this.name = "PreflightError";
  }
}

/** The error for `problems` (first line: what refused, how many, that nothing was applied), listing each. */
export const refusal = (what: string, problems: readonly string[]): PreflightError =>
  new PreflightError(
    `${what} (${problems.length === 1 ? "1 problem" : `${problems.length} problems`}; nothing of the pull request was applied):\n${problems.map((p) => `- ${p}`).join("\n")}`,
    problems,
  );

/** The failed step's one-line detail: the count and the first problem (the report lists them all). */
export const refusalDetail = (problems: readonly string[]): string =>
  `${problems.length === 1 ? "1 problem" : `${problems.length} problems`}, nothing applied: ${excerpt(problems[0] ?? "", 240)}${problems.length > 1 || (problems[0]?.length ?? 0) > 240 ? " …" : ""}`;

export const preflightStep: DeployStep = {
  name: "Preflight",
  async run(ctx, detail) {
    const { deps, config, names } = ctx;
    const { settings } = resolveGuardrails(deps.guardrails, config.guardrails);
    const confined = confineObjects(ctx.objects, settings, names.namespace);
    const fence = [
      roleBindingObject(names.namespace, guardrailRoleBinding(settings)),
      ...guardrailObjects(names.namespace, settings),
    ];
    const secret = config.database.enabled ? [redactedCredentialsSecret(names, config.database.secret)] : [];
    const offline = preflightOffline({
      namespace: names.namespace,
      guardrails: fence,
      objects: [...confined.objects, ...secret],
      origins: ctx.origins,
      settings,
      bounds: deps.guardrails,
      protectedNamespaces: [...(deps.protectedNamespaces ?? []), ...config.protectedNamespaces],
    });
    const problems = [...confined.problems, ...offline.problems];
    if (problems.length === 0) {
      const namespace: KubeObject = {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: names.namespace, labels: previewNamespaceLabels(config, names, settings) },
      };
      const [answer] = await deps.cluster.dryRun([namespace]);
      if (answer?.outcome === "refused")
        problems.push(
          `Namespace "${names.namespace}": the cluster refuses it (${answer.status} ${answer.reason ?? ""}): ${answer.message ?? ""}`,
        );
    }
    for (const w of offline.warnings) deps.logger.warn({ key: names.key }, `preflight: ${w}`);
    if (problems.length > 0) {
      detail(refusalDetail(problems));
      throw refusal("the preflight refuses the preview as rendered", problems);
    }
    const notes = [...offline.warnings, ...offline.notes];
    detail(
      [
        `fits: ${offline.usage.join("; ") || "no quota"}`,
        ...notes.slice(0, 3).map((n) => excerpt(n, 300)),
        ...(notes.length > 3 ? [`… ${notes.length - 3} more`] : []),
      ].join("; "),
    );
  },
};
