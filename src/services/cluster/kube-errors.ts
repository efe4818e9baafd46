/** Reading errors from @kubernetes/client-node 2.x (`ApiException` with `code` and a `body` that is a Status). */
import { describeError } from "../shared/format.js";
import { ApiException } from "@kubernetes/client-node";

/** The HTTP status of a Kubernetes API error, or undefined for anything else (network errors, bugs). */
export function kubeStatus(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  if (err && typeof err === "object" && "code" in err && typeof err.code === "number" && "body" in err) return err.code;
  return undefined;
}

/** The server's own message from a Status body (`deployments.apps "web" is invalid: ...`), when there is one. */
export function kubeMessage(err: unknown): string {
  if (kubeStatus(err) === undefined) return describeError(err);
  const body = (err as { body?: unknown }).body;
  let parsed: unknown = body;
  if (typeof body === "string") {
    try {
      parsed = JSON.parse(body) as unknown;
    } catch {
      return body.slice(0, 500);
    }
  }
  if (parsed && typeof parsed === "object" && "message" in parsed && typeof parsed.message === "string")
    return parsed.message;
  return "no message";
}

/** `<doing>: <code> <server message>`, chained to the original error. */
export function kubeError(doing: string, err: unknown): Error {
  const code = kubeStatus(err);
  return new Error(`${doing}: ${code !== undefined ? `${code} ` : ""}${kubeMessage(err)}`, { cause: err });
}

export const isNotFound = (err: unknown): boolean => kubeStatus(err) === 404;
export const isConflict = (err: unknown): boolean => kubeStatus(err) === 409;
