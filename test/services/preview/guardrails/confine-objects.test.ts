/**
 * A pull request's objects held inside the guardrails: what takes a guardrail over is refused, and NetworkPolicies
 * (additive: any allow widens the default deny) are narrowed to the guardrail's peers, each change said.
 */
import { describe, expect, it } from "@jest/globals";
import { loadEnv } from "../../../../src/env.js";
import { cidrWithin, confineObjects } from "../../../../src/services/preview/guardrails/confine-objects.js";
import { guardrailSettings } from "../../../../src/services/preview/guardrails/namespace-guardrails.js";
import type { KubeObject } from "../../../../src/services/shared/preview.js";

const NS = "web-pr-1";
const settings = {
  ...guardrailSettings(loadEnv({})),
  ingressFromNamespaces: ["ingress-nginx"],
  ingressFromCidrs: ["10.225.0.0/24"],
};
const policy = (name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  metadata: { name, namespace: NS },
  spec: { podSelector: {}, ...spec },
});
const FENCE = [
  { podSelector: {} },
  { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } },
  { ipBlock: { cidr: "10.225.0.0/24" } },
];

describe("confineObjects", () => {
  it("refuses a Namespace object and objects named like a guardrail, listing each", () => {
    const objects: KubeObject[] = [
      {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: NS, labels: { "pod-security.kubernetes.io/enforce": "privileged" } },
      },
      {
        apiVersion: "v1",
        kind: "ResourceQuota",
        metadata: { name: "preview-bot-guardrails", namespace: NS },
        spec: { hard: { pods: "5000" } },
      },
      { apiVersion: "v1", kind: "LimitRange", metadata: { name: "preview-bot-guardrails", namespace: NS } },
      policy("preview-bot-guardrails", { ingress: [{}] }),
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "preview-bot", namespace: NS },
      },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "preview-bot-guardrails", namespace: NS } },
    ];
    const r = confineObjects(objects, settings, NS);
    expect(r.problems).toEqual([
      `Namespace "${NS}": the preview namespace belongs to preview-bot; set its labels with namespace.labels in .github/preview.yml`,
      'ResourceQuota "preview-bot-guardrails": the name is preview-bot\'s own guardrail in every preview namespace; rename the object',
      'LimitRange "preview-bot-guardrails": the name is preview-bot\'s own guardrail in every preview namespace; rename the object',
      'NetworkPolicy "preview-bot-guardrails": the name is preview-bot\'s own guardrail in every preview namespace; rename the object',
      'RoleBinding "preview-bot": the name is preview-bot\'s own guardrail in every preview namespace; rename the object',
    ]);
    expect(r.objects.map((o) => o.kind)).toEqual(["ConfigMap"]);
  });

  it("keeps the repository's own quotas, limits and policies that stay inside the guardrail, unchanged", () => {
    const inside = policy("nats", {
      policyTypes: ["Ingress"],
      ingress: [
        { from: [{ podSelector: { matchLabels: { app: "be" } } }], ports: [{ port: 4222 }] },
        { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": NS } }, podSelector: {} }] },
        {
          from: [
            {
              namespaceSelector: {
                matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["ingress-nginx"] }],
              },
            },
          ],
        },
        { from: [{ ipBlock: { cidr: "10.225.0.128/25", except: ["10.225.0.200/32"] } }] },
      ],
    });
    const quota: KubeObject = {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { name: "feature-resource-quota", namespace: NS },
      spec: { hard: { "count/pods": "10" } },
    };
    const r = confineObjects([quota, inside], settings, NS);
    expect(r).toEqual({ objects: [quota, inside], rewrites: [], problems: [] });
  });

  it("narrows a rule that allows every source to the guardrail's, keeping its ports", () => {
    const r = confineObjects(
      [policy("open", { ingress: [{ ports: [{ port: 22 }] }, { from: [], ports: [{ port: 80 }] }] })],
      settings,
      NS,
    );
    expect(r.objects[0]!.spec).toEqual({
      podSelector: {},
      ingress: [
        { from: FENCE, ports: [{ port: 22 }] },
        { from: FENCE, ports: [{ port: 80 }] },
      ],
    });
    expect(r.rewrites).toEqual([
      `NetworkPolicy "open": ingress rule 1 allowed every source: narrowed to the guardrail's (this namespace, namespace ingress-nginx, 10.225.0.0/24)`,
      `NetworkPolicy "open": ingress rule 2 allowed every source: narrowed to the guardrail's (this namespace, namespace ingress-nginx, 10.225.0.0/24)`,
    ]);
  });

  it("narrows peers in other namespaces to this one, and drops address ranges outside the allowed ones", () => {
    const r = confineObjects(
      [
        policy("wide", {
          ingress: [
            {
              from: [
                {
                  namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
                  podSelector: { matchLabels: { rsName: "ama-metrics" } },
                },
              ],
              ports: [{ port: 7777 }],
            },
            { from: [{ namespaceSelector: {} }, { namespaceSelector: { matchLabels: { team: "web" } } }] },
            { from: [{ ipBlock: { cidr: "0.0.0.0/0" } }, { podSelector: { matchLabels: { app: "fe" } } }] },
            { from: [{ ipBlock: { cidr: "10.225.0.0/16" } }] },
          ],
        }),
      ],
      settings,
      NS,
    );
    expect(r.objects[0]!.spec).toEqual({
      podSelector: {},
      ingress: [
        { from: [{ podSelector: { matchLabels: { rsName: "ama-metrics" } } }], ports: [{ port: 7777 }] },
        { from: [{ podSelector: {} }, { podSelector: {} }] },
        { from: [{ podSelector: { matchLabels: { app: "fe" } } }] },
      ],
    });
    expect(r.rewrites).toEqual([
      `NetworkPolicy "wide": ingress rule 1: namespace kube-system: narrowed to this namespace (allowed: ${NS}, ingress-nginx)`,
      `NetworkPolicy "wide": ingress rule 2: namespaces selected by label: narrowed to this namespace (allowed: ${NS}, ingress-nginx); namespaces selected by label: narrowed to this namespace (allowed: ${NS}, ingress-nginx)`,
      'NetworkPolicy "wide": ingress rule 3: address range 0.0.0.0/0 is outside the allowed ranges (10.225.0.0/24): dropped',
      'NetworkPolicy "wide": ingress rule 4: address range 10.225.0.0/16 is outside the allowed ranges (10.225.0.0/24): dropped',
      'NetworkPolicy "wide": ingress rule 4 had nothing left inside the guardrail: removed',
    ]);
  });

  it("never lets a PR's egress rule reach a cloud metadata endpoint, whether egress is open or restricted", () => {
    const open = policy("out", { policyTypes: ["Egress"], egress: [{}] });
    const o = confineObjects([open], settings, NS);
    expect(o.objects[0]!.spec).toMatchObject({
      egress: [
        {
          to: [
            { ipBlock: { cidr: "0.0.0.0/0", except: expect.arrayContaining(["169.254.169.254/32"]) } },
            { ipBlock: { cidr: "::/0", except: expect.arrayContaining(["fd00:ec2::254/128"]) } },
            { namespaceSelector: {} },
          ],
        },
      ],
    });
    expect(o.rewrites).toEqual([
      `NetworkPolicy "out": egress rule 1 allowed every destination: narrowed to the guardrail's (0.0.0.0/0 but the cloud metadata endpoints, ::/0 but the cloud metadata endpoints, every namespace)`,
    ]);
    const imds = policy("imds", {
      policyTypes: ["Egress"],
      egress: [
        { to: [{ ipBlock: { cidr: "169.254.169.254/32" } }] },
        { to: [{ ipBlock: { cidr: "169.254.0.0/16", except: ["169.254.169.254/32"] } }, { namespaceSelector: {} }] },
        { to: [{ ipBlock: { cidr: "fd00::/8" } }] },
      ],
    });
    const i = confineObjects([imds], settings, NS);
    expect((i.objects[0]!.spec as any).egress).toEqual([
      {
        to: [
          {
            ipBlock: {
              cidr: "169.254.0.0/16",
              except: ["169.254.169.254/32", "169.254.169.252/32", "169.254.170.23/32"],
            },
          },
          { namespaceSelector: {} },
        ],
      },
      {
        to: [{ ipBlock: { cidr: "fd00::/8", except: ["fd00:ec2::254/128", "fd00:ec2::23/128", "fd20:ce::254/128"] } }],
      },
    ]);
    expect(i.rewrites).toEqual([
      'NetworkPolicy "imds": egress rule 1: address range 169.254.169.254/32 is a cloud metadata endpoint, which previews never reach: dropped',
      'NetworkPolicy "imds": egress rule 1 had nothing left inside the guardrail: removed',
      'NetworkPolicy "imds": egress rule 2: address range 169.254.0.0/16: the cloud metadata endpoints in it (169.254.169.252/32, 169.254.170.23/32) excepted',
      'NetworkPolicy "imds": egress rule 3: address range fd00::/8: the cloud metadata endpoints in it (fd00:ec2::254/128, fd00:ec2::23/128, fd20:ce::254/128) excepted',
    ]);
    const r = confineObjects([open], { ...settings, egress: "restricted", egressToCidrs: ["10.1.0.0/16"] }, NS);
    expect(r.objects[0]!.spec).toMatchObject({
      egress: [{ to: [{ podSelector: {} }, { ipBlock: { cidr: "10.1.0.0/16" } }] }],
    });
    expect(r.rewrites).toEqual([
      'NetworkPolicy "out": egress rule 1 allowed every destination: narrowed to the guardrail\'s (this namespace, 10.1.0.0/16)',
    ]);
  });

  it("refuses an object named like the quota on system priority classes", () => {
    const quota = { apiVersion: "v1", kind: "ResourceQuota", metadata: { name: "preview-bot-system-priority" } };
    expect(confineObjects([quota], settings, NS).problems).toEqual([
      `ResourceQuota "preview-bot-system-priority": the name is preview-bot's own guardrail in every preview namespace; rename the object`,
    ]);
  });

  it("does not change the objects it is given", () => {
    const input = policy("open", { ingress: [{}] });
    const copy = structuredClone(input);
    confineObjects([input], settings, NS);
    expect(input).toEqual(copy);
  });
});

describe("cidrWithin", () => {
  it.each([
    ["10.225.0.0/24", "10.225.0.0/24", true],
    ["10.225.0.128/25", "10.225.0.0/24", true],
    ["10.225.0.0/16", "10.225.0.0/24", false],
    ["10.226.0.0/24", "10.225.0.0/16", false],
    ["0.0.0.0/0", "10.0.0.0/8", false],
    ["fd00:1::/64", "fd00::/16", true],
    ["fd01::/16", "fd00::/16", false],
    ["10.0.0.0/8", "fd00::/16", false],
    ["nonsense", "10.0.0.0/8", false],
  ])("%s inside %s: %s", (inner, outer, within) => {
    expect(cidrWithin(inner, outer)).toBe(within);
  });
});
