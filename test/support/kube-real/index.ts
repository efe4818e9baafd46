/**
 * The real control plane in tests. The jest global setup starts one per run (control-plane.ts: etcd,
 * kube-apiserver, kube-controller-manager, kube-scheduler + kwok) with the Gateway API CRDs and the CRDs vendored in
 * test/fixtures/crds/, and hands it to every worker through TEST_KUBE_REAL. Tests share it, so each uses its own
 * namespaces and names.
 *
 *   describeWithRealCluster("the lifecycle on a real API server", (kube) => { ... kube().kubeConfig() ... });
 *
 * When the binaries are missing (no `bash tools/build.sh` yet) such suites skip with a message saying how to get
 * them; under CI=true they fail instead. `startControlPlane()` gives a private one to a test that must own it.
 */
import { describe, it } from "@jest/globals";
import { KubeConfig } from "@kubernetes/client-node";
import { HOW_TO_GET_TOOLS } from "../tools.js";
import { apiRequest, type ControlPlaneInfo } from "./control-plane.js";

export { apiRequest, type ControlPlaneInfo } from "./control-plane.js";

const KUBE_REAL_ENV = "TEST_KUBE_REAL";

export interface RealCluster extends ControlPlaneInfo {
  /** A client config for the admin (`system:masters`). */
  kubeConfig(): KubeConfig;
  /** A client config that authenticates with `token` (e.g. a ServiceAccount's, to test RBAC for real). */
  kubeConfigFor(token: string): KubeConfig;
  /** A short-lived token for a ServiceAccount, from the TokenRequest API (the way a pod gets one). */
  serviceAccountToken(namespace: string, name: string, expirationSeconds?: number): Promise<string>;
}

/** The run's shared control plane, or undefined when the global setup could not start one. */
function sharedControlPlane(): RealCluster | undefined {
  const raw = process.env[KUBE_REAL_ENV];
  if (!raw) return undefined;
  return realCluster(JSON.parse(raw) as ControlPlaneInfo);
}

function realCluster(info: ControlPlaneInfo): RealCluster {
  const configFor = (user: string, token: string): KubeConfig => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: "test",
          server: info.server,
          caData: Buffer.from(info.caData).toString("base64"),
          skipTLSVerify: false,
        },
      ],
      users: [{ name: user, token }],
      contexts: [{ name: "test", cluster: "test", user }],
      currentContext: "test",
    });
    return kc;
  };
  return {
    ...info,
    kubeConfig: () => configFor("admin", info.adminToken),
    kubeConfigFor: (token) => configFor("token-user", token),
    async serviceAccountToken(namespace, name, expirationSeconds = 3600) {
      const r = await apiRequest(
        info,
        info.adminToken,
        "POST",
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(name)}/token`,
        {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: { expirationSeconds },
        },
      );
      if (r.status !== 201)
        throw new Error(
          `requesting a token for ServiceAccount ${namespace}/${name}: ${r.status} ${r.body.slice(0, 300)}`,
        );
      return (JSON.parse(r.body) as { status: { token: string } }).status.token;
    },
  };
}

/**
 * `describe` with the shared real control plane; a skipped describe saying why when there is none, or under
 * CI=true a failing one (CI must never pass by skipping the real server).
 */
export function describeWithRealCluster(name: string, fn: (cluster: () => RealCluster) => void): void {
  const cluster = sharedControlPlane();
  if (cluster) return describe(`${name} [kube-apiserver ${cluster.version}]`, () => fn(() => cluster));
  const why = `no real control plane: ${process.env.TEST_KUBE_REAL_ERROR ?? `its binaries are missing: ${HOW_TO_GET_TOOLS}`}`;
  if (process.env.CI === "true") {
    describe(name, () => {
      it("has a real control plane", () => {
        throw new Error(`under CI=true a missing real control plane fails the suite: ${why}`);
      });
    });
    return;
  }
  console.warn(`${name}: skipped: ${why}`);
  describe.skip(`${name} [skipped: ${why}]`, () => fn(() => undefined as never));
}
