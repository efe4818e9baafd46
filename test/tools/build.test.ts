/**
 * tools/build.sh: the helm it builds carries its release information, as helm's own Makefile stamps a release (the
 * version, no "+unreleased", a clean tree, and the Kubernetes version `helm template` assumes by default taken from
 * the client-go it is built with, not helm's fallback v1.20), so a chart that needs Kubernetes ≥ 1.23 renders even
 * with no --kube-version. And the build is keyed by its inputs: `--check` names a helm stamped with other flags as
 * missing (a changed flag builds again), and a named tool can be checked (or built) alone.
 */
import { expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { copyFile, mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describeWithTools, ROOT, toolPath } from "../support/tools.js";

const run = promisify(execFile);

/** The client-go tools/helm/go.mod builds helm with: v0.37.0 → Kubernetes 1.37. */
function clientGoMinor(): string {
  const m = /k8s\.io\/client-go v0\.(\d+)\./.exec(readFileSync(path.join(ROOT, "tools/helm/go.mod"), "utf8"));
  if (!m) throw new Error("tools/helm/go.mod requires no k8s.io/client-go");
  return m[1]!;
}

describeWithTools(["helm"], "the helm tools/build.sh builds", () => {
  it("reports its release version, a clean tree and no build metadata", async () => {
    const { stdout } = await run(toolPath("helm")!, ["version", "--template", "{{.Version}} {{.GitTreeState}}"]);
    const wanted = /helm\.sh\/helm\/v3 (v[\d.]+)/.exec(readFileSync(path.join(ROOT, "tools/helm/go.mod"), "utf8"))![1];
    expect(stdout).toBe(`${wanted} clean`);
  });

  it("renders for the Kubernetes of its client-go by default, so kubeVersion: >=1.23.0-0 charts render", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "helm-default-"));
    try {
      await mkdir(path.join(dir, "templates"));
      await writeFile(
        path.join(dir, "Chart.yaml"),
        'apiVersion: v2\nname: p\nversion: 1.0.0\nkubeVersion: ">=1.23.0-0"\n',
      );
      await writeFile(
        path.join(dir, "templates", "cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: p }\ndata:\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n",
      );
      const { stdout } = await run(toolPath("helm")!, ["template", "p", dir], {
        env: { ...process.env, HELM_CACHE_HOME: dir, HELM_CONFIG_HOME: dir, HELM_DATA_HOME: dir },
      });
      expect(stdout).toContain(`kube: "v1.${clientGoMinor()}.0"`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describeWithTools(["go"], "tools/build.sh --check", () => {
  const check = (root: string, ...names: string[]) =>
    run("bash", [path.join(root, "tools/build.sh"), "--check", ...names]).then(
      (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
    );

  it("keys helm by its stamp: a helm stamped for another client-go is another build", async () => {
    // A copy of the script and tools/helm/go.mod, with its own (empty) .tools: nothing is built, only checked.
    const root = await mkdtemp(path.join(os.tmpdir(), "build-key-"));
    try {
      await mkdir(path.join(root, "tools/helm"), { recursive: true });
      await copyFile(path.join(ROOT, "tools/build.sh"), path.join(root, "tools/build.sh"));
      const gomod = readFileSync(path.join(ROOT, "tools/helm/go.mod"), "utf8");
      await writeFile(path.join(root, "tools/helm/go.mod"), gomod);
      const first = await check(root, "helm");
      expect(first.code).toBe(1);
      const key = /^missing: helm (v[\d.]+-[0-9a-f]{8}) \(helm\)$/m.exec(first.out)?.[1];
      expect(key).toBeDefined();
      // The binary under that key: found, nothing missing.
      await mkdir(path.join(root, ".tools/bin", `helm-${key}`), { recursive: true });
      await writeFile(path.join(root, ".tools/bin", `helm-${key}`, "helm"), "#!/bin/sh\n", { mode: 0o755 });
      expect(await check(root, "helm")).toMatchObject({ code: 0, out: "" });
      // Another client-go: other -X flags, another key, so the cached helm is not reused.
      await writeFile(
        path.join(root, "tools/helm/go.mod"),
        gomod.replace(/k8s\.io\/client-go v0\.\d+\./, "k8s.io/client-go v0.30."),
      );
      const again = await check(root, "helm");
      expect(again.code).toBe(1);
      expect(again.out).toMatch(/^missing: helm v[\d.]+-[0-9a-f]{8} \(helm\)$/m);
      expect(again.out).not.toContain(key);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("checks only the tools it is named, and refuses a name it does not know", async () => {
    const named = await check(ROOT, "helm", "kustomize");
    // Whatever is built here, only helm and kustomize are looked at.
    expect(named.out.split("\n").filter((l) => l && !/^missing: (helm|kustomize) /.test(l))).toEqual([]);
    const bad = await check(ROOT, "helmm");
    expect(bad).toMatchObject({ code: 2, err: expect.stringContaining('unknown tool "helmm"') });
  });
});
