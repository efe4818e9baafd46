/**
 * URLs anywhere kustomize loads from are refused before it runs (it fetches http(s) URLs in generator files and
 * patch paths even under LoadRestrictionsRootOnly: SSRF at render time), while URLs that are only values stay.
 */
import { describe, expect, it } from "@jest/globals";
import { checkKustomizationTree } from "../../../../../src/services/preview/render/sandboxed/kustomization-check.js";
import { readRepoFile } from "../../../../../src/services/preview/render/sandboxed/repo-files.js";
import { mkfifo } from "../../../../support/fifo.js";
import { useTrees } from "../../../../support/render.js";
import { symlink } from "node:fs/promises";
import path from "node:path";

const { tree } = useTrees("kcheck-");
const URL_ = "http://169.254.169.254/latest/meta-data/iam";

describe("remote references in a kustomization", () => {
  it.each([
    ["resources", `resources: [${URL_}]`],
    ["components", `components: ["${URL_}"]`],
    ["patches[0].path", `patches:\n  - path: ${URL_}`],
    ["patchesStrategicMerge[0]", `patchesStrategicMerge: [${URL_}]`],
    ["patchesJson6902[0].path", `patchesJson6902:\n  - target: { kind: Deployment, name: x }\n    path: ${URL_}`],
    ["configMapGenerator[0].files", `configMapGenerator:\n  - name: c\n    files: [creds=${URL_}]`],
    ["secretGenerator[0].envs", `secretGenerator:\n  - name: s\n    envs: [${URL_}]`],
    ["replacements[0].path", `replacements:\n  - path: ${URL_}`],
    ["openapi.path", `openapi:\n  path: ${URL_}`],
    ["helmCharts[0] values", `helmCharts:\n  - name: web\n    valuesFile: ${URL_}`],
    ["resources", "resources: [github.com/org/repo//deploy?ref=main]"],
    ["resources", "resources: [git@github.com:org/repo.git]"],
  ])("refuses a URL in %s", async (field, body) => {
    const root = await tree({
      "k8s/kustomization.yaml": `${body}\n`,
      "k8s/charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 1.0.0\n",
    });
    await expect(checkKustomizationTree(path.join(root, "k8s"), root)).rejects.toThrow(
      new RegExp(`^k8s/kustomization\\.yaml: ${field.replace(/[[\].]/g, "\\$&")} entry ".*" is a remote reference`),
    );
  });

  it("refuses a URL in a base several levels down, and a base outside the repository", async () => {
    const root = await tree({
      "k8s/kustomization.yaml": "resources: [../base]\n",
      "base/kustomization.yaml": `configMapGenerator:\n  - name: c\n    files: [${URL_}]\n`,
    });
    await expect(checkKustomizationTree(path.join(root, "k8s"), root)).rejects.toThrow(
      /^base\/kustomization\.yaml: configMapGenerator\[0\]\.files entry/,
    );
    const out = await tree({ "k8s/kustomization.yaml": "resources: [../../../../../../etc]\n" });
    await expect(checkKustomizationTree(path.join(out, "k8s"), out)).rejects.toThrow(/points outside the repository/);
  });

  it("leaves URLs that are values alone (literals, inline patches, labels)", async () => {
    const root = await tree({
      "k8s/kustomization.yaml": `labels:\n  - pairs: { docs: "https://docs.example.com" }\nconfigMapGenerator:\n  - name: c\n    literals: [API=https://api.example.com]\npatches:\n  - patch: |-\n      - op: add\n        path: /metadata/annotations/link\n        value: https://example.com\n    target: { kind: Deployment }\n`,
    });
    await expect(checkKustomizationTree(path.join(root, "k8s"), root)).resolves.toEqual({ helm: false });
  });
});

describe("reading a seed file of the checkout", () => {
  it("reads a regular file, and refuses links out, devices, FIFOs and files over the cap", async () => {
    const root = await tree({ "db/seed.sql": "insert into t values (1);", "db/big.sql": "x".repeat(2048) });
    await symlink("/etc/passwd", path.join(root, "db/passwd.sql"));
    await symlink("/dev/zero", path.join(root, "db/zero.sql"));
    await mkfifo(path.join(root, "db/pipe.sql"));
    expect(await readRepoFile(root, "db/seed.sql", "database.seed")).toBe("insert into t values (1);");
    await expect(readRepoFile(root, "db/passwd.sql", "database.seed")).rejects.toThrow(
      'database.seed "db/passwd.sql" points outside the repository',
    );
    await expect(readRepoFile(root, "db/zero.sql", "database.seed")).rejects.toThrow(
      'database.seed "db/zero.sql" points outside the repository',
    );
    await expect(readRepoFile(root, "db/pipe.sql", "database.seed")).rejects.toThrow(
      'database.seed "db/pipe.sql" is not a regular file',
    );
    await expect(readRepoFile(root, "db/big.sql", "database.seed", 1024)).rejects.toThrow(/over the 1024-byte limit/);
  });
});
