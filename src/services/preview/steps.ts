/**
 * Step bookkeeping for a run: each step is timed and recorded in the RunReport, and the run stops between steps when
 * it has been superseded (the queue aborts its signal).
 *
 * Progress: every step transition (started, finished, skipped) is handed to `onProgress` at once and never awaited
 * for long — the Reporter batches them into the check run (at most one write per interval, GitHub paces writes), so
 * telling it often costs no extra writes and the check run shows the latest state whenever its batch is written.
 */
import { describeError } from "../shared/format.js";
import { redactText } from "../../logger.js";
import { SupersededError } from "../shared/errors.js";
import type { RunReport, StepRecord } from "../shared/run-report.js";

export class StepTracker {
  constructor(
    readonly report: RunReport,
    private readonly signal: AbortSignal | undefined,
    private readonly onProgress: (report: RunReport) => Promise<void> = async () => {},
  ) {}

  /** Plan the steps up front so the check run shows what is coming. */
  plan(names: string[]): void {
    this.report.steps = names.map((name) => ({ name, status: "pending" }));
  }

  private step(name: string): StepRecord {
    let s = this.report.steps.find((x) => x.name === name);
    if (!s) {
      s = { name, status: "pending" };
      this.report.steps.push(s);
    }
    return s;
  }

  checkSuperseded(): void {
    if (this.signal?.aborted) {
      const reason = this.signal.reason instanceof Error ? this.signal.reason.message : "superseded";
      throw new SupersededError(reason);
    }
  }

  /**
   * Run one step. `fn` returns a one-line detail. A thrown error marks the step failed and propagates, with the
   * step's name prefixed ("Apply: applying Deployment …"). (`opts.progress` is kept for callers; every step reports.)
   */
  async run<T>(
    name: string,
    fn: (setDetail: (d: string) => void) => Promise<T>,
    _opts: { progress?: boolean } = {},
  ): Promise<T> {
    this.checkSuperseded();
    const s = this.step(name);
    const started = Date.now();
    s.status = "running";
    s.startedAt = new Date(started).toISOString();
    await this.tell();
    try {
      const value = await fn((d) => {
        const detail = redactText(d);
        if (detail === s.detail) return;
        s.detail = detail;
        void this.tell(); // a long step's line (e.g. "waiting for …") reaches the check run while it runs
      });
      s.status = "success";
      return value;
    } catch (err) {
      s.status = "failure";
      if (!s.detail) s.detail = redactText(describeError(err)).slice(0, 300);
      throw err;
    } finally {
      s.durationMs = Date.now() - started;
      await this.tell();
    }
  }

  skip(name: string, detail: string): void {
    const s = this.step(name);
    s.status = "skipped";
    s.detail = detail;
    void this.tell(); // progress is best effort and never fails a run (tell() catches)
  }

  /** Hand the report to the reporter; progress must never fail a run. */
  private async tell(): Promise<void> {
    try {
      await this.onProgress(this.report);
    } catch {
      // the Reporter records its own failures
    }
  }

  /** Mark every step that never started as skipped (after a failure). */
  skipRemaining(detail = "not run"): void {
    for (const s of this.report.steps)
      if (s.status === "pending" || s.status === "running")
        Object.assign(s, { status: "skipped", detail: s.detail ?? detail });
  }
}
