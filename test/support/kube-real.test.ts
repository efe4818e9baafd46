/**
 * The real control plane itself: what the other real-cluster suites rely on. It serves the pinned version, pods of
 * a Deployment become Ready on the kwok node, the namespace controller really removes a namespace and what is in
 * it, and RBAC really refuses a ServiceAccount that was granted nothing.
 */
import { expect, it } from "@jest/globals";
import { AppsV1Api, CoreV1Api, AuthorizationV1Api } from "@kubernetes/client-node";
import { describeWithRealCluster } from "./kube-real/index.js";

const until = async <T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

describeWithRealCluster("the test control plane", (cluster) => {
  it("serves the pinned Kubernetes release", () => {
    expect(cluster().version).toBe("v1.37.2");
  });

  it("runs a Deployment's pods to Ready, and the namespace controller removes the namespace with them", async () => {
    const kc = cluster().kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    const ns = `cp-smoke-${Date.now().toString(36)}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" } },
            spec: { containers: [{ name: "web", image: "example.com/web:1" }] },
          },
        },
      },
    });
    await until("2 ready replicas", async () =>
      (await apps.readNamespacedDeployment({ name: "web", namespace: ns })).status?.readyReplicas === 2
        ? true
        : undefined,
    );
    await core.deleteNamespace({ name: ns });
    await until(
      "the namespace to be gone",
      async () =>
        core.readNamespace({ name: ns }).then(
          () => undefined,
          (err: { code?: number }) => (err.code === 404 ? true : undefined),
        ),
      120_000,
    );
  }, 200_000);

  it("authenticates a ServiceAccount token and authorizes it with RBAC (granted nothing, it may do nothing)", async () => {
    const kc = cluster().kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const ns = `cp-rbac-${Date.now().toString(36)}`;
    await core.createNamespace({ body: { metadata: { name: ns } } });
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "nobody" } } });
    const token = await cluster().serviceAccountToken(ns, "nobody");
    const review = await cluster()
      .kubeConfigFor(token)
      .makeApiClient(AuthorizationV1Api)
      .createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { verb: "list", resource: "secrets", namespace: ns } } },
      });
    expect(review.status?.allowed).toBe(false);
    await expect(
      cluster().kubeConfigFor(token).makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: ns }),
    ).rejects.toMatchObject({ code: 403 });
    await core.deleteNamespace({ name: ns });
  }, 120_000);
});
