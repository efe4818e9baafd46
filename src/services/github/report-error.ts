/**
 * Errors of the GitHub reporting surfaces: `ReportError` says what was being done (`updating check run 123 for
 * acme/web#42: …`) with the Octokit error as its `cause`; `attempt` wraps a call that way. Messages are redacted.
 */
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
