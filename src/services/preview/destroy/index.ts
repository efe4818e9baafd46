/**
 * Destroy a preview: find what it owns (find.ts), then run every teardown step (steps.ts) even when one fails —
 * errors are collected and reported together, not-found counts as done. A dry run only says what would go.
 */
import { describeError } from "../../shared/format.js";
import { redactText } from "../../../logger.js";
import type { PreviewJob } from "../../shared/dispatch.js";
import { isTransientError } from "../../shared/errors.js";
import { previewKey } from "../../shared/preview.js";
import type { RunReport } from "../../shared/run-report.js";
import { announceRun, countError, newReport, type RunnerDeps } from "../context.js";
import { StepTracker } from "../steps.js";
import { concludeOpenCheckRuns } from "../fleet/tell-standing.js";
import { findPreview } from "./find.js";
import { teardownSteps } from "./steps.js";

export async function destroyPreview(deps: RunnerDeps, job: PreviewJob, signal?: AbortSignal): Promise<RunReport> {
  const preview = await findPreview(deps, job);
  const reporter = deps.github.reporterFor(preview.octokit, job.owner, job.repo);
  const report = newReport("destroy", preview.ref, preview.names, job.trigger);
  if (preview.config?.slack) report.slackChannel = preview.config.slack.channel;

  if (job.dryRun) {
    report.state = "success";
    report.summary = `Dry run: would remove ${preview.found}, and mark the GitHub deployment inactive`;
    report.finishedAt = new Date().toISOString();
    return report;
  }

  // Cleanup keeps going: every step is attempted, errors are collected and reported together.
  const tracker = new StepTracker(report, undefined);
  const errors: string[] = [];
  const causes: unknown[] = [];
  const removed: string[] = [];
  const kept: string[] = [];
  for (const step of teardownSteps(deps, preview, signal)) {
    const skipped = step.skip?.();
    if (skipped !== undefined) {
      tracker.skip(step.name, skipped.reason);
      if (skipped.kept) kept.push(`${skipped.kept} ${skipped.reason}`);
      continue;
    }
    try {
      const outcome = await tracker.run(step.name, (detail) => step.run(detail));
      if (outcome.kind === "removed") removed.push(outcome.what);
      if (outcome.kind === "kept") kept.push(`${outcome.what} kept: ${outcome.why}`);
    } catch (err) {
      errors.push(`${step.name}: ${describeError(err)}`);
      causes.push(err);
      countError(deps, err);
    }
  }

  const db = preview.databases[0];
  const dbKept = db && kept.some((k) => k.startsWith(`database ${db.database} `));
  const dbFailed = db && errors.some((e) => e.startsWith(`Drop database ${db.database}:`));
  report.database = db
    ? { name: db.database, status: dbKept ? "kept" : dbFailed ? "drop failed" : "dropped" }
    : undefined;
  report.state = errors.length ? "failure" : "success";
  report.error = errors.length ? redactText(errors.join("\n")) : undefined;
  report.summary = errors.length
    ? `Teardown incomplete: ${errors.length} problem(s)`
    : `Preview removed (${removed.join("; ") || "nothing was left"})${kept.length ? `; ${kept.join("; ")}` : ""}`;
  report.finishedAt = new Date().toISOString();
  // Its namespaces are gone (or there were none): the seat, or the place in line, goes to the next deploy now.
  const released = deps.fleet && !errors.some((e) => e.startsWith("Delete namespace "));
  if (released) await deps.fleet?.release(previewKey(job));
  await reporter.tornDown(report);
  // A deploy that left the line for its seat and then found its PR closed never ran: its check run still says
  // queued, and no one else will conclude it.
  if (released && preview.ref.sha)
    await concludeOpenCheckRuns(
      preview.octokit,
      { ...preview, trigger: job.trigger },
      "released",
      report.startedAt,
    ).catch((err: unknown) => deps.logger.warn({ err, key: previewKey(job) }, describeError(err)));
  await announceRun(deps, report);
  // Teardown is idempotent: a transient failure goes back to the queue for another try.
  const transient = causes.findIndex((e) => isTransientError(e));
  if (transient >= 0) throw causes[transient];
  return report;
}
