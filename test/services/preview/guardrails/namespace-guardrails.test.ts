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
  guardrailSettings,
  podSecurityLabels,
  resolveGuardrails,
} from "../../../../src/services/preview/guardrails/namespace-guardrails.js";
import { parseQuantity } from "../../../../src/services/preview/quantity.js";

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
      quota: { pods: 20, cpu: "4", memory: "8Gi", storage: "20Gi" },
      defaults: { cpuRequest: "100m", cpuLimit: "1", memoryRequest: "128Mi", memoryLimit: "512Mi" },
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
    expect(() => guardrailSettings(loadEnv({ PREVIEW_DEFAULT_MEMORY_LIMIT: "16Gi" }))).toThrow(
      "PREVIEW_DEFAULT_MEMORY_LIMIT (16Gi) is above PREVIEW_QUOTA_MEMORY (8Gi)",
    );
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
    const [quota, limits, policy] = guardrailObjects("web-pr-1", settings);
    expect(quota).toMatchObject({
      kind: "ResourceQuota",
      metadata: { name: "preview-bot-guardrails", namespace: "web-pr-1" },
      spec: {
        hard: {
          pods: "20",
          "requests.cpu": "4",
          "limits.cpu": "4",
          "requests.memory": "8Gi",
          "limits.memory": "8Gi",
          "requests.storage": "20Gi",
          "services.loadbalancers": "0",
          "services.nodeports": "0",
        },
      },
    });
    expect(limits).toMatchObject({
      kind: "LimitRange",
      spec: {
        limits: [
          {
            type: "Container",
            defaultRequest: { cpu: "100m", memory: "128Mi" },
            default: { cpu: "1", memory: "512Mi" },
          },
        ],
      },
    });
    expect(policy).toMatchObject({
      kind: "NetworkPolicy",
      spec: {
        podSelector: {},
        policyTypes: ["Ingress"],
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
    expect(policy!.spec).not.toHaveProperty("egress");
    expect(describeGuardrails(bounds)).toContain(
      "ingress from the namespace only (no gateway allowed: PREVIEW_INGRESS_FROM_NAMESPACES)",
    );
    expect(describeGuardrails(settings)).toBe(
      "Pod Security baseline; quota 20 pods, 4 CPU, 8Gi memory, 20Gi storage, no LoadBalancers or NodePorts; ingress from the namespace, agc-shared, 10.225.0.0/24; egress open",
    );
  });

  it("with restricted egress: only the namespace, cluster DNS and the allowed ranges", () => {
    const [, , policy] = guardrailObjects("web-pr-1", {
      ...bounds,
      egress: "restricted",
      egressToCidrs: ["10.1.0.0/16"],
    });
    expect(policy!.spec).toMatchObject({
      policyTypes: ["Ingress", "Egress"],
      egress: [
        { to: [{ podSelector: {} }, { ipBlock: { cidr: "10.1.0.0/16" } }] },
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
      ],
    });
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
