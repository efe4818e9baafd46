/**
 * Cluster-scoped objects a repository allows (`allowClusterScoped`), on the fake and the real API server: they must
 * carry the preview's ownership labels, an existing one is checked before it is overwritten (someone else's, another
 * preview's), they belong to the preview namespace, and they are pruned when they leave the render and deleted on
 * teardown — by the namespace's recorded kinds, the preview's labels and the namespace as owner — or by the garbage
 * collector with the namespace.
 */
import { expect, it } from "@jest/globals";
import { CoreV1Api, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { OwnershipError } from "../../../src/services/cluster/cluster.js";
import type { KubeObject } from "../../../src/services/shared/preview.js";
import { describeOnBoth, until, type Target } from "./targets.js";

const clusterRole = (name: string, labels: Record<string, string>): KubeObject => ({
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: "ClusterRole",
  metadata: { name, labels },
  rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }],
});
const configMap = (ns: string, labels: Record<string, string>): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "app", namespace: ns, labels },
  data: { a: "1" },
});

const gone = async (rbac: RbacAuthorizationV1Api, name: string): Promise<true | undefined> =>
  rbac.readClusterRole({ name }).then(
    () => undefined,
    (err: { code?: number }) => (err.code === 404 ? true : undefined),
  );

describeOnBoth("Cluster-scoped objects of a preview", "cs", (target: () => Target) => {
  it("are owned by the preview namespace and recorded on it; someone else's or another preview's are never overwritten", async () => {
    const { ns, labels } = await target().preview();
    const rbac = target().kc.makeApiClient(RbacAuthorizationV1Api);
    const [, role] = await target().cluster.apply([configMap(ns, labels), clusterRole(`${ns}-reader`, labels)]);
    expect(role).toMatchObject({ kind: "ClusterRole", name: `${ns}-reader` });
    const nsObj = await target().kc.makeApiClient(CoreV1Api).readNamespace({ name: ns });
    const live = await rbac.readClusterRole({ name: `${ns}-reader` });
    expect(live.metadata?.ownerReferences).toEqual([
      { apiVersion: "v1", kind: "Namespace", name: ns, uid: nsObj.metadata?.uid },
    ]);
    expect(nsObj.metadata?.annotations?.["preview-bot.dev/applied-cluster-kinds"]).toBe(
      "rbac.authorization.k8s.io/v1/ClusterRole",
    );
    // The same name from another pull request: refused, untouched.
    const other = { ...labels, "preview-bot.dev/pr": "8" };
    await expect(target().cluster.apply([configMap(ns, other), clusterRole(`${ns}-reader`, other)])).rejects.toThrow(
      /belongs to another preview \(.*#7\)/,
    );
    // Someone else's ClusterRole of that name: refused, untouched.
    await rbac.createClusterRole({ body: { metadata: { name: `${ns}-theirs` }, rules: [] } });
    const err = await target()
      .cluster.apply([configMap(ns, labels), clusterRole(`${ns}-theirs`, labels)])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OwnershipError);
    expect((err as Error).message).toMatch(/belongs to someone else/);
    expect((await rbac.readClusterRole({ name: `${ns}-theirs` })).rules ?? []).toEqual([]); // the real server answers null
    // Without the preview's labels a cluster-scoped object is not applied at all.
    await expect(target().cluster.apply([configMap(ns, labels), clusterRole(`${ns}-unlabelled`, {})])).rejects.toThrow(
      /must carry the preview's ownership labels/,
    );
    await rbac.deleteClusterRole({ name: `${ns}-theirs` });
  });

  it("are pruned when they leave the render, and deleted on teardown (by labels), leaving others' alone", async () => {
    const { ns, labels } = await target().preview();
    const rbac = target().kc.makeApiClient(RbacAuthorizationV1Api);
    await target().cluster.apply([
      configMap(ns, labels),
      clusterRole(`${ns}-a`, labels),
      clusterRole(`${ns}-b`, labels),
    ]);
    // A second namespace of the same preview (its names pattern changed) keeps what it applied.
    const { ns: sameNs } = await target().preview(Number(labels["preview-bot.dev/pr"]));
    await target().cluster.apply([configMap(sameNs, labels), clusterRole(`${sameNs}-b`, labels)]);
    const keep = await target().cluster.apply([configMap(ns, labels), clusterRole(`${ns}-a`, labels)]);
    expect(
      (await target().cluster.prune(ns, labels, keep, { dryRun: true })).map((r) => `${r.kind}/${r.name}`),
    ).toEqual([`ClusterRole/${ns}-b`]);
    expect((await target().cluster.prune(ns, labels, keep)).map((r) => `${r.kind}/${r.name}`)).toEqual([
      `ClusterRole/${ns}-b`,
    ]);
    await until("the pruned ClusterRole gone", () => gone(rbac, `${ns}-b`));
    expect((await rbac.readClusterRole({ name: `${ns}-a` })).metadata?.name).toBe(`${ns}-a`);
    expect((await rbac.readClusterRole({ name: `${sameNs}-b` })).metadata?.name).toBe(`${sameNs}-b`);
    // Another preview's ClusterRole carries other labels: teardown of this one does not see it.
    const { ns: otherNs, labels: otherLabels } = await target().preview(9);
    await target().cluster.apply([configMap(otherNs, otherLabels), clusterRole(`${otherNs}-a`, otherLabels)]);
    expect((await target().cluster.deleteClusterScoped(ns, { dryRun: true })).map((r) => r.name)).toEqual([`${ns}-a`]);
    expect((await target().cluster.deleteClusterScoped(ns)).map((r) => r.name)).toEqual([`${ns}-a`]);
    await until("the torn-down ClusterRole gone", () => gone(rbac, `${ns}-a`));
    expect((await rbac.readClusterRole({ name: `${otherNs}-a` })).metadata?.name).toBe(`${otherNs}-a`);
    expect(await target().cluster.deleteClusterScoped(ns)).toEqual([]);
    // The other preview's goes with its namespace, by the garbage collector, whatever deleted the namespace.
    await target().kc.makeApiClient(CoreV1Api).deleteNamespace({ name: otherNs });
    await until("the ClusterRole collected with its namespace", () => gone(rbac, `${otherNs}-a`), 180_000);
  }, 240_000);
});
