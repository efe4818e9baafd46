/**
 * The Slack client the notifier uses, and how it reads the client's errors: whether (and how long) to wait before
 * trying again, and what to log.
 */
import { webApi } from "@slack/bolt";
import { redactText } from "../../logger.js";
import { describeError } from "../shared/format.js";

export type WebClient = InstanceType<typeof webApi.WebClient>;
type WebClientOptions = NonNullable<ConstructorParameters<typeof webApi.WebClient>[1]>;

/** A WebClient whose failures surface at once so the notifier's bounded loop decides about retries. */
export function createSlackWebClient(token: string, options: WebClientOptions = {}): WebClient {
  return new webApi.WebClient(token, {
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
    ...options,
  });
}

/** How long to wait before trying again, or undefined when the error is not worth retrying. */
export function retryDelay(err: unknown, attempt: number, baseDelayMs: number): number | undefined {
  const e = err as { code?: unknown; retryAfter?: unknown; statusCode?: unknown } | null;
  if (e?.code === webApi.ErrorCode.RateLimitedError && typeof e.retryAfter === "number") return e.retryAfter * 1000;
  const backoff = baseDelayMs * 2 ** (attempt - 1);
  if (e?.code === webApi.ErrorCode.RequestError) return backoff;
  if (e?.code === webApi.ErrorCode.HTTPError && typeof e.statusCode === "number" && e.statusCode >= 500) return backoff;
  if (["internal_error", "fatal_error", "service_unavailable", "request_timeout"].includes(platformError(err) ?? ""))
    return backoff;
  return undefined;
}

export function platformError(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 3; depth++) {
    const candidate = e as { code?: unknown; data?: { error?: unknown }; cause?: unknown };
    if (candidate.code === webApi.ErrorCode.PlatformError && typeof candidate.data?.error === "string")
      return candidate.data.error;
    e = candidate.cause;
  }
  return undefined;
}

export function describeSlackError(err: unknown): string {
  const e = err as { code?: unknown; statusCode?: unknown; retryAfter?: unknown } | null;
  const platform = platformError(err);
  if (platform) return `Slack said ${platform}`;
  if (e?.code === webApi.ErrorCode.HTTPError) return `HTTP ${String(e.statusCode)}`;
  if (e?.code === webApi.ErrorCode.RateLimitedError) return `rate limited (retry after ${String(e.retryAfter)} s)`;
  return redactText(describeError(err));
}
