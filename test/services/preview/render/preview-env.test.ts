/**
 * The pull request's details in every container (previewEnv): every workload kind's containers and init containers,
 * a container's own value kept, the values plain strings whatever the branch holds, and nothing with previewEnv off.
 */
import { describe, expect, it } from "@jest/globals";
import { parseConfig } from "../../../../src/config.js";
import { previewNamesFor, transformObjects } from "../../../../src/services/preview/render/index.js";
import type { KubeObject, PreviewRef } from "../../../../src/services/shared/preview.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const ref: PreviewRef = { owner: "acme", repo: "shop", number: 42, branch: "feature/login", sha: SHA };
const pod = (env?: Array<Record<string, unknown>>) => ({
  initContainers: [{ name: "migrate", image: "m:1" }],
  containers: [{ name: "app", image: "a:1", ...(env ? { env } : {}) }],
});
const workload = (kind: string, name: string, apiVersion = "apps/v1"): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name },
  spec:
    kind === "Pod"
      ? pod()
      : kind === "CronJob"
        ? { schedule: "@daily", jobTemplate: { spec: { template: { spec: pod() } } } }
        : { template: { spec: pod() } },
});

function render(yaml: string, objects: KubeObject[], r: PreviewRef = ref, urls?: Array<{ name: string; url: string }>) {
  const parsed = parseConfig(
    `manifests: { path: deploy }\nroute: { host: "{name}.preview.example.com", expose: { service: web, port: 80 }, kind: ingress }\n${yaml}`,
  );
  if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
  const names = previewNamesFor(r, parsed.config);
  const input = [...objects, service];
  const out = transformObjects(input, { config: parsed.config, ref: r, names, ...(urls ? { urls } : {}) });
  // The Service and the generated route aside: what the manifests gave, in order.
  return { names, objects: out.objects.filter((o) => o.kind !== "Ingress" && o !== out.objects[objects.length]) };
}
const service: KubeObject = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "web" },
  spec: { ports: [{ port: 80 }] },
};
type Container = { name: string; env?: Array<{ name: string; value?: string; valueFrom?: unknown }> };
const containersOf = (o: KubeObject): Container[] => {
  const spec = o.spec as any;
  const p = o.kind === "Pod" ? spec : o.kind === "CronJob" ? spec.jobTemplate.spec.template.spec : spec.template.spec;
  return [...(p.initContainers ?? []), ...p.containers];
};

describe("previewEnv", () => {
  it("gives every container and init container of every workload kind the pull request's details", () => {
    // Every workload kind a preview may run (DaemonSets, ReplicaSets and bare Pods are refused by the render).
    const kinds: Array<[string, string?]> = [
      ["Deployment"],
      ["StatefulSet"],
      ["ReplicationController", "v1"],
      ["Job", "batch/v1"],
      ["CronJob", "batch/v1"],
    ];
    const { objects, names } = render(
      "",
      kinds.map(([k, v]) => workload(k, k.toLowerCase(), v)),
    );
    const expected = [
      { name: "PREVIEW_PR_NUMBER", value: "42" },
      { name: "PREVIEW_BRANCH", value: "feature/login" },
      { name: "PREVIEW_SHA", value: SHA },
      { name: "PREVIEW_URL", value: names.url },
      { name: "PREVIEW_NAMESPACE", value: names.namespace },
      { name: "PREVIEW_REPOSITORY", value: "acme/shop" },
    ];
    expect(names.url).toMatch(/^https:\/\//);
    expect(objects.length).toBe(kinds.length);
    for (const o of objects)
      for (const c of containersOf(o)) expect([o.kind, c.name, c.env]).toEqual([o.kind, c.name, expected]);
  });

  it("adds a variable per named URL, keeps a container's own value, and leaves other objects alone", () => {
    const own = workload("Deployment", "web");
    (own.spec as any).template.spec = pod([
      { name: "PREVIEW_BRANCH", value: "mine" },
      { name: "DB", valueFrom: { secretKeyRef: { name: "db", key: "url" } } },
    ]);
    const cm: KubeObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: "b" } };
    const urls = [
      { name: "vote", url: "https://pr-42.preview.example.com" },
      { name: "admin-ui", url: "https://pr-42-admin-ui.preview.example.com" },
    ];
    const { objects } = render("", [own, cm], ref, urls);
    const app = containersOf(objects[0]!).find((c) => c.name === "app")!;
    expect(app.env!.slice(0, 3)).toEqual([
      { name: "PREVIEW_BRANCH", value: "mine" },
      { name: "DB", valueFrom: { secretKeyRef: { name: "db", key: "url" } } },
      { name: "PREVIEW_PR_NUMBER", value: "42" },
    ]);
    expect(app.env!.filter((e) => e.name === "PREVIEW_BRANCH")).toHaveLength(1);
    expect(app.env).toEqual(
      expect.arrayContaining([
        { name: "PREVIEW_URL_VOTE", value: "https://pr-42.preview.example.com" },
        { name: "PREVIEW_URL_ADMIN_UI", value: "https://pr-42-admin-ui.preview.example.com" },
      ]),
    );
    expect(objects[1]).toMatchObject({ data: { a: "b" } });
    expect(objects[1]).not.toHaveProperty("spec");
  });

  it("carries a hostile branch name as one plain string value", () => {
    const branch = 'x"\n- name: INJECTED\n  value: ${HOME} {{ .Values }}';
    const { objects } = render("", [workload("Deployment", "web")], { ...ref, branch });
    const env = containersOf(objects[0]!)[1]!.env!;
    expect(env.find((e) => e.name === "PREVIEW_BRANCH")).toEqual({ name: "PREVIEW_BRANCH", value: branch });
    expect(env.some((e) => e.name === "INJECTED")).toBe(false);
  });

  it("adds nothing with previewEnv: false", () => {
    const { objects } = render("previewEnv: false\n", [workload("Deployment", "web")]);
    for (const c of containersOf(objects[0]!)) expect(c.env).toBeUndefined();
  });
});
