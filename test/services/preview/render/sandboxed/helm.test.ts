/**
 * Helm charts, rendered offline with the real helm binary: vendored dependencies required (a missing one is
 * refused, naming it and how to vendor it), values files and `manifests.set` applied in order, `include`/`exclude`
 * by template path, a kustomize `helmCharts` entry with a local chart rendered too, a remote one refused, and helm's
 * failures as one line per problem naming the template.
 */
import { describe, expect, it } from "@jest/globals";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { PreviewRef } from "../../../../../src/services/shared/preview.js";
import { previewNamesFor } from "../../../../../src/services/preview/render/index.js";
import { setValues } from "../../../../../src/services/preview/render/sandboxed/helm.js";
import { config, useTrees, testRenderer } from "../../../../support/render.js";
import { describeWithTools } from "../../../../support/tools.js";

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../fixtures/helm-chart-app");
const ref: PreviewRef = {
  owner: "acme",
  repo: "notes",
  number: 12,
  branch: "feature/cache",
  sha: "c0ffee".padEnd(40, "0"),
};
const { tree } = useTrees("helm-");
const CHART = {
  "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
  "chart/values.yaml": "replicas: 2\nname: web\n",
};
const DEPLOY =
  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Values.name }}\nspec:\n  replicas: {{ .Values.replicas }}\n  selector: { matchLabels: { app: web } }\n  template:\n    metadata: { labels: { app: web } }\n    spec:\n      containers: [{ name: web, image: nginx }]\n";

async function render(dir: string, yaml: string) {
  const c = config(yaml);
  return testRenderer().render({ dir, config: c, ref, names: previewNamesFor(ref, c) });
}

describe("manifests.set as values", () => {
  it("nests dotted keys and indices, and types values the way --set does", () => {
    expect(
      setValues({
        "image.tag": "abc",
        "ingress.hosts[0].host": "h.example",
        replicas: "2",
        debug: "true",
        note: "a,b=c",
      }),
    ).toEqual({
      image: { tag: "abc" },
      ingress: { hosts: [{ host: "h.example" }] },
      replicas: 2,
      debug: true,
      note: "a,b=c",
    });
    expect(() => setValues({ "__proto__.polluted": "x" })).toThrow(/not a usable key/);
  });
});

describeWithTools(["helm"], "helm template (real binary)", () => {
  it("detects a chart directory, applies values files then set values, and names objects by template", async () => {
    const dir = await tree({ ...CHART, "chart/templates/deploy.yaml": DEPLOY, "values/preview.yaml": "replicas: 1\n" });
    const r = await render(
      dir,
      'manifests:\n  path: chart\n  values: [values/preview.yaml]\n  set:\n    name: "web-{number}"\n',
    );
    expect(r.type).toBe("helm");
    expect(r.objects.map((o) => [o.metadata.name, (o.spec as any).replicas, o.metadata.namespace])).toEqual([
      ["web-12", 1, "notes-pr-12"],
    ]);
  });

  it("refuses a dependency that is not vendored, naming it and how to vendor it", async () => {
    const dir = await tree({
      ...CHART,
      "chart/Chart.yaml":
        "apiVersion: v2\nname: web\nversion: 0.1.0\ndependencies:\n  - name: postgresql\n    version: 15.x\n    repository: https://charts.bitnami.com/bitnami\n",
      "chart/templates/deploy.yaml": DEPLOY,
    });
    await expect(render(dir, "manifests:\n  path: chart\n")).rejects.toThrow(
      'chart: the chart\'s dependency "postgresql" 15.x from https://charts.bitnami.com/bitnami is not vendored in chart/charts/; preview-bot renders offline. Run "helm dependency build chart" and commit chart/charts/',
    );
  });

  it("reports a template error as one line naming the template, not helm's raw output", async () => {
    const dir = await tree({ ...CHART, "chart/templates/deploy.yaml": "{{ .Values.missing.key }}\n" });
    const err = await render(dir, "manifests:\n  path: chart\n").catch((e: Error) => e);
    expect(String((err as Error).message).split("\n")).toEqual([
      expect.stringMatching(
        /^rendering chart with helm: template: web\/templates\/deploy\.yaml:1:\d+: executing "web\/templates\/deploy\.yaml" at <\.Values\.missing\.key>: nil pointer/,
      ),
    ]);
  });

  it("includes and excludes by template path", async () => {
    const dir = await tree({
      ...CHART,
      "chart/templates/deploy.yaml": DEPLOY,
      "chart/templates/extra/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: extra }\n",
    });
    const r = await render(dir, "manifests:\n  path: chart\n  exclude: [templates/extra/**]\n");
    expect(r.objects.map((o) => o.kind)).toEqual(["Deployment"]);
  });

  it("renders the fixture chart with its vendored dependency", async () => {
    const r = await render(FIXTURE, "manifests:\n  path: deploy/chart\n  values: [deploy/chart/values-preview.yaml]\n");
    expect(r.objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      "ConfigMap/notes-config",
      "Deployment/notes-web",
      "Service/notes-cache",
      "Service/notes-web",
      "StatefulSet/notes-cache",
    ]);
  });
});

describeWithTools(["helm", "kustomize"], "kustomize helmCharts", () => {
  it("renders a chart that is local to the repository with --enable-helm", async () => {
    const dir = await tree({
      "k8s/kustomization.yaml": "helmCharts:\n  - name: web\n    releaseName: web\n    valuesInline: { replicas: 1 }\n",
      "k8s/charts/web/Chart.yaml": CHART["chart/Chart.yaml"],
      "k8s/charts/web/values.yaml": CHART["chart/values.yaml"],
      "k8s/charts/web/templates/deploy.yaml": DEPLOY,
    });
    const r = await render(dir, "manifests:\n  path: k8s\n");
    expect(r.objects.map((o) => [o.kind, o.metadata.name, (o.spec as any).replicas])).toEqual([
      ["Deployment", "web", 1],
    ]);
  });

  it("refuses a chart from a chart repository, saying how to vendor it", async () => {
    const dir = await tree({
      "k8s/kustomization.yaml":
        "helmCharts:\n  - name: redis\n    repo: https://charts.example.com\n    version: 1.0.0\n",
    });
    await expect(render(dir, "manifests:\n  path: k8s\n")).rejects.toThrow(
      /helmCharts\[0\] "redis" comes from the chart repository https:\/\/charts\.example\.com; .*helm pull redis --repo https:\/\/charts\.example\.com --version 1\.0\.0 --untar --untardir k8s\/charts/,
    );
  });
});
