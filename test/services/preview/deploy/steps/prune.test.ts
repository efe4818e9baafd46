/**
 * The Prune step's decisions, against a fake Cluster (test/support/runner-fakes.ts): it removes, from the preview's
 * namespace only and by the preview's own labels, what is neither among the objects applied nor a Helm hook of the
 * render (the hook steps run those); the report and its line say what went. What prune deletes on a cluster is tested
 * against the real control plane (test/services/cluster/).
 */
import { afterEach, describe, expect, it } from "@jest/globals";
import { pruneStep } from "../../../../../src/services/preview/deploy/steps/prune.js";
import type { KubeObject, ObjectRef } from "../../../../../src/services/shared/preview.js";
import { stepBench, type StepBench } from "../../../../support/runner-fakes.js";

const benches: StepBench[] = [];
afterEach(async () => {
  for (const b of benches.splice(0)) await b.cleanup();
});

const ref = (kind: string, name: string): ObjectRef => ({ apiVersion: "v1", kind, namespace: "web-pr-42", name });
const applied = [ref("Service", "web"), ref("ConfigMap", "web-config")];

async function pruned(gone: ObjectRef[]): Promise<StepBench> {
  const b = await stepBench({ applied });
  benches.push(b);
  b.cluster.pruneAnswer = gone;
  await pruneStep.run(b.ctx, b.detail);
  return b;
}

describe("the Prune step", () => {
  it("always runs (no skip)", () => {
    expect(pruneStep).not.toHaveProperty("skip");
  });

  it("prunes the preview's namespace by its ownership labels, keeping what Apply applied", async () => {
    const b = await pruned([]);
    const { names } = b.ctx;
    expect(b.cluster.calls).toEqual([{ method: "prune", args: [names.namespace, names.labels, applied] }]);
    expect(b.ctx.report.pruned).toEqual([]);
    expect(b.details).toEqual(["nothing to remove"]);
  });

  it("keeps the render's Helm hooks too, applied or not yet (post-install hooks run after it)", async () => {
    const job = (name: string, annotations: Record<string, string> = {}): KubeObject => ({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name, namespace: "web-pr-42", annotations },
    });
    const objects = [job("notify", { "helm.sh/hook": "post-install" }), job("plain")];
    const b = await stepBench({ applied, objects });
    benches.push(b);
    await pruneStep.run(b.ctx, b.detail);
    const notify = { apiVersion: "batch/v1", kind: "Job", namespace: "web-pr-42", name: "notify" };
    expect(b.cluster.calls).toEqual([
      { method: "prune", args: [b.ctx.names.namespace, b.ctx.names.labels, [...applied, notify]] },
    ]);
  });

  it("reports what it removed, the first five by name", async () => {
    const one = await pruned([ref("ConfigMap", "old-config")]);
    expect(one.ctx.report.pruned).toEqual(['ConfigMap "web-pr-42/old-config"']);
    expect(one.details).toEqual(['1 removed: ConfigMap "web-pr-42/old-config"']);

    const five = await pruned(Array.from({ length: 5 }, (_, i) => ref("Secret", `s${i}`)));
    expect(five.details[0]).toMatch(/^5 removed: .*Secret "web-pr-42\/s4"$/);

    const many = await pruned(Array.from({ length: 6 }, (_, i) => ref("Secret", `s${i}`)));
    expect(many.ctx.report.pruned).toHaveLength(6);
    expect(many.details).toEqual([
      '6 removed: Secret "web-pr-42/s0", Secret "web-pr-42/s1", Secret "web-pr-42/s2", Secret "web-pr-42/s3", Secret "web-pr-42/s4", …',
    ]);
  });

  it("passes the cluster's error on", async () => {
    const b = await stepBench({ applied });
    benches.push(b);
    const refusal = new Error('pruning web-pr-42: deleting Secret "web-pr-42/s0": 403 forbidden');
    b.cluster.prune = async () => Promise.reject(refusal);
    await expect(pruneStep.run(b.ctx, b.detail)).rejects.toBe(refusal);
    expect(b.ctx.report.pruned).toBeUndefined();
  });
});
