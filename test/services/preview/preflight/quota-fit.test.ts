/**
 * The offline quota check: what the namespace will hold (workloads' pods with LimitRange defaults × replicas, counts,
 * storage) against every ResourceQuota among the objects, as the API server's admission would count it.
 */
import { describe, expect, it } from "@jest/globals";
import { loadEnv } from "../../../../src/env.js";
import {
  guardrailObjects,
  guardrailSettings,
} from "../../../../src/services/preview/guardrails/namespace-guardrails.js";
import {
  podResources,
  containerLimits,
  formatAmount,
} from "../../../../src/services/preview/preflight/pod-resources.js";
import { fitQuotas } from "../../../../src/services/preview/preflight/quota-fit.js";
import { milli } from "../../../../src/services/preview/preflight/pod-resources.js";
import type { KubeObject } from "../../../../src/services/shared/preview.js";

type Res = { requests?: Record<string, string>; limits?: Record<string, string> };
const container = (name: string, resources?: Res) => ({ name, image: "x", ...(resources ? { resources } : {}) });
function workload(
  kind: string,
  name: string,
  replicas: number | undefined,
  containers: unknown[],
  extra: Record<string, unknown> = {},
): KubeObject {
  const template = { metadata: { labels: { app: name } }, spec: { containers, ...extra } };
  if (kind === "Job") return { apiVersion: "batch/v1", kind, metadata: { name }, spec: { template } };
  return {
    apiVersion: kind === "ReplicationController" ? "v1" : "apps/v1",
    kind,
    metadata: { name },
    spec: { ...(replicas === undefined ? {} : { replicas }), template },
  };
}
const quota = (name: string, hard: Record<string, string>, spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: "v1",
  kind: "ResourceQuota",
  metadata: { name },
  spec: { hard, ...spec },
});
const limitRange = (name: string, item: Record<string, unknown>): KubeObject => ({
  apiVersion: "v1",
  kind: "LimitRange",
  metadata: { name },
  spec: { limits: [{ type: "Container", ...item }] },
});
const RAISE = "ask the operator";
const fit = (objects: KubeObject[]) => fitQuotas({ objects, raise: () => RAISE });

describe("pod resources", () => {
  it("follow the API server: limits default the requests, LimitRange defaults fill the rest, init containers peak, sidecars add", () => {
    const ranges = containerLimits(
      [
        {
          name: "lr",
          spec: limitRange("lr", { default: { cpu: "1", memory: "512Mi" }, defaultRequest: { cpu: "100m" } }).spec,
        },
      ],
      [],
    );
    const pod = podResources(
      {
        initContainers: [
          container("migrate", { requests: { cpu: "2" }, limits: { cpu: "2" } }),
          { ...container("proxy", { requests: { cpu: "250m", memory: "64Mi" } }), restartPolicy: "Always" },
        ],
        containers: [container("web", { limits: { cpu: "500m" } }), container("worker")],
      },
      ranges,
      "Deployment x",
    );
    // web: request = its limit (500m); worker: default request 100m, memory request from the default limit (512Mi).
    // Main 600m + sidecar 250m = 850m; the migrate init container alone needs 2 CPU: the pod reserves 2 CPU.
    expect(formatAmount("cpu", pod.requests.get("cpu")!)).toBe("2 CPU");
    expect(formatAmount("memory", pod.requests.get("memory")!)).toBe("1.06Gi");
    expect(formatAmount("cpu", pod.limits.get("cpu")!)).toBe("2.5 CPU");
    expect(pod.containers.find((c) => c.name === "worker")?.defaulted.get("limits.cpu")).toBe("lr");
    expect(pod.problems).toEqual([]);
  });

  it("say when a request is above the limit a LimitRange default gives (the pod would be invalid)", () => {
    const ranges = containerLimits([{ name: "lr", spec: limitRange("lr", { default: { cpu: "1" } }).spec }], []);
    const pod = podResources(
      { containers: [container("big", { requests: { cpu: "2" } })] },
      ranges,
      'Deployment "big"',
    );
    expect(pod.problems).toEqual([
      'Deployment "big": container "big" requests 2 CPU of cpu but its limit is 1 CPU (the default of LimitRange "lr"): set resources.limits.cpu at least as high as the request',
    ]);
  });
  it("count pod-level resources as the pod's total, and refuse a pod whose containers' LimitRange defaults exceed them", () => {
    // KubernetesMOOC's CronJob sets its resources on the pod, not the container (kube-apiserver v1.37 then answers
    // 422: "spec.resources.containers[0][cpu].limits: must be less than or equal to pod limits of 200m").
    const ranges = containerLimits(
      [
        {
          name: "lr",
          spec: limitRange("lr", { default: { cpu: "1" }, defaultRequest: { cpu: "100m", memory: "128Mi" } }).spec,
        },
      ],
      [],
    );
    const podSpec = (containers: unknown[]) => ({
      resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
      containers,
    });
    const refused = podResources(podSpec([container("cron")]), ranges, 'CronJob "cron"');
    expect(refused.problems).toEqual([
      'CronJob "cron": container "cron" has a cpu limit of 1 CPU (the default of LimitRange "lr"), above the pod\'s resources.limits.cpu 200m CPU, so the API server refuses its pods: set the container\'s own resources.limits.cpu (containers[].resources), not only the pod\'s',
      "CronJob \"cron\": its containers request 100m CPU of cpu (LimitRange defaults included), more than the pod's resources.requests.cpu 50m CPU, so the API server refuses its pods: set the containers' own resources.requests.cpu (containers[].resources), or raise the pod's",
      "CronJob \"cron\": its containers request 128Mi of memory (LimitRange defaults included), more than the pod's resources.requests.memory 64Mi, so the API server refuses its pods: set the containers' own resources.requests.memory (containers[].resources), or raise the pod's",
    ]);
    // The pod-level values are what the quota counts.
    expect(formatAmount("cpu", refused.limits.get("cpu")!)).toBe("200m CPU");
    expect(formatAmount("memory", refused.requests.get("memory")!)).toBe("64Mi");

    const fits = podResources(
      podSpec([
        container("cron", { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } }),
      ]),
      ranges,
      'CronJob "cron"',
    );
    expect(fits.problems).toEqual([]);
    expect(formatAmount("cpu", fits.requests.get("cpu")!)).toBe("50m CPU");
    // Without a LimitRange, a quota on limits.memory is satisfied by the pod's own limit.
    const r = fit([
      quota("q", { "limits.memory": "1Gi" }),
      workload("Deployment", "web", 1, [container("web")], { resources: { limits: { memory: "256Mi" } } }),
    ]);
    expect(r.problems).toEqual([]);
    expect(r.usage).toEqual(['ResourceQuota "q": limits.memory 256Mi of 1Gi']);
  });
});

describe("fitQuotas", () => {
  const defaults = limitRange("defaults", {
    default: { cpu: "1", memory: "512Mi" },
    defaultRequest: { cpu: "100m", memory: "128Mi" },
  });
  const guard = quota("guard", { pods: "20", "requests.cpu": "4", "limits.cpu": "4", "limits.memory": "8Gi" });

  it("refuses an app whose defaulted limits multiply past the quota, naming each workload and what to set", () => {
    // kubernetes/examples guestbook: six small containers, none with limits: 6 × the 1-CPU default > 4.
    const r = fit([
      guard,
      defaults,
      workload("Deployment", "frontend", 3, [container("php-redis", { requests: { cpu: "100m", memory: "100Mi" } })]),
      workload("Deployment", "redis-replica", 2, [
        container("replica", { requests: { cpu: "100m", memory: "100Mi" } }),
      ]),
      workload("Deployment", "redis-leader", 1, [container("leader", { requests: { cpu: "100m", memory: "100Mi" } })]),
    ]);
    expect(r.problems).toEqual([
      '3 Deployments ask 6 CPU of limits.cpu; ResourceQuota "guard" allows 4 CPU: Deployment "frontend" 3 × 1 CPU (a LimitRange default), Deployment "redis-replica" 2 × 1 CPU (a LimitRange default), Deployment "redis-leader" 1 × 1 CPU (a LimitRange default). Set lower resources.limits.cpu, or ask the operator',
    ]);
    expect(r.usage).toEqual([
      'ResourceQuota "guard": pods 6 of 20, requests.cpu 600m CPU of 4 CPU, limits.cpu 6 CPU of 4 CPU, limits.memory 3Gi of 8Gi',
    ]);
  });

  it("passes the same app once its containers set limits that fit", () => {
    const small = { requests: { cpu: "100m", memory: "100Mi" }, limits: { cpu: "500m", memory: "256Mi" } };
    const r = fit([
      guard,
      defaults,
      workload("Deployment", "frontend", 3, [container("php-redis", small)]),
      workload("ReplicationController", "redis", 2, [container("redis", small)]),
    ]);
    expect(r).toMatchObject({ problems: [], warnings: [] });
  });

  it("counts an HPA's minReplicas when it is larger than replicas, a Job's parallelism, and no replicas as one", () => {
    const one = { requests: { cpu: "1" }, limits: { cpu: "1" } };
    const r = fit([
      quota("q", { "requests.cpu": "5" }),
      workload("Deployment", "web", 1, [container("web", one)]),
      {
        apiVersion: "autoscaling/v2",
        kind: "HorizontalPodAutoscaler",
        metadata: { name: "web" },
        spec: {
          scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
          minReplicas: 3,
          maxReplicas: 5,
        },
      },
      workload("StatefulSet", "db", undefined, [container("db", one)]),
      {
        ...workload("Job", "migrate", 1, [container("m", one)]),
        spec: { parallelism: 2, template: { spec: { containers: [container("m", one)] } } },
      },
    ]);
    expect(r.problems).toEqual([
      '1 Deployment, 1 StatefulSet and 1 Job ask 6 CPU of requests.cpu; ResourceQuota "q" allows 5 CPU: Deployment "web" 3 × 1 CPU, Job "migrate" 2 × 1 CPU, StatefulSet "db" 1 × 1 CPU. Set lower resources.requests.cpu, or ask the operator',
    ]);
  });

  it("refuses pods a quota tracks a resource of when they set none and no LimitRange defaults it", () => {
    const r = fit([quota("q", { "limits.memory": "1Gi" }), workload("Deployment", "web", 1, [container("web")])]);
    expect(r.problems).toEqual([
      'Deployment "web": container "web" sets no resources.limits.memory and no LimitRange gives a default; ResourceQuota "q" tracks limits.memory, so its pods would be refused: set resources.limits.memory',
    ]);
  });

  it("counts what the cluster and controllers add: kube-root-ca.crt, a ReplicaSet per Deployment, claims of StatefulSets", () => {
    const sts: KubeObject = {
      ...workload("StatefulSet", "db", 3, [container("db")]),
    };
    (sts.spec as Record<string, unknown>).volumeClaimTemplates = [
      { metadata: { name: "data" }, spec: { storageClassName: "fast", resources: { requests: { storage: "5Gi" } } } },
    ];
    const r = fit([
      quota("q", {
        "count/configmaps": "1",
        "count/replicasets.apps": "1",
        "requests.storage": "10Gi",
        "fast.storageclass.storage.k8s.io/requests.storage": "20Gi",
        persistentvolumeclaims: "3",
      }),
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings" } },
      workload("Deployment", "web", 1, [container("web")]),
      sts,
    ]);
    expect(r.problems.map((p) => p.split(";")[0])).toEqual([
      "2 ConfigMaps ask 2 of count/configmaps",
      "1 StatefulSet asks 15Gi of requests.storage",
    ]);
  });

  it("counts only the pods in a scoped quota's scope, and leaves a scope it does not model to the cluster", () => {
    const one = { requests: { cpu: "1" }, limits: { cpu: "1" } };
    const r = fit([
      quota(
        "high",
        { pods: "1" },
        { scopeSelector: { matchExpressions: [{ scopeName: "PriorityClass", operator: "In", values: ["high"] }] } },
      ),
      quota("odd", { pods: "0" }, { scopes: ["CrossNamespacePodAffinity"] }),
      workload("Deployment", "web", 2, [container("web", one)]),
      workload("Deployment", "urgent", 2, [container("u", one)], { priorityClassName: "high" }),
    ]);
    expect(r.problems).toEqual([
      '1 Deployment asks 2 of pods; ResourceQuota "high" allows 1: Deployment "urgent" 2 × 1. Set fewer replicas, or ask the operator',
    ]);
    expect(r.notes).toEqual([
      'ResourceQuota "odd" has scope CrossNamespacePodAffinity, which preview-bot does not evaluate offline; the cluster checks it',
    ]);
  });

  it("warns when it fits but a Deployment could not roll out a new version (no room to surge, maxUnavailable 0)", () => {
    const one = { requests: { cpu: "1" }, limits: { cpu: "1" } };
    const r = fit([quota("q", { "requests.cpu": "2" }), workload("Deployment", "web", 2, [container("web", one)])]);
    expect(r.problems).toEqual([]);
    expect(r.warnings).toEqual([
      'fits ResourceQuota "q" (requests.cpu 2 CPU of 2 CPU), but rolling out a new version needs 3 CPU: Deployment "web" surges before an old pod stops (maxUnavailable is 0: set so, or the default 25% rounded down), so a later push would wait on the quota; set strategy.rollingUpdate.maxSurge: 0 and maxUnavailable: 1 (or strategy.type: Recreate), or ask the operator',
    ]);
    const recreate = workload("Deployment", "web", 2, [container("web", one)]);
    (recreate.spec as Record<string, unknown>).strategy = { type: "Recreate" };
    expect(fit([quota("q", { "requests.cpu": "2" }), recreate]).warnings).toEqual([]);
  });

  it("reads the bot's own guardrails as they are applied: whatever the settings, an app just over the quota is refused", () => {
    const settings = guardrailSettings(loadEnv({}));
    const fence = guardrailObjects("pr-1", settings);
    const hard = (fence.find((o) => o.kind === "ResourceQuota")!.spec as { hard: Record<string, string> }).hard;
    const key = hard["requests.cpu"] !== undefined ? "requests.cpu" : "requests.memory";
    const resource = key.slice("requests.".length);
    // Two replicas, each more than half the quota.
    const each = String(Math.floor(milli(hard[key]!) / 2000) + 1);
    const r = fitQuotas({
      objects: [
        ...fence,
        workload("Deployment", "big", 2, [
          container("big", { requests: { [resource]: each }, limits: { [resource]: each } }),
        ]),
      ],
      raise: () => RAISE,
    });
    expect(
      r.problems.some(
        (p) => p.startsWith(`1 Deployment asks `) && p.includes(`of ${key}; ResourceQuota "preview-bot-guardrails"`),
      ),
    ).toBe(true);
  });
});
