/**
 * Contract cases: label selectors, a namespace's deletion (Terminating, then gone; held by a finalizer), finalizers
 * on objects, the garbage collector, CRD discovery, workload status and the scale subresource. Real-only rows say
 * why the fake does not answer them (admission, RBAC).
 */
import { expect } from "@jest/globals";
import { configMap, deployment, managerEntry, paths, until, type Body, type ContractCase } from "../client.js";
import { CRD_CASES } from "./discovery.js";

const names = (list: Body): string[] => (list.items as Body[]).map((i) => String(i.metadata.name)).sort();

export const LIFECYCLE_CASES: ContractCase[] = [
  {
    name: "label selectors: equality, inequality, set-based, existence; a bad one is a 400",
    async run({ api, ns }) {
      const labelled: Array<[string, Record<string, string>]> = [
        ["a", { tier: "web", env: "pr" }],
        ["b", { tier: "db", env: "pr" }],
        ["c", { tier: "web" }],
        ["d", {}],
      ];
      for (const [name, labels] of labelled) await api.post(paths.cm(ns), configMap(name, {}, { labels }));
      const sel = async (s: string): Promise<string[]> =>
        names((await api.get(`${paths.cm(ns)}?labelSelector=${encodeURIComponent(s)}`)).body).filter(
          (n) => n !== "kube-root-ca.crt",
        );
      expect(await sel("tier=web")).toEqual(["a", "c"]);
      expect(await sel("tier==web,env=pr")).toEqual(["a"]);
      expect(await sel("tier!=web")).toEqual(["b", "d"]);
      expect(await sel("tier in (db, web),env")).toEqual(["a", "b"]);
      expect(await sel("tier notin (web)")).toEqual(["b", "d"]);
      expect(await sel("!env")).toEqual(["c", "d"]);
      expect(await sel("tier in ()")).toEqual([]);
      const bad = await api.get(`${paths.cm(ns)}?labelSelector=${encodeURIComponent("tier in (")}`);
      expect(bad).toMatchObject({
        code: 400,
        body: {
          reason: "BadRequest",
          message: "unable to parse requirement: found '', expected: ',', ')' or identifier",
        },
      });
      const worse = await api.get(`${paths.cm(ns)}?labelSelector=${encodeURIComponent("a==b=c")}`);
      expect(worse).toMatchObject({ code: 400, body: { message: "found '=', expected: ',' or 'end of string'" } });
    },
  },
  {
    name: "a deleted namespace goes Terminating (no new content: 403; deleting again: 200), then it is gone",
    timeoutMs: 200_000,
    async run({ api, ns }) {
      await api.post(paths.cm(ns), configMap("c", { a: "1" }));
      const del = await api.delete(paths.ns(ns));
      expect(del.code).toBe(200);
      expect(del.body).toMatchObject({ kind: "Namespace", metadata: { name: ns }, status: { phase: "Terminating" } });
      expect(del.body.metadata.deletionTimestamp).toEqual(expect.any(String));
      const late = await api.post(paths.cm(ns), configMap("late", {}));
      if (late.code !== 404) {
        // Still Terminating (the usual case on a real server): the Status names the reason.
        expect(late).toMatchObject({
          code: 403,
          body: {
            reason: "Forbidden",
            message: `configmaps "late" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
            details: { causes: [{ reason: "NamespaceTerminating", field: "metadata.namespace" }] },
          },
        });
        const again = await api.delete(paths.ns(ns));
        expect([200, 404]).toContain(again.code);
      }
      await until(
        `namespace ${ns} gone`,
        async () => ((await api.get(paths.ns(ns))).code === 404 ? true : undefined),
        180_000,
      );
      expect((await api.get(paths.cm(ns, "c"))).code).toBe(404);
    },
  },
  {
    name: "a finalizer holds an object (deletionTimestamp set) and its namespace (Terminating) until it is removed",
    timeoutMs: 200_000,
    async run({ api, ns }) {
      await api.post(paths.cm(ns), configMap("held", { a: "1" }, { finalizers: ["example.com/hold"] }));
      const del = await api.delete(paths.cm(ns, "held"));
      expect(del.code).toBe(200);
      expect(del.body.metadata.deletionTimestamp).toEqual(expect.any(String));
      expect((await api.get(paths.cm(ns, "held"))).body.metadata.finalizers).toEqual(["example.com/hold"]);
      await api.delete(paths.ns(ns));
      // The namespace controller has been through the content once it reports what is left.
      const remaining = await until(
        "the namespace reporting the finalizer",
        async () => {
          const got = (await api.get(paths.ns(ns))).body;
          return (got.status?.conditions as Body[] | undefined)?.find(
            (c) => c.type === "NamespaceFinalizersRemaining" && c.status === "True",
          );
        },
        120_000,
      );
      expect(remaining.message).toBe(
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances",
      );
      expect((await api.get(paths.ns(ns))).body.status.phase).toBe("Terminating");
      expect((await api.merge(paths.cm(ns, "held"), { metadata: { finalizers: null } })).code).toBe(200);
      await until(
        `namespace ${ns} gone`,
        async () => ((await api.get(paths.ns(ns))).code === 404 ? true : undefined),
        180_000,
      );
    },
  },
  {
    name: "the garbage collector deletes a dependent whose owner does not exist, and the dependents of a deleted owner",
    timeoutMs: 120_000,
    async run({ api, ns }) {
      const orphan = configMap(
        "orphan",
        { a: "1" },
        {
          ownerReferences: [
            { apiVersion: "v1", kind: "ConfigMap", name: "gone", uid: "6a5e2d57-0000-4000-8000-000000000001" },
          ],
        },
      );
      expect((await api.apply(paths.cm(ns, "orphan"), orphan, "ct-a")).code).toBe(201);
      const owner = (await api.post(paths.cm(ns), configMap("owner", {}))).body;
      const ref = { apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata.uid as string };
      await api.post(paths.cm(ns), configMap("child", {}, { ownerReferences: [ref] }));
      await until("the orphan collected", async () =>
        (await api.get(paths.cm(ns, "orphan"))).code === 404 ? true : undefined,
      );
      expect((await api.get(paths.cm(ns, "child"))).code).toBe(200);
      await api.delete(paths.cm(ns, "owner"));
      await until("the child collected", async () =>
        (await api.get(paths.cm(ns, "child"))).code === 404 ? true : undefined,
      );
    },
  },
  {
    name: "the garbage collector deletes a cluster-scoped object owned by a namespace when the namespace goes",
    timeoutMs: 200_000,
    async run({ api, ns }) {
      const nsObj = (await api.get(paths.ns(ns))).body;
      const name = `${ns}-reader`;
      const role = {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: {
          name,
          ownerReferences: [{ apiVersion: "v1", kind: "Namespace", name: ns, uid: nsObj.metadata.uid as string }],
        },
        rules: [],
      };
      expect((await api.apply(`/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}`, role, "ct-a")).code).toBe(201);
      await api.delete(paths.ns(ns));
      await until(
        "the ClusterRole collected",
        async () =>
          (await api.get(`/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}`)).code === 404 ? true : undefined,
        180_000,
      );
    },
  },
  {
    name: "a Deployment's status reports the rollout: observedGeneration and ready replicas",
    timeoutMs: 120_000,
    async run({ api, ns }) {
      await api.apply(paths.deploy(ns, "web"), deployment("web", "img:1", { replicas: 2 }), "ct-a");
      const status = await until("2 ready replicas", async () => {
        const d = (await api.get(paths.deploy(ns, "web"))).body;
        return d.status?.readyReplicas === 2 && d.status.observedGeneration === d.metadata.generation
          ? (d.status as Body)
          : undefined;
      });
      expect(status).toMatchObject({ replicas: 2, updatedReplicas: 2, availableReplicas: 2 });
      const pods = (await api.get(`/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dweb`)).body;
      expect(pods.items).toHaveLength(2);
    },
  },
  {
    name: "the scale subresource moves an applied replicas to its manager (subresource: scale); an unowned one gains no owner",
    async run({ api, ns }) {
      await api.apply(paths.deploy(ns, "web"), deployment("web", "img:1", { replicas: 2 }), "ct-bot");
      const scale = await api.get(`${paths.deploy(ns, "web")}/scale`);
      expect(scale.body).toMatchObject({
        kind: "Scale",
        apiVersion: "autoscaling/v1",
        metadata: { name: "web", namespace: ns },
        spec: { replicas: 2 },
      });
      const r = await api.merge(`${paths.deploy(ns, "web")}/scale`, { spec: { replicas: 4 } }, "ct-hpa");
      expect(r).toMatchObject({ code: 200, body: { kind: "Scale", spec: { replicas: 4 } } });
      const d = (await api.get(paths.deploy(ns, "web"))).body;
      expect(d.spec.replicas).toBe(4);
      expect(managerEntry(d, "ct-hpa", "Update")).toMatchObject({
        subresource: "scale",
        fieldsV1: { "f:spec": { "f:replicas": {} } },
      });
      expect(managerEntry(d, "ct-bot")?.fieldsV1["f:spec"]?.["f:replicas"]).toBeUndefined();
      // Never applied (defaulted to 1): scaling it records no owner, so no apply can conflict with it.
      await api.apply(paths.deploy(ns, "free"), deployment("free", "img:1"), "ct-bot");
      await api.merge(`${paths.deploy(ns, "free")}/scale`, { spec: { replicas: 3 } }, "ct-hpa");
      const free = (await api.get(paths.deploy(ns, "free"))).body;
      expect(free.spec.replicas).toBe(3);
      expect(managerEntry(free, "ct-hpa", "Update")).toBeUndefined();
    },
  },
  ...CRD_CASES,
  {
    name: "Pod Security admission refuses a privileged pod in an enforce=baseline namespace",
    realOnly:
      "the fake has no admission chain (PodSecurity, ResourceQuota, LimitRanger); the guardrails are proven on the real server",
    async run({ api, ns }) {
      // Labelled at creation: admission reads namespaces from a cache, which a later label change may not have reached.
      const enforced = `${ns}-psa`;
      await api.post(paths.ns(), {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: enforced, labels: { "pod-security.kubernetes.io/enforce": "baseline" } },
      });
      try {
        const pod = {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "p" },
          spec: { containers: [{ name: "c", image: "img", securityContext: { privileged: true } }] },
        };
        const r = await api.post(`/api/v1/namespaces/${enforced}/pods`, pod);
        expect(r.code).toBe(403);
        expect(r.body.message).toContain('violates PodSecurity "baseline:latest": privileged');
      } finally {
        await api.delete(paths.ns(enforced));
      }
    },
  },
  {
    name: "ResourceQuota admission refuses what exceeds the quota; LimitRanger fills in default limits",
    realOnly: "the fake has no admission chain",
    async run({ api, ns }) {
      // Secrets: nothing in a new namespace makes one by itself (a ConfigMap quota would race kube-root-ca.crt).
      await api.post(`/api/v1/namespaces/${ns}/resourcequotas`, {
        apiVersion: "v1",
        kind: "ResourceQuota",
        metadata: { name: "q" },
        spec: { hard: { "count/secrets": "1" } },
      });
      await api.post(`/api/v1/namespaces/${ns}/limitranges`, {
        apiVersion: "v1",
        kind: "LimitRange",
        metadata: { name: "l" },
        spec: { limits: [{ type: "Container", default: { cpu: "200m", memory: "64Mi" } }] },
      });
      // Admission counts from the quota's status: wait for the quota controller to have computed it.
      await until("the quota computed", async () =>
        (await api.get(`/api/v1/namespaces/${ns}/resourcequotas/q`)).body.status?.used?.["count/secrets"] === "0"
          ? true
          : undefined,
      );
      const secret = (name: string): Body => ({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name },
        stringData: { a: "1" },
      });
      expect((await api.post(paths.secret(ns), secret("one"))).code).toBe(201);
      const over = await api.post(paths.secret(ns), secret("two"));
      expect(over.code).toBe(403);
      expect(over.body.message).toContain("exceeded quota: q");
      const pod = (
        await api.post(`/api/v1/namespaces/${ns}/pods`, {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "p" },
          spec: { containers: [{ name: "c", image: "img" }] },
        })
      ).body;
      expect(pod.spec.containers[0].resources.limits).toEqual({ cpu: "200m", memory: "64Mi" });
    },
  },
  {
    name: "RBAC refuses a ServiceAccount that was granted nothing",
    realOnly: "the fake authorizes every request; the bot's own RBAC is proven on the real server",
    async run({ api, ns }) {
      await api.post(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "nobody" } });
      const review = await api.post(`/apis/authorization.k8s.io/v1/subjectaccessreviews`, {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: `system:serviceaccount:${ns}:nobody`,
          resourceAttributes: { verb: "list", resource: "secrets", namespace: ns },
        },
      });
      expect(review.body.status.allowed).toBe(false);
    },
  },
];
