/**
 * The Apply step's decisions, against a fake Cluster (test/support/runner-fakes.ts): it applies exactly the objects the
 * earlier steps left (the database Secret and the guarded render) but Helm hooks, passes what was applied on to Prune
 * and the report, and says in its line what the apply had to do beyond a plain server-side apply. What apply does on a
 * cluster is tested against the real control plane (test/services/cluster/, test/contract/).
 */
import { afterEach, describe, expect, it } from "@jest/globals";
import { applyStep } from "../../../../../src/services/preview/deploy/steps/apply.js";
import type { AppliedRef, KubeObject } from "../../../../../src/services/shared/preview.js";
import { stepBench, type StepBench } from "../../../../support/runner-fakes.js";

const benches: StepBench[] = [];
afterEach(async () => {
  for (const b of benches.splice(0)) await b.cleanup();
});

const obj = (kind: string, name: string, apiVersion = "apps/v1"): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name, namespace: "web-pr-42" },
});
const ref = (kind: string, name: string, more: Partial<AppliedRef> = {}): AppliedRef => ({
  apiVersion: "apps/v1",
  kind,
  namespace: "web-pr-42",
  name,
  ...more,
});

async function applied(refs: AppliedRef[], objects: KubeObject[] = []): Promise<StepBench> {
  const b = await stepBench({ objects });
  benches.push(b);
  b.cluster.applyAnswer = () => refs;
  await applyStep.run(b.ctx, b.detail);
  return b;
}

describe("the Apply step", () => {
  it("always runs (no skip), and its progress is shown as it starts", () => {
    expect(applyStep).not.toHaveProperty("skip");
    expect(applyStep.progress).toBe(true);
  });

  it("applies every object the earlier steps left, once, and passes what was applied on to Prune and the report", async () => {
    const objects = [obj("Secret", "preview-database", "v1"), obj("Deployment", "web"), obj("Service", "web", "v1")];
    const refs = [
      ref("Secret", "preview-database", { apiVersion: "v1" }),
      ref("Deployment", "web"),
      ref("Service", "web", { apiVersion: "v1" }),
    ];
    const b = await applied(refs, objects);
    expect(b.cluster.calls).toEqual([{ method: "apply", args: [objects] }]);
    expect(b.ctx.applied).toEqual(refs);
    expect(b.ctx.report.applied).toEqual([
      'Secret "web-pr-42/preview-database"',
      'Deployment "web-pr-42/web"',
      'Service "web-pr-42/web"',
    ]);
    expect(b.details).toEqual(["3 objects applied (server-side apply)"]);
  });

  it("leaves Helm hooks to the hook steps, and adds to what the Pre-install hooks step applied before it", async () => {
    const hook = (name: string, when: string): KubeObject => ({
      ...obj("Job", name, "batch/v1"),
      metadata: { name, namespace: "web-pr-42", annotations: { "helm.sh/hook": when } },
    });
    const deployment = obj("Deployment", "web");
    const objects = [hook("migrate", "pre-install,pre-upgrade"), deployment, hook("notify", "post-install")];
    const before = [ref("Secret", "preview-database", { apiVersion: "v1" }), ref("Job", "migrate")];
    const b = await stepBench({ objects, applied: [...before] });
    benches.push(b);
    await applyStep.run(b.ctx, b.detail);
    expect(b.cluster.calls).toEqual([{ method: "apply", args: [[deployment]] }]);
    expect(b.ctx.applied).toEqual([...before, ref("Deployment", "web")]);
    expect(b.ctx.report.applied).toEqual(['Deployment "web-pr-42/web"']);
    expect(b.details).toEqual(["1 objects applied (server-side apply)"]);
  });

  it("says which objects were replaced, left to an autoscaler, or had server-owned fields removed", async () => {
    const b = await applied([
      ref("Job", "migrate", { apiVersion: "batch/v1", replaced: ["spec.template"] }),
      ref("Deployment", "web", { autoscaled: true }),
      ref("StatefulSet", "db", { stripped: ["metadata.resourceVersion", "status"] }),
      ref("ConfigMap", "plain", { apiVersion: "v1" }),
    ]);
    expect(b.details).toEqual([
      "4 objects applied (server-side apply); " +
        'replaced 1 (immutable fields changed, deleted and created again): Job "web-pr-42/migrate" (spec.template); ' +
        'replicas left to the autoscaler: Deployment "web-pr-42/web"; ' +
        'server-owned fields removed from 1: StatefulSet "web-pr-42/db" (metadata.resourceVersion, status)',
    ]);
  });

  it("names the first five of each and counts them all", async () => {
    const many = Array.from({ length: 7 }, (_, i) =>
      ref("Deployment", `w${i}`, { autoscaled: true, replaced: ["spec.selector"] }),
    );
    const b = await applied(many);
    const line = b.details[0]!;
    expect(line).toContain(
      'replaced 7 (immutable fields changed, deleted and created again): Deployment "web-pr-42/w0" (spec.selector)',
    );
    expect(line).toContain('Deployment "web-pr-42/w4" (spec.selector), …;');
    expect(line).not.toContain("w5");
    expect(line).toMatch(/replicas left to the autoscaler: Deployment "web-pr-42\/w0", .*"web-pr-42\/w4", …$/);
  });

  it("passes the cluster's error on, and records nothing as applied", async () => {
    const b = await stepBench({ objects: [obj("Deployment", "web")] });
    benches.push(b);
    const refusal = new Error('applying Deployment "web-pr-42/web": 422 spec.selector: Invalid value');
    b.cluster.applyAnswer = () => {
      throw refusal;
    };
    await expect(applyStep.run(b.ctx, b.detail)).rejects.toBe(refusal);
    expect(b.ctx.applied).toEqual([]);
    expect(b.ctx.report.applied).toBeUndefined();
    expect(b.details).toEqual([]);
  });
});
