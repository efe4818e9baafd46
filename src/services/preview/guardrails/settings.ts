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
  quota: { pods: number; cpu: string; memory: string; storage: string };
  /** LimitRange defaults per container. */
  defaults: { cpuRequest: string; cpuLimit: string; memoryRequest: string; memoryLimit: string };
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
}

/** What the object rules (object-rules.ts) read of the settings: the Pod Security level and the object bounds. */
export interface GuardrailPolicy {
  podSecurity: PodSecurityLevel;
  maxReplicas: number;
  /** The bot's own ServiceAccount name; pods naming it are refused. */
  botServiceAccount?: string;
  bindableClusterRoles: readonly string[];
}

/** The object rules' defaults where no settings are at hand (tests of a rule in isolation). */
export const DEFAULT_GUARDRAILS: GuardrailPolicy = {
  podSecurity: "baseline",
  maxReplicas: 10,
  bindableClusterRoles: [],
};
