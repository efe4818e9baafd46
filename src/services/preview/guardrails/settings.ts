/**
 * The guardrails' one settings type: what every preview namespace gets (Pod Security, quota, LimitRange defaults,
 * network policy, the bot's own binding) and what a preview's objects may be (replicas, bindable roles, the bot's
 * ServiceAccount). Built once from the bot's settings (`guardrailSettings`, namespace-guardrails.ts); a repository
 * may only tighten it (`resolveGuardrails`). The object rules read the part they need (`GuardrailPolicy`).
 */

/** Pod Security Standards levels; a preview namespace enforces `baseline` or `restricted` (never `privileged`). */
export type PodSecurityLevel = "privileged" | "baseline" | "restricted";
export type EgressMode = "open" | "restricted";

export interface GuardrailSettings {
  podSecurity: Exclude<PodSecurityLevel, "privileged">;
  /**
   * The ResourceQuota: pods, CPU requested (never CPU limits: they would multiply into refusals), memory requested
   * (`memory`) and limited (`memoryLimit`), PVC storage, ephemeral storage requested and limited, and `objects` of
   * each kind a preview may create.
   */
  quota: {
    pods: number;
    cpu: string;
    memory: string;
    storage: string;
    memoryLimit: string;
    ephemeralStorage: string;
    objects: number;
  };
  /** LimitRange defaults per container (no CPU limit unless the operator sets one). */
  defaults: {
    cpuRequest: string;
    cpuLimit?: string;
    memoryRequest: string;
    memoryLimit: string;
    ephemeralStorageRequest: string;
    ephemeralStorageLimit: string;
  };
  ingressFromNamespaces: string[];
  ingressFromCidrs: string[];
  egress: EgressMode;
  egressToCidrs: string[];
  /** The ClusterRole the bot binds to itself in each preview namespace. */
  clusterRole: string;
  bot: { namespace: string; serviceAccount: string };
  /** Replicas a workload may ask for (Deployments, StatefulSets, HPAs' maxReplicas). */
  maxReplicas: number;
  /** ClusterRoles a RoleBinding in the preview may reference. */
  bindableClusterRoles: readonly string[];
  /** What a preview may ask of its neighbours: placement, annotations, gateways, object counts. */
  neighbours: NeighbourPolicy;
}

/** A Gateway the operator lets previews attach to (PREVIEW_GATEWAY, PREVIEW_ALLOWED_GATEWAYS). */
export interface GatewayRef {
  namespace: string;
  name: string;
}

/**
 * What a preview may ask of a shared cluster and its neighbours (issue 21), checked on the render (neighbours.ts,
 * annotations.ts, monitoring.ts) before anything is applied. Lists are the operator's, on top of the built-in
 * harmless entries (BUILTIN_*).
 */
export interface NeighbourPolicy {
  /** PriorityClasses a pod may name (PREVIEW_PRIORITY_CLASSES); none by default: the cluster's default applies. */
  priorityClasses: readonly string[];
  /** Taints a pod may tolerate: `key`, `key=value`, each optionally `:Effect` (PREVIEW_ALLOWED_TOLERATIONS). */
  tolerations: readonly string[];
  /** Node labels a pod may select nodes by (nodeSelector, node affinity): `key` or `key=value`. */
  nodeLabels: readonly string[];
  /** Annotations a pull request may keep on routes, Ingresses and Services: a key, or `prefix/*`. */
  annotations: readonly string[];
  /** Gateways routes may attach to; a repository's route.parentRefs must name one of them when there are any. */
  gateways: readonly GatewayRef[];
  /** Who may reach preview pods besides the namespace itself (the guardrail NetworkPolicy's sources). */
  ingressFrom: { namespaces: readonly string[]; cidrs: readonly string[] };
  /** sizeLimit an `emptyDir` without one gets: the default ephemeral-storage limit (disk), memory limit (Memory). */
  emptyDir: { disk: string; memory: string };
  /** Objects of one kind a preview may contain. */
  objectsPerKind: number;
}

/** Tolerations every pod may carry: the node-condition taints, which only set how long a pod stays on a failing node. */
export const BUILTIN_TOLERATIONS: readonly string[] = [
  "node.kubernetes.io/not-ready:NoExecute",
  "node.kubernetes.io/unreachable:NoExecute",
];
/** Node labels every pod may select on: the node's OS and architecture (an image runs only there). */
export const BUILTIN_NODE_LABELS: readonly string[] = ["kubernetes.io/os", "kubernetes.io/arch"];
/** Annotations a pull request keeps on routes, Ingresses and Services: bookkeeping no controller acts on. */
export const BUILTIN_ANNOTATIONS: readonly string[] = [
  "meta.helm.sh/*",
  "helm.sh/*",
  "argocd.argoproj.io/*",
  "kubectl.kubernetes.io/last-applied-configuration",
  "prometheus.io/*",
];

/** The neighbour rules where no settings are at hand (tests of a rule in isolation): the bot's defaults. */
export const DEFAULT_NEIGHBOURS: NeighbourPolicy = {
  priorityClasses: [],
  tolerations: BUILTIN_TOLERATIONS,
  nodeLabels: BUILTIN_NODE_LABELS,
  annotations: BUILTIN_ANNOTATIONS,
  gateways: [],
  ingressFrom: { namespaces: [], cidrs: [] },
  emptyDir: { disk: "512Mi", memory: "512Mi" },
  objectsPerKind: 50,
};

/** What the object rules (object-rules.ts) read of the settings: the Pod Security level and the object bounds. */
export interface GuardrailPolicy {
  podSecurity: PodSecurityLevel;
  maxReplicas: number;
  /** The bot's own ServiceAccount name; pods naming it are refused. */
  botServiceAccount?: string;
  bindableClusterRoles: readonly string[];
  /** Placement, annotations, monitoring and gateways (default DEFAULT_NEIGHBOURS). */
  neighbours?: NeighbourPolicy;
}

/** The object rules' defaults where no settings are at hand (tests of a rule in isolation). */
export const DEFAULT_GUARDRAILS: GuardrailPolicy = {
  podSecurity: "baseline",
  maxReplicas: 10,
  bindableClusterRoles: [],
};
