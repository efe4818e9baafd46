/**
 * The preflight's offline half as a deploy and `preview-bot render` run it: protected namespaces, quotas read from
 * the guardrails as applied (and who can raise them), Pod Security at the level the namespace enforces, kinds
 * against the bot's RBAC as shipped, every refusal at once with the file it came from.
 */
import { describe, expect, it } from "@jest/globals";
import { loadEnv } from "../../../../src/env.js";
import {
  guardrailObjects,
  guardrailSettings,
  resolveGuardrails,
} from "../../../../src/services/preview/guardrails/namespace-guardrails.js";
import { preflightOffline, originsOf } from "../../../../src/services/preview/preflight/offline.js";
import { readRbacRules } from "../../../../src/services/preview/preflight/rbac-rules.js";
import type { KubeObject } from "../../../../src/services/shared/preview.js";
import { parseConfig } from "../../../../src/config.js";

const NS = "pr-7";
const bounds = guardrailSettings(loadEnv({}));
const repo = (yaml: string) => {
  const r = parseConfig(`manifests: { path: deploy }\n${yaml}`);
  if (!r.ok) throw new Error(r.errors.join("; "));
  return resolveGuardrails(bounds, r.config.guardrails).settings;
};
const deployment = (name: string, replicas: number, container: Record<string, unknown>): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, namespace: NS },
  spec: { replicas, template: { spec: { containers: [{ name, image: "x", ...container }] } } },
});

function run(objects: KubeObject[], opts: { settings?: typeof bounds; namespace?: string; rbac?: boolean } = {}) {
  const settings = opts.settings ?? bounds;
  return (async () =>
    preflightOffline({
      namespace: opts.namespace ?? NS,
      guardrails: guardrailObjects(NS, settings),
      objects,
      origins: originsOf(
        objects,
        objects.map((o) => `deploy/${o.metadata.name}.yaml, document 1`),
      ),
      settings,
      bounds,
      protectedNamespaces: ["production"],
      ...(opts.rbac ? { rbac: await readRbacRules() } : {}),
    }))();
}

describe("the offline preflight", () => {
  it("refuses an API version Kubernetes removed (podinfo's autoscaling/v2beta2 HPA), naming its file and the one to write", async () => {
    const hpa = (apiVersion: string): KubeObject => ({
      apiVersion,
      kind: "HorizontalPodAutoscaler",
      metadata: { name: "podinfo", namespace: NS },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "podinfo" },
        minReplicas: 2,
        maxReplicas: 3,
      },
    });
    expect((await run([hpa("autoscaling/v2beta2")])).problems).toEqual([
      'HorizontalPodAutoscaler "podinfo" (deploy/podinfo.yaml, document 1): autoscaling/v2beta2 HorizontalPodAutoscaler was removed in Kubernetes 1.26 (no cluster preview-bot supports serves it): write apiVersion: autoscaling/v2',
    ]);
    expect((await run([hpa("autoscaling/v2")])).problems).toEqual([]);
  });

  it("refuses env values that are not strings and ports without a number (Helm values rendered unquoted or unset)", async () => {
    // microservices-demo's chart renders `value: false`; kube-apiserver answers that apply with a 500, not a refusal.
    const frontend = deployment("frontend", 1, {
      env: [
        { name: "CYMBAL_BRANDING", value: false },
        { name: "PORT", value: 8080 },
        { name: "MODE", value: "demo" },
        { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      ],
      ports: [{ containerPort: 8080 }],
    });
    // argocd-example-apps' helm-guestbook with a values.yaml that does not set containerPort.
    const guestbook = deployment("guestbook", 1, { ports: [{ name: "http", containerPort: null }] });
    expect((await run([frontend, guestbook])).problems).toEqual([
      'Deployment "frontend" (deploy/frontend.yaml, document 1): container "frontend": env CYMBAL_BRANDING has the boolean value false; the API server takes strings only: quote it ("false"), with `| quote` in a Helm template',
      'Deployment "frontend" (deploy/frontend.yaml, document 1): container "frontend": env PORT has the number value 8080; the API server takes strings only: quote it ("8080"), with `| quote` in a Helm template',
      'Deployment "guestbook" (deploy/guestbook.yaml, document 1): container "guestbook": ports[0] ("http") has containerPort null; it must be a port number from 1 to 65535 (in a Helm chart, a value that is not set renders null)',
    ]);
  });

  it("refuses a protected preview namespace: kube-*, default and the configured ones", async () => {
    for (const namespace of ["kube-system-1", "default", "production"])
      expect((await run([], { namespace })).problems).toEqual([
        `namespace "${namespace}" is protected (default, kube-*, PROTECTED_NAMESPACES or protectedNamespaces): preview-bot never deploys into it; choose a names.namespace pattern in .github/preview.yml that does not produce it`,
      ]);
  });

  it("names the workloads that do not fit the guardrail quota, their files, and the setting to raise", async () => {
    const hard = (guardrailObjects(NS, bounds).find((o) => o.kind === "ResourceQuota")!.spec as any).hard as Record<
      string,
      string
    >;
    const pods = Number(hard.pods);
    const r = await run([deployment("crowd", pods + 1, {})]);
    expect(r.problems).toContain(
      `1 Deployment asks ${pods + 1} of pods; ResourceQuota "preview-bot-guardrails" allows ${pods}: Deployment "crowd" (deploy/crowd.yaml, document 1) ${pods + 1} × 1. Set fewer replicas, or ask preview-bot's operator to raise PREVIEW_QUOTA_PODS`,
    );
  });

  it("says to raise the repository's own guardrails.quota when the repository tightened it", async () => {
    const r = await run([deployment("web", 3, {})], { settings: repo("guardrails: { quota: { pods: 2 } }") });
    expect(r.problems).toContain(
      `1 Deployment asks 3 of pods; ResourceQuota "preview-bot-guardrails" allows 2: Deployment "web" (deploy/web.yaml, document 1) 3 × 1. Set fewer replicas, or raise guardrails.quota.pods in .github/preview.yml (now 2; preview-bot allows up to ${bounds.quota.pods})`,
    );
  });

  it("checks Pod Security at the level the namespace enforces (a repository's restricted)", async () => {
    const r = await run([deployment("web", 1, {})], { settings: repo("guardrails: { podSecurity: restricted }") });
    expect(r.problems).toContain(
      `Deployment "web" (deploy/web.yaml, document 1): container "web" must set securityContext.allowPrivilegeEscalation: false (the namespace enforces Pod Security "restricted", so its pods would be refused)`,
    );
    expect((await run([deployment("web", 1, {})])).problems).toEqual([]);
  });

  it("with the RBAC as shipped, refuses a kind the bot may not apply, and allows ReplicationControllers", async () => {
    const cert: KubeObject = {
      apiVersion: "cert-manager.io/v1",
      kind: "Certificate",
      metadata: { name: "tls", namespace: NS },
    };
    const rc: KubeObject = {
      apiVersion: "v1",
      kind: "ReplicationController",
      metadata: { name: "redis", namespace: NS },
    };
    const r = await run([cert, rc], { rbac: true });
    expect(r.problems).toEqual([
      `Certificate "tls" (deploy/tls.yaml, document 1): the bot's RBAC, deploy/base/rbac.yaml (ClusterRole preview-bot + preview-bot-previews), does not grant get, list, create, patch, delete on certificates.cert-manager.io: ask preview-bot's operator to grant it in ClusterRole preview-bot-previews, or leave the object out (manifests.exclude)`,
    ]);
    expect((await run([cert])).problems).toEqual([]); // in a deploy, the cluster's dry run answers instead
  });
});
