/**
 * The Preflight and Dry run steps' decisions, against a fake Cluster (test/support/runner-fakes.ts): what refuses a
 * deploy before anything is written, how each refusal names the object and its file, and what is only a warning. The
 * rules themselves are tested in test/services/preview/preflight/; the dry run against the real control plane in
 * test/services/cluster/cluster.test.ts and test/e2e/real-guardrails.test.ts.
 */
import { afterEach, describe, expect, it } from "@jest/globals";
import { dryRunStep } from "../../../../../src/services/preview/deploy/steps/dry-run.js";
import { PreflightError, preflightStep } from "../../../../../src/services/preview/deploy/steps/preflight.js";
import { originsOf } from "../../../../../src/services/preview/preflight/offline.js";
import { refOf, type DryRunAnswer, type KubeObject } from "../../../../../src/services/shared/preview.js";
import { stepBench, type StepBench, type StepBenchOptions } from "../../../../support/runner-fakes.js";

const benches: StepBench[] = [];
afterEach(async () => {
  for (const b of benches.splice(0)) await b.cleanup();
});

async function bench(opts: StepBenchOptions, files: string[]): Promise<StepBench> {
  const b = await stepBench(opts);
  benches.push(b);
  for (const [k, v] of originsOf(b.ctx.objects, files)) b.ctx.origins.set(k, v);
  return b;
}

/**
 * A Deployment of `replicas` pods with `containers` containers that set no resources (the LimitRange defaults apply),
 * or, beyond the first two, only these `resources`.
 */
const deployment = (name: string, replicas: number, containers = 2, resources?: object): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace: "web-pr-42" },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        containers: [
          { name: "app", image: "ghcr.io/acme/web:1" },
          { name: "proxy", image: "ghcr.io/acme/proxy:1" },
          ...Array.from({ length: containers - 2 }, (_, i) => ({
            name: `side${i}`,
            image: "ghcr.io/acme/side:1",
            ...(resources ? { resources } : {}),
          })),
        ],
      },
    },
  },
});

async function refusedBy(step: typeof preflightStep, b: StepBench): Promise<PreflightError> {
  const err = await step.run(b.ctx, b.detail).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PreflightError);
  return err as PreflightError;
}

describe("the Preflight step", () => {
  it("refuses a preview that cannot fit its quota before asking or writing anything, naming each workload's file", async () => {
    // 4 replicas × 12 containers × the LimitRange's default 512Mi ephemeral-storage limit: 24Gi of the 20Gi the
    // bot's quota allows (the CPU and memory they ask would fit: 10 of the 12 set small ones).
    const small = { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "64Mi" } };
    const b = await bench({ objects: [deployment("web", 4, 12, small)] }, ["deploy/web.yaml, document 2"]);
    const err = await refusedBy(preflightStep, b);
    expect(err.problems).toEqual([
      expect.stringMatching(
        /^1 Deployment asks 24Gi of limits\.ephemeral-storage; ResourceQuota "preview-bot-guardrails" allows 20Gi: Deployment "web" \(deploy\/web\.yaml, document 2\) 4 × 6Gi \(a LimitRange default\)\. Set lower resources\.limits\.ephemeral-storage, or ask preview-bot's operator to raise PREVIEW_QUOTA_EPHEMERAL_STORAGE$/,
      ),
    ]);
    expect(err.message).toMatch(/nothing of the pull request was applied/);
    expect(b.cluster.calls).toEqual([]);
    expect(b.details).toEqual([expect.stringMatching(/^1 problem, nothing applied: 1 Deployment asks 24Gi/)]);
  });

  it("lists every refusal at once: the quota and the Pod Security level the repository asked for", async () => {
    const b = await bench(
      { config: { guardrails: { podSecurity: "restricted" } }, objects: [deployment("web", 4, 12)] },
      ["deploy/web.yaml, document 1"],
    );
    const err = await refusedBy(preflightStep, b);
    expect(err.problems.some((p) => p.includes("limits.ephemeral-storage"))).toBe(true);
    expect(err.problems.filter((p) => p.includes('the namespace enforces Pod Security "restricted"'))).not.toEqual([]);
    expect(b.cluster.calls).toEqual([]);
  });

  it("lets the pod quota's worth of pods of two containers that set nothing through (issue 22)", async () => {
    // 40 containers on the defaults fill the quota exactly: the old 1Gi ephemeral-storage default refused the 11th
    // pod (22Gi of 20Gi), the old 16Gi memory-limit quota the 17th (17Gi).
    const b = await bench({ objects: [deployment("web", 10), deployment("api", 10)] }, ["deploy/app.yaml, document 1"]);
    await preflightStep.run(b.ctx, b.detail);
    expect(b.details).toEqual([
      expect.stringMatching(
        /^fits: ResourceQuota "preview-bot-guardrails": pods 20 of 20, requests\.cpu 4 CPU of 4 CPU, requests\.memory 5Gi of 8Gi, limits\.memory 20Gi of 20Gi, .*limits\.ephemeral-storage 20Gi of 20Gi/,
      ),
    ]);
  });

  it("dry-runs only the preview Namespace once the render fits, and says how full each quota will be", async () => {
    const b = await bench({ objects: [deployment("web", 1)] }, ["deploy/web.yaml, document 1"]);
    await preflightStep.run(b.ctx, b.detail);
    expect(b.cluster.methods()).toEqual(["dryRun"]);
    const [asked] = b.cluster.calls[0]!.args as [KubeObject[]];
    expect(asked.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(["Namespace/web-pr-42"]);
    expect(asked[0]!.metadata.labels).toMatchObject({ "pod-security.kubernetes.io/enforce": "baseline" });
    expect(b.details).toEqual([
      expect.stringMatching(
        /^fits: ResourceQuota "preview-bot-guardrails": .*requests\.cpu 200m CPU of 4 CPU, requests\.memory 256Mi of 8Gi, limits\.memory 1Gi of 20Gi,/,
      ),
    ]);
  });

  it("refuses when the cluster refuses the preview Namespace itself, with the server's answer", async () => {
    const b = await bench({ objects: [deployment("web", 1)] }, []);
    b.cluster.dryRunAnswer = (objects) =>
      objects.map((o) => ({
        ref: refOf(o),
        outcome: "refused",
        status: 403,
        reason: "Forbidden",
        message: 'namespaces "web-pr-42" is forbidden: ValidatingAdmissionPolicy denied request',
        warnings: [],
      }));
    const err = await refusedBy(preflightStep, b);
    expect(err.problems).toEqual([
      'Namespace "web-pr-42": the cluster refuses it (403 Forbidden): namespaces "web-pr-42" is forbidden: ValidatingAdmissionPolicy denied request',
    ]);
  });
});

describe("the Dry run step", () => {
  const service: KubeObject = { apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace: "web-pr-42" } };
  const widget: KubeObject = {
    apiVersion: "example.com/v1",
    kind: "Widget",
    metadata: { name: "w", namespace: "web-pr-42" },
  };
  const answer = (o: KubeObject, more: Partial<DryRunAnswer>): DryRunAnswer => ({
    ref: refOf(o),
    outcome: "accepted",
    warnings: [],
    ...more,
  });

  it("refuses with each object the cluster refused, its file and what to do; other warnings stay warnings", async () => {
    const web = deployment("web", 1);
    const b = await bench({ objects: [web, service, widget] }, [
      "deploy/web.yaml, document 1",
      "deploy/web.yaml, document 2",
      "deploy/widget.yaml, document 1",
    ]);
    b.cluster.dryRunAnswer = () => [
      answer(web, { warnings: ['would violate PodSecurity "restricted:latest": runAsNonRoot != true'] }),
      answer(service, {}),
      answer(widget, {
        outcome: "refused",
        status: 403,
        reason: "Forbidden",
        message:
          'widgets.example.com "w" is forbidden: User "system:serviceaccount:preview-bot:preview-bot" cannot patch resource "widgets" in API group "example.com" in the namespace "web-pr-42"',
      }),
    ];
    const err = await refusedBy(dryRunStep, b);
    expect(b.cluster.calls).toEqual([{ method: "dryRun", args: [b.ctx.objects] }]);
    expect(err.problems).toEqual([
      expect.stringMatching(
        /^Widget "w" \(deploy\/widget\.yaml, document 1\): 403 Forbidden: .*\. To fix: preview-bot's RBAC does not grant widgets\.example\.com: ask preview-bot's operator to grant .* in ClusterRole preview-bot-previews, or leave the object out/,
      ),
    ]);
    // At the default level (baseline), a warning at restricted is the server's warning, logged, not a refusal.
    expect(b.logs.some((l) => String(l.msg).includes("dry run: Deployment"))).toBe(true);
  });

  it("refuses a workload whose pods the namespace's own Pod Security level would refuse (restricted)", async () => {
    const web = deployment("web", 1);
    const b = await bench({ config: { guardrails: { podSecurity: "restricted" } }, objects: [web] }, [
      "deploy/web.yaml, document 1",
    ]);
    b.cluster.dryRunAnswer = () => [
      answer(web, { warnings: ['would violate PodSecurity "restricted:latest": runAsNonRoot != true'] }),
    ];
    const err = await refusedBy(dryRunStep, b);
    expect(err.problems).toEqual([
      expect.stringMatching(
        /^Deployment "web" \(deploy\/web\.yaml, document 1\): its pods would be refused by the namespace's Pod Security "restricted"/,
      ),
    ]);
  });

  it("passes when everything is accepted, counting the objects the apply will re-create", async () => {
    const web = deployment("web", 1);
    const b = await bench({ objects: [web, service] }, []);
    b.cluster.dryRunAnswer = () => [
      answer(web, { outcome: "replace", immutable: ["spec.selector"] }),
      answer(service, {}),
    ];
    await dryRunStep.run(b.ctx, b.detail);
    expect(b.details).toEqual([
      "2 objects accepted by the API server (server-side dry run, nothing written); 1 to be re-created (immutable fields changed)",
    ]);
  });
});
