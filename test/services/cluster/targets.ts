/**
 * Run the same Cluster-service cases against the fake API server and the real control plane: `describeOnBoth(name,
 * (target) => { it(...) })`. Each case makes its own preview namespaces (`target().preview()`), because the real
 * control plane is shared by the whole run.
 */
import { afterAll, beforeAll, describe } from "@jest/globals";
import { randomBytes } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import { createLogger } from "../../../src/logger.js";
import { createCluster } from "../../../src/services/cluster/cluster.js";
import { MANAGED_BY, PR_LABEL, REPO_LABEL } from "../../../src/services/shared/labels.js";
import type { Cluster } from "../../../src/services/shared/preview.js";
import { startFakeKube, type FakeKube } from "../../support/fake-kube/index.js";
import { describeWithRealCluster } from "../../support/kube-real/index.js";
import { runCrdFiles } from "../../support/kube-real/crd-files.js";
import { until } from "../../support/wait.js";

export interface Target {
  name: "fake" | "real";
  kc: KubeConfig;
  cluster: Cluster;
  /** A fresh preview namespace, ours, labelled for PR `pr` of this run's repository. */
  preview(pr?: number): Promise<{ ns: string; labels: Record<string, string> }>;
}

export { until };

function makeTarget(name: Target["name"], kc: KubeConfig, prefix: string): Target {
  const cluster = createCluster({
    kubeConfig: kc,
    pollMs: 50,
    namespaceWaitMs: 120_000,
    replaceWaitMs: 120_000,
    logger: createLogger({ level: "silent" }),
  });
  const run = randomBytes(2).toString("hex");
  let n = 0;
  return {
    name,
    kc,
    cluster,
    async preview(pr = 7) {
      const ns = `${prefix}-${run}-${++n}`;
      const labels = { ...MANAGED_BY, [REPO_LABEL]: `acme.web-${run}`, [PR_LABEL]: String(pr) };
      await cluster.ensureNamespace(ns, labels, {});
      return { ns, labels };
    },
  };
}

/**
 * `describe` the cases on the fake (with the run's CRDs) and on the real control plane (skipped, or failing under CI,
 * without it).
 */
export function describeOnBoth(name: string, prefix: string, cases: (target: () => Target) => void): void {
  describe(`${name} [fake API server]`, () => {
    let fake: FakeKube;
    let t: Target;
    beforeAll(async () => {
      fake = await startFakeKube({ namespaceFinalizeMs: 30, controllerTickMs: 10, crdFiles: runCrdFiles() });
      t = makeTarget("fake", fake.kubeConfig(), prefix);
    });
    afterAll(async () => fake.stop());
    cases(() => t);
  });
  describeWithRealCluster(name, (real) => {
    let t: Target;
    beforeAll(() => {
      t = makeTarget("real", real().kubeConfig(), prefix);
    });
    cases(() => t);
  });
}
