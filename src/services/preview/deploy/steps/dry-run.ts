/**
 * Dry run: once the namespace and its guardrails exist (the Namespace and Guardrails steps: the bot's own objects,
 * without which nothing else can be judged — a namespaced object cannot even be dry-run in a namespace that does not
 * exist, the bot holds no rights there before its RoleBinding, and a quota that does not exist holds nothing), and
 * before a single object of the PR is written: server-side apply every object as a dry run, as the bot, so the
 * cluster's own RBAC (403), admission (Pod Security, quota, ValidatingAdmissionPolicies, webhooks) and schema (422)
 * answer per object, each refusal listed with the file it came from. When the namespace enforces Pod Security
 * `restricted` (the level it also warns at), a workload's Pod Security warning means its pods will be refused, so it
 * is a refusal too; at `baseline` it is shown as a warning (the render already checked baseline).
 */
import { describeWith } from "../../preflight/offline.js";
import { resolveGuardrails } from "../../guardrails/namespace-guardrails.js";
import { excerpt } from "../../steps.js";
import type { DeployStep } from "../context.js";
import { dryRunProblem } from "./dry-run-problem.js";
import { refusal, refusalDetail } from "./preflight.js";

const POD_SECURITY_WARNING = /would violate PodSecurity "([a-z]+):/;

export const dryRunStep: DeployStep = {
  name: "Dry run",
  async run(ctx, detail) {
    const { deps, config, names } = ctx;
    const { settings } = resolveGuardrails(deps.guardrails, config.guardrails);
    const describe = describeWith(ctx.origins);
    const byRef = new Map(
      ctx.objects.map((o) => [`${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}`, o]),
    );
    const answers = await deps.cluster.dryRun(ctx.objects);
    const problems: string[] = [];
    const warnings: string[] = [];
    let replaced = 0;
    for (const a of answers) {
      const obj = byRef.get(`${a.ref.apiVersion}/${a.ref.kind}/${a.ref.namespace ?? ""}/${a.ref.name}`);
      const who = obj ? describe(obj) : `${a.ref.kind} "${a.ref.name}"`;
      if (a.outcome === "refused") problems.push(dryRunProblem(who, a));
      if (a.outcome === "replace") replaced += 1;
      for (const w of a.warnings) {
        const level = POD_SECURITY_WARNING.exec(w)?.[1];
        if (level && level === settings.podSecurity)
          problems.push(
            `${who}: its pods would be refused by the namespace's Pod Security "${settings.podSecurity}": ${w}. To fix: set the securityContext fields it names`,
          );
        else warnings.push(`${who}: ${w}`);
      }
    }
    for (const w of warnings) deps.logger.warn({ key: names.key }, `dry run: ${w}`);
    if (problems.length > 0) {
      detail(refusalDetail(problems));
      throw refusal(
        `the cluster refuses ${problems.length === 1 ? "an object" : "objects"} of the preview (server-side dry run as preview-bot)`,
        problems,
      );
    }
    detail(
      `${answers.length} objects accepted by the API server (server-side dry run, nothing written)${replaced ? `; ${replaced} to be re-created (immutable fields changed)` : ""}${
        warnings.length
          ? `; ${warnings.length} warning(s): ${warnings
              .slice(0, 3)
              .map((w) => excerpt(w, 240))
              .join("; ")}${warnings.length > 3 ? "; …" : ""}`
          : ""
      }`,
    );
  },
};
