import { describe, expect, it } from "@jest/globals";
import { symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import type { PreviewRef } from "../../../../../src/services/shared/preview.js";
import {
  RenderError,
  parseManifests,
  previewNamesFor,
  toYaml,
} from "../../../../../src/services/preview/render/index.js";
import { readPlainManifests } from "../../../../../src/services/preview/render/sandboxed/plain.js";
import { config, useTrees, testRenderer } from "../../../../support/render.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const PLAIN_APP = path.resolve(here, "../../../../fixtures/plain-app");
const SHA = "89abcdef0123456789abcdef0123456789abcdef";
const ref: PreviewRef = { owner: "acme", repo: "shop", number: 9, branch: "fix/Cart", sha: SHA };

const { tree, tmp: tmpDir } = useTrees("render-plain-");

describe("parseManifests / toYaml", () => {
  it("reads multi-document YAML, skips empty documents and flattens kind: List", () => {
    const objects = parseManifests(
      [
        "---",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}",
        "---\n# only a comment\n---",
        "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: b}}\n- {apiVersion: v1, kind: Secret, metadata: {name: c}}",
      ].join("\n"),
      "x.yaml",
    );
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(["ConfigMap/a", "Service/b", "Secret/c"]);
  });

  it("says which file and document is broken", () => {
    expect(() => parseManifests("apiVersion: v1\nkind: A\nmetadata: {name: a}\n---\nkind: [", "deploy/x.yaml")).toThrow(
      /parsing deploy\/x.yaml document 2/,
    );
    // The line the error is at, quoted, not a message cut at "line 6, column 1:".
    expect(() =>
      parseManifests("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata: [a\nb: c\n", "deploy/z.yaml"),
    ).toThrow(
      'parsing deploy/z.yaml document 1: Flow sequence in block collection must be sufficiently indented and end with a ] at line 6, column 1: "b: c"',
    );
    expect(() => parseManifests("just: a map\n", "deploy/y.yaml")).toThrow(RenderError);
    expect(() => parseManifests("just: a map\n", "deploy/y.yaml")).toThrow(
      /deploy\/y.yaml document 1 is not a Kubernetes object/,
    );
  });

  it("bounds alias expansion (no billion laughs)", () => {
    const bomb = [
      "apiVersion: v1",
      "kind: ConfigMap",
      "metadata: {name: a}",
      "a: &a [x,x,x,x,x,x,x,x,x,x]",
      "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]",
      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]",
      "d: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]",
    ].join("\n");
    expect(() => parseManifests(bomb, "bomb.yaml")).toThrow(/bomb.yaml document 1/);
  });

  it("writes one YAML document per object that parses back to the same objects", () => {
    const objects = parseManifests(
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: '---', y: \"a\\n---\\nkind: Secret\"}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\n",
      "x",
    );
    const text = toYaml(objects);
    const docs = parseAllDocuments(text);
    expect(Array.from(docs).map((d) => d.toJS())).toEqual(objects);
    expect(toYaml([])).toBe("");
  });
});

describe("readPlainManifests", () => {
  it("reads *.yaml, *.yml and *.json recursively in sorted order, skipping dot-files and other files", async () => {
    const root = await tree({
      "k8s/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
      "k8s/a/z.yml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: az}\n",
      "k8s/c.json": JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" } }),
      "k8s/.hidden.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hidden}\n",
      "k8s/notes.txt": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: txt}\n",
    });
    const { objects } = await readPlainManifests(path.join(root, "k8s"), root);
    expect(objects.map((o) => o.metadata.name)).toEqual(["az", "b", "c"]);
  });

  it("refuses a symlink pointing outside the repository", async () => {
    const root = await tree({ "k8s/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n" });
    const outside = path.join(tmpDir(), "outside.yaml");
    await writeFile(outside, "apiVersion: v1\nkind: Secret\nmetadata: {name: stolen}\n");
    await symlink(outside, path.join(root, "k8s", "evil.yaml"));
    await expect(readPlainManifests(path.join(root, "k8s"), root)).rejects.toThrow(
      /k8s\/evil.yaml is a symlink pointing outside the repository/,
    );
  });
});

describe("createRenderer on plain YAML", () => {
  it("renders the plain-app fixture: namespace, images, route, variables, ownership", async () => {
    const c = config(
      await import("node:fs/promises").then((fs) => fs.readFile(path.join(PLAIN_APP, ".github/preview.yml"), "utf8")),
    );
    const names = previewNamesFor(ref, c);
    const { objects, warnings } = await testRenderer().render({ dir: PLAIN_APP, config: c, ref, names });
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "Deployment/shop",
      "Service/shop",
      "ConfigMap/shop-config",
      "CronJob/nightly-report",
      "HTTPRoute/shop",
    ]);
    for (const o of objects) {
      expect(o.metadata.namespace).toBe(names.namespace);
      expect(o.metadata.labels).toMatchObject(names.labels);
    }
    const cm = objects[2]!;
    expect(cm.data).toMatchObject({
      PUBLIC_URL: names.url,
      LOG_LEVEL: "debug",
      CACHE_TTL: "300",
      GREETING: "Welcome to ${SHOP_NAME}",
    });
    expect(warnings).toEqual([]);
  });

  it("detects kustomize from a kustomization file, and refuses a manifests.path that does not exist", async () => {
    const root = await tree({ "k8s/kustomization.yaml": "resources:\n- https://example.com/evil.yaml\n" });
    const c = config("manifests:\n  path: k8s\n");
    const names = previewNamesFor(ref, c);
    await expect(testRenderer().render({ dir: root, config: c, ref, names })).rejects.toThrow(/remote reference/);
    const missing = config("manifests:\n  path: nope\n");
    await expect(testRenderer().render({ dir: root, config: missing, ref, names })).rejects.toThrow(
      /rendering nope: no such directory in acme\/shop@89abcde \(manifests.path\)/,
    );
  });

  it("with type: plain, skips a kustomization file with a warning", async () => {
    const root = await tree({
      "k8s/kustomization.yaml": "resources: [a.yaml]\n",
      "k8s/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    });
    const c = config("manifests:\n  path: k8s\n  type: plain\n");
    const { objects, warnings } = await testRenderer().render({
      dir: root,
      config: c,
      ref,
      names: previewNamesFor(ref, c),
    });
    expect(objects.map((o) => o.metadata.name)).toEqual(["a"]);
    expect(warnings[0]).toMatch(/skipped k8s\/kustomization.yaml/);
  });

  it("mentions the kustomization files include/exclude kept, once, and none they left out", async () => {
    const files: Record<string, string> = {
      "k8s/base/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    };
    for (const d of ["x", "y", "z", "w"]) files[`k8s/overlays/${d}/kustomization.yaml`] = "resources: [../../base]\n";
    files["k8s/base/kustomization.yaml"] = "resources: [a.yaml]\n";
    const root = await tree(files);
    const render = async (yaml: string) => {
      const c = config(`manifests:\n  path: k8s\n  type: plain\n${yaml}`);
      return testRenderer().render({ dir: root, config: c, ref, names: previewNamesFor(ref, c) });
    };
    const only = await render("  include: [base/**]\n");
    expect(only.objects.map((o) => o.metadata.name)).toEqual(["a"]);
    expect(only.warnings.filter((w) => w.includes("kustomization"))).toEqual([
      "skipped k8s/base/kustomization.yaml: a kustomization file is not a manifest (set manifests.type: kustomize to build one, or leave it out with manifests.include/exclude)",
    ]);
    const excluded = await render('  exclude: ["**/kustomization.yaml"]\n');
    expect(excluded.warnings.filter((w) => w.includes("kustomization"))).toEqual([]);
    const all = await render("");
    expect(all.warnings.filter((w) => w.includes("kustomization"))).toEqual([
      "skipped k8s/base/kustomization.yaml, k8s/overlays/w/kustomization.yaml, k8s/overlays/x/kustomization.yaml and 2 more: a kustomization file is not a manifest (set manifests.type: kustomize to build one, or leave it out with manifests.include/exclude)",
    ]);
  });

  it("refuses a manifests.path that is a symlink out of the repository (the tree's links are judged first)", async () => {
    const root = await tree({ "README.md": "x" });
    await symlink(tmpDir(), path.join(root, "k8s"));
    const c = config("manifests:\n  path: k8s\n");
    await expect(testRenderer().render({ dir: root, config: c, ref, names: previewNamesFor(ref, c) })).rejects.toThrow(
      /link refused: k8s: symlink to \/.* points outside the checkout/,
    );
  });
});
