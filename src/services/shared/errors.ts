/**
 * Errors every domain shares: classification used by the queue (what to retry) and the runner (what to hand back
 * for a retry), the "superseded" signal the queue raises and the pipelines stop on, and error descriptions.
 */

/** A newer job for the same preview took over: the running one stops between steps and reports "superseded". */
export class SupersededError extends Error {
  override name = "SupersededError";
}

const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "slack_webapi_rate_limited_error",
  // PostgreSQL: admin_shutdown, crash_shutdown, cannot_connect_now (starting up or shutting down), too many
  // connections, serialization failure, deadlock. Class 08 (connection exception) is matched below.
  "57P01",
  "57P02",
  "57P03",
  "53300",
  "40001",
  "40P01",
]);

/**
 * node-postgres and pg-pool say a connection was lost with a plain Error and no code: the server closed it (a
 * restart), or connecting timed out. Matched whole, so no other message can pass for one.
 */
const PG_CONNECTION_LOST =
  /^(Connection terminated( unexpectedly| due to connection timeout)?|timeout exceeded when trying to connect)$/;

/**
 * Whether retrying may help: an HTTP 5xx, 429 or 408 (Kubernetes `code`, Octokit `status`, `statusCode`), a network
 * error code, a timeout, a Slack rate limit or a PostgreSQL connection/serialization error (with an SQLSTATE, or
 * node-postgres' "Connection terminated unexpectedly" when the server restarts), anywhere along the
 * `cause` chain (and inside AggregateErrors). Everything else (4xx, validation, bugs) is permanent.
 */
export function isTransientError(err: unknown): boolean {
  const seen = new Set<unknown>();
  const stack: unknown[] = [err];
  while (stack.length) {
    const e = stack.pop();
    if (!e || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    const rec = e as {
      status?: unknown;
      statusCode?: unknown;
      code?: unknown;
      name?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    // GitHub's secondary rate limit: 403 (or 429) with `retry-after`, or saying so. Waiting is the remedy.
    if (rec.status === 403 && isSecondaryRateLimit(e)) return true;
    for (const v of [rec.status, rec.statusCode, rec.code]) {
      if (typeof v === "number" && (v >= 500 || v === 429 || v === 408)) return true;
      if (typeof v === "string" && (TRANSIENT_CODES.has(v) || /^(5\d\d|429|08[0-9A-Z]{3})$/.test(v))) return true;
    }
    if (rec.name === "TimeoutError") return true;
    if (e instanceof Error && PG_CONNECTION_LOST.test(e.message)) return true;
    if (rec.cause) stack.push(rec.cause);
    if (Array.isArray(rec.errors)) stack.push(...(rec.errors as unknown[]));
  }
  return false;
}

function isSecondaryRateLimit(e: object): boolean {
  const headers = (e as { response?: { headers?: Record<string, unknown> } }).response?.headers;
  const message = (e as { message?: unknown }).message;
  return (
    headers?.["retry-after"] !== undefined || (typeof message === "string" && /secondary rate limit/i.test(message))
  );
}

/** Which external system an error came from, for `preview_bot_api_errors_total{system}` (walks the cause chain). */
export function systemOf(err: unknown): "kubernetes" | "github" | "slack" | "postgres" | "azure" | "other" {
  for (let e: unknown = err, i = 0; e && typeof e === "object" && i < 8; e = (e as { cause?: unknown }).cause, i++) {
    const rec = e as {
      name?: unknown;
      code?: unknown;
      request?: unknown;
      body?: unknown;
      severity?: unknown;
      statusCode?: unknown;
    };
    if (rec.name === "HttpError" && rec.request) return "github";
    if (typeof rec.code === "string" && rec.code.startsWith("slack_")) return "slack";
    if (rec.name === "ApiException" || (typeof rec.code === "number" && rec.body !== undefined)) return "kubernetes";
    if (rec.name === "RestError") return "azure";
    if (typeof rec.severity === "string") return "postgres";
  }
  return "other";
}
