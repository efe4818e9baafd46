/**
 * The kinds preview-bot knows by name: each one's API group and resource (what RBAC rules name), and, for the kinds a
 * preview may never contain, why. Which kinds a preview MAY contain is not decided here but by the bot's RBAC as
 * shipped (deploy/base/rbac.yaml, read by rbac-rules.ts): test/services/preview/preflight/kinds.test.ts walks this
 * list against that file, so an allowed kind is granted every verb the bot needs and a refused one is granted none,
 * and every resource the file grants is named here. A kind missing from this list (a custom resource) is looked up in
 * the cluster's discovery, or offline guessed the way kubectl does (lowercase plural), and judged by the RBAC alone.
 */

export interface KnownKind {
  group: string;
  kind: string;
  /** The resource RBAC rules and the API paths use (plural, lowercase). */
  resource: string;
  /** Why a preview may not contain it; the bot's RBAC grants it nothing (checked by the test above). */
  refused?: string;
}

/** What the bot does to a preview's objects: server-side apply (get, create, patch) and prune (list, delete). */
export const PREVIEW_VERBS = ["get", "list", "create", "patch", "delete"] as const;

const k = (group: string, kind: string, resource: string, refused?: string): KnownKind => ({
  group,
  kind,
  resource,
  ...(refused ? { refused } : {}),
});

export const KNOWN_KINDS: readonly KnownKind[] = [
  k("", "ConfigMap", "configmaps"),
  k("", "Secret", "secrets"),
  k("", "Service", "services"),
  k("", "ServiceAccount", "serviceaccounts"),
  k("", "PersistentVolumeClaim", "persistentvolumeclaims"),
  k("", "ResourceQuota", "resourcequotas"),
  k("", "LimitRange", "limitranges"),
  k("", "ReplicationController", "replicationcontrollers"),
  k(
    "",
    "Pod",
    "pods",
    "bare Pods are refused: nothing replaces them when they stop and the roll-out wait does not follow them; use a Deployment (or a Job for a one-off task)",
  ),
  k(
    "",
    "Endpoints",
    "endpoints",
    "Endpoints are refused: with a selector-less Service they point a name inside the preview at any address; use a Service with a selector",
  ),
  k("", "PodTemplate", "podtemplates", "PodTemplates are refused: nothing in a preview uses them"),
  k("apps", "Deployment", "deployments"),
  k("apps", "StatefulSet", "statefulsets"),
  k(
    "apps",
    "DaemonSet",
    "daemonsets",
    "DaemonSets are refused: they run a pod on every node of the shared cluster; use a Deployment",
  ),
  k(
    "apps",
    "ReplicaSet",
    "replicasets",
    "ReplicaSets are refused: use a Deployment, which manages its ReplicaSets (and roll-outs) itself",
  ),
  k(
    "apps",
    "ControllerRevision",
    "controllerrevisions",
    "ControllerRevisions are refused: their controllers write them",
  ),
  k("batch", "Job", "jobs"),
  k("batch", "CronJob", "cronjobs"),
  k("networking.k8s.io", "NetworkPolicy", "networkpolicies"),
  k("networking.k8s.io", "Ingress", "ingresses"),
  k("rbac.authorization.k8s.io", "RoleBinding", "rolebindings"),
  k(
    "rbac.authorization.k8s.io",
    "Role",
    "roles",
    "Roles are refused: creating one needs every right in it, which preview-bot does not hold; bind a ClusterRole previews may bind (PREVIEW_BINDABLE_CLUSTER_ROLES) with a RoleBinding",
  ),
  k("gateway.networking.k8s.io", "HTTPRoute", "httproutes"),
  // The bot's own, for an `access: github` preview behind Envoy Gateway (render/preview-access.ts).
  k("gateway.envoyproxy.io", "SecurityPolicy", "securitypolicies"),
  k("policy", "PodDisruptionBudget", "poddisruptionbudgets"),
  k("autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
  k("secrets-store.csi.x-k8s.io", "SecretProviderClass", "secretproviderclasses"),
  k("alb.networking.azure.io", "HealthCheckPolicy", "healthcheckpolicies"),
  k("monitoring.coreos.com", "ServiceMonitor", "servicemonitors"),
];

export const groupOfApiVersion = (apiVersion: string): string =>
  apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";

/** The known kind for an object's apiVersion and kind, if any. */
export function knownKind(apiVersion: string, kind: string): KnownKind | undefined {
  const group = groupOfApiVersion(apiVersion);
  return KNOWN_KINDS.find((k) => k.group === group && k.kind === kind);
}

/** kubectl's guess of a kind's resource name when discovery cannot say (`UnsafeGuessKindToResource`). */
export function guessResource(kind: string): string {
  const lower = kind.toLowerCase();
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${lower}es`;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}
