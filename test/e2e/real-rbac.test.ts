/**
 * The bot's own RBAC and admission policy, for real: deploy/base rendered with the real kustomize, its fence applied
 * to the real kube-apiserver (real-rbac-support.ts), and the bot running with a token for its ServiceAccount, not as
 * admin. SelfSubjectAccessReviews say what RBAC allows and refuses; real requests show the admission policy refusing
 * what RBAC would allow; and a whole deploy and teardown of the KubernetesMOOC overlay through the real server path
 * (signed webhooks → queue → runner) succeeds with exactly those rights.
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { AuthorizationV1Api, type V1ResourceAttributes } from "@kubernetes/client-node";
import { parse as parseYaml, stringify } from "yaml";
import { startHarness, pull, prEvent, INSTALLATION, OWNER, REPO, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub } from "../support/github-fake.js";
import { apiRequest, describeWithRealCluster } from "../support/kube-real/index.js";
import { imagesInto, requireRegistry, type SharedRegistry } from "../support/registry-suite.js";
import { ROOT } from "../support/tools.js";
import {
  adminApply,
  installFence,
  prepareForMooc,
  simulateVolumes,
  until,
  type InstalledFence,
} from "./real-rbac-support.js";

const ID = Date.now().toString(36);
const OTHER = `other-${ID}`; // someone else's namespace: no preview-bot label
const KUBE = `kube-fence-${ID}`; // labelled as preview-bot's, but kube-*
const PREVIEW = `pv-${ID}`; // a preview namespace the bot creates for itself

describeWithRealCluster(
  "the bot's RBAC and admission policy from deploy/, with its own ServiceAccount token",
  (cluster) => {
    let fence: InstalledFence;
    const bot = (method: string, p: string, body?: unknown, type?: string) =>
      apiRequest(cluster(), fence.token, method, p, body, type);
    const can = async (attrs: V1ResourceAttributes | { nonResourceURL: string; verb: string }): Promise<boolean> => {
      const spec =
        "nonResourceURL" in attrs
          ? { nonResourceAttributes: { path: attrs.nonResourceURL, verb: attrs.verb } }
          : { resourceAttributes: attrs };
      const review = await fence.kubeConfig
        .makeApiClient(AuthorizationV1Api)
        .createSelfSubjectAccessReview({ body: { spec } });
      return review.status?.allowed === true;
    };

    beforeAll(async () => {
      fence = await installFence(cluster(), ID);
      await adminApply(cluster(), { apiVersion: "v1", kind: "Namespace", metadata: { name: OTHER } });
      await adminApply(cluster(), {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "theirs", namespace: OTHER },
        stringData: { password: "not-for-the-bot" },
      });
      await adminApply(cluster(), {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: KUBE, labels: { "app.kubernetes.io/managed-by": "preview-bot" } },
      });
      // The bot makes a preview namespace and binds its preview role there, the way the Guardrails step does.
      const created = await bot("POST", "/api/v1/namespaces", {
        metadata: {
          name: PREVIEW,
          labels: { "app.kubernetes.io/managed-by": "preview-bot", "pod-security.kubernetes.io/enforce": "baseline" },
        },
      });
      expect(created.status).toBe(201);
      const bound = await bot(
        "POST",
        `/apis/rbac.authorization.k8s.io/v1/namespaces/${PREVIEW}/rolebindings`,
        rolebinding(fence.previewClusterRole, [
          { kind: "ServiceAccount", name: "preview-bot", namespace: fence.namespace },
        ]),
      );
      expect(bound.status).toBe(201);
      await until("the RoleBinding to take effect", async () =>
        (await can({ verb: "create", group: "apps", resource: "deployments", namespace: PREVIEW })) ? true : undefined,
      );
    }, 180_000);

    afterAll(async () => {
      for (const ns of [OTHER, KUBE, PREVIEW])
        await apiRequest(cluster(), cluster().adminToken, "DELETE", `/api/v1/namespaces/${ns}`);
      await fence?.remove();
    });

    const rolebinding = (role: string, subjects: unknown[], name = "preview-bot") => ({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
      subjects,
    });

    it("is refused by RBAC what it must never do (SelfSubjectAccessReview)", async () => {
      const refused: Array<[string, V1ResourceAttributes]> = [
        ["read Secrets in kube-system", { verb: "get", resource: "secrets", namespace: "kube-system" }],
        ["list Secrets in kube-system", { verb: "list", resource: "secrets", namespace: "kube-system" }],
        ["list Secrets in every namespace", { verb: "list", resource: "secrets" }],
        ["read Secrets in a namespace it did not label", { verb: "get", resource: "secrets", namespace: OTHER }],
        [
          "create Deployments in kube-system",
          { verb: "create", group: "apps", resource: "deployments", namespace: "kube-system" },
        ],
        [
          "change Deployments in default",
          { verb: "patch", group: "apps", resource: "deployments", namespace: "default" },
        ],
        [
          "create CronJobs in a namespace it did not label",
          { verb: "create", group: "batch", resource: "cronjobs", namespace: OTHER },
        ],
        ["create Pods, even in its preview", { verb: "create", resource: "pods", namespace: PREVIEW }],
        ["exec into Pods", { verb: "create", resource: "pods", subresource: "exec", namespace: PREVIEW }],
        [
          "mint ServiceAccount tokens",
          { verb: "create", resource: "serviceaccounts", subresource: "token", namespace: PREVIEW },
        ],
        ["create Roles", { verb: "create", group: "rbac.authorization.k8s.io", resource: "roles", namespace: PREVIEW }],
        [
          "create ClusterRoleBindings",
          { verb: "create", group: "rbac.authorization.k8s.io", resource: "clusterrolebindings" },
        ],
        [
          "change ClusterRoles (its own included)",
          {
            verb: "patch",
            group: "rbac.authorization.k8s.io",
            resource: "clusterroles",
            name: fence.previewClusterRole,
          },
        ],
        ["escalate", { verb: "escalate", group: "rbac.authorization.k8s.io", resource: "clusterroles" }],
        [
          "bind cluster-admin",
          { verb: "bind", group: "rbac.authorization.k8s.io", resource: "clusterroles", name: "cluster-admin" },
        ],
        ["bind admin", { verb: "bind", group: "rbac.authorization.k8s.io", resource: "clusterroles", name: "admin" }],
        ["bind edit", { verb: "bind", group: "rbac.authorization.k8s.io", resource: "clusterroles", name: "edit" }],
        ["impersonate users", { verb: "impersonate", resource: "users" }],
        ["impersonate ServiceAccounts", { verb: "impersonate", resource: "serviceaccounts", namespace: "kube-system" }],
        ["read nodes", { verb: "get", resource: "nodes" }],
        [
          "create CustomResourceDefinitions",
          { verb: "create", group: "apiextensions.k8s.io", resource: "customresourcedefinitions" },
        ],
        [
          "delete its admission policy",
          {
            verb: "delete",
            group: "admissionregistration.k8s.io",
            resource: "validatingadmissionpolicies",
            name: fence.policy,
          },
        ],
        [
          "delete its admission policy's binding",
          {
            verb: "delete",
            group: "admissionregistration.k8s.io",
            resource: "validatingadmissionpolicybindings",
            name: fence.policy,
          },
        ],
        [
          "create admission webhooks",
          { verb: "create", group: "admissionregistration.k8s.io", resource: "mutatingwebhookconfigurations" },
        ],
        [
          "finalize namespaces (skip their cleanup)",
          { verb: "update", resource: "namespaces", subresource: "finalize", name: OTHER },
        ],
        ["create DaemonSets", { verb: "create", group: "apps", resource: "daemonsets", namespace: PREVIEW }],
        [
          "change the shared Gateway",
          { verb: "patch", group: "gateway.networking.k8s.io", resource: "gateways", namespace: OTHER },
        ],
        ["list Gateways", { verb: "list", group: "gateway.networking.k8s.io", resource: "gateways" }],
      ];
      const answers = await Promise.all(refused.map(async ([what, attrs]) => ({ what, allowed: await can(attrs) })));
      expect(answers.filter((a) => a.allowed)).toEqual([]);
    });

    it("is allowed by RBAC what it needs, and no more than that outside its previews (SelfSubjectAccessReview)", async () => {
      const allowed: Array<[string, V1ResourceAttributes]> = [
        ["create namespaces", { verb: "create", resource: "namespaces" }],
        ["delete namespaces", { verb: "delete", resource: "namespaces" }],
        ["list namespaces", { verb: "list", resource: "namespaces" }],
        [
          "create its RoleBinding anywhere (the admission policy fences this)",
          { verb: "create", group: "rbac.authorization.k8s.io", resource: "rolebindings", namespace: OTHER },
        ],
        [
          "bind the preview ClusterRole",
          {
            verb: "bind",
            group: "rbac.authorization.k8s.io",
            resource: "clusterroles",
            name: fence.previewClusterRole,
          },
        ],
        [
          "in its preview: apply Deployments",
          { verb: "patch", group: "apps", resource: "deployments", namespace: PREVIEW },
        ],
        ["in its preview: read Secrets", { verb: "get", resource: "secrets", namespace: PREVIEW }],
        ["in its preview: list Pods", { verb: "list", resource: "pods", namespace: PREVIEW }],
        ["in its preview: read Pod logs", { verb: "get", resource: "pods", subresource: "log", namespace: PREVIEW }],
        ["in its preview: list Events", { verb: "list", resource: "events", namespace: PREVIEW }],
        ["in its preview: apply its ResourceQuota", { verb: "patch", resource: "resourcequotas", namespace: PREVIEW }],
        [
          "in its preview: apply NetworkPolicies",
          { verb: "create", group: "networking.k8s.io", resource: "networkpolicies", namespace: PREVIEW },
        ],
        [
          "read the shared Gateway (its HTTPS listeners decide the URL's scheme)",
          { verb: "get", group: "gateway.networking.k8s.io", resource: "gateways", namespace: OTHER },
        ],
        [
          "in its preview: suspend CronJobs",
          { verb: "patch", group: "batch", resource: "cronjobs", namespace: PREVIEW },
        ],
      ];
      const answers = await Promise.all(allowed.map(async ([what, attrs]) => ({ what, allowed: await can(attrs) })));
      expect(answers.filter((a) => !a.allowed)).toEqual([]);
      expect(await can({ verb: "get", nonResourceURL: "/apis" })).toBe(true); // discovery, from system:discovery
    });

    it("is refused by the admission policy where RBAC would allow it: namespaces it did not label", async () => {
      expect(
        await can({ verb: "create", group: "rbac.authorization.k8s.io", resource: "rolebindings", namespace: OTHER }),
      ).toBe(true);
      const selfBinding = rolebinding(fence.previewClusterRole, [
        { kind: "ServiceAccount", name: "preview-bot", namespace: fence.namespace },
      ]);
      const refusals = {
        "bind itself in someone else's namespace": await bot(
          "POST",
          `/apis/rbac.authorization.k8s.io/v1/namespaces/${OTHER}/rolebindings`,
          selfBinding,
        ),
        "bind itself in kube-system": await bot(
          "POST",
          "/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings",
          selfBinding,
        ),
        "bind itself in default": await bot(
          "POST",
          "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
          selfBinding,
        ),
        "bind itself in a kube-* namespace labelled as its own": await bot(
          "POST",
          `/apis/rbac.authorization.k8s.io/v1/namespaces/${KUBE}/rolebindings`,
          selfBinding,
        ),
        "adopt a namespace by labelling it": await bot(
          "PATCH",
          `/api/v1/namespaces/${OTHER}`,
          {
            metadata: {
              labels: {
                "app.kubernetes.io/managed-by": "preview-bot",
                "pod-security.kubernetes.io/enforce": "baseline",
              },
            },
          },
          "application/merge-patch+json",
        ),
        "label kube-system": await bot(
          "PATCH",
          "/api/v1/namespaces/kube-system",
          { metadata: { labels: { "app.kubernetes.io/managed-by": "preview-bot" } } },
          "application/merge-patch+json",
        ),
        "delete a namespace it did not label": await bot("DELETE", `/api/v1/namespaces/${OTHER}`),
        "delete a kube-* namespace, even labelled": await bot("DELETE", `/api/v1/namespaces/${KUBE}`),
        "create a namespace without its label": await bot("POST", "/api/v1/namespaces", {
          metadata: { name: `nolabel-${ID}` },
        }),
        "create a kube-* namespace": await bot("POST", "/api/v1/namespaces", {
          metadata: {
            name: `kube-mine-${ID}`,
            labels: { "app.kubernetes.io/managed-by": "preview-bot", "pod-security.kubernetes.io/enforce": "baseline" },
          },
        }),
        "create a preview namespace without Pod Security": await bot("POST", "/api/v1/namespaces", {
          metadata: { name: `nopsa-${ID}`, labels: { "app.kubernetes.io/managed-by": "preview-bot" } },
        }),
        "create a privileged preview namespace": await bot("POST", "/api/v1/namespaces", {
          metadata: {
            name: `priv-${ID}`,
            labels: {
              "app.kubernetes.io/managed-by": "preview-bot",
              "pod-security.kubernetes.io/enforce": "privileged",
            },
          },
        }),
        "make its preview privileged": await bot(
          "PATCH",
          `/api/v1/namespaces/${PREVIEW}`,
          { metadata: { labels: { "pod-security.kubernetes.io/enforce": "privileged" } } },
          "application/merge-patch+json",
        ),
        "pin its preview to an old Pod Security version": await bot(
          "PATCH",
          `/api/v1/namespaces/${PREVIEW}`,
          { metadata: { labels: { "pod-security.kubernetes.io/enforce-version": "v1.0" } } },
          "application/merge-patch+json",
        ),
        "hand its preview role to the preview's own account": await bot(
          "POST",
          `/apis/rbac.authorization.k8s.io/v1/namespaces/${PREVIEW}/rolebindings`,
          rolebinding(
            fence.previewClusterRole,
            [{ kind: "ServiceAccount", name: "default", namespace: PREVIEW }],
            "escalate",
          ),
        ),
        "grant anything to a user": await bot(
          "POST",
          `/apis/rbac.authorization.k8s.io/v1/namespaces/${PREVIEW}/rolebindings`,
          rolebinding("view", [{ kind: "User", name: "mallory", apiGroup: "rbac.authorization.k8s.io" }], "to-user"),
        ),
        "grant anything to another namespace's account": await bot(
          "POST",
          `/apis/rbac.authorization.k8s.io/v1/namespaces/${PREVIEW}/rolebindings`,
          rolebinding("view", [{ kind: "ServiceAccount", name: "default", namespace: OTHER }], "to-other"),
        ),
      };
      const outcome = Object.fromEntries(
        Object.entries(refusals).map(([what, r]) => [
          what,
          r.status === 403 && r.body.includes(fence.policy)
            ? "refused by the policy"
            : `${r.status} ${r.body.slice(0, 160)}`,
        ]),
      );
      expect(outcome).toEqual(Object.fromEntries(Object.keys(refusals).map((k) => [k, "refused by the policy"])));
      // Nothing of it happened.
      const other = JSON.parse(
        (await apiRequest(cluster(), cluster().adminToken, "GET", `/api/v1/namespaces/${OTHER}`)).body,
      );
      expect(other.metadata.labels["app.kubernetes.io/managed-by"]).toBeUndefined();
      expect(other.metadata.deletionTimestamp).toBeUndefined();
    });

    it("is admitted where it must write: its previews, and Leases (only) in its own namespace", async () => {
      const ok = await bot("POST", `/api/v1/namespaces/${PREVIEW}/configmaps`, {
        metadata: { name: "fine" },
        data: { a: "b" },
      });
      expect(ok.status).toBe(201);
      // RBAC for Leases and ConfigMaps in its own namespace, as an operator (or a Role in deploy/) would grant it: then
      // the policy is what decides.
      await adminApply(cluster(), {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "own", namespace: fence.namespace },
        rules: [{ apiGroups: ["coordination.k8s.io", ""], resources: ["leases", "configmaps"], verbs: ["create"] }],
      });
      await adminApply(cluster(), {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "own", namespace: fence.namespace },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "own" },
        subjects: [{ kind: "ServiceAccount", name: "preview-bot", namespace: fence.namespace }],
      });
      await until("the Role to take effect", async () =>
        (await can({ verb: "create", group: "coordination.k8s.io", resource: "leases", namespace: fence.namespace }))
          ? true
          : undefined,
      );
      const lease = await bot("POST", `/apis/coordination.k8s.io/v1/namespaces/${fence.namespace}/leases?dryRun=All`, {
        metadata: { name: "preview-bot" },
        spec: {},
      });
      expect({ status: lease.status, body: lease.status === 201 ? "" : lease.body }).toEqual({ status: 201, body: "" });
      const other = await bot("POST", `/api/v1/namespaces/${fence.namespace}/configmaps?dryRun=All`, {
        metadata: { name: "not-a-lease" },
      });
      expect({ status: other.status, body: other.body }).toEqual({
        status: 403,
        body: expect.stringContaining(`'${fence.policy}'`),
      });
    });

    it("keeps a cluster-scoped kind an operator grants it to objects carrying its label", async () => {
      // e.g. for a repository's allowClusterScoped; dry runs, so nothing is created in the shared cluster.
      const role = {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: { name: `fence-extra-${ID}` },
        rules: [{ apiGroups: ["scheduling.k8s.io"], resources: ["priorityclasses"], verbs: ["create"] }],
      };
      await adminApply(cluster(), role);
      await adminApply(cluster(), {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: `fence-extra-${ID}` },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: "preview-bot", namespace: fence.namespace }],
      });
      try {
        await until("the extra grant to take effect", async () =>
          (await can({ verb: "create", group: "scheduling.k8s.io", resource: "priorityclasses" })) ? true : undefined,
        );
        const create = (labels?: Record<string, string>) =>
          bot("POST", "/apis/scheduling.k8s.io/v1/priorityclasses?dryRun=All", {
            metadata: { name: `fence-${ID}`, ...(labels ? { labels } : {}) },
            value: 10,
          });
        const unlabelled = await create();
        expect({ status: unlabelled.status, body: unlabelled.body }).toEqual({
          status: 403,
          body: expect.stringContaining(`'${fence.policy}'`),
        });
        const labelled = await create({ "app.kubernetes.io/managed-by": "preview-bot" });
        expect({ status: labelled.status, body: labelled.status === 201 ? "" : labelled.body }).toEqual({
          status: 201,
          body: "",
        });
      } finally {
        await apiRequest(
          cluster(),
          cluster().adminToken,
          "DELETE",
          `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/fence-extra-${ID}`,
        );
        await apiRequest(
          cluster(),
          cluster().adminToken,
          "DELETE",
          `/apis/rbac.authorization.k8s.io/v1/clusterroles/fence-extra-${ID}`,
        );
      }
    });

    describeMooc(cluster, () => fence);
  },
);

/** The KubernetesMOOC overlay, as a repository of its own at `course_project/` (the path its preview.yml names). */
function moocFiles(): Record<string, string> {
  const base = path.join(ROOT, "test", "fixtures", "kubernetesmooc", "manifests");
  const files: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else files[path.join("course_project", "manifests", path.relative(base, full))] = readFileSync(full, "utf8");
    }
  };
  walk(base);
  return files;
}

/** The example's images (its todo-app-cron job is left out: examples/kubernetesmooc/preview.yml says why). */
const MOOC_IMAGES = ["todo-app-be", "todo-app-fe", "broadcaster"];

/**
 * examples/kubernetesmooc/preview.yml as the team would enrol it, without the health check (no DNS for nip.io here),
 * its images (kubemooc.azurecr.io) renamed into the run's real registry: every pinned image is resolved to a digest
 * before a deploy.
 */
function moocConfig(registry: SharedRegistry, prefix: string): string {
  const example = readFileSync(path.join(ROOT, "examples", "kubernetesmooc", "preview.yml"), "utf8");
  const config = parseYaml(
    imagesInto(example, (name) => `${registry.host}/${prefix}/${name.split("/").at(-1)!}`),
  ) as Record<string, any>;
  config.health = { timeout: "3m" };
  return stringify(config);
}

function describeMooc(
  cluster: () => import("../support/kube-real/index.js").RealCluster,
  fence: () => InstalledFence,
): void {
  const SHA = "a".repeat(40);
  const BRANCH = `rbac-${ID}`;
  const NS = `feature-rbac-${ID}`;
  let h: Harness;
  let gh: ReturnType<typeof fakeGitHub>;
  const admin = (p: string) =>
    apiRequest(cluster(), cluster().adminToken, "GET", p).then((r) => ({
      status: r.status,
      body: JSON.parse(r.body) as Record<string, any>,
    }));

  beforeAll(async () => {
    const registry = requireRegistry();
    const prefix = `lib/rbac-${ID}`;
    // What the repository's CI pushes for the commit: each image, tagged <branch>-<sha>.
    for (const [i, image] of MOOC_IMAGES.entries())
      await registry.push(`${prefix}/${image}`, `${BRANCH}-${SHA}`, { seed: 30 + i });
    await prepareForMooc(cluster());
    h = await startHarness({
      kubeConfig: fence().kubeConfig,
      env: { ...fence().env, NAMESPACE_DELETE_TIMEOUT: "240", PREVIEW_INGRESS_FROM_NAMESPACES: "agc-shared" },
    });
    gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: moocConfig(registry, prefix) });
    gh.state.tarballs.set(SHA, await h.tarball(SHA, moocFiles()));
    gh.state.pulls.set(7, pull({ number: 7, sha: SHA, branch: BRANCH }));
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  });

  it("deploys the KubernetesMOOC overlay and tears it down with exactly those rights", async () => {
    const volumes = simulateVolumes(cluster(), NS);
    try {
      expect(await h.send("pull_request", prEvent("opened", gh.state.pulls.get(7)!))).toBe(200);
      const run = gh.state.checkRuns.find((r) => r.head_sha === SHA && r.name === "preview")!;
      expect({
        conclusion: run.conclusion,
        output: run.conclusion === "success" ? "" : `${run.output?.summary}\n${run.output?.text}`,
      }).toEqual({ conclusion: "success", output: "" });

      const ns = (await admin(`/api/v1/namespaces/${NS}`)).body;
      expect(ns.metadata.labels).toMatchObject({
        "app.kubernetes.io/managed-by": "preview-bot",
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/warn": "restricted",
        "dev-gateway-access": "allowed",
      });
      const binding = (await admin(`/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings/preview-bot`))
        .body;
      expect(binding.roleRef.name).toBe(fence().previewClusterRole);
      expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "preview-bot", namespace: fence().namespace }]);
      for (const kind of ["resourcequotas", "limitranges"])
        expect((await admin(`/api/v1/namespaces/${NS}/${kind}/preview-bot-guardrails`)).status).toBe(200);
      // The overlay's own quota and NetworkPolicy deployed too; its "from: []" rule (every source) was narrowed.
      expect((await admin(`/api/v1/namespaces/${NS}/resourcequotas/feature-resource-quota`)).status).toBe(200);
      const nats = (await admin(`/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies/nats`)).body;
      expect(
        nats.spec.ingress.filter((r: Record<string, any>) => !Array.isArray(r.from) || r.from.length === 0),
      ).toEqual([]);
      expect(JSON.stringify(run.output)).toContain('NetworkPolicy \\"nats\\": ingress rule 3 allowed every source');
      const ready = (await admin(`/apis/apps/v1/namespaces/${NS}/deployments`)).body.items.map(
        (d: Record<string, any>) => `${d.metadata.name} ${d.status.readyReplicas ?? 0}/${d.spec.replicas}`,
      );
      expect(ready.sort()).toEqual(["broadcaster 1/1", "todo-app-be 1/1", "todo-app-fe 1/1"]);

      gh.state.pulls.set(7, { ...gh.state.pulls.get(7)!, state: "closed" });
      expect(await h.send("pull_request", prEvent("closed", gh.state.pulls.get(7)!))).toBe(200);
      expect((await admin(`/api/v1/namespaces/${NS}`)).status).toBe(404);
      expect(gh.sticky(7)[0]!.body).toMatch(/removed|torn down|destroyed/i);
    } finally {
      await volumes.stop();
    }
  }, 600_000);
}
