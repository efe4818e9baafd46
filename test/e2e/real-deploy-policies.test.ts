/**
 * deploy/'s NetworkPolicies for the bot's own namespace on a real kube-apiserver: the API server accepts them as
 * rendered (named ports, selectors) and stores what they say. kwok enforces no network policy, so what they let
 * through is asserted on the stored objects; a CNI that enforces NetworkPolicy then holds them.
 */
import { afterAll, expect, it } from "@jest/globals";
import { apiRequest, describeWithRealCluster } from "../support/kube-real/index.js";
import { renderDeployBase } from "./real-rbac-support.js";

const NS = `np-${Date.now().toString(36)}`;

describeWithRealCluster("deploy/'s NetworkPolicies on a real API server", (cluster) => {
  const admin = (method: string, p: string, body?: unknown) =>
    apiRequest(cluster(), cluster().adminToken, method, p, body);

  afterAll(async () => {
    await admin("DELETE", `/api/v1/namespaces/${NS}`);
  });

  it("are accepted and stored as written: default deny, the bot's port from the ingress and Prometheus namespaces, the renderer from the bot only", async () => {
    const policies = (await renderDeployBase()).filter((o) => o.kind === "NetworkPolicy");
    expect(policies.map((p) => p.metadata.name).sort()).toEqual([
      "preview-bot",
      "preview-bot-default-deny",
      "preview-bot-renderer",
    ]);
    expect((await admin("POST", "/api/v1/namespaces", { metadata: { name: NS } })).status).toBe(201);
    for (const p of policies) {
      const created = await admin("POST", `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`, {
        ...p,
        metadata: { ...p.metadata, namespace: NS },
      });
      expect({ name: p.metadata.name, status: created.status }).toEqual({ name: p.metadata.name, status: 201 });
    }
    const stored = JSON.parse((await admin("GET", `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`)).body)
      .items as Array<{ metadata: { name: string }; spec: Record<string, unknown> }>;
    const byName = Object.fromEntries(stored.map((p) => [p.metadata.name, p.spec]));
    expect(byName["preview-bot-default-deny"]).toEqual({ podSelector: {}, policyTypes: ["Ingress"] });
    expect(byName["preview-bot"]).toMatchObject({
      podSelector: { matchLabels: { "app.kubernetes.io/component": "bot" } },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } }],
          ports: [{ port: "http", protocol: "TCP" }],
        },
        {
          from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
          ports: [{ port: "http", protocol: "TCP" }],
        },
      ],
    });
    expect(byName["preview-bot-renderer"]).toMatchObject({
      policyTypes: ["Ingress", "Egress"],
      ingress: [{ from: [{ podSelector: { matchLabels: { "app.kubernetes.io/component": "bot" } } }] }],
    });
  });
});
