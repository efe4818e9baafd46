/** Roll out: wait for the Deployments and StatefulSets to be ready; a workload that is not fails the deploy. */
import type { DeployStep } from "../context.js";

export const rollOutStep: DeployStep = {
  name: "Roll out",
  progress: true,
  async run(ctx, detail) {
    const { deps, config, names, report, signal } = ctx;
    const health = await deps.cluster.waitForRollout(names.namespace, config.health.timeout, signal);
    report.workloads = health;
    ctx.workloads = health;
    const bad = health.filter((w) => !w.ready);
    detail(
      bad.length
        ? bad.map((w) => `${w.kind} ${w.name}: ${w.summary}`).join("; ")
        : `${health.length} workload(s) ready`,
    );
    if (bad.length) throw new Error(`roll-out failed: ${bad.map((w) => `${w.name} ${w.summary}`).join("; ")}`);
  },
};
