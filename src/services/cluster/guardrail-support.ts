/**
 * The two Cluster operations the preview guardrails need (src/services/preview/guardrails/namespace-guardrails.ts):
 * binding the preview ClusterRole in a new namespace with nothing but `create`, and waiting for a new ResourceQuota to
 * hold.
 */
import type { CoreV1Api, RbacAuthorizationV1Api, V1RoleBinding } from "@kubernetes/client-node";
import type { RoleBindingRequest } from "../shared/preview.js";
import { isConflict, isNotFound, kubeError } from "./kube-errors.js";
import { sleep } from "./support.js";

const sameBinding = (a: V1RoleBinding, want: V1RoleBinding): boolean =>
  a.roleRef.kind === want.roleRef.kind &&
  a.roleRef.name === want.roleRef.name &&
  JSON.stringify(a.subjects ?? []) === JSON.stringify(want.subjects ?? []);

/**
 * Create the RoleBinding (POST: `create` is all the bot holds before it exists). On 409, read it: the same role and
 * subjects are kept; anything else (a renamed ClusterRole, another account) is deleted and created again, since a
 * roleRef cannot be changed in place.
 */
export async function bindClusterRole(
  rbac: RbacAuthorizationV1Api,
  namespace: string,
  request: RoleBindingRequest,
  fieldManager: string,
): Promise<"created" | "kept" | "replaced"> {
  const doing = `binding ClusterRole "${request.clusterRole}" in namespace "${namespace}" (RoleBinding "${request.name}")`;
  const body: V1RoleBinding = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: request.name, namespace, labels: request.labels },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: request.clusterRole },
    subjects: request.subjects.map((s) => ({
      ...(s.kind === "ServiceAccount" ? {} : { apiGroup: "rbac.authorization.k8s.io" }),
      ...s,
    })),
  };
  const create = async (): Promise<void> => {
    await rbac.createNamespacedRoleBinding({ namespace, body, fieldManager });
  };
  try {
    await create();
    return "created";
  } catch (err) {
    if (!isConflict(err)) throw kubeError(doing, err);
  }
  try {
    const existing = await rbac.readNamespacedRoleBinding({ name: request.name, namespace });
    if (sameBinding(existing, body)) return "kept";
    await rbac.deleteNamespacedRoleBinding({ name: request.name, namespace });
    await create();
    return "replaced";
  } catch (err) {
    throw kubeError(`${doing}: it exists; checking or replacing it`, err);
  }
}

/** The resourcequota controller has caught up with the spec: status.hard equals it and every resource has a usage. */
function computed(
  spec: Record<string, string> | undefined,
  status: { hard?: Record<string, string>; used?: Record<string, string> } | undefined,
): boolean {
  return Object.entries(spec ?? {}).every(([k, v]) => status?.hard?.[k] === v && status.used?.[k] !== undefined);
}

/**
 * Poll until each named ResourceQuota's status matches its spec and carries usage for every resource: on kube-apiserver
 * 1.37 a quota whose usage is not computed yet did not stop a LoadBalancer Service created just after it.
 */
export async function waitForQuotas(
  core: CoreV1Api,
  namespace: string,
  names: string[],
  timeoutMs: number,
  pollMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      signal?.throwIfAborted();
      let ready = false;
      try {
        const quota = await core.readNamespacedResourceQuota({ name, namespace });
        ready = computed(quota.spec?.hard, quota.status);
      } catch (err) {
        if (!isNotFound(err)) throw kubeError(`waiting for ResourceQuota "${namespace}/${name}" to be computed`, err);
      }
      if (ready) break;
      if (Date.now() >= deadline) {
        throw new Error(
          `waiting for ResourceQuota "${namespace}/${name}": its usage was not computed within ${Math.round(timeoutMs / 1000)} s (is kube-controller-manager's resourcequota controller running?); until it is, the quota does not hold, so nothing was applied`,
        );
      }
      await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())), signal);
    }
  }
}
