/**
 * The one vocabulary of a preview's state. The runner writes it (the namespace's STATE_ANNOTATION, from
 * `stateAfterRun` when a run ends and `deploying` while one runs); the directory, the sweeper, the notifier, the
 * Slack blocks and the sticky comment read it with `readPreviewState`. A run's own lifecycle (RunState in
 * run-report.ts: in progress, success, failure, superseded) is a different thing: what one deploy or teardown did.
 */
import type { RunReport } from "./run-report.js";

export const PREVIEW_STATES = [
  "queued",
  "deploying",
  "ready",
  "failed",
  "destroying",
  "destroyed",
  "superseded",
  "unknown",
] as const;

export type PreviewState = (typeof PREVIEW_STATES)[number];

/** The preview's state once this run ended (a run still going: `deploying`). */
export function stateAfterRun(report: Pick<RunReport, "kind" | "state">): PreviewState {
  if (report.kind === "destroy") return report.state === "success" ? "destroyed" : "failed";
  switch (report.state) {
    case "success":
      return "ready";
    case "superseded":
      return "superseded";
    case "failure":
    case "cancelled":
      return "failed";
    case "queued":
      return "queued";
    case "in_progress":
      return "deploying";
  }
}

/** The state a namespace records (its STATE_ANNOTATION and phase); anything unrecognised is `unknown`. */
export function readPreviewState(annotation: string | undefined, phase?: string): PreviewState {
  if (phase === "Terminating") return "destroying";
  return (PREVIEW_STATES as readonly string[]).includes(annotation ?? "") ? (annotation as PreviewState) : "unknown";
}

/** A preview whose last deploy did not finish well: failed, or interrupted while deploying (the sweeper retries it). */
export function needsRepair(state: PreviewState): boolean {
  return state === "failed" || state === "deploying";
}
