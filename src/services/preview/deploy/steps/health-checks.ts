/**
 * Health checks: GET each configured path of the preview URL; each must answer its expected status in time. A
 * protected preview (`access: github`) is checked through its sign-in with this deploy's bypass token.
 */
import { runHealthChecks } from "../../health.js";
import { bypassHeaders } from "../bypass.js";
import type { DeployStep } from "../context.js";

export const healthChecksStep: DeployStep = {
  name: "Health checks",
  skip: ({ config, names }) =>
    config.health.checks.length === 0
      ? "none configured (health.checks)"
      : !names.url
        ? "no preview URL (set route.host or route.baseUrl)"
        : undefined,
  async run(ctx, detail) {
    const { deps, config, names, signal } = ctx;
    const headers = bypassHeaders(ctx);
    const results = await runHealthChecks(names.url!, config.health.checks, {
      deadlineMs: Math.max(2_000, Math.min(config.health.timeout, 120_000)),
      ...(deps.healthIntervalMs ? { intervalMs: deps.healthIntervalMs } : {}),
      ...(signal ? { signal } : {}),
      ...(deps.fetchImpl ? { fetchImpl: deps.fetchImpl } : {}),
      ...(headers ? { headers } : {}),
    });
    detail(results.map((r) => `${r.path} ${r.ok ? "✓" : "✗"} ${r.detail}`).join("; "));
    const failed = results.filter((r) => !r.ok);
    if (failed.length)
      throw new Error(`health check failed: ${failed.map((r) => `GET ${r.url} → ${r.detail}`).join("; ")}`);
  },
};
