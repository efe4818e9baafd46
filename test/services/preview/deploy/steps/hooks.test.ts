/**
 * The hook steps' decisions (Pre-install hooks before Apply, Post-install hooks after Roll out), against a fake
 * Cluster (test/support/runner-fakes.ts): when they skip, the order they ask for (the bot's own objects first; then
 * per weight group: delete the last deploy's hook, apply, wait), which delete policy deletes what, what is recorded
 * as applied (so Prune keeps it), and how a failed hook stops the deploy with its diagnosis. Hooks on a real cluster
 * (Jobs completing, the order read from etcd) are tested in test/e2e/real-helm.test.ts.
 */
import { afterEach, describe, expect, it } from "@jest/globals";
import { postHooksStep, preHooksStep } from "../../../../../src/services/preview/deploy/steps/hooks.js";
import { refOf, type KubeObject } from "../../../../../src/services/shared/preview.js";
import { stepBench, type StepBench } from "../../../../support/runner-fakes.js";

const benches: StepBench[] = [];
afterEach(async () => {
  for (const b of benches.splice(0)) await b.cleanup();
});

const NS = "web-pr-42";
function job(name: string, annotations: Record<string, string> = {}): KubeObject {
  return { apiVersion: "batch/v1", kind: "Job", metadata: { name, namespace: NS, annotations } };
}
const hook = (name: string, when: string, more: Record<string, string> = {}) =>
  job(name, { "helm.sh/hook": when, ...more });
const secret: KubeObject = { apiVersion: "v1", kind: "Secret", metadata: { name: "preview-database", namespace: NS } };
const web: KubeObject = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: NS } };

async function bench(objects: KubeObject[], ownObjects: KubeObject[] = []) {
  const b = await stepBench({ objects, ownObjects, config: { health: { timeout: "90s" } } });
  benches.push(b);
  return b;
}

describe("the hook steps", () => {
  it("are skipped, saying why, when the render has no hooks of their phase", async () => {
    const none = await bench([web, job("plain")]);
    expect(preHooksStep.skip!(none.ctx)).toBe("no pre-install or pre-upgrade hooks");
    expect(postHooksStep.skip!(none.ctx)).toBe("no post-install or post-upgrade hooks");
    const pre = await bench([web, hook("migrate", "pre-upgrade")]);
    expect(preHooksStep.skip!(pre.ctx)).toBeUndefined();
    expect(postHooksStep.skip!(pre.ctx)).toBe("no post-install or post-upgrade hooks");
    expect(postHooksStep.skip!((await bench([hook("notify", "post-install")])).ctx)).toBeUndefined();
  });

  it("applies the bot's own objects first, then each weight group, lowest first: delete the old, apply, wait", async () => {
    const seed = hook("seed", "pre-install", { "helm.sh/hook-weight": "5" });
    const migrate = hook("migrate", "pre-install,pre-upgrade", { "helm.sh/hook-weight": "-5" });
    const config = job("config", { "helm.sh/hook": "pre-install" }); // weight 0
    const notify = hook("notify", "post-install");
    const b = await bench([secret, seed, web, notify, config, migrate], [secret]);
    await preHooksStep.run(b.ctx, b.detail);
    const timeout = b.ctx.config.health.timeout;
    const wait = 120_000;
    expect(b.cluster.calls).toEqual([
      { method: "apply", args: [[secret]] },
      { method: "deleteObject", args: [refOf(migrate), { waitMs: wait }] },
      { method: "apply", args: [[migrate]] },
      { method: "waitForHooks", args: [[refOf(migrate)], timeout] },
      { method: "deleteObject", args: [refOf(config), { waitMs: wait }] },
      { method: "apply", args: [[config]] },
      { method: "waitForHooks", args: [[refOf(config)], timeout] },
      { method: "deleteObject", args: [refOf(seed), { waitMs: wait }] },
      { method: "apply", args: [[seed]] },
      { method: "waitForHooks", args: [[refOf(seed)], timeout] },
    ]);
    // Kept hooks are recorded as applied (Prune keeps them), after the bot's own objects.
    expect(b.ctx.applied).toEqual([refOf(secret), refOf(migrate), refOf(config), refOf(seed)]);
    expect(b.details.at(-1)).toBe('Job "migrate" completed; Job "config" completed; Job "seed" completed');
  });

  it("honours hook-succeeded and hook-failed, and deletes nothing before creation when that policy is not given", async () => {
    const once = hook("once", "post-install", { "helm.sh/hook-delete-policy": "hook-succeeded" });
    const keep = hook("keep", "post-install", { "helm.sh/hook-delete-policy": "hook-failed" });
    const b = await bench([web, once, keep]);
    await postHooksStep.run(b.ctx, b.detail);
    expect(b.cluster.methods()).toEqual(["apply", "waitForHooks", "deleteObject"]);
    expect(b.cluster.calls[2]!.args[0]).toEqual(refOf(once));
    expect(b.ctx.applied).toEqual([refOf(keep)]);
    expect(b.details).toEqual(['Job "once" completed (deleted: its delete policy); Job "keep" completed']);
  });

  it("stops at a failed hook with its diagnosis, before a later group runs; a hook-failed hook is deleted", async () => {
    const migrate = hook("migrate", "pre-install", { "helm.sh/hook-delete-policy": "hook-failed" });
    const later = hook("later", "pre-install", { "helm.sh/hook-weight": "1" });
    const b = await bench([migrate, later, web]);
    b.cluster.hookAnswer = (ref) => ({
      ...ref,
      state: "failed",
      summary: "failed: BackoffLimitExceeded: Job has reached the specified backoff limit",
      diagnosis: 'pod migrate-x: Failed\n  log: relation "users" already exists',
    });
    await expect(preHooksStep.run(b.ctx, b.detail)).rejects.toThrow(
      'pre-install hook Job "web-pr-42/migrate" failed: BackoffLimitExceeded: Job has reached the specified backoff limit\n' +
        'Job "web-pr-42/migrate":\npod migrate-x: Failed\n  log: relation "users" already exists',
    );
    expect(b.cluster.methods()).toEqual(["apply", "waitForHooks", "deleteObject"]);
    expect(b.cluster.calls.some((c) => JSON.stringify(c.args).includes('"later"'))).toBe(false);
    expect(b.ctx.applied).toEqual([]);
    expect(b.details).toEqual([
      'Job "migrate" failed: BackoffLimitExceeded: Job has reached the specified backoff limit (deleted: its delete policy)',
    ]);
  });

  it("says a hook still running at health.timeout did not finish in time, and keeps it", async () => {
    const b = await bench([hook("slow", "post-upgrade"), web]);
    b.cluster.hookAnswer = (ref) => ({ ...ref, state: "running", summary: "still running" });
    await expect(postHooksStep.run(b.ctx, b.detail)).rejects.toThrow(
      /^post-install hook Job "web-pr-42\/slow" did not finish in time$/,
    );
    expect(b.ctx.applied).toEqual([refOf(hook("slow", "post-upgrade"))]);
  });
});
