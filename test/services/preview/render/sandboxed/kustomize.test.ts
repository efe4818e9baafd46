import { describe, expect, it } from "@jest/globals";
import path from "node:path";
import type { PreviewRef } from "../../../../../src/services/shared/preview.js";
import { findKustomizeCommand, previewNamesFor } from "../../../../../src/services/preview/render/index.js";
import {
  checkKustomizationTree,
  isRemoteReference,
} from "../../../../../src/services/preview/render/sandboxed/kustomize.js";
import { config, useTrees, testRenderer } from "../../../../support/render.js";
import { describeWithTools } from "../../../../support/tools.js";

const ref: PreviewRef = {
  owner: "acme",
  repo: "shop",
  number: 3,
  branch: "login",
  sha: "0123456789abcdef0123456789abcdef01234567",
};
/**
 * The pinned kustomize (.tools/bin, first on PATH), else kubectl kustomize; suites needing it skip (fail under CI)
 * without.
 */
const KUSTOMIZE = await findKustomizeCommand(process.env.PATH!);
/** Tests needing a kustomize binary skip, saying why, when neither kustomize nor kubectl is installed. */

const { tree, tmp: tmpDir } = useTrees("render-kustomize-");

const CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: b\n";

describe("remote bases are refused before kustomize runs", () => {
  it.each([
    "https://github.com/acme/base//deploy?ref=v1",
    "github.com/acme/base/deploy?ref=main",
    "git@github.com:acme/base.git",
    "ssh://git@github.com/acme/base.git",
    "https://raw.githubusercontent.com/acme/base/main/cm.yaml",
    "gitlab.com/acme/base/deploy",
  ])("refuses %s", async (entry) => {
    expect(await isRemoteReference(entry, tmpDir())).toBe(true);
  });

  it.each(["../../base", "base/", "cm.yaml", "configs.d/app.yaml"])("accepts local %s", async (entry) => {
    expect(await isRemoteReference(entry, tmpDir())).toBe(false);
  });

  it("finds a remote base in a nested local base and names the file and entry", async () => {
    const root = await tree({
      "overlay/kustomization.yaml": "resources:\n- ../base\n",
      "base/kustomization.yaml": "resources:\n- cm.yaml\n- https://github.com/acme/shared//k8s?ref=main\n",
      "base/cm.yaml": CM,
    });
    await expect(checkKustomizationTree(path.join(root, "overlay"), root)).rejects.toThrow(
      'base/kustomization.yaml: resources entry "https://github.com/acme/shared//k8s?ref=main" is a remote reference; preview-bot builds only from the PR\'s own commit',
    );
  });

  it("refuses a local base outside the repository, and helm charts", async () => {
    const root = await tree({
      "k8s/kustomization.yaml": `resources:\n- ${path.relative(path.join(tmpDir(), "x", "k8s"), tmpDir())}\n`,
    });
    await expect(checkKustomizationTree(path.join(root, "k8s"), root)).rejects.toThrow(/points outside the repository/);
    const helm = await tree({
      "k8s/kustomization.yaml": "helmCharts:\n- name: redis\n  repo: https://charts.example.com\n",
    });
    await expect(checkKustomizationTree(path.join(helm, "k8s"), helm)).rejects.toThrow(
      /helmCharts\[0\] "redis" comes from the chart repository https:\/\/charts.example.com; preview-bot renders offline/,
    );
  });

  it("needs no binary to refuse (the check runs first)", async () => {
    const root = await tree({ "k8s/kustomization.yaml": "resources:\n- github.com/acme/base\n" });
    const c = config("manifests:\n  path: k8s\n");
    const renderer = testRenderer({ kustomizeCommand: ["/nonexistent/kustomize", "build"] });
    await expect(renderer.render({ dir: root, config: c, ref, names: previewNamesFor(ref, c) })).rejects.toThrow(
      /remote reference/,
    );
  });

  it("reports a missing kustomize command as a render error", async () => {
    const root = await tree({ "k8s/kustomization.yaml": "resources:\n- cm.yaml\n", "k8s/cm.yaml": CM });
    const c = config("manifests:\n  path: k8s\n");
    const renderer = testRenderer({ kustomizeCommand: ["/nonexistent/kustomize", "build"] });
    await expect(renderer.render({ dir: root, config: c, ref, names: previewNamesFor(ref, c) })).rejects.toThrow(
      "rendering k8s with kustomize: /nonexistent/kustomize not found",
    );
  });
});

describeWithTools(["kustomize"], "kustomize build (real binary)", () => {
  it("builds an overlay and applies preview-bot's transforms on the output", async () => {
    const root = await tree({
      "k8s/base/kustomization.yaml": "resources:\n- cm.yaml\n",
      "k8s/base/cm.yaml": CM,
      "k8s/overlay/kustomization.yaml":
        "resources:\n- ../base\nnamespace: production\nnamePrefix: preview-\ncommonLabels:\n  team: shop\n",
    });
    const c = config("manifests:\n  path: k8s/overlay\n");
    const names = previewNamesFor(ref, c);
    const { objects } = await testRenderer({ kustomizeCommand: KUSTOMIZE! }).render({
      dir: root,
      config: c,
      ref,
      names,
    });
    expect(objects).toHaveLength(1);
    expect(objects[0]!.metadata).toMatchObject({
      name: "preview-app",
      namespace: names.namespace,
      labels: { team: "shop", ...names.labels },
    });
  });

  it("passes kustomize's own error on, saying what was being rendered", async () => {
    const root = await tree({ "k8s/kustomization.yaml": "resources:\n- missing.yaml\n" });
    const c = config("manifests:\n  path: k8s\n");
    await expect(
      testRenderer({ kustomizeCommand: KUSTOMIZE! }).render({
        dir: root,
        config: c,
        ref,
        names: previewNamesFor(ref, c),
      }),
    ).rejects.toThrow(/^rendering k8s with kustomize: .*missing\.yaml/s);
  });

  it("keeps kustomize's root-only load restriction: a patch file outside the kustomization root is refused", async () => {
    const root = await tree({
      "k8s/app/kustomization.yaml": "resources:\n- cm.yaml\npatches:\n- path: ../patch.yaml\n",
      "k8s/app/cm.yaml": CM,
      "k8s/patch.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: patched\n",
    });
    const c = config("manifests:\n  path: k8s/app\n");
    await expect(
      testRenderer({ kustomizeCommand: KUSTOMIZE! }).render({
        dir: root,
        config: c,
        ref,
        names: previewNamesFor(ref, c),
      }),
    ).rejects.toThrow(
      /rendering k8s\/app with kustomize: k8s\/patch.yaml is outside k8s\/app \(kustomize loads only files in or below/,
    );
  });
});
