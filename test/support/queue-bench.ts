/**
 * What the queue contract suite (test/services/jobs/queue-contract.test.ts) runs its cases with: one job kind,
 * `work`, whose handler records every run (start, end, abort reason, error) and can be held open until the test
 * releases it, so a case waits for events instead of sleeping. Jobs fail, when asked, with the error a Kubernetes API
 * call gives (`kubeError` around the client's ApiException): a 503 is transient, a 422 permanent.
 */
import { ApiException } from "@kubernetes/client-node";
import type { EnqueueOptions, JobHandler } from "../../src/services/jobs/queue.js";
import { kubeError } from "../../src/services/cluster/kube-errors.js";
import { waitFor } from "./wait.js";

/** The `work` job's payload. */
export interface Work {
  tag: string;
  /** Run until the test releases `tag` (or the job's signal aborts). */
  hold?: boolean;
  /** After an abort, go on until the test releases `<tag>/after-abort` (a step finishing after the signal fired). */
  holdAfterAbort?: boolean;
  /** Fail the first `failTimes` attempts with a Kubernetes API error of this status. */
  failTimes?: number;
  status?: number;
}

export interface RunRecord {
  tag: string;
  jobId: string;
  key: string;
  startedAt: number;
  endedAt?: number;
  abortReason?: unknown;
  error?: unknown;
}

export const work = (
  key: string,
  payload: Work,
  more: Omit<EnqueueOptions<Work>, "kind" | "key" | "payload"> = {},
): EnqueueOptions<Work> => ({ kind: "work", key, payload, ...more });

const STATUS_BODY: Record<number, { reason: string; message: string }> = {
  503: { reason: "ServiceUnavailable", message: "the server is currently unable to handle the request" },
  422: {
    reason: "Invalid",
    message: 'Deployment.apps "web" is invalid: spec.selector: Invalid value: {"app":"web"}: field is immutable',
  },
};

/** The error the Cluster throws for an API answer of `status` (see src/services/cluster/kube-errors.ts). */
function apiError(tag: string, status: number): Error {
  const body = STATUS_BODY[status] ?? { reason: "Unknown", message: `HTTP ${status}` };
  return kubeError(
    `applying Deployment "pv-${tag}/web"`,
    new ApiException(
      status,
      body.reason,
      JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", ...body, code: status }),
      {},
    ),
  );
}

interface Gate {
  promise: Promise<void>;
  open(): void;
}

export class Recorder {
  /** `start <tag>`, `end <tag>`, `end <tag> (aborted)`, in the order they happened (cases add their own). */
  readonly events: string[] = [];
  readonly runs: RunRecord[] = [];
  /** The most jobs seen running at once. */
  maxLive = 0;
  private live = 0;
  private readonly gates = new Map<string, Gate>();
  private allOpen = false;

  private gate(name: string): Gate {
    let g = this.gates.get(name);
    if (!g) {
      let open!: () => void;
      const promise = new Promise<void>((resolve) => (open = resolve));
      g = { promise, open };
      this.gates.set(name, g);
      if (this.allOpen) open();
    }
    return g;
  }

  /** Let the held job `tag` (or the gate `<tag>/after-abort`) go on. */
  release(name: string): void {
    this.gate(name).open();
  }

  /** Open every gate, now and later (cleanup: a queue's stop waits for its running jobs). */
  releaseAll(): void {
    this.allOpen = true;
    for (const g of this.gates.values()) g.open();
  }

  readonly handler: JobHandler<Work> = async (job, signal) => {
    const p = job.payload;
    const run: RunRecord = { tag: p.tag, jobId: job.id, key: job.key, startedAt: performance.now() };
    this.runs.push(run);
    this.maxLive = Math.max(this.maxLive, ++this.live);
    this.events.push(`start ${p.tag}`);
    const attempt = this.runs.filter((r) => r.tag === p.tag).length;
    const aborted = new Promise<true>((resolve) => {
      if (signal.aborted) resolve(true);
      else signal.addEventListener("abort", () => resolve(true), { once: true });
    });
    try {
      if (p.hold) {
        if ((await Promise.race([this.gate(p.tag).promise, aborted])) === true) {
          run.abortReason = signal.reason;
          if (p.holdAfterAbort) await this.gate(`${p.tag}/after-abort`).promise;
        }
      } else {
        // One turn of the event loop: time enough for a queue that breaks its rules to start another job beside this.
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (attempt <= (p.failTimes ?? 0)) throw apiError(p.tag, p.status ?? 503);
    } catch (err) {
      run.error = err;
      throw err;
    } finally {
      this.live--;
      run.endedAt = performance.now();
      this.events.push(`end ${p.tag}${signal.aborted ? " (aborted)" : ""}`);
    }
  };

  runsOf(tag: string): RunRecord[] {
    return this.runs.filter((r) => r.tag === tag);
  }

  /** Tags of the jobs running now, in the order they started. */
  running(): string[] {
    return this.runs.filter((r) => r.endedAt === undefined).map((r) => r.tag);
  }

  /** The tags that started, in order. */
  started(): string[] {
    return this.runs.map((r) => r.tag);
  }

  waitStarted(tag: string, times = 1, timeoutMs?: number): Promise<void> {
    return waitFor(`job "${tag}" to start (${times}×)`, () => this.runsOf(tag).length >= times, timeoutMs);
  }

  waitEnded(tag: string, timeoutMs?: number): Promise<void> {
    return waitFor(`job "${tag}" to end`, () => this.runsOf(tag).some((r) => r.endedAt !== undefined), timeoutMs);
  }
}
