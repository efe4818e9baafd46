/**
 * What a preview may ask of its neighbours (issue 21), through `transformObjects` as the deploy runs it: priority,
 * tolerations and node selection only as the operator allows, pod affinity only to its own pods, emptyDirs sized,
 * object counts bounded, annotations on routes, Ingresses and Services filtered, monitoring objects kept inside the
 * namespace. Each refusal names the object and what the operator may allow.
 */
import { describe, expect, it } from "@jest/globals";
import { parseConfig } from "../../../../src/config.js";
import { loadEnv } from "../../../../src/env.js";
import { guardrailSettings } from "../../../../src/services/preview/guardrails/namespace-guardrails.js";
import { DEFAULT_NEIGHBOURS, type NeighbourPolicy } from "../../../../src/services/preview/guardrails/settings.js";
import { RenderError, previewNamesFor, transformObjects } from "../../../../src/services/preview/render/index.js";
import type { KubeObject, PreviewRef } from "../../../../src/services/shared/preview.js";

const ref: PreviewRef = { owner: "acme", repo: "shop", number: 9, branch: "evil", sha: "f".repeat(40) };
const cfg = (() => {
  const r = parseConfig("manifests:\n  path: deploy\n");
  if (!r.ok) throw new Error(r.errors.join());
  return r.config;
})();
const NS = previewNamesFor(ref, cfg).namespace;

function run(objects: KubeObject[], neighbours: Partial<NeighbourPolicy> = {}) {
  return transformObjects(objects, {
    config: cfg,
    ref,
    names: previewNamesFor(ref, cfg),
    policy: {
      podSecurity: "baseline",
      maxReplicas: 10,
      bindableClusterRoles: [],
      neighbours: { ...DEFAULT_NEIGHBOURS, ...neighbours },
    },
  });
}
const problems = (objects: KubeObject[], neighbours: Partial<NeighbourPolicy> = {}): readonly string[] => {
  try {
    run(objects, neighbours);
  } catch (err) {
    if (err instanceof RenderError) return err.problems;
    throw err;
  }
  return [];
};
const deployment = (pod: Record<string, unknown>, name = "app"): KubeObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name },
  spec: { selector: {}, template: { spec: { containers: [{ name: "c", image: "x" }], ...pod } } },
});

describe("priority: a preview cannot outrank its neighbours", () => {
  it("refuses a priority class the operator did not allow, and a priority of its own", () => {
    expect(problems([deployment({ priorityClassName: "system-node-critical", priority: 2000001000 })])).toEqual([
      `Deployment "app": priorityClassName "system-node-critical" is refused (a preview runs at the cluster's default priority, so it cannot preempt its neighbours; allowed: none; the operator's PREVIEW_PRIORITY_CLASSES)`,
      `Deployment "app": priority 2000001000 is refused (the cluster sets it from the priority class)`,
    ]);
  });

  it("accepts a class the operator lists", () => {
    expect(
      problems([deployment({ priorityClassName: "previews-low" })], { priorityClasses: ["previews-low"] }),
    ).toEqual([]);
  });
});

describe("placement: a preview cannot land on nodes kept for others", () => {
  it("refuses tolerating every taint, and any taint the operator did not allow", () => {
    const pod = {
      tolerations: [
        { operator: "Exists" },
        { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
        { key: "CriticalAddonsOnly", operator: "Exists" },
      ],
    };
    expect(problems([deployment(pod)])).toEqual([
      `Deployment "app": toleration of every taint (operator Exists, no key) is refused (it would let the preview onto tainted nodes: system, GPU or other teams' pools; allowed: node.kubernetes.io/not-ready:NoExecute, node.kubernetes.io/unreachable:NoExecute; the operator's PREVIEW_ALLOWED_TOLERATIONS)`,
      `Deployment "app": toleration of nvidia.com/gpu:NoSchedule is refused (it would let the preview onto tainted nodes: system, GPU or other teams' pools; allowed: node.kubernetes.io/not-ready:NoExecute, node.kubernetes.io/unreachable:NoExecute; the operator's PREVIEW_ALLOWED_TOLERATIONS)`,
      expect.stringContaining(`toleration of CriticalAddonsOnly is refused`),
    ]);
  });

  it("accepts the node-condition tolerations and what the operator allows, no wider", () => {
    const ok = {
      tolerations: [
        { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 30 },
        { key: "pool", operator: "Equal", value: "previews", effect: "NoSchedule" },
      ],
    };
    const allowed = { tolerations: [...DEFAULT_NEIGHBOURS.tolerations, "pool=previews:NoSchedule"] };
    expect(problems([deployment(ok)], allowed)).toEqual([]);
    // The same key with any value (Exists) or every effect is wider than the entry.
    const wider = {
      tolerations: [
        { key: "pool", operator: "Exists", effect: "NoSchedule" },
        { key: "pool", value: "previews" },
      ],
    };
    expect(problems([deployment(wider)], allowed)).toHaveLength(2);
  });

  it("refuses node selection by labels the operator did not allow, and matchFields; OS and architecture are fine", () => {
    const pod = {
      nodeSelector: { "kubernetes.io/os": "linux", "node-role.kubernetes.io/control-plane": "" },
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: "kubernetes.io/arch", operator: "In", values: ["amd64", "arm64"] },
                  { key: "agentpool", operator: "In", values: ["system"] },
                ],
                matchFields: [{ key: "metadata.name", operator: "In", values: ["node-1"] }],
              },
            ],
          },
        },
      },
    };
    expect(problems([deployment(pod)])).toEqual([
      `Deployment "app": nodeSelector node-role.kubernetes.io/control-plane= is refused (node selection would place the preview on nodes the operator keeps for others; allowed: kubernetes.io/os, kubernetes.io/arch; the operator's PREVIEW_ALLOWED_NODE_LABELS)`,
      `Deployment "app": node affinity matchFields is refused (it pins the pod to named nodes)`,
      expect.stringContaining(`node affinity on agentpool (In system) is refused`),
    ]);
    expect(
      problems([deployment({ nodeSelector: { agentpool: "previews" } })], { nodeLabels: ["agentpool=previews"] }),
    ).toEqual([]);
    expect(
      problems([deployment({ nodeSelector: { agentpool: "system" } })], { nodeLabels: ["agentpool=previews"] }),
    ).toHaveLength(1);
  });

  it("refuses pod affinity to other namespaces' pods, keeps it to its own", () => {
    const term = (extra: Record<string, unknown>) => ({
      labelSelector: { matchLabels: { app: "db" } },
      topologyKey: "kubernetes.io/hostname",
      ...extra,
    });
    const pod = {
      affinity: {
        podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ namespaces: ["production"] })] },
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 1, podAffinityTerm: term({ namespaceSelector: {} }) },
            { weight: 1, podAffinityTerm: term({}) },
          ],
        },
      },
    };
    expect(problems([deployment(pod)])).toEqual([
      `Deployment "app": podAffinity on pods of namespace production is refused (a preview is placed by its own pods only)`,
      `Deployment "app": podAntiAffinity namespaceSelector is refused (a preview is placed by its own pods only, not by other namespaces')`,
    ]);
    expect(
      problems([
        deployment({
          affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [term({ namespaces: [NS] })] } },
        }),
      ]),
    ).toEqual([]);
  });
});

describe("disk and etcd: a preview cannot fill a node or the cluster's store", () => {
  it("gives an emptyDir without sizeLimit the default limit, and says so", () => {
    const { objects, rewrites } = run([
      deployment({
        volumes: [
          { name: "scratch", emptyDir: {} },
          { name: "shm", emptyDir: { medium: "Memory" } },
          { name: "sized", emptyDir: { sizeLimit: "64Mi" } },
        ],
      }),
    ]);
    expect((objects[0]!.spec as any).template.spec.volumes).toEqual([
      { name: "scratch", emptyDir: { sizeLimit: "512Mi" } },
      { name: "shm", emptyDir: { medium: "Memory", sizeLimit: "512Mi" } },
      { name: "sized", emptyDir: { sizeLimit: "64Mi" } },
    ]);
    expect(rewrites).toEqual([
      `Deployment "app": emptyDir "scratch" had no sizeLimit: 512Mi (the default ephemeral-storage limit), so it cannot fill the node's disk`,
      `Deployment "app": emptyDir "shm" had no sizeLimit: 512Mi (the default memory limit), so it cannot fill the node's memory`,
    ]);
  });

  it("takes the sizes from the operator's defaults", () => {
    const env = guardrailSettings(loadEnv({ PREVIEW_DEFAULT_EPHEMERAL_STORAGE_LIMIT: "256Mi" }));
    const { objects } = run([deployment({ volumes: [{ name: "v", emptyDir: {} }] })], env.neighbours);
    expect((objects[0]!.spec as any).template.spec.volumes[0].emptyDir.sizeLimit).toBe("256Mi");
  });

  it("refuses more objects of one kind than the bound, custom kinds included", () => {
    const many = (kind: string, apiVersion: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({ apiVersion, kind, metadata: { name: `${kind.toLowerCase()}-${i}` } }));
    expect(
      problems([...many("ConfigMap", "v1", 41), ...many("SecretProviderClass", "secrets-store.csi.x-k8s.io/v1", 41)], {
        objectsPerKind: 40,
      }),
    ).toEqual([
      "41 ConfigMaps in the render, over the bound of 40 objects of one kind for a preview (the cluster's etcd is shared; the operator's PREVIEW_QUOTA_OBJECTS)",
      "41 SecretProviderClasses in the render, over the bound of 40 objects of one kind for a preview (the cluster's etcd is shared; the operator's PREVIEW_QUOTA_OBJECTS)",
    ]);
    expect(problems(many("ConfigMap", "v1", 40), { objectsPerKind: 40 })).toEqual([]);
  });
});

describe("annotations: shared controllers act only on what the bot writes", () => {
  const svc = (annotations: Record<string, string>): KubeObject => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", annotations },
    spec: { ports: [{ port: 80 }] },
  });

  it("strips controller annotations from Services, keeps bookkeeping and what the operator allows", () => {
    const { objects, rewrites } = run(
      [
        svc({
          "external-dns.alpha.kubernetes.io/hostname": "www.example.com",
          "external-dns.alpha.kubernetes.io/target": "203.0.113.7",
          "prometheus.io/scrape": "true",
          "meta.helm.sh/release-name": "web",
          "traefik.ingress.kubernetes.io/service.sticky.cookie": "true",
          "preview-bot.dev/head-sha": "forged",
        }),
      ],
      { annotations: [...DEFAULT_NEIGHBOURS.annotations, "traefik.ingress.kubernetes.io/*"] },
    );
    expect(objects[0]!.metadata.annotations).toMatchObject({
      "prometheus.io/scrape": "true",
      "meta.helm.sh/release-name": "web",
      "traefik.ingress.kubernetes.io/service.sticky.cookie": "true",
    });
    expect(objects[0]!.metadata.annotations).not.toHaveProperty(["external-dns.alpha.kubernetes.io/hostname"]);
    expect(rewrites).toContain(
      `Service "web": annotations stripped (shared controllers act on them; a preview keeps only the bot's own and those the operator allows, PREVIEW_ALLOWED_ANNOTATIONS): external-dns.alpha.kubernetes.io/hostname, external-dns.alpha.kubernetes.io/target, preview-bot.dev/head-sha`,
    );
  });

  it("refuses, rather than strips, what protects a route: auth and source ranges", () => {
    const ingress: KubeObject = {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: {
        name: "admin",
        annotations: {
          "nginx.ingress.kubernetes.io/auth-url": "http://169.254.169.254/latest/meta-data/",
          "nginx.ingress.kubernetes.io/whitelist-source-range": "10.0.0.0/8",
          "nginx.ingress.kubernetes.io/server-alias": "www.example.com",
        },
      },
      spec: { rules: [{ http: { paths: [{ path: "/", pathType: "Prefix" }] } }] },
    };
    expect(problems([ingress]).filter((p) => p.includes("annotation"))).toEqual([
      `Ingress "admin": annotation nginx.ingress.kubernetes.io/auth-url is refused: it tells a shared controller who may reach the route, and stripping it would open the route instead; remove it (previews are protected by the bot), or ask the operator to allow it (PREVIEW_ALLOWED_ANNOTATIONS)`,
      `Ingress "admin": annotation nginx.ingress.kubernetes.io/whitelist-source-range is refused: it tells a shared controller who may reach the route, and stripping it would open the route instead; remove it (previews are protected by the bot), or ask the operator to allow it (PREVIEW_ALLOWED_ANNOTATIONS)`,
    ]);
  });

  it("leaves annotations of other kinds alone (a Deployment's are not read by shared controllers)", () => {
    const d = deployment({});
    d.metadata.annotations = { "external-dns.alpha.kubernetes.io/hostname": "x.example.com" };
    expect(run([d]).objects[0]!.metadata.annotations).toHaveProperty(["external-dns.alpha.kubernetes.io/hostname"]);
  });
});

describe("monitoring: Prometheus scrapes only the preview's own pods, with the preview's own credentials", () => {
  const monitor = (spec: Record<string, unknown>, kind = "ServiceMonitor"): KubeObject => ({
    apiVersion: "monitoring.coreos.com/v1",
    kind,
    metadata: { name: "m" },
    spec,
  });

  it("removes a namespaceSelector with a note", () => {
    const { objects, rewrites } = run([monitor({ namespaceSelector: { any: true }, endpoints: [{ port: "http" }] })]);
    expect(objects[0]!.spec).toEqual({ endpoints: [{ port: "http" }] });
    expect(rewrites).toEqual([
      `ServiceMonitor "m": namespaceSelector {"any":true} removed (a preview's monitor selects only its own namespace)`,
    ]);
  });

  it("refuses file-based credentials and __address__ relabelling, on ServiceMonitors and PodMonitors", () => {
    const endpoint = {
      bearerTokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
      tlsConfig: { caFile: "/etc/prometheus/ca.crt", keyFile: "/etc/prometheus/key" },
      relabelings: [{ targetLabel: "__address__", replacement: "kubernetes.default.svc:443" }],
    };
    expect(problems([monitor({ endpoints: [endpoint] })])).toEqual([
      `ServiceMonitor "m": endpoints[0].bearerTokenFile is refused (it sends one of Prometheus's own files, such as its token; use bearerTokenSecret or authorization with a Secret of the preview)`,
      `ServiceMonitor "m": endpoints[0].tlsConfig.caFile is refused (a file of Prometheus's own; use a Secret of the preview)`,
      `ServiceMonitor "m": endpoints[0].tlsConfig.keyFile is refused (a file of Prometheus's own; use a Secret of the preview)`,
      `ServiceMonitor "m": endpoints[0].relabelings: relabelling __address__ is refused (it would make Prometheus scrape any address with its credentials)`,
    ]);
    expect(problems([monitor({ podMetricsEndpoints: [endpoint] }, "PodMonitor")])).toHaveLength(4);
  });

  it("refuses alerts that claim another namespace, and Probes and ScrapeConfigs", () => {
    const rule = monitor(
      { groups: [{ name: "g", rules: [{ alert: "ProdDown", expr: "up == 0", labels: { namespace: "production" } }] }] },
      "PrometheusRule",
    );
    expect(problems([rule, monitor({}, "Probe")])).toEqual([
      `PrometheusRule "m": rule "ProdDown" sets the namespace label to "production", which is refused (its alerts would claim another namespace)`,
      `Probe "m": Probes are refused (they point the shared Prometheus at arbitrary targets); use a ServiceMonitor or PodMonitor for the preview's own pods`,
    ]);
  });
});

describe("routes other than HTTPRoutes and Ingresses", () => {
  it("refuses TCPRoutes and the like: their parents would be the manifests' own", () => {
    const tcp: KubeObject = {
      apiVersion: "gateway.networking.k8s.io/v1alpha2",
      kind: "TCPRoute",
      metadata: { name: "db" },
      spec: { parentRefs: [{ name: "prod", namespace: "gw" }] },
    };
    expect(problems([tcp])).toEqual([
      `TCPRoute "db": TCPRoutes are refused (preview-bot attaches only HTTPRoutes and Ingresses to the operator's gateways; this one would attach where the manifests say)`,
    ]);
  });

  it("refuses the PR's own Envoy Gateway SecurityPolicy: who may reach a preview is the bot's to say", () => {
    // The bot's ServiceAccount may create SecurityPolicies (for `access: github`), so a PR's own would be applied.
    const open: KubeObject = {
      apiVersion: "gateway.envoyproxy.io/v1alpha1",
      kind: "SecurityPolicy",
      metadata: { name: "anyone" },
      spec: { targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "web" }], authorization: {} },
    };
    expect(problems([open])).toEqual([
      `SecurityPolicy "anyone": SecurityPolicies are refused (who may reach a preview is the bot's to say: set access in .github/preview.yml)`,
    ]);
  });
});
