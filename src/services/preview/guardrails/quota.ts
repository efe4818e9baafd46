/**
 * The ResourceQuotas and LimitRange of a preview namespace, and the check that their defaults fit together:
 * - the quota counts pods, CPU requested (CPU limits are neither defaulted nor counted: one per container adds up
 *   to a refusal long before the node is busy), memory requested and limited, PVC storage, ephemeral storage
 *   (writable layers, logs, emptyDirs) requested and limited, no LoadBalancers or NodePorts, and `count/*` of every
 *   built-in kind a preview may create (etcd is shared; custom kinds are counted by the render, since the quota
 *   controller leaves their usage uncomputed);
 * - a second quota, scoped to the system priority classes, admits no pods of them: a pod naming
 *   `system-node-critical` would otherwise preempt its neighbours (the render refuses it first; this holds whoever
 *   creates the pod);
 * - the LimitRange gives containers that set nothing the default requests and limits, sized so that the pod quota
 *   is reached before the defaults add up past the quota (`checkSizing`). The ephemeral-storage limit, unless the
 *   operator sets one, is derived from the quota itself (`derivedEphemeralStorageLimit`): the pod quota's worth of
 *   ordinary pods (ORDINARY_POD_CONTAINERS containers each) that set nothing fits.
 */
import type { KubeObject } from "../../shared/preview.js";
import { parseQuantity } from "../quantity.js";
import type { GuardrailSettings } from "./settings.js";

/** Name of the quota on system priority classes (the other guardrails are named GUARDRAIL_NAME). */
export const PRIORITY_QUOTA_NAME = "preview-bot-system-priority";
/** The priority classes Kubernetes ships, above any a cluster defines for its workloads. */
const SYSTEM_PRIORITY_CLASSES = ["system-node-critical", "system-cluster-critical"] as const;

/**
 * The built-in kinds a preview may create (deploy/base/rbac.yaml's preview role), as quota resources. The test of
 * deploy/ checks this list against the role.
 */
export const COUNTED_RESOURCES: readonly string[] = [
  "configmaps",
  "secrets",
  "services",
  "serviceaccounts",
  "persistentvolumeclaims",
  "replicationcontrollers",
  "resourcequotas",
  "limitranges",
  "deployments.apps",
  "statefulsets.apps",
  "jobs.batch",
  "cronjobs.batch",
  "networkpolicies.networking.k8s.io",
  "ingresses.networking.k8s.io",
  "rolebindings.rbac.authorization.k8s.io",
  "poddisruptionbudgets.policy",
  "horizontalpodautoscalers.autoscaling",
];

type Metadata = KubeObject["metadata"];

/**
 * Containers in an ordinary pod (an app and a sidecar or proxy): the pod quota's worth of such pods on the
 * defaults fits the quota. A 1Gi ephemeral-storage default against 20Gi and 20 pods refused the 11th pod of two
 * containers, and a 16Gi memory-limit quota the 17th (issue 22).
 */
const ORDINARY_POD_CONTAINERS = 2;

/**
 * The default ephemeral-storage limit when the operator sets none: the quota shared by the pod quota's worth of
 * ordinary pods, in whole Mi (20Gi / (20 pods × 2 containers) = 512Mi with the defaults).
 */
export function derivedEphemeralStorageLimit(quota: { pods: number; ephemeralStorage: string }): string {
  const each = parseQuantity(quota.ephemeralStorage) / (quota.pods * ORDINARY_POD_CONTAINERS);
  return `${Math.floor(each / 2 ** 20)}Mi`;
}

/** The main quota and the priority-class quota. */
export function quotaObjects(metadata: Metadata, settings: GuardrailSettings): KubeObject[] {
  const { quota } = settings;
  const counts = Object.fromEntries(COUNTED_RESOURCES.map((r) => [`count/${r}`, String(quota.objects)]));
  return [
    {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: structuredClone(metadata),
      spec: {
        hard: {
          pods: String(quota.pods),
          "requests.cpu": quota.cpu,
          "requests.memory": quota.memory,
          "limits.memory": quota.memoryLimit,
          "requests.storage": quota.storage,
          "requests.ephemeral-storage": quota.ephemeralStorage,
          "limits.ephemeral-storage": quota.ephemeralStorage,
          "services.loadbalancers": "0",
          "services.nodeports": "0",
          ...counts,
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "ResourceQuota",
      metadata: { ...structuredClone(metadata), name: PRIORITY_QUOTA_NAME },
      spec: {
        hard: { pods: "0" },
        scopeSelector: {
          matchExpressions: [{ scopeName: "PriorityClass", operator: "In", values: [...SYSTEM_PRIORITY_CLASSES] }],
        },
      },
    },
  ];
}

/** The LimitRange: default requests and limits for containers that set none (a CPU limit only when configured). */
export function limitRangeObject(metadata: Metadata, settings: GuardrailSettings): KubeObject {
  const { defaults } = settings;
  return {
    apiVersion: "v1",
    kind: "LimitRange",
    metadata: structuredClone(metadata),
    spec: {
      limits: [
        {
          type: "Container",
          defaultRequest: {
            cpu: defaults.cpuRequest,
            memory: defaults.memoryRequest,
            "ephemeral-storage": defaults.ephemeralStorageRequest,
          },
          default: {
            ...(defaults.cpuLimit ? { cpu: defaults.cpuLimit } : {}),
            memory: defaults.memoryLimit,
            "ephemeral-storage": defaults.ephemeralStorageLimit,
          },
        },
      ],
    },
  };
}

const format = (bytesOrCores: number, like: string): string => {
  if (!/i$/.test(like)) return String(Math.round(bytesOrCores * 1000) / 1000);
  const gi = bytesOrCores / 2 ** 30;
  return gi >= 1 ? `${Math.round(gi * 100) / 100}Gi` : `${Math.round(bytesOrCores / 2 ** 20)}Mi`;
};

/**
 * Throws when the defaults contradict each other or the quota: a default request above its limit, a default above
 * the quota, or `pods` containers on the defaults adding up past the quota (then an app of small containers that
 * set nothing is refused before it reaches the pod count; issue 22). Each is checked for `pods` ordinary pods
 * (ORDINARY_POD_CONTAINERS containers each: an app and a sidecar).
 */
export function checkSizing(settings: GuardrailSettings): void {
  const { quota, defaults } = settings;
  const check = (small: [string, string], large: [string, string]): void => {
    if (parseQuantity(small[1]) > parseQuantity(large[1]))
      throw new Error(`guardrail settings: ${small[0]} (${small[1]}) is above ${large[0]} (${large[1]})`);
  };
  if (defaults.cpuLimit)
    check(["PREVIEW_DEFAULT_CPU_REQUEST", defaults.cpuRequest], ["PREVIEW_DEFAULT_CPU_LIMIT", defaults.cpuLimit]);
  check(
    ["PREVIEW_DEFAULT_MEMORY_REQUEST", defaults.memoryRequest],
    ["PREVIEW_DEFAULT_MEMORY_LIMIT", defaults.memoryLimit],
  );
  check(
    ["PREVIEW_DEFAULT_EPHEMERAL_STORAGE_REQUEST", defaults.ephemeralStorageRequest],
    ["PREVIEW_DEFAULT_EPHEMERAL_STORAGE_LIMIT", defaults.ephemeralStorageLimit],
  );
  check(["PREVIEW_DEFAULT_MEMORY_LIMIT", defaults.memoryLimit], ["PREVIEW_QUOTA_MEMORY_LIMIT", quota.memoryLimit]);
  check(["PREVIEW_QUOTA_MEMORY", quota.memory], ["PREVIEW_QUOTA_MEMORY_LIMIT", quota.memoryLimit]);
  const adds = (what: string, each: string, total: [string, string]): void => {
    const sum = quota.pods * ORDINARY_POD_CONTAINERS * parseQuantity(each);
    const containers = `pods of ${ORDINARY_POD_CONTAINERS} containers`;
    if (sum > parseQuantity(total[1]))
      throw new Error(
        `guardrail settings: PREVIEW_QUOTA_PODS (${quota.pods}) ${containers} on ${what} (${each}) add up to ${format(sum, total[1])}, above ${total[0]} (${total[1]}): an app of small containers that set nothing would be refused before it has ${quota.pods} pods. Lower the default or raise the quota`,
      );
  };
  adds("PREVIEW_DEFAULT_CPU_REQUEST", defaults.cpuRequest, ["PREVIEW_QUOTA_CPU", quota.cpu]);
  adds("PREVIEW_DEFAULT_MEMORY_REQUEST", defaults.memoryRequest, ["PREVIEW_QUOTA_MEMORY", quota.memory]);
  adds("PREVIEW_DEFAULT_MEMORY_LIMIT", defaults.memoryLimit, ["PREVIEW_QUOTA_MEMORY_LIMIT", quota.memoryLimit]);
  adds("PREVIEW_DEFAULT_EPHEMERAL_STORAGE_LIMIT", defaults.ephemeralStorageLimit, [
    "PREVIEW_QUOTA_EPHEMERAL_STORAGE",
    quota.ephemeralStorage,
  ]);
}

/** The CPU limit containers get when the repository's own quota counts CPU limits and the operator sets none. */
const CPU_LIMIT_FOR_OWN_QUOTA = "1";

/**
 * A repository's own ResourceQuota that counts `limits.cpu` refuses every container without a CPU limit; the bot
 * sets none by default, so for such a repository the LimitRange gives one (the operator's, else
 * CPU_LIMIT_FOR_OWN_QUOTA). Returns the note for the check run, if any.
 */
export function fitOwnQuotas(settings: GuardrailSettings, objects: readonly KubeObject[]): string[] {
  if (settings.defaults.cpuLimit) return [];
  const counting = objects.find((o) => {
    const hard = (o.spec as { hard?: Record<string, unknown> } | undefined)?.hard;
    return o.kind === "ResourceQuota" && hard !== undefined && "limits.cpu" in hard;
  });
  if (!counting) return [];
  settings.defaults.cpuLimit = CPU_LIMIT_FOR_OWN_QUOTA;
  return [
    `ResourceQuota "${counting.metadata.name ?? "?"}" counts limits.cpu, so containers that set no CPU limit get ${CPU_LIMIT_FOR_OWN_QUOTA} from the LimitRange (the bot sets none otherwise)`,
  ];
}
