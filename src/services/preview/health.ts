/**
 * HTTP health checks against the live preview: each configured path must answer the expected status before the
 * deadline. Unlike the setup this replaces, a check that never gets its status fails the run.
 */
import { describeError } from "../shared/format.js";
import { HEALTH_CHECK_USER_AGENT } from "../shared/sleep.js";
export interface HealthCheck {
  path: string;
  status: number;
  timeout: number;
}

export interface HealthResult {
  path: string;
  url: string;
  ok: boolean;
  /** "200 in 35 ms", "503 (expected 200) after 12 attempts", "connect ECONNREFUSED …". */
  detail: string;
}

export async function runHealthChecks(
  baseUrl: string,
  checks: HealthCheck[],
  opts: {
    deadlineMs: number;
    intervalMs?: number;
    signal?: AbortSignal;
    fetchImpl?: typeof fetch;
    /** Sent with every check (a protected preview's bypass token); never part of a result. */
    headers?: Record<string, string>;
  },
): Promise<HealthResult[]> {
  const fetchImpl = opts.fetchImpl ?? fetch;
  const interval = opts.intervalMs ?? 2_000;
  const deadline = Date.now() + opts.deadlineMs;
  return Promise.all(
    checks.map(async (check): Promise<HealthResult> => {
      const url = new URL(check.path.replace(/^\//, ""), baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`).toString();
      let attempts = 0;
      let last: string;
      for (;;) {
        attempts++;
        const started = Date.now();
        try {
          const res = await fetchImpl(url, {
            redirect: "manual",
            // Named, so a sleeping preview's wake door knows the bot's own checks (they never wake it).
            headers: { "user-agent": HEALTH_CHECK_USER_AGENT, ...opts.headers },
            signal: AbortSignal.timeout(check.timeout),
          });
          await res.body?.cancel();
          if (res.status === check.status)
            return { path: check.path, url, ok: true, detail: `${res.status} in ${Date.now() - started} ms` };
          last = `${res.status} (expected ${check.status})`;
        } catch (err) {
          const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
          last = `${describeError(err)}${cause}`;
        }
        if (opts.signal?.aborted || Date.now() + interval > deadline) {
          return {
            path: check.path,
            url,
            ok: false,
            detail: `${last} after ${attempts} attempt${attempts === 1 ? "" : "s"}`,
          };
        }
        await new Promise((r) => setTimeout(r, interval));
      }
    }),
  );
}
