/**
 * Helm as the cluster would render it, with the real helm in the real sandboxed renderer: the cluster's version and
 * API versions (asked of the Cluster, passed in the worker's request) reach `helm template` as --kube-version and
 * --api-versions, so a chart's `kubeVersion:` constraint and `.Capabilities` checks judge the preview's cluster;
 * without a cluster the bot's settings answer; a repository's manifests.kubeVersion / apiVersions override and add.
 * The release is named after the chart. Hooks: test hooks are left out with a note; install and upgrade hooks stay
 * in the render with their annotations, planned before the apply and after the roll-out by weight.
 */
import { describe, expect, it } from "@jest/globals";
import type { ClusterCapabilities, PreviewRef } from "../../../../src/services/shared/preview.js";
import { previewNamesFor, type RenderCluster } from "../../../../src/services/preview/render/index.js";
import { hookDeletePolicies, planHooks } from "../../../../src/services/preview/render/hooks.js";
import { config, testRenderer, useTrees } from "../../../support/render.js";
import { describeWithTools } from "../../../support/tools.js";

const ref: PreviewRef = { owner: "acme", repo: "podinfo", number: 31, branch: "feat/x", sha: "ab12".repeat(10) };
const { tree } = useTrees("helm-cluster-");

/** A chart like stefanprodan/podinfo's: it needs Kubernetes ≥ 1.23 and renders a ServiceMonitor only where served. */
const CHART = {
  "charts/podinfo/Chart.yaml": 'apiVersion: v2\nname: podinfo\nversion: 6.7.0\nkubeVersion: ">=1.23.0-0"\n',
  "charts/podinfo/values.yaml": "replicas: 1\n",
  "charts/podinfo/templates/service.yaml":
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  ports: [{ name: http, port: 9898 }]\n  selector: { app: podinfo }\n",
  "charts/podinfo/templates/capabilities.yaml":
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-capabilities\ndata:\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n",
  "charts/podinfo/templates/servicemonitor.yaml":
    '{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor" }}\napiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  selector: { matchLabels: { app: podinfo } }\n  endpoints: [{ port: http }]\n{{- end }}\n',
};
const HOOKS = {
  "charts/podinfo/templates/migrate.yaml":
    'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ .Release.Name }}-migrate\n  annotations:\n    "helm.sh/hook": pre-install,pre-upgrade\n    "helm.sh/hook-weight": "-5"\n    "helm.sh/hook-delete-policy": hook-succeeded\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{ name: migrate, image: busybox }]\n',
  "charts/podinfo/templates/seed-config.yaml":
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-seed\n  annotations:\n    "helm.sh/hook": pre-install\ndata: { a: b }\n',
  "charts/podinfo/templates/notify.yaml":
    'apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ .Release.Name }}-notify\n  annotations:\n    "helm.sh/hook": post-install,post-upgrade\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{ name: notify, image: busybox }]\n',
  "charts/podinfo/templates/tests/test.yaml":
    'apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-test\n  annotations:\n    "helm.sh/hook": test\nspec:\n  hostNetwork: true\n  containers: [{ name: t, image: busybox }]\n',
  "charts/podinfo/templates/cleanup.yaml":
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cleanup\n  annotations:\n    "helm.sh/hook": pre-delete\n',
};

/** A cluster that answers discovery as a real one would, and serves ServiceMonitors (namespaced). */
function cluster(caps: ClusterCapabilities | Error): RenderCluster & { asked: number } {
  const c = {
    asked: 0,
    async capabilities() {
      c.asked += 1;
      if (caps instanceof Error) throw caps;
      return caps;
    },
    async resourceScope() {
      return "Namespaced" as const;
    },
    async readObject() {
      return undefined;
    },
  };
  return c;
}

async function render(
  dir: string,
  yaml: string,
  opts: { cluster?: RenderCluster; kubeVersion?: string; apiVersions?: string[] } = {},
) {
  const c = config(yaml);
  const { cluster: on, ...settings } = opts;
  return testRenderer(settings).render({
    dir,
    config: c,
    ref,
    names: previewNamesFor(ref, c),
    ...(on ? { cluster: on } : {}),
  });
}

const byName = (r: { objects: Array<{ kind: string; metadata: { name?: string } }> }) =>
  r.objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
const kubeOf = (r: { objects: Array<{ kind: string; metadata: { name?: string }; data?: unknown }> }) =>
  (r.objects.find((o) => o.metadata.name === "podinfo-capabilities")!.data as { kube: string }).kube;

describeWithTools(["helm"], "helm template for the preview's cluster (real helm, sandboxed)", () => {
  it("renders a chart needing Kubernetes >= 1.23 for the cluster's version, with its API versions, named after the chart", async () => {
    const dir = await tree(CHART);
    const on = cluster({
      kubeVersion: "v1.31.4",
      apiVersions: ["v1", "v1/Service", "monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"],
    });
    const r = await render(dir, "manifests:\n  path: charts/podinfo\n", { cluster: on });
    expect(kubeOf(r)).toBe("v1.31.4");
    // The release is the chart's name: the same Service name in every preview.
    expect(byName(r)).toEqual(["ConfigMap/podinfo-capabilities", "Service/podinfo", "ServiceMonitor/podinfo"]);
    expect(r.notes).toContain("helm rendered for Kubernetes v1.31.4 (the cluster's discovery) with 4 API versions");
    expect(on.asked).toBe(1);
  });

  it("leaves out what the cluster does not serve, and refuses a chart the cluster's version is too old for", async () => {
    const dir = await tree({
      ...CHART,
      "charts/new/Chart.yaml": 'apiVersion: v2\nname: new\nversion: 1.0.0\nkubeVersion: ">=1.40.0-0"\n',
      "charts/new/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n",
    });
    const on = cluster({ kubeVersion: "v1.31.4", apiVersions: ["v1"] });
    expect(byName(await render(dir, "manifests:\n  path: charts/podinfo\n", { cluster: on }))).toEqual([
      "ConfigMap/podinfo-capabilities",
      "Service/podinfo",
    ]);
    await expect(render(dir, "manifests:\n  path: charts/new\n", { cluster: on })).rejects.toThrow(
      /chart requires kubeVersion: >=1\.40\.0-0 which is incompatible with Kubernetes v1\.31\.4/,
    );
  });

  it("takes the repository's manifests.kubeVersion and adds its manifests.apiVersions to the cluster's", async () => {
    const dir = await tree(CHART);
    const on = cluster({ kubeVersion: "v1.31.4", apiVersions: ["v1"] });
    const r = await render(
      dir,
      'manifests:\n  path: charts/podinfo\n  kubeVersion: "1.30"\n  apiVersions: [monitoring.coreos.com/v1/ServiceMonitor]\n',
      { cluster: on },
    );
    expect(kubeOf(r)).toBe("v1.30.0");
    expect(byName(r)).toContain("ServiceMonitor/podinfo");
    expect(r.notes).toContain(
      "helm rendered for Kubernetes v1.30.0 (manifests.kubeVersion) with 2 API versions (1 from manifests.apiVersions)",
    );
  });

  it("offline, renders for the bot's settings; when discovery fails, falls back to them with a warning", async () => {
    const dir = await tree(CHART);
    const offline = await render(dir, "manifests:\n  path: charts/podinfo\n", {
      kubeVersion: "v1.29.3-eks-5e0fdde",
      apiVersions: ["monitoring.coreos.com/v1/ServiceMonitor"],
    });
    expect(kubeOf(offline)).toBe("v1.29.3");
    expect(byName(offline)).toContain("ServiceMonitor/podinfo");
    const failing = cluster(new Error("reading the cluster's version and API versions (discovery): 403 forbidden"));
    const fallback = await render(dir, "manifests:\n  path: charts/podinfo\n", {
      cluster: failing,
      kubeVersion: "1.28",
    });
    expect(kubeOf(fallback)).toBe("v1.28.0");
    expect(fallback.warnings).toContainEqual(
      expect.stringMatching(
        /^helm: could not read the cluster's version and API versions \(.*403 forbidden\); rendered for the bot's settings/,
      ),
    );
  });

  it("leaves test and delete hooks out with a note, and plans install hooks around the apply by weight", async () => {
    const dir = await tree({ ...CHART, ...HOOKS });
    const r = await render(dir, "manifests:\n  path: charts/podinfo\n", {
      cluster: cluster({ kubeVersion: "v1.31.4", apiVersions: ["v1"] }),
    });
    // The test Pod (hostNetwork: refused by the guardrails if it were kept) is left out, not refused.
    expect(byName(r)).toEqual([
      "ConfigMap/podinfo-capabilities",
      "ConfigMap/podinfo-seed",
      "Job/podinfo-migrate",
      "Job/podinfo-notify",
      "Service/podinfo",
    ]);
    expect(r.hooks).toEqual([
      'hooks before the apply (pre-install, pre-upgrade): Job "podinfo-migrate" (weight -5), ConfigMap "podinfo-seed"',
      'hooks after the roll-out (post-install, post-upgrade): Job "podinfo-notify"',
      'left out ConfigMap "podinfo-cleanup" (charts/podinfo/templates/cleanup.yaml): helm.sh/hook pre-delete: a preview runs only install and upgrade hooks',
      'left out Pod "podinfo-test" (charts/podinfo/templates/tests/test.yaml): helm.sh/hook test: test hooks run with `helm test`, which a preview does not run',
    ]);
    const plan = planHooks(r.objects);
    expect(plan.main.map((o) => o.metadata.name).sort()).toEqual(["podinfo", "podinfo-capabilities"]);
    expect(plan.pre.map((g) => g.map((o) => o.metadata.name))).toEqual([["podinfo-migrate"], ["podinfo-seed"]]);
    expect(plan.post.map((g) => g.map((o) => o.metadata.name))).toEqual([["podinfo-notify"]]);
    // Hooks carry the preview's ownership like everything else.
    const migrate = r.objects.find((o) => o.metadata.name === "podinfo-migrate")!;
    expect(migrate.metadata.namespace).toBe("podinfo-pr-31");
    expect(migrate.metadata.labels?.["app.kubernetes.io/managed-by"]).toBe("preview-bot");
    expect([...hookDeletePolicies(migrate)]).toEqual(["hook-succeeded"]);
    expect([...hookDeletePolicies(r.objects.find((o) => o.metadata.name === "podinfo-notify")!)]).toEqual([
      "before-hook-creation",
    ]);
  });
});

describe("hook planning", () => {
  const obj = (name: string, annotations: Record<string, string> = {}) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, annotations },
  });
  it("runs a hook of both phases in both, treats crd-install as no hook, and reads a bad weight as 0", () => {
    const plan = planHooks([
      obj("plain"),
      obj("both", { "helm.sh/hook": "pre-install, post-upgrade" }),
      obj("crd", { "helm.sh/hook": "crd-install" }),
      obj("odd", { "helm.sh/hook": "pre-upgrade", "helm.sh/hook-weight": "x" }),
      obj("early", { "helm.sh/hook": "pre-install", "helm.sh/hook-weight": "-1" }),
    ]);
    expect(plan.main.map((o) => o.metadata.name)).toEqual(["plain", "crd"]);
    expect(plan.pre.map((g) => g.map((o) => o.metadata.name))).toEqual([["early"], ["both", "odd"]]);
    expect(plan.post.map((g) => g.map((o) => o.metadata.name))).toEqual([["both"]]);
  });
});
