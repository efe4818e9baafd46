/**
 * The deploy pipeline: its steps in order, exactly as the check run lists them. To add a step, write a module in
 * steps/ exporting a DeployStep and put it in DEPLOY_PIPELINE where it belongs.
 */
import type { StepTracker } from "../steps.js";
import type { DeployContext, DeployStep } from "./context.js";
import { appSecretsStep } from "./steps/app-secrets.js";
import { applyStep } from "./steps/apply.js";
import { databaseStep } from "./steps/database.js";
import { e2eTestsStep } from "./steps/e2e-tests.js";
import { fetchSourceStep } from "./steps/fetch-source.js";
import { guardrailsStep } from "./steps/guardrails.js";
import { healthChecksStep } from "./steps/health-checks.js";
import { postHooksStep, preHooksStep } from "./steps/hooks.js";
import { imagesStep } from "./steps/images.js";
import { namespaceStep } from "./steps/namespace.js";
import { pruneStep } from "./steps/prune.js";
import { renderManifestsStep } from "./steps/render-manifests.js";
import { rollOutStep } from "./steps/roll-out.js";

export const DEPLOY_PIPELINE: readonly DeployStep[] = [
  fetchSourceStep,
  renderManifestsStep,
  // Before anything exists in the cluster: every pinned image found (waited for) and run by digest.
  imagesStep,
  databaseStep,
  appSecretsStep,
  namespaceStep,
  // After the namespace, before anything of the PR's: the bot's RoleBinding, quota, limits and network policy.
  guardrailsStep,
  // Helm's pre-install/pre-upgrade hooks (a migration Job) run and finish before the apply; post-* after the roll-out.
  preHooksStep,
  applyStep,
  pruneStep,
  rollOutStep,
  postHooksStep,
  healthChecksStep,
  e2eTestsStep,
];

/** Run each step in order (or record why it is skipped); the first failure stops the pipeline and propagates. */
export async function runPipeline(
  steps: readonly DeployStep[],
  ctx: DeployContext,
  tracker: StepTracker,
): Promise<void> {
  for (const step of steps) {
    const skipped = step.skip?.(ctx);
    if (skipped !== undefined) {
      tracker.skip(step.name, skipped);
      continue;
    }
    await tracker.run(step.name, (detail) => step.run(ctx, detail), { progress: step.progress === true });
  }
}
