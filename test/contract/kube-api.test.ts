/**
 * The contract suite: one table of Kubernetes API cases (cases/*.ts), run against the project's fake API server and
 * against the real kube-apiserver of this run. Both must give the answers the cases expect — the real server's, as
 * measured — so a bot test that passes on the fake means what it would mean on a cluster. A case the fake does not
 * answer says "real only" and why; it is listed as skipped on the fake.
 */
import { afterAll, beforeAll, describe, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import type { KubeConfig } from "@kubernetes/client-node";
import { startFakeKube, type FakeKube } from "../support/fake-kube/index.js";
import { describeWithRealCluster } from "../support/kube-real/index.js";
import { runCrdFiles } from "../support/kube-real/crd-files.js";
import { Api, type ContractCase, type Target } from "./client.js";
import { APPLY_CASES } from "./cases/apply.js";
import { BODY_CASES } from "./cases/bodies.js";
import { LIFECYCLE_CASES } from "./cases/lifecycle.js";

const CASES: ContractCase[] = [...APPLY_CASES, ...BODY_CASES, ...LIFECYCLE_CASES];

let counter = 0;
/** `ct-<case number>-<random>`: unique on the shared real server, readable in its logs. */
const namespaceFor = (): string => `ct-${++counter}-${randomBytes(3).toString("hex")}`;

function runCases(target: () => Target): void {
  for (const c of CASES) {
    if (c.realOnly && target().name === "fake") {
      it.skip(`${c.name} [real only: ${c.realOnly}]`, () => undefined);
      continue;
    }
    it(
      c.name,
      async () => {
        const kc: KubeConfig = target().kubeConfig();
        const api = new Api(kc);
        const ns = namespaceFor();
        const made = await api.post("/api/v1/namespaces", {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name: ns },
        });
        if (made.code !== 201)
          throw new Error(`contract setup: creating namespace ${ns}: ${made.code} ${made.text.slice(0, 300)}`);
        try {
          await c.run({ api, ns, target: target().name, kubeConfig: kc });
        } finally {
          await api.delete(`/api/v1/namespaces/${ns}`); // not waited for: the namespace controller finishes it
        }
      },
      c.timeoutMs ?? 60_000,
    );
  }
}

describe("Kubernetes API contract [fake API server]", () => {
  let fake: FakeKube;
  beforeAll(async () => {
    fake = await startFakeKube({ crdFiles: runCrdFiles() });
  });
  afterAll(async () => fake.stop());
  runCases(() => ({ name: "fake", kubeConfig: () => fake.kubeConfig() }));
});

describeWithRealCluster("Kubernetes API contract", (cluster) => {
  runCases(() => ({ name: "real", kubeConfig: () => cluster().kubeConfig() }));
});
