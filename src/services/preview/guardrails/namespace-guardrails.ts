/**
 * The guardrails every preview namespace gets: owned by preview-bot, applied before any of the pull request's objects
 * (the Namespace and Guardrails deploy steps), and not removable or loosened by the PR (confine-objects.ts):
 * - Pod Security Admission labels on the namespace: `enforce` at the bot's level (baseline by default, or
 *   restricted), `restricted` in `warn` and `audit`, always at the latest policy version;
 * - a RoleBinding of the preview ClusterRole to the bot's own ServiceAccount: the bot's only rights in the namespace
 *   (deploy/base/rbac.yaml grants nothing there cluster-wide);
 * - ResourceQuotas: pods, CPU requested, memory, storage, ephemeral storage, object counts, no LoadBalancers or
 *   NodePorts, and no pods of the system priority classes (quota.ts);
 * - a LimitRange with default requests and limits, so the quota does not refuse containers that set none;
 * - a NetworkPolicy: ingress only from inside the namespace and from the gateways' namespaces, the configured
 *   ingress namespaces and address ranges; egress open but for the cloud metadata endpoints (egress.ts), or
 *   (restricted) only inside the namespace, to cluster DNS and configured ranges.
 * The bot's settings (src/env.ts) are the bounds; a repository's `guardrails` may only tighten them.
 */
import type { PreviewConfig } from "../../../config.js";
import type { Env } from "../../../env.js";
import { MANAGED_BY } from "../../shared/labels.js";
import type { KubeObject, PreviewNames, RoleBindingRequest } from "../../shared/preview.js";
import { smallerQuantity } from "../quantity.js";
import { AZURE_DNS_RULE, ipBlockWithoutMetadata, isMetadataEndpoint, openEgressPeers } from "./egress.js";
import { checkSizing, derivedEphemeralStorageLimit, limitRangeObject, quotaObjects } from "./quota.js";
import {
  BUILTIN_ANNOTATIONS,
  BUILTIN_NODE_LABELS,
  BUILTIN_TOLERATIONS,
  type GatewayRef,
  type GuardrailSettings,
  type PodSecurityLevel,
} from "./settings.js";

export type { GuardrailSettings, PodSecurityLevel } from "./settings.js";

/**
 * Name of the ResourceQuota, LimitRange and NetworkPolicy; the bot's RoleBinding is ROLE_BINDING_NAME, the quota on
 * system priority classes PRIORITY_QUOTA_NAME.
 */
export const GUARDRAIL_NAME = "preview-bot-guardrails";
export { PRIORITY_QUOTA_NAME } from "./quota.js";
export const ROLE_BINDING_NAME = "preview-bot";
/** Label on every guardrail object. They carry no PR labels, so prune (which selects by those) never touches them. */
export const GUARDRAIL_LABELS: Readonly<Record<string, string>> = {
  ...MANAGED_BY,
  "preview-bot.dev/guardrail": "true",
};
const METADATA_NAME = "kubernetes.io/metadata.name";

/** `namespace/name[/sectionName]` → the Gateway it names. */
function gatewayOf(text: string): GatewayRef {
  const [namespace = "", name = ""] = text.split("/");
  return { namespace, name };
}

/** The bot's bounds, from its settings; throws when the defaults contradict each other or the quota. */
export function guardrailSettings(env: Env): GuardrailSettings {
  const gateways = [...(env.PREVIEW_GATEWAY ? [env.PREVIEW_GATEWAY] : []), ...env.PREVIEW_ALLOWED_GATEWAYS].map(
    gatewayOf,
  );
  // The gateways' namespaces may reach previews without a setting of their own: a preview behind its gateway is
  // reachable by default (issue 22).
  const ingressFromNamespaces = [
    ...new Set([...env.PREVIEW_INGRESS_FROM_NAMESPACES, ...gateways.map((g) => g.namespace)]),
  ];
  for (const cidr of env.PREVIEW_EGRESS_TO_CIDRS)
    if (isMetadataEndpoint(cidr))
      throw new Error(
        `guardrail settings: PREVIEW_EGRESS_TO_CIDRS lists ${cidr}, a cloud metadata endpoint: previews never reach those`,
      );
  // Unless the operator sets one, the ephemeral-storage limit is the quota's share of an ordinary pod's container.
  const ephemeralStorageLimit =
    env.PREVIEW_DEFAULT_EPHEMERAL_STORAGE_LIMIT ??
    derivedEphemeralStorageLimit({
      pods: env.PREVIEW_QUOTA_PODS,
      ephemeralStorage: env.PREVIEW_QUOTA_EPHEMERAL_STORAGE,
    });
  const settings: GuardrailSettings = {
    podSecurity: env.PREVIEW_POD_SECURITY,
    quota: {
      pods: env.PREVIEW_QUOTA_PODS,
      cpu: env.PREVIEW_QUOTA_CPU,
      memory: env.PREVIEW_QUOTA_MEMORY,
      storage: env.PREVIEW_QUOTA_STORAGE,
      memoryLimit: env.PREVIEW_QUOTA_MEMORY_LIMIT,
      ephemeralStorage: env.PREVIEW_QUOTA_EPHEMERAL_STORAGE,
      objects: env.PREVIEW_QUOTA_OBJECTS,
    },
    defaults: {
      cpuRequest: env.PREVIEW_DEFAULT_CPU_REQUEST,
      ...(env.PREVIEW_DEFAULT_CPU_LIMIT ? { cpuLimit: env.PREVIEW_DEFAULT_CPU_LIMIT } : {}),
      memoryRequest: env.PREVIEW_DEFAULT_MEMORY_REQUEST,
      memoryLimit: env.PREVIEW_DEFAULT_MEMORY_LIMIT,
      ephemeralStorageRequest: env.PREVIEW_DEFAULT_EPHEMERAL_STORAGE_REQUEST,
      ephemeralStorageLimit,
    },
    ingressFromNamespaces,
    ingressFromCidrs: env.PREVIEW_INGRESS_FROM_CIDRS,
    egress: env.PREVIEW_EGRESS,
    egressToCidrs: env.PREVIEW_EGRESS_TO_CIDRS,
    clusterRole: env.PREVIEW_CLUSTER_ROLE,
    bot: { namespace: env.BOT_NAMESPACE, serviceAccount: env.BOT_SERVICE_ACCOUNT },
    maxReplicas: env.PREVIEW_MAX_REPLICAS,
    bindableClusterRoles: env.PREVIEW_BINDABLE_CLUSTER_ROLES,
    neighbours: {
      priorityClasses: env.PREVIEW_PRIORITY_CLASSES,
      tolerations: [...BUILTIN_TOLERATIONS, ...env.PREVIEW_ALLOWED_TOLERATIONS],
      nodeLabels: [...BUILTIN_NODE_LABELS, ...env.PREVIEW_ALLOWED_NODE_LABELS],
      annotations: [...BUILTIN_ANNOTATIONS, ...env.PREVIEW_ALLOWED_ANNOTATIONS],
      gateways,
      ingressFrom: { namespaces: ingressFromNamespaces, cidrs: env.PREVIEW_INGRESS_FROM_CIDRS },
      emptyDir: { disk: ephemeralStorageLimit, memory: env.PREVIEW_DEFAULT_MEMORY_LIMIT },
      objectsPerKind: env.PREVIEW_QUOTA_OBJECTS,
    },
  };
  checkSizing(settings);
  return settings;
}

/**
 * The guardrails for one repository: its `guardrails` where they are tighter than the bot's, the bot's elsewhere.
 * `notes` says, per field, where a repository asked for more than the bot allows (shown in the check run). The
 * namespaces of the Gateways its `route.parentRefs` name may reach its previews (the gateway is how they are
 * reached; the render keeps those parents to the operator's gateways when the operator lists any).
 */
export function resolveGuardrails(
  bounds: GuardrailSettings,
  repo: PreviewConfig["guardrails"],
  route?: PreviewConfig["route"],
): { settings: GuardrailSettings; notes: string[] } {
  const notes: string[] = [];
  const settings: GuardrailSettings = structuredClone(bounds);
  const parents = (route?.parentRefs ?? [])
    .filter((r) => (r.kind ?? "Gateway") === "Gateway" && typeof r.namespace === "string")
    .map((r) => r.namespace!);
  if (parents.length > 0) {
    settings.ingressFromNamespaces = [...new Set([...settings.ingressFromNamespaces, ...parents])];
    settings.neighbours.ingressFrom = {
      ...settings.neighbours.ingressFrom,
      namespaces: settings.ingressFromNamespaces,
    };
  }
  if (repo.podSecurity === "restricted") settings.podSecurity = "restricted";
  else if (repo.podSecurity === "baseline" && bounds.podSecurity === "restricted")
    notes.push("guardrails.podSecurity baseline is looser than the bot's restricted: restricted applies");
  if (repo.egress === "restricted") settings.egress = "restricted";
  else if (repo.egress === "open" && bounds.egress === "restricted")
    notes.push("guardrails.egress open is looser than the bot's restricted: restricted applies");
  const quota = repo.quota ?? {};
  if (quota.pods !== undefined) {
    if (quota.pods > bounds.quota.pods)
      notes.push(
        `guardrails.quota.pods ${quota.pods} is above the bot's bound of ${bounds.quota.pods}: ${bounds.quota.pods} applies`,
      );
    settings.quota.pods = Math.min(quota.pods, bounds.quota.pods);
  }
  for (const key of ["cpu", "memory", "storage"] as const) {
    const asked = quota[key];
    if (asked === undefined) continue;
    const applied = smallerQuantity(asked, bounds.quota[key]);
    if (applied !== asked)
      notes.push(
        `guardrails.quota.${key} ${asked} is above the bot's bound of ${bounds.quota[key]}: ${applied} applies`,
      );
    settings.quota[key] = applied;
  }
  return { settings, notes };
}

/** Pod Security Admission labels for the preview namespace. */
export function podSecurityLabels(level: PodSecurityLevel): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [mode, value] of [
    ["enforce", level],
    ["warn", "restricted"],
    ["audit", "restricted"],
  ] as const) {
    labels[`pod-security.kubernetes.io/${mode}`] = value;
    labels[`pod-security.kubernetes.io/${mode}-version`] = "latest";
  }
  return labels;
}

/**
 * The preview namespace's labels: the repository's namespace.labels, then ownership, then Pod Security last, so
 * nothing overrides the bot's own.
 */
export function previewNamespaceLabels(
  config: PreviewConfig,
  names: PreviewNames,
  settings: GuardrailSettings,
): Record<string, string> {
  return { ...config.namespace.labels, ...names.labels, ...podSecurityLabels(settings.podSecurity) };
}

/** The bot's RoleBinding in the preview namespace: the preview ClusterRole, for the bot's own ServiceAccount only. */
export function guardrailRoleBinding(settings: GuardrailSettings): RoleBindingRequest {
  return {
    name: ROLE_BINDING_NAME,
    clusterRole: settings.clusterRole,
    subjects: [{ kind: "ServiceAccount", name: settings.bot.serviceAccount, namespace: settings.bot.namespace }],
    labels: { ...GUARDRAIL_LABELS },
  };
}

/** The RoleBinding as an object (what `preview-bot render` prints). */
export function roleBindingObject(namespace: string, spec: RoleBindingRequest): KubeObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: spec.name, namespace, labels: spec.labels },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: spec.clusterRole },
    subjects: spec.subjects,
  };
}

type Peer = Record<string, unknown>;

/** Where ingress may come from: the namespace itself, the gateway/ingress namespaces, the allowed address ranges. */
export function ingressPeers(settings: GuardrailSettings): Peer[] {
  return [
    { podSelector: {} },
    ...settings.ingressFromNamespaces.map((ns) => ({ namespaceSelector: { matchLabels: { [METADATA_NAME]: ns } } })),
    ...settings.ingressFromCidrs.map((cidr) => ({ ipBlock: { cidr } })),
  ];
}

/**
 * Where egress may go: with `open`, anywhere but the cloud metadata endpoints (egress.ts); with `restricted`, the
 * namespace itself and the allowed address ranges (metadata endpoints inside them excepted). DNS is a rule of its own.
 */
export function egressPeers(settings: GuardrailSettings): Peer[] {
  if (settings.egress === "open") return openEgressPeers();
  return [{ podSelector: {} }, ...settings.egressToCidrs.map((cidr) => ipBlockWithoutMetadata(cidr))];
}

const DNS_RULE = {
  to: [
    {
      namespaceSelector: { matchLabels: { [METADATA_NAME]: "kube-system" } },
      podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
    },
  ],
  ports: [
    { protocol: "UDP", port: 53 },
    { protocol: "TCP", port: 53 },
  ],
};

/**
 * The ResourceQuotas, LimitRange and NetworkPolicy of a preview namespace, in the order they are applied. The policy
 * always governs egress too: even "open" egress leaves out the cloud metadata endpoints.
 */
export function guardrailObjects(namespace: string, settings: GuardrailSettings): KubeObject[] {
  const metadata = { name: GUARDRAIL_NAME, namespace, labels: { ...GUARDRAIL_LABELS } };
  const egress =
    settings.egress === "restricted"
      ? [{ to: egressPeers(settings) }, DNS_RULE, AZURE_DNS_RULE]
      : [{ to: egressPeers(settings) }, AZURE_DNS_RULE];
  return [
    ...quotaObjects(metadata, settings),
    limitRangeObject(metadata, settings),
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: structuredClone(metadata),
      spec: {
        podSelector: {},
        policyTypes: ["Ingress", "Egress"],
        ingress: [{ from: ingressPeers(settings) }],
        egress,
      },
    },
  ];
}

/** One line for the check run: what the preview is held to. */
export function describeGuardrails(settings: GuardrailSettings): string {
  const { quota } = settings;
  const outside = [...settings.ingressFromNamespaces, ...settings.ingressFromCidrs];
  // No gateway allowed in: say how to, since a route through a shared gateway then reaches nothing.
  const from = outside.length
    ? ["the namespace", ...outside].join(", ")
    : "the namespace only (no gateway allowed: PREVIEW_INGRESS_FROM_NAMESPACES)";
  return (
    `Pod Security ${settings.podSecurity}; quota ${quota.pods} pods, ${quota.cpu} CPU, ${quota.memory} memory (${quota.memoryLimit} limits), ${quota.storage} storage, ` +
    `${quota.ephemeralStorage} ephemeral storage, ${quota.objects} objects per kind, no LoadBalancers or NodePorts, no system priority; ` +
    `ingress from ${from}; egress ${settings.egress} (cloud metadata blocked)`
  );
}
