/**
 * deploy/'s own fence on the real control plane, for the RBAC and guardrail suites (real-rbac*.test.ts,
 * real-guardrails*.test.ts): `kustomize build deploy/base` with the real kustomize, then the bot's ServiceAccount,
 * its ClusterRoles, ClusterRoleBinding and ValidatingAdmissionPolicy (with its binding) applied as admin, and a token
 * for that ServiceAccount from the TokenRequest API — the bot then runs with exactly deploy/'s rights.
 *
 * The control plane is shared by every suite of the run, so each install is a uniquely named copy: the bot's
 * namespace becomes `fence-<id>`, the cluster-scoped names get `-<id>`, and the policy's username check names the
 * copy's account. Nothing else changes, and each rename is asserted to have hit (a reshaped deploy/ fails here).
 *
 * Also here, for deploying the KubernetesMOOC overlay on the real server: its CRDs when the cluster does not serve
 * them yet, and the part of the volume controllers this control plane does not run (binding a claim to a volume,
 * lifting the protection finalizer once its namespace goes).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { KubeConfig } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { apiRequest, type RealCluster } from "../support/kube-real/index.js";
import { ROOT, toolPath } from "../support/tools.js";
import { until } from "../support/wait.js";

type Obj = Record<string, any>;

export interface InstalledFence {
  /** The bot's own namespace and ServiceAccount, and the username the API server knows it by. */
  namespace: string;
  serviceAccount: string;
  username: string;
  token: string;
  /** Talks to the real API server as the bot. */
  kubeConfig: KubeConfig;
  /** The names of this copy's cluster-scoped objects. */
  clusterRole: string;
  previewClusterRole: string;
  policy: string;
  /** Settings the bot needs to bind this copy's preview ClusterRole to itself. */
  env: Record<string, string>;
  remove(): Promise<void>;
}

/** `kustomize build deploy/base`, parsed. */
export async function renderDeployBase(): Promise<Obj[]> {
  const kustomize = toolPath("kustomize");
  if (!kustomize) throw new Error("kustomize is not installed (bash tools/build.sh)");
  const home = mkdtempSync(path.join(tmpdir(), "fence-kustomize-"));
  try {
    const { stdout } = await promisify(execFile)(kustomize, ["build", path.join(ROOT, "deploy", "base")], {
      env: { PATH: process.env.PATH ?? "", HOME: home },
      maxBuffer: 16 << 20,
    });
    return parseAllDocuments(stdout)
      .map((d) => d.toJS() as Obj)
      .filter(Boolean);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

const one = (objs: Obj[], kind: string, name: string): Obj => {
  const found = objs.filter((o) => o.kind === kind && o.metadata.name === name);
  if (found.length !== 1) throw new Error(`deploy/base renders ${found.length} ${kind} "${name}", expected 1`);
  return structuredClone(found[0]!);
};

/** The fence objects of deploy/base, renamed for copy `id` (see the file header). */
function fenceCopy(
  rendered: Obj[],
  id: string,
): { objects: Obj[]; names: { namespace: string; clusterRole: string; previewClusterRole: string; policy: string } } {
  const namespace = `fence-${id}`;
  const names = {
    namespace,
    clusterRole: `preview-bot-${id}`,
    previewClusterRole: `preview-bot-previews-${id}`,
    policy: `preview-bot-fence-${id}`,
  };
  const sa = one(rendered, "ServiceAccount", "preview-bot");
  const cluster = one(rendered, "ClusterRole", "preview-bot");
  const previews = one(rendered, "ClusterRole", "preview-bot-previews");
  const binding = one(rendered, "ClusterRoleBinding", "preview-bot");
  const policy = one(rendered, "ValidatingAdmissionPolicy", "preview-bot-fence");
  const policyBinding = one(rendered, "ValidatingAdmissionPolicyBinding", "preview-bot-fence");
  const hit = (ok: boolean, what: string): void => {
    if (!ok) throw new Error(`renaming deploy/base's fence for a test copy: ${what} not found`);
  };

  sa.metadata.namespace = namespace;
  cluster.metadata.name = names.clusterRole;
  previews.metadata.name = names.previewClusterRole;
  const bindRule = cluster.rules.find((r: Obj) => r.verbs.includes("bind"));
  hit(bindRule?.resourceNames?.[0] === "preview-bot-previews", "the bind rule on preview-bot-previews");
  bindRule.resourceNames = [names.previewClusterRole];
  binding.metadata.name = names.clusterRole;
  hit(
    binding.roleRef.name === "preview-bot" && binding.subjects[0]?.namespace === "preview-bot",
    "the ClusterRoleBinding's role and subject",
  );
  binding.roleRef.name = names.clusterRole;
  binding.subjects[0].namespace = namespace;
  policy.metadata.name = names.policy;
  const username = "'system:serviceaccount:preview-bot:preview-bot'";
  hit(
    policy.spec.matchConditions.some((c: Obj) => c.expression.includes(username)),
    "the policy's username condition",
  );
  for (const c of policy.spec.matchConditions)
    c.expression = c.expression.replace(username, `'system:serviceaccount:${namespace}:preview-bot'`);
  policyBinding.metadata.name = names.policy;
  hit(policyBinding.spec.policyName === "preview-bot-fence", "the policy binding's policyName");
  policyBinding.spec.policyName = names.policy;
  for (const o of [cluster, previews, binding, policy, policyBinding]) delete o.metadata.namespace;
  return { objects: [sa, cluster, previews, binding, policy, policyBinding], names };
}

const PLURALS: Record<string, string> = {
  ServiceAccount: "serviceaccounts",
  Secret: "secrets",
  ConfigMap: "configmaps",
  Role: "roles",
  RoleBinding: "rolebindings",
  ClusterRole: "clusterroles",
  ClusterRoleBinding: "clusterrolebindings",
  ValidatingAdmissionPolicy: "validatingadmissionpolicies",
  ValidatingAdmissionPolicyBinding: "validatingadmissionpolicybindings",
  CustomResourceDefinition: "customresourcedefinitions",
  Namespace: "namespaces",
};

/** The REST path of an object (the kinds this file handles). */
function pathOf(o: Obj): string {
  const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  return `${base}${o.metadata.namespace ? `/namespaces/${o.metadata.namespace}` : ""}/${PLURALS[o.kind]}/${o.metadata.name}`;
}

/** Server-side apply as admin (field manager "test-fence"). */
export async function adminApply(cluster: RealCluster, o: Obj): Promise<void> {
  const r = await apiRequest(
    cluster,
    cluster.adminToken,
    "PATCH",
    `${pathOf(o)}?fieldManager=test-fence&force=true`,
    o,
    "application/apply-patch+yaml",
  );
  if (r.status >= 300) throw new Error(`applying ${o.kind} ${o.metadata.name}: ${r.status} ${r.body.slice(0, 400)}`);
}

export { until };

/** Install a copy of deploy/'s fence and return the bot's token and settings; `remove()` deletes the copy. */
export async function installFence(cluster: RealCluster, id: string): Promise<InstalledFence> {
  const { objects, names } = fenceCopy(await renderDeployBase(), id);
  await adminApply(cluster, { apiVersion: "v1", kind: "Namespace", metadata: { name: names.namespace } });
  for (const o of objects) await adminApply(cluster, o);
  const token = await cluster.serviceAccountToken(names.namespace, "preview-bot");
  // Ready when the policy refuses what RBAC allows: a server-side dry run of creating an unlabelled namespace.
  await until("the admission policy to refuse the bot an unlabelled namespace", async () => {
    const r = await apiRequest(cluster, token, "POST", "/api/v1/namespaces?dryRun=All", {
      metadata: { name: `fence-probe-${id}` },
    });
    return r.status === 403 && r.body.includes(names.policy) ? true : undefined;
  });
  return {
    namespace: names.namespace,
    serviceAccount: "preview-bot",
    username: `system:serviceaccount:${names.namespace}:preview-bot`,
    token,
    kubeConfig: cluster.kubeConfigFor(token),
    clusterRole: names.clusterRole,
    previewClusterRole: names.previewClusterRole,
    policy: names.policy,
    env: {
      BOT_NAMESPACE: names.namespace,
      BOT_SERVICE_ACCOUNT: "preview-bot",
      PREVIEW_CLUSTER_ROLE: names.previewClusterRole,
    },
    async remove() {
      for (const o of [...objects].reverse()) await apiRequest(cluster, cluster.adminToken, "DELETE", pathOf(o));
      await apiRequest(cluster, cluster.adminToken, "DELETE", `/api/v1/namespaces/${names.namespace}`);
    },
  };
}

/** A CRD that keeps whatever it is given (enough for kinds nobody validates here). */
function looseCrd(group: string, kind: string, plural: string): Obj {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: "Namespaced",
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
        },
      ],
    },
  };
}

/**
 * What the KubernetesMOOC overlay needs of the cluster, where the run's setup does not provide it: its custom kinds
 * (besides Gateway API), and ephemeral storage on the simulated node (NATS requests 50Mi; a node that lists none
 * schedules no such pod). Both only add to the shared cluster.
 */
export async function prepareForMooc(cluster: RealCluster): Promise<void> {
  const nodes = (JSON.parse((await apiRequest(cluster, cluster.adminToken, "GET", "/api/v1/nodes")).body) as Obj)
    .items as Obj[];
  for (const node of nodes.filter((n) => n.status?.allocatable?.["ephemeral-storage"] === undefined)) {
    const storage = { "ephemeral-storage": "500Gi" };
    const r = await apiRequest(
      cluster,
      cluster.adminToken,
      "PATCH",
      `/api/v1/nodes/${node.metadata.name}/status`,
      { status: { allocatable: storage, capacity: storage } },
      "application/merge-patch+json",
    );
    if (r.status !== 200)
      throw new Error(`giving node ${node.metadata.name} ephemeral storage: ${r.status} ${r.body.slice(0, 300)}`);
  }
  for (const crd of [
    looseCrd("secrets-store.csi.x-k8s.io", "SecretProviderClass", "secretproviderclasses"),
    looseCrd("alb.networking.azure.io", "HealthCheckPolicy", "healthcheckpolicies"),
  ]) {
    const served = await apiRequest(cluster, cluster.adminToken, "GET", `/apis/${crd.spec.group}/v1`);
    if (served.status === 200) continue;
    const r = await apiRequest(
      cluster,
      cluster.adminToken,
      "POST",
      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
      crd,
    );
    if (r.status !== 201 && r.status !== 409)
      throw new Error(`creating CRD ${crd.metadata.name}: ${r.status} ${r.body.slice(0, 300)}`);
    await until(`CRD ${crd.metadata.name} served`, async () =>
      (await apiRequest(cluster, cluster.adminToken, "GET", `/apis/${crd.spec.group}/v1`)).status === 200
        ? true
        : undefined,
    );
  }
}

/**
 * What the persistent-volume binder and the claim-protection controller would do for claims in `namespace`, which
 * this control plane does not run: bind each claim to a volume made for it, and lift `kubernetes.io/pvc-protection`
 * once the namespace is terminating. Runs until stopped; idempotent, so it is harmless where those controllers run.
 */
export function simulateVolumes(cluster: RealCluster, namespace: string): { stop(): Promise<void> } {
  const req = (method: string, p: string, body?: unknown, type?: string) =>
    apiRequest(cluster, cluster.adminToken, method, p, body, type);
  let stopped = false;
  const volumes = new Set<string>();
  const loop = (async () => {
    await req("POST", "/apis/storage.k8s.io/v1/storageclasses", {
      metadata: { name: "azurefile-csi" },
      provisioner: "file.csi.azure.com",
      volumeBindingMode: "Immediate",
    });
    while (!stopped) {
      const ns = JSON.parse((await req("GET", `/api/v1/namespaces/${namespace}`)).body) as Obj;
      const claims = ((
        JSON.parse((await req("GET", `/api/v1/namespaces/${namespace}/persistentvolumeclaims`)).body) as Obj
      ).items ?? []) as Obj[];
      for (const claim of claims) {
        const name = claim.metadata.name as string;
        const claimPath = `/api/v1/namespaces/${namespace}/persistentvolumeclaims/${name}`;
        if (ns.metadata?.deletionTimestamp && claim.metadata.finalizers?.length) {
          await req("PATCH", claimPath, { metadata: { finalizers: null } }, "application/merge-patch+json");
          continue;
        }
        if (claim.status?.phase === "Bound") continue;
        const volume = `pv-${namespace}-${name}`.slice(0, 63);
        volumes.add(volume);
        const spec = claim.spec as Obj;
        await req("POST", "/api/v1/persistentvolumes", {
          metadata: { name: volume },
          spec: {
            storageClassName: spec.storageClassName,
            accessModes: spec.accessModes,
            capacity: { storage: spec.resources.requests.storage },
            claimRef: { namespace, name },
            csi: { driver: "file.csi.azure.com", volumeHandle: volume },
          },
        });
        await req(
          "PATCH",
          claimPath,
          { metadata: { annotations: { "pv.kubernetes.io/bind-completed": "yes" } }, spec: { volumeName: volume } },
          "application/merge-patch+json",
        );
        await req(
          "PATCH",
          `${claimPath}/status`,
          {
            status: {
              phase: "Bound",
              accessModes: spec.accessModes,
              capacity: { storage: spec.resources.requests.storage },
            },
          },
          "application/merge-patch+json",
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      for (const v of volumes) {
        await req(
          "PATCH",
          `/api/v1/persistentvolumes/${v}`,
          { metadata: { finalizers: null } },
          "application/merge-patch+json",
        );
        await req("DELETE", `/api/v1/persistentvolumes/${v}`);
      }
    },
  };
}
