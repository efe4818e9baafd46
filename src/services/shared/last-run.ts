/**
 * The last finished run of a preview, kept on its namespace (LAST_RUN_ANNOTATION) so every replica's page can show
 * it without a database: state, trigger, times, the one-line summary, each step with its timing and detail, the
 * workloads' states and the diagnosis (what failed, per workload). Redacted when written and capped so the
 * annotation stays small (Kubernetes allows 256 KB for all of an object's annotations together): step details 300
 * characters, the summary 300, the diagnosis 8 KB. Read back defensively: a value that does not parse is ignored.
 */
import { z } from "zod";
import { redactText } from "../../logger.js";
import type { DeploySummary } from "./page-data.js";
import type { WorkloadHealth } from "./preview.js";
import type { RunReport } from "./run-report.js";

const DETAIL_CHARS = 300;
const SUMMARY_CHARS = 300;
const DIAGNOSIS_CHARS = 8 * 1024;
const MAX_STEPS = 30;
const MAX_WORKLOADS = 20;

/** What the annotation holds: the deploy summary, plus what went wrong. */
export interface LastRun extends DeploySummary {
  kind: "deploy" | "destroy";
  diagnosis?: string;
  workloads?: Array<Omit<WorkloadHealth, "diagnosis">>;
}

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** The report's diagnosis: the error, then every workload that is not ready with its own diagnosis. */
function diagnosisOf(report: RunReport): string | undefined {
  const parts = [
    ...(report.error ? [report.error] : []),
    ...(report.workloads ?? [])
      .filter((w) => !w.ready)
      .map((w) => `${w.kind} ${w.name}: ${w.summary}${w.diagnosis ? `\n${w.diagnosis}` : ""}`),
  ];
  return parts.length ? cut(redactText(parts.join("\n\n")), DIAGNOSIS_CHARS) : undefined;
}

export function encodeLastRun(report: RunReport): string {
  const run: LastRun = {
    kind: report.kind,
    state: report.state,
    trigger: cut(redactText(report.trigger), 200),
    startedAt: report.startedAt,
    ...(report.finishedAt ? { finishedAt: report.finishedAt } : {}),
    ...(report.summary ? { summary: cut(redactText(report.summary), SUMMARY_CHARS) } : {}),
    steps: report.steps.slice(0, MAX_STEPS).map((s) => ({
      name: cut(s.name, 80),
      status: s.status,
      ...(s.startedAt ? { startedAt: s.startedAt } : {}),
      ...(s.durationMs !== undefined ? { durationMs: s.durationMs } : {}),
      ...(s.detail ? { detail: cut(redactText(s.detail), DETAIL_CHARS) } : {}),
    })),
    ...(report.workloads?.length
      ? {
          workloads: report.workloads.slice(0, MAX_WORKLOADS).map((w) => ({
            kind: w.kind,
            name: w.name,
            ready: w.ready,
            summary: cut(redactText(w.summary), 200),
          })),
        }
      : {}),
  };
  const diagnosis = diagnosisOf(report);
  if (diagnosis) run.diagnosis = diagnosis;
  return JSON.stringify(run);
}

const text = (n: number) => z.string().max(n);
const schema = z.object({
  kind: z.enum(["deploy", "destroy"]),
  state: z.enum(["queued", "in_progress", "success", "failure", "superseded", "cancelled"]),
  trigger: text(400).optional(),
  startedAt: text(40),
  finishedAt: text(40).optional(),
  summary: text(SUMMARY_CHARS + 10).optional(),
  steps: z
    .array(
      z.object({
        name: text(100),
        status: z.enum(["pending", "running", "success", "failure", "skipped"]),
        startedAt: text(40).optional(),
        durationMs: z.number().nonnegative().optional(),
        detail: text(DETAIL_CHARS + 10).optional(),
      }),
    )
    .max(MAX_STEPS),
  workloads: z
    .array(
      z.object({
        kind: z.enum(["Deployment", "StatefulSet"]),
        name: text(253),
        ready: z.boolean(),
        summary: text(400),
      }),
    )
    .max(MAX_WORKLOADS)
    .optional(),
  diagnosis: text(DIAGNOSIS_CHARS + 10).optional(),
});

/** The annotation's run, or undefined when absent or not one of ours. */
export function decodeLastRun(value: string | undefined): LastRun | undefined {
  if (!value) return undefined;
  try {
    const r = schema.safeParse(JSON.parse(value));
    if (!r.success) return undefined;
    const v = r.data;
    return {
      kind: v.kind,
      state: v.state,
      ...(v.trigger !== undefined ? { trigger: v.trigger } : {}),
      startedAt: v.startedAt,
      ...(v.finishedAt !== undefined ? { finishedAt: v.finishedAt } : {}),
      ...(v.summary !== undefined ? { summary: v.summary } : {}),
      steps: v.steps.map((s) => ({
        name: s.name,
        status: s.status,
        ...(s.startedAt !== undefined ? { startedAt: s.startedAt } : {}),
        ...(s.durationMs !== undefined ? { durationMs: s.durationMs } : {}),
        ...(s.detail !== undefined ? { detail: s.detail } : {}),
      })),
      ...(v.workloads ? { workloads: v.workloads } : {}),
      ...(v.diagnosis !== undefined ? { diagnosis: v.diagnosis } : {}),
    };
  } catch {
    return undefined;
  }
}
