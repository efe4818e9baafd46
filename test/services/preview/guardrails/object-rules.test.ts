/**
 * What a pull request's manifests may not do in a shared cluster (issue 12): each rule rewrites with a reason or
 * refuses with one, through `transformObjects` as the deploy runs it; every refusal is listed at once.
 */
import { describe, expect, it } from "@jest/globals";
import { parseConfig } from "../../../../src/config.js";
import type { KubeObject, PreviewRef } from "../../../../src/services/shared/preview.js";
import { RenderError, previewNamesFor, transformObjects } from "../../../../src/services/preview/render/index.js";
import { podSecurityProblems } from "../../../../src/services/preview/guardrails/pod-security.js";

const ref: PreviewRef = { owner: "acme", repo: "shop", number: 9, branch: "evil", sha: "f".repeat(40) };
const cfg = (() => {
  const r = parseConfig("manifests:\n  path: deploy\nallowClusterScoped: [ClusterRole]\n");
  if (!r.ok) throw new Error(r.errors.join());
  return r.config;
})();
const run = (objects: KubeObject[], policy: Record<string, unknown> = {}) =>
  transformObjects(objects, {
    config: cfg,
    ref,
    names: previewNamesFor(ref, cfg),
    policy: {
      podSecurity: "baseline",
      maxReplicas: 10,
      bindableClusterRoles: ["view", "edit"],
      botServiceAccount: "preview-bot",
      ...policy,
    },
  });
const problems = (objects: KubeObject[], policy: Record<string, unknown> = {}): readonly string[] => {
  try {
    run(objects, policy);
  } catch (err) {
    if (err instanceof RenderError) return err.problems;
    throw err;
  }
  return [];
};
const pod = (spec: Record<string, unknown>, kind = "Deployment", extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: kind === "Pod" ? "v1" : "apps/v1",
  kind,
  metadata: { name: "app" },
  spec:
    kind === "Pod"
      ? { containers: [{ name: "c", image: "x" }], ...spec }
      : { selector: {}, ...extra, template: { spec: { containers: [{ name: "c", image: "x" }], ...spec } } },
});

describe("kinds", () => {
  it("refuses the kinds a preview may never contain, with the reason, and allows ReplicationControllers", () => {
    const of = (apiVersion: string, kind: string): KubeObject => ({ apiVersion, kind, metadata: { name: "x" } });
    expect(
      problems([
        pod({}, "Pod"),
        of("apps/v1", "DaemonSet"),
        of("rbac.authorization.k8s.io/v1", "Role"),
        of("v1", "Endpoints"),
        of("v1", "ReplicationController"),
      ]),
    ).toEqual([
      'Pod "app": bare Pods are refused: nothing replaces them when they stop and the roll-out wait does not follow them; use a Deployment (or a Job for a one-off task)',
      'DaemonSet "x": DaemonSets are refused: they run a pod on every node of the shared cluster; use a Deployment',
      'Role "x": Roles are refused: creating one needs every right in it, which preview-bot does not hold; bind a ClusterRole previews may bind (PREVIEW_BINDABLE_CLUSTER_ROLES) with a RoleBinding',
      'Endpoints "x": Endpoints are refused: with a selector-less Service they point a name inside the preview at any address; use a Service with a selector',
    ]);
  });
});

describe("Services", () => {
  it("rewrites LoadBalancer and NodePort Services to ClusterIP, dropping node ports, and says so", () => {
    const lb: KubeObject = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "ssh" },
      spec: { type: "LoadBalancer", loadBalancerIP: "1.2.3.4", ports: [{ port: 22, nodePort: 30022 }] },
    };
    const np: KubeObject = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "np" },
      spec: { type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] },
    };
    const { objects, rewrites } = run([lb, np]);
    expect(objects.map((o) => (o.spec as any).type)).toEqual(["ClusterIP", "ClusterIP"]);
    expect(objects[0]!.spec as any).toEqual({ type: "ClusterIP", ports: [{ port: 22 }] });
    expect(rewrites).toEqual([
      expect.stringMatching(/^Service "ssh": type LoadBalancer → ClusterIP/),
      expect.stringMatching(/^Service "np": type NodePort → ClusterIP/),
    ]);
  });

  it("refuses ExternalName Services and externalIPs", () => {
    expect(
      problems([
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "api" },
          spec: { type: "ExternalName", externalName: "kubernetes.default.svc" },
        },
      ]),
    ).toEqual([expect.stringMatching(/^Service "api": ExternalName Services are refused/)]);
    expect(
      problems([{ apiVersion: "v1", kind: "Service", metadata: { name: "x" }, spec: { externalIPs: ["10.0.0.1"] } }]),
    ).toEqual([expect.stringMatching(/externalIPs are refused/)]);
  });
});

describe("Secrets and RBAC", () => {
  it("refuses service-account-token Secrets, ClusterRoleBindings, and RoleBindings to ClusterRoles outside the allowlist", () => {
    const found = problems([
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "tok", annotations: { "kubernetes.io/service-account.name": "preview-bot" } },
        type: "kubernetes.io/service-account-token",
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "admin" },
        roleRef: { kind: "ClusterRole", name: "cluster-admin", apiGroup: "rbac.authorization.k8s.io" },
        subjects: [],
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "viewer" },
        roleRef: { kind: "ClusterRole", name: "view", apiGroup: "rbac.authorization.k8s.io" },
        subjects: [],
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: "crb" },
        roleRef: { kind: "ClusterRole", name: "view" },
        subjects: [],
      },
    ]);
    expect(found).toEqual([
      expect.stringMatching(/^ClusterRoleBinding "crb" is cluster-scoped and not allowed/),
      expect.stringMatching(/^Secret "tok": service-account-token Secrets are refused/),
      expect.stringMatching(
        /^RoleBinding "admin": binds ClusterRole "cluster-admin", which previews may not bind \(allowed: view, edit\)/,
      ),
    ]);
    // Even where a repository allows the kind, a ClusterRoleBinding is refused: it grants rights in every namespace.
    const allowing = parseConfig("manifests:\n  path: deploy\nallowClusterScoped: [ClusterRoleBinding]\n");
    if (!allowing.ok) throw new Error("config");
    const crb: KubeObject = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "crb" },
      roleRef: { kind: "ClusterRole", name: "view" },
      subjects: [],
    };
    expect(() =>
      transformObjects([crb], { config: allowing.config, ref, names: previewNamesFor(ref, allowing.config) }),
    ).toThrow(/ClusterRoleBindings are refused/);
  });

  it("refuses a pod running as the bot's own ServiceAccount", () => {
    expect(problems([pod({ serviceAccountName: "preview-bot" })])).toEqual([
      expect.stringMatching(/serviceAccountName "preview-bot" is preview-bot's own account/),
    ]);
    expect(problems([pod({ serviceAccountName: "app" })])).toEqual([]);
  });
});

describe("pod specs", () => {
  it("refuses what Pod Security baseline forbids, plus nodeName pinning, naming each, all at once", () => {
    const found = problems([
      pod({
        hostNetwork: true,
        hostPID: true,
        nodeName: "node-1",
        volumes: [{ name: "root", hostPath: { path: "/" } }],
        containers: [
          {
            name: "c",
            image: "x",
            securityContext: { privileged: true, capabilities: { add: ["SYS_ADMIN"] } },
            ports: [{ containerPort: 22, hostPort: 22 }],
          },
        ],
      }),
    ]);
    expect(found.map((p) => p.replace(/ \(refused at Pod Security level "baseline"\)$/, ""))).toEqual([
      'Deployment "app": nodeName "node-1" pins it to a node (bypassing the scheduler)',
      'Deployment "app": hostNetwork: true shares the node\'s network namespace',
      'Deployment "app": hostPID: true shares the node\'s pid namespace',
      'Deployment "app": volume "root" is a hostPath (the node\'s filesystem)',
      'Deployment "app": container "c" is privileged',
      'Deployment "app": container "c" adds capabilities SYS_ADMIN',
      'Deployment "app": container "c" binds hostPort 22 on the node',
    ]);
  });

  it("checks pods in every workload kind, CronJobs included", () => {
    const cron: KubeObject = {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: "c" },
      spec: { jobTemplate: { spec: { template: { spec: { hostIPC: true, containers: [] } } } } },
    };
    expect(problems([cron, pod({ hostNetwork: true }, "StatefulSet")])).toHaveLength(2);
  });

  it("at restricted also requires non-root, no privilege escalation, a seccomp profile and dropped capabilities; privileged allows them", () => {
    const plain = { containers: [{ name: "c", image: "x" }] };
    expect(podSecurityProblems(plain, "baseline")).toEqual([]);
    expect(podSecurityProblems(plain, "restricted")).toEqual([
      'container "c" must set securityContext.allowPrivilegeEscalation: false',
      'container "c" must run as non-root (runAsNonRoot: true)',
      'container "c" must set seccompProfile.type RuntimeDefault (or Localhost)',
      'container "c" must drop ALL capabilities',
    ]);
    const hardened = {
      securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: "c",
          image: "x",
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
        },
      ],
    };
    expect(podSecurityProblems(hardened, "restricted")).toEqual([]);
    expect(
      podSecurityProblems(
        { hostNetwork: true, containers: [{ name: "c", securityContext: { privileged: true } }] },
        "privileged",
      ),
    ).toEqual([]);
    expect(podSecurityProblems({ nodeName: "n1", containers: [] }, "privileged")).toHaveLength(1);
  });

  it("refuses more replicas than the bot allows, in workloads and autoscalers", () => {
    const hpa: KubeObject = {
      apiVersion: "autoscaling/v2",
      kind: "HorizontalPodAutoscaler",
      metadata: { name: "h" },
      spec: { maxReplicas: 500 },
    };
    expect(problems([pod({}, "Deployment", { replicas: 5000 }), hpa])).toEqual([
      'Deployment "app": 5000 replicas, over the bound of 10 for a preview',
      'HorizontalPodAutoscaler "h": maxReplicas 500, over the bound of 10 for a preview',
    ]);
    expect(problems([pod({}, "Deployment", { replicas: 5000 })], { maxReplicas: 5000 })).toEqual([]);
  });
});

describe("Ingresses", () => {
  it("refuses defaultBackend and snippet annotations", () => {
    const ing: KubeObject = {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: {
        name: "web",
        annotations: {
          "nginx.ingress.kubernetes.io/server-snippet": "location / { proxy_pass http://kubernetes.default; }",
          "nginx.ingress.kubernetes.io/proxy-body-size": "1m",
        },
      },
      spec: { defaultBackend: { service: { name: "web", port: { number: 80 } } } },
    };
    const found = problems([ing]).filter((p) => !p.includes("no hostname of its own"));
    expect(found).toEqual([
      expect.stringMatching(/defaultBackend is refused/),
      expect.stringMatching(/annotation nginx\.ingress\.kubernetes\.io\/server-snippet is refused/),
    ]);
  });
});

describe("cluster scope", () => {
  it("takes scope from discovery: a custom cluster-scoped kind is refused, a namespaced one with a cluster-ish name is not", () => {
    const names = previewNamesFor(ref, cfg);
    const scopes = new Map<string, "Namespaced" | "Cluster">([
      ["example.com/v1/Widget", "Cluster"],
      ["example.com/v1/ClusterIssuerLike", "Namespaced"],
    ]);
    const objects: KubeObject[] = [
      { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } },
      { apiVersion: "example.com/v1", kind: "ClusterIssuerLike", metadata: { name: "n" } },
    ];
    expect(() => transformObjects(objects, { config: cfg, ref, names, scopes })).toThrow(
      'Widget "w" is cluster-scoped and not allowed in a preview (allowClusterScoped)',
    );
    expect(transformObjects([objects[1]!], { config: cfg, ref, names, scopes }).objects[0]!.metadata.namespace).toBe(
      names.namespace,
    );
  });
});

describe("the bot-level bindable ClusterRoles", () => {
  it("are none by default, so a preview's RoleBinding to view is refused unless PREVIEW_BINDABLE_CLUSTER_ROLES allows it", async () => {
    const { loadEnv } = await import("../../../../src/env.js");
    const { rendererSettings } = await import("../../../../src/services/preview/render/settings.js");
    const viewer: KubeObject = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "viewer" },
      roleRef: { kind: "ClusterRole", name: "view", apiGroup: "rbac.authorization.k8s.io" },
      subjects: [],
    };
    expect(rendererSettings(loadEnv({})).bindableClusterRoles).toEqual([]);
    expect(() =>
      run([structuredClone(viewer)], { bindableClusterRoles: rendererSettings(loadEnv({})).bindableClusterRoles }),
    ).toThrow(/binds ClusterRole "view", which previews may not bind \(allowed: none\)/);
    const allowed = rendererSettings(loadEnv({ PREVIEW_BINDABLE_CLUSTER_ROLES: "view" })).bindableClusterRoles;
    expect(run([structuredClone(viewer)], { bindableClusterRoles: allowed }).objects.map((o) => o.kind)).toEqual([
      "RoleBinding",
    ]);
  });
});
