/**
 * Prometheus metrics (`GET /metrics`). One registry per process; names follow Prometheus conventions.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { RunReport } from "./shared/run-report.js";

export interface Metrics {
  registry: Registry;
  observeRun(report: RunReport): void;
  setQueue(stats: { queued: number; running: number; oldestQueuedAgeMs: number }): void;
  jobRetries: Counter<"kind">;
  apiErrors: Counter<"system">;
  jobFailed(kind: string): void;
  apiError(system: string): void;
  backupSucceeded(target: string, sizeBytes: number, at: Date): void;
  backupFailed(target: string): void;
  /** A GitHub read or write of the Reporter failed (check_run, deployment, comment). */
  githubWriteFailed(surface: string): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "preview_bot_" });
  const runs = new Counter({
    name: "preview_bot_runs_total",
    help: "Finished deploy/teardown runs by outcome",
    labelNames: ["kind", "outcome"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "preview_bot_run_duration_seconds",
    help: "Duration of deploy/teardown runs",
    labelNames: ["kind", "outcome"],
    buckets: [5, 15, 30, 60, 120, 300, 600, 1200],
    registers: [registry],
  });
  const timeToUrl = new Histogram({
    name: "preview_bot_time_to_url_seconds",
    help: "From the start of a deploy run to a healthy preview URL, per repository",
    labelNames: ["repo"],
    buckets: [10, 30, 60, 120, 300, 600, 1200],
    registers: [registry],
  });
  const queued = new Gauge({ name: "preview_bot_queue_depth", help: "Jobs waiting", registers: [registry] });
  const running = new Gauge({ name: "preview_bot_jobs_running", help: "Jobs running", registers: [registry] });
  const age = new Gauge({
    name: "preview_bot_queue_oldest_age_seconds",
    help: "Age of the oldest waiting job",
    registers: [registry],
  });
  const jobRetries = new Counter({
    name: "preview_bot_job_retries_total",
    help: "Job retries",
    labelNames: ["kind"],
    registers: [registry],
  });
  const apiErrors = new Counter({
    name: "preview_bot_api_errors_total",
    help: "Errors from Kubernetes, GitHub, Slack APIs",
    labelNames: ["system"],
    registers: [registry],
  });
  const backupLast = new Gauge({
    name: "preview_bot_backup_last_success_timestamp_seconds",
    help: "Unix time of the last successful backup per target",
    labelNames: ["target"],
    registers: [registry],
  });
  const backupSize = new Gauge({
    name: "preview_bot_backup_size_bytes",
    help: "Size of the last successful backup per target",
    labelNames: ["target"],
    registers: [registry],
  });
  const backupFailures = new Counter({
    name: "preview_bot_backup_failures_total",
    help: "Failed backups per target",
    labelNames: ["target"],
    registers: [registry],
  });
  const githubFailures = new Counter({
    name: "preview_bot_github_report_failures_total",
    help: "Failed GitHub calls of the Reporter, by surface (check_run, deployment, comment); each is also logged at warn",
    labelNames: ["surface"],
    registers: [registry],
  });
  const jobsFailed = new Counter({
    name: "preview_bot_jobs_failed_total",
    help: "Jobs that failed for good (permanent error or retries exhausted)",
    labelNames: ["kind"],
    registers: [registry],
  });
  return {
    registry,
    jobFailed(kind) {
      jobsFailed.inc({ kind });
    },
    apiError(system) {
      apiErrors.inc({ system });
    },
    backupSucceeded(target, sizeBytes, at) {
      backupLast.set({ target }, at.getTime() / 1000);
      backupSize.set({ target }, sizeBytes);
    },
    backupFailed(target) {
      backupFailures.inc({ target });
    },
    githubWriteFailed(surface) {
      githubFailures.inc({ surface });
    },
    jobRetries,
    apiErrors,
    observeRun(report) {
      const seconds = report.finishedAt ? (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000 : 0;
      runs.inc({ kind: report.kind, outcome: report.state });
      duration.observe({ kind: report.kind, outcome: report.state }, seconds);
      if (report.kind === "deploy" && report.state === "success" && report.url)
        timeToUrl.observe({ repo: `${report.ref.owner}/${report.ref.repo}` }, seconds);
    },
    setQueue(stats) {
      queued.set(stats.queued);
      running.set(stats.running);
      age.set(stats.oldestQueuedAgeMs / 1000);
    },
  };
}
