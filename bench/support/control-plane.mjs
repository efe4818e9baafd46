/**
 * A private real control plane for a benchmark (test/support/kube-real: etcd, kube-apiserver, controller-manager,
 * scheduler, kwok) with the CRDs the test run serves (Gateway API and the vendored ones), and an admin KubeConfig
 * for it. Shared by bench/wake.mjs and bench/url.mjs; call it in the re-run child only (after `rerunWithTypeScript`).
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "./bot.mjs";

export async function startBenchControlPlane() {
  const support = (p) => pathToFileURL(join(ROOT, "test", "support", p)).href;
  const { KubeConfig } = await import("@kubernetes/client-node");
  const { startControlPlane } = await import(support("kube-real/control-plane.ts"));
  const { runCrdFiles } = await import(support("kube-real/crd-files.ts"));
  const t0 = Date.now();
  const kube = await startControlPlane({ crdFiles: runCrdFiles() });
  console.log(`control plane ${kube.version} up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "b", server: kube.server, caData: Buffer.from(kube.caData).toString("base64") }],
    users: [{ name: "admin", token: kube.adminToken }],
    contexts: [{ name: "b", cluster: "b", user: "admin" }],
    currentContext: "b",
  });
  return { kube, kubeConfig };
}
