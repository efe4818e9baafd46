/** Health checks: GET each configured path of the preview URL; each must answer its expected status in time. */
import { runHealthChecks } from "../../health.js";
import type { DeployStep } from "../context.js";

export const healthChecksStep: DeployStep = {
  name: "Health checks",
  skip: ({ config, names }) =>
    config.health.checks.length === 0
      ? "none configured (health.checks)"
      : !names.url
        ? "no preview URL (set route.host or route.baseUrl)"
        : undefined,
  async run({ deps, config, names, signal }, detail) {
    const results = await runHealthChecks(names.url!, config.health.checks, {
      deadlineMs: Math.max(2_000, Math.min(config.health.timeout, 120_000)),
      ...(deps.healthIntervalMs ? { intervalMs: deps.healthIntervalMs } : {}),
      ...(signal ? { signal } : {}),
      ...(deps.fetchImpl ? { fetchImpl: deps.fetchImpl } : {}),
    });
    detail(results.map((r) => `${r.path} ${r.ok ? "✓" : "✗"} ${r.detail}`).join("; "));
    const failed = results.filter((r) => !r.ok);
    if (failed.length)
      throw new Error(`health check failed: ${failed.map((r) => `GET ${r.url} → ${r.detail}`).join("; ")}`);
  },
};
