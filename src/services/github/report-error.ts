/**
 * Errors of the GitHub reporting surfaces: `ReportError` says what was being done (`updating check run 123 for
 * acme/web#42: …`) with the Octokit error as its `cause`; `attempt` wraps a call that way. Messages are redacted.
 */
import { isTransientError } from "../shared/errors.js";
import { describeError } from "../shared/format.js";
import { redactText } from "../../logger.js";

/** An error that already says what was being done. */
export class ReportError extends Error {
  override name = "ReportError";
}

export function httpStatus(err: unknown): number | undefined {
  const s = (err as { status?: unknown } | null)?.status;
  return typeof s === "number" ? s : undefined;
}

export function reportError(what: string, err: unknown): ReportError {
  if (err instanceof ReportError) return err;
  return new ReportError(`${what}: ${redactText(describeError(err))}`, { cause: err });
}

/** Run `fn`; a failure becomes a ReportError naming `what`. */
export async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw reportError(what, err);
  }
}

/** Backoff of a write GitHub failed transiently (5xx, 429, secondary rate limit): 1, 2, 4, 8, 16 s, then give up. */
const RETRY_BACKOFF_MS = [1_000, 2_000, 4_000, 8_000, 16_000];
/** The longest `retry-after` honoured: a longer one gets the last try at this distance. */
const RETRY_AFTER_CAP_MS = 60_000;

/**
 * When to try a failed write again (its `failures`-th failure in a row), or undefined: not transient, or tried
 * enough. GitHub's `retry-after` (seconds) wins over the backoff.
 */
function retryDelayMs(err: unknown, failures: number): number | undefined {
  if (failures > RETRY_BACKOFF_MS.length || !isTransientError(err)) return undefined;
  const backoff = RETRY_BACKOFF_MS[failures - 1]!;
  for (let e: unknown = err, i = 0; e && typeof e === "object" && i < 8; e = (e as { cause?: unknown }).cause, i++) {
    const after = Number(
      (e as { response?: { headers?: Record<string, unknown> } }).response?.headers?.["retry-after"],
    );
    if (Number.isFinite(after) && after >= 0) return Math.min(Math.max(after * 1_000, backoff), RETRY_AFTER_CAP_MS);
  }
  return backoff;
}

/**
 * The transient failures in a row of one kind of write (a check run, a deployment, the sticky comment): when to try
 * again, or none (not transient, or tried enough; then the count starts over). A write that lands resets it.
 */
export class WriteFailures {
  private count = 0;

  reset(): void {
    this.count = 0;
  }

  retryAfter(err: unknown): { retryInMs: number } | undefined {
    const retryInMs = retryDelayMs(err, ++this.count);
    if (retryInMs === undefined) {
      this.count = 0;
      return undefined;
    }
    return { retryInMs };
  }
}
