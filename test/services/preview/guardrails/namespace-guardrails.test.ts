/**
 * The guardrails as data: the bot's bounds from its settings, a repository's `guardrails` only tightening them, the
 * Pod Security labels, and the objects a preview namespace gets (what the real-server suites then prove admission
 * and the quota enforce).
 */
import { describe, expect, it } from "@jest/globals";
import { parseConfig, type PreviewConfig } from "../../../../src/config.js";
import { loadEnv } from "../../../../src/env.js";
import {
  describeGuardrails,
  guardrailObjects,
  guardrailRoleBinding,
  GUARDRAIL_LABELS,
  guardrailSettings,
  podSecurityLabels,
  resolveGuardrails,
} from "../../../../src/services/preview/guardrails/namespace-guardrails.js";
import { guardedPreview } from "../../../../src/services/preview/guardrails/guarded-preview.js";
import { parseQuantity } from "../../../../src/services/preview/quantity.js";
import { previewNamesFor } from "../../../../src/services/preview/naming.js";

const bounds = guardrailSettings(loadEnv({}));
const repo = (guardrails: unknown): PreviewConfig["guardrails"] => {
  const parsed = parseConfig(JSON.stringify({ manifests: { path: "deploy" }, guardrails }));
  if (!parsed.ok) throw new Error(parsed.errors.join("; "));
  return parsed.config.guardrails;
};

describe("the bot's guardrail settings", () => {
  it("default to baseline Pod Security, a bounded quota, default limits, and egress open", () => {
    expect(bounds).toMatchObject({
      podSecurity: "baseline",
      quota: {
        pods: 20,
        cpu: "4",
        memory: "8Gi",
        storage: "20Gi",
        memoryLimit: "20Gi",
        ephemeralStorage: "20Gi",
        objects: 50,
      },
      defaults: {
        cpuRequest: "100m",
        memoryRequest: "128Mi",
        memoryLimit: "512Mi",
        ephemeralStorageRequest: "100Mi",
        ephemeralStorageLimit: "512Mi",
      },
      egress: "open",
      clusterRole: "preview-bot-previews",
      bot: { namespace: "preview-bot", serviceAccount: "preview-bot" },
    });
  });

  it("refuse a privileged level, and defaults that contradict each other or the quota", () => {
    expect(() => loadEnv({ PREVIEW_POD_SECURITY: "privileged" })).toThrow(/PREVIEW_POD_SECURITY/);
    expect(() => loadEnv({ PREVIEW_QUOTA_CPU: "lots" })).toThrow(/PREVIEW_QUOTA_CPU: must be a Kubernetes quantity/);
    expect(() => loadEnv({ PREVIEW_INGRESS_FROM_CIDRS: "10.0.0.0/8,nonsense" })).toThrow(/PREVIEW_INGRESS_FROM_CIDRS/);
    expect(() =>
      guardrailSettings(loadEnv({ PREVIEW_DEFAULT_CPU_REQUEST: "2", PREVIEW_DEFAULT_CPU_LIMIT: "1" })),
    ).toThrow("PREVIEW_DEFAULT_CPU_REQUEST (2) is above PREVIEW_DEFAULT_CPU_LIMIT (1)");
    expect(() => guardrailSettings(loadEnv({ PREVIEW_DEFAULT_MEMORY_LIMIT: "32Gi" }))).toThrow(
      "PREVIEW_DEFAULT_MEMORY_LIMIT (32Gi) is above PREVIEW_QUOTA_MEMORY_LIMIT (20Gi)",
    );
    expect(() => guardrailSettings(loadEnv({ PREVIEW_EGRESS_TO_CIDRS: "10.0.0.0/8,169.254.169.254/32" }))).toThrow(
      "PREVIEW_EGRESS_TO_CIDRS lists 169.254.169.254/32, a cloud metadata endpoint: previews never reach those",
    );
  });

  it("size the defaults so that containers which set nothing reach the pod count before the quota (issue 22)", () => {
    // The defaults fit: 20 pods of one container on the defaults stay inside every quota.
    const { quota, defaults } = bounds;
    expect(quota.pods * parseQuantity(defaults.cpuRequest)).toBeLessThanOrEqual(parseQuantity(quota.cpu));
    expect(quota.pods * parseQuantity(defaults.memoryLimit)).toBeLessThanOrEqual(parseQuantity(quota.memoryLimit));
    // Ephemeral storage: the pod quota's worth of two-container pods (an app and a sidecar) fits; the old 1Gi default
    // refused the 11th such pod against 20Gi.
    expect(quota.pods * 2 * parseQuantity(defaults.ephemeralStorageLimit)).toBeLessThanOrEqual(
      parseQuantity(quota.ephemeralStorage),
    );
    // No CPU limit is forced on containers that set none.
    expect(defaults.cpuLimit).toBeUndefined();
    // Settings that would multiply into refusals are refused at boot, saying which.
    expect(() => guardrailSettings(loadEnv({ PREVIEW_QUOTA_PODS: "50" }))).toThrow(
      "guardrail settings: PREVIEW_QUOTA_PODS (50) pods of 2 containers on PREVIEW_DEFAULT_CPU_REQUEST (100m) add up to 10, above PREVIEW_QUOTA_CPU (4): an app of small containers that set nothing would be refused before it has 50 pods. Lower the default or raise the quota",
    );
    expect(() =>
      guardrailSettings(loadEnv({ PREVIEW_QUOTA_PODS: "40", PREVIEW_QUOTA_CPU: "8", PREVIEW_QUOTA_MEMORY: "16Gi" })),
    ).toThrow(
      "PREVIEW_QUOTA_PODS (40) pods of 2 containers on PREVIEW_DEFAULT_MEMORY_LIMIT (512Mi) add up to 40Gi, above PREVIEW_QUOTA_MEMORY_LIMIT (20Gi)",
    );
    expect(() => guardrailSettings(loadEnv({ PREVIEW_DEFAULT_EPHEMERAL_STORAGE_LIMIT: "1Gi" }))).toThrow(
      "PREVIEW_QUOTA_PODS (20) pods of 2 containers on PREVIEW_DEFAULT_EPHEMERAL_STORAGE_LIMIT (1Gi) add up to 40Gi, above PREVIEW_QUOTA_EPHEMERAL_STORAGE (20Gi)",
    );
  });

  it("derive the ephemeral-storage limit from the quota unless the operator sets one (issue 22)", () => {
    const limit = (env: Record<string, string>) => guardrailSettings(loadEnv(env)).defaults.ephemeralStorageLimit;
    // The quota shared by the pod quota's worth of two-container pods, in whole Mi.
    expect(limit({})).toBe("512Mi");
    expect(limit({ PREVIEW_QUOTA_EPHEMERAL_STORAGE: "40Gi" })).toBe("1024Mi");
    expect(limit({ PREVIEW_QUOTA_PODS: "10" })).toBe("1024Mi");
    expect(limit({ PREVIEW_QUOTA_PODS: "30", PREVIEW_QUOTA_CPU: "6", PREVIEW_QUOTA_MEMORY_LIMIT: "30Gi" })).toBe(
      "341Mi",
    );
    // The operator's own value, when it fits; an emptyDir without a sizeLimit gets the same.
    expect(limit({ PREVIEW_DEFAULT_EPHEMERAL_STORAGE_LIMIT: "256Mi" })).toBe("256Mi");
    expect(guardrailSettings(loadEnv({})).neighbours.emptyDir.disk).toBe("512Mi");
  });

  it("let the gateways' namespaces reach previews without a setting of their own", () => {
    const s = guardrailSettings(
      loadEnv({ PREVIEW_GATEWAY: "gateway-system/previews/https", PREVIEW_ALLOWED_GATEWAYS: "internal-gw/internal" }),
    );
    expect(s.ingressFromNamespaces).toEqual(["gateway-system", "internal-gw"]);
    expect(s.neighbours.gateways).toEqual([
      { namespace: "gateway-system", name: "previews" },
      { namespace: "internal-gw", name: "internal" },
    ]);
    // And a repository's own route.parentRefs (when the operator lists no gateways).
    const parsed = parseConfig(
      JSON.stringify({
        manifests: { path: "deploy" },
        route: { host: "{name}.example.com", parentRefs: [{ name: "gw", namespace: "edge" }] },
      }),
    );
    if (!parsed.ok) throw new Error(parsed.errors.join());
    const { settings } = resolveGuardrails(bounds, parsed.config.guardrails, parsed.config.route);
    expect(settings.ingressFromNamespaces).toEqual(["edge"]);
    expect(settings.neighbours.ingressFrom.namespaces).toEqual(["edge"]);
  });
});

describe("a repository's guardrails", () => {
  it("tighten the bot's bounds", () => {
    const { settings, notes } = resolveGuardrails(
      bounds,
      repo({
        podSecurity: "restricted",
        egress: "restricted",
        quota: { pods: 5, cpu: "1500m", memory: "2Gi", storage: 1 },
      }),
    );
    expect(settings).toMatchObject({
      podSecurity: "restricted",
      egress: "restricted",
      quota: { pods: 5, cpu: "1500m", memory: "2Gi", storage: "1" },
    });
    expect(notes).toEqual([]);
  });

  it("never loosen them: a looser value is lowered to the bot's, and each one is said", () => {
    const strict = { ...bounds, podSecurity: "restricted" as const, egress: "restricted" as const };
    const { settings, notes } = resolveGuardrails(
      strict,
      repo({ podSecurity: "baseline", egress: "open", quota: { pods: 5000, cpu: 64, memory: "1Ti", storage: "19Gi" } }),
    );
    expect(settings).toMatchObject({
      podSecurity: "restricted",
      egress: "restricted",
      quota: { pods: 20, cpu: "4", memory: "8Gi", storage: "19Gi" },
    });
    expect(notes).toEqual([
      "guardrails.podSecurity baseline is looser than the bot's restricted: restricted applies",
      "guardrails.egress open is looser than the bot's restricted: restricted applies",
      "guardrails.quota.pods 5000 is above the bot's bound of 20: 20 applies",
      "guardrails.quota.cpu 64 is above the bot's bound of 4: 4 applies",
      "guardrails.quota.memory 1Ti is above the bot's bound of 8Gi: 8Gi applies",
    ]);
  });

  it("may not set Pod Security or ownership labels on the namespace, nor unknown guardrail fields (config errors)", () => {
    const bad = parseConfig(
      "manifests: { path: deploy }\nnamespace:\n  labels:\n    pod-security.kubernetes.io/enforce: privileged\nguardrails:\n  podSecurity: privileged\n  quota: { cpu: lots, gpus: 1 }\n",
    );
    expect(bad.ok).toBe(false);
    const errors = bad.ok ? [] : bad.errors;
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^namespace\.labels: pod-security\.kubernetes\.io\/\*, preview-bot\.dev\/\* and app\.kubernetes\.io\/managed-by are set by preview-bot/,
        ),
        expect.stringMatching(/^guardrails\.podSecurity: /),
        expect.stringMatching(/^guardrails\.quota\.cpu: must be a Kubernetes quantity/),
        'guardrails.quota: unknown field "gpus"; known: pods, cpu, memory, storage',
      ]),
    );
  });
});

describe("what a preview namespace gets", () => {
  it("Pod Security: enforce at the level, restricted warned and audited, at the latest version", () => {
    expect(podSecurityLabels("baseline")).toEqual({
      "pod-security.kubernetes.io/enforce": "baseline",
      "pod-security.kubernetes.io/enforce-version": "latest",
      "pod-security.kubernetes.io/warn": "restricted",
      "pod-security.kubernetes.io/warn-version": "latest",
      "pod-security.kubernetes.io/audit": "restricted",
      "pod-security.kubernetes.io/audit-version": "latest",
    });
  });

  it("a RoleBinding of the preview ClusterRole to the bot's own ServiceAccount only", () => {
    expect(guardrailRoleBinding(bounds)).toEqual({
      name: "preview-bot",
      clusterRole: "preview-bot-previews",
      subjects: [{ kind: "ServiceAccount", name: "preview-bot", namespace: "preview-bot" }],
      labels: { "app.kubernetes.io/managed-by": "preview-bot", "preview-bot.dev/guardrail": "true" },
    });
  });

  it("a quota with no LoadBalancers or NodePorts, default limits, and ingress from the namespace and the gateway only", () => {
    const settings = { ...bounds, ingressFromNamespaces: ["agc-shared"], ingressFromCidrs: ["10.225.0.0/24"] };
    const [quota, priority, limits, policy] = guardrailObjects("web-pr-1", settings);
    expect(quota).toMatchObject({
      kind: "ResourceQuota",
      metadata: { name: "preview-bot-guardrails", namespace: "web-pr-1" },
      spec: {
        hard: {
          pods: "20",
          "requests.cpu": "4",
          "requests.memory": "8Gi",
          "limits.memory": "20Gi",
          "requests.storage": "20Gi",
          "requests.ephemeral-storage": "20Gi",
          "limits.ephemeral-storage": "20Gi",
          "services.loadbalancers": "0",
          "services.nodeports": "0",
          "count/configmaps": "50",
          "count/secrets": "50",
          "count/deployments.apps": "50",
          "count/ingresses.networking.k8s.io": "50",
        },
      },
    });
    // CPU limits are neither defaulted nor counted: one per container adds up to a refusal (issue 22).
    expect(quota!.spec).not.toHaveProperty(["hard", "limits.cpu"]);
    expect(priority).toEqual({
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "preview-bot-system-priority", namespace: "web-pr-1", labels: GUARDRAIL_LABELS },
      spec: {
        hard: { pods: "0" },
        scopeSelector: {
          matchExpressions: [
            { scopeName: "PriorityClass", operator: "In", values: ["system-node-critical", "system-cluster-critical"] },
          ],
        },
      },
    });
    expect(limits).toEqual(
      expect.objectContaining({
        kind: "LimitRange",
        spec: {
          limits: [
            {
              type: "Container",
              defaultRequest: { cpu: "100m", memory: "128Mi", "ephemeral-storage": "100Mi" },
              default: { memory: "512Mi", "ephemeral-storage": "512Mi" },
            },
          ],
        },
      }),
    );
    expect(policy).toMatchObject({
      kind: "NetworkPolicy",
      spec: {
        podSelector: {},
        policyTypes: ["Ingress", "Egress"],
        ingress: [
          {
            from: [
              { podSelector: {} },
              { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "agc-shared" } } },
              { ipBlock: { cidr: "10.225.0.0/24" } },
            ],
          },
        ],
      },
    });
    expect(describeGuardrails(bounds)).toContain(
      "ingress from the namespace only (no gateway allowed: PREVIEW_INGRESS_FROM_NAMESPACES)",
    );
    expect(describeGuardrails(settings)).toBe(
      "Pod Security baseline; quota 20 pods, 4 CPU, 8Gi memory (20Gi limits), 20Gi storage, 20Gi ephemeral storage, 50 objects per kind, no LoadBalancers or NodePorts, no system priority; ingress from the namespace, agc-shared, 10.225.0.0/24; egress open (cloud metadata blocked)",
    );
  });

  it("with open egress: everywhere but the cloud metadata endpoints, IPv4 and IPv6; Azure's DNS stays open", () => {
    const [, , , policy] = guardrailObjects("web-pr-1", bounds);
    expect(policy!.spec).toMatchObject({
      policyTypes: ["Ingress", "Egress"],
      egress: [
        {
          to: [
            {
              ipBlock: {
                cidr: "0.0.0.0/0",
                except: ["169.254.169.254/32", "169.254.169.252/32", "169.254.170.23/32", "168.63.129.16/32"],
              },
            },
            { ipBlock: { cidr: "::/0", except: ["fd00:ec2::254/128", "fd00:ec2::23/128", "fd20:ce::254/128"] } },
            { namespaceSelector: {} },
          ],
        },
        {
          to: [{ ipBlock: { cidr: "168.63.129.16/32" } }],
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
      ],
    });
  });

  it("with restricted egress: only the namespace, cluster DNS and the allowed ranges (metadata excepted)", () => {
    const [, , , policy] = guardrailObjects("web-pr-1", {
      ...bounds,
      egress: "restricted",
      egressToCidrs: ["10.1.0.0/16", "169.254.0.0/16"],
    });
    expect(policy!.spec).toMatchObject({
      policyTypes: ["Ingress", "Egress"],
      egress: [
        {
          to: [
            { podSelector: {} },
            { ipBlock: { cidr: "10.1.0.0/16" } },
            {
              ipBlock: {
                cidr: "169.254.0.0/16",
                except: ["169.254.169.254/32", "169.254.169.252/32", "169.254.170.23/32"],
              },
            },
          ],
        },
        {
          to: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
              podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
            },
          ],
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
        // Pods with dnsPolicy Default resolve through Azure's resolver: port 53 of the WireServer only.
        { to: [{ ipBlock: { cidr: "168.63.129.16/32" } }] },
      ],
    });
  });
});

describe("a repository's own quota", () => {
  it("that counts CPU limits gets a default CPU limit from the LimitRange, and the check run says so", () => {
    const parsed = parseConfig("manifests: { path: deploy }\n");
    if (!parsed.ok) throw new Error(parsed.errors.join());
    const names = previewNamesFor(
      { owner: "acme", repo: "web", number: 1, branch: "b", sha: "a".repeat(40) },
      parsed.config,
    );
    const own = {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "team-quota" },
      spec: { hard: { "limits.cpu": "2" } },
    };
    const limits = (g: ReturnType<typeof guardedPreview>) => g.guardrails.find((o) => o.kind === "LimitRange")!.spec;
    const without = guardedPreview([], names, parsed.config, bounds);
    expect(limits(without)).toMatchObject({ limits: [{ default: { memory: "512Mi", "ephemeral-storage": "512Mi" } }] });
    expect((limits(without) as any).limits[0].default).not.toHaveProperty("cpu");
    const withOwn = guardedPreview([own], names, parsed.config, bounds);
    expect((limits(withOwn) as any).limits[0].default).toMatchObject({ cpu: "1" });
    expect(withOwn.notes).toEqual([
      'ResourceQuota "team-quota" counts limits.cpu, so containers that set no CPU limit get 1 from the LimitRange (the bot sets none otherwise)',
    ]);
  });
});

describe("parseQuantity", () => {
  it.each([
    ["500m", 0.5],
    ["2", 2],
    ["1.5", 1.5],
    ["512Mi", 512 * 2 ** 20],
    ["8Gi", 8 * 2 ** 30],
    ["1G", 1e9],
    ["1e3", 1000],
    ["1Ti", 2 ** 40],
  ])("%s is %d", (text, value) => {
    expect(parseQuantity(text)).toBe(value);
  });

  it("refuses what is not a quantity", () => {
    expect(() => parseQuantity("4 cores")).toThrow('"4 cores" is not a Kubernetes quantity');
  });
});
