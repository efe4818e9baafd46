/**
 * What a pod will ask of a quota, computed the way the API server does, without a cluster:
 * 1. API defaulting: a container with a limit and no request gets the limit as its request;
 * 2. the LimitRanger admission plugin: each LimitRange of type Container (in name order, the first to set a value
 *    wins) fills in `defaultRequest` and `default` where the container has none (a LimitRange's own defaulting first:
 *    default from max, defaultRequest from default, then from min), then checks min, max and maxLimitRequestRatio;
 * 3. the pod's total as ResourceQuota counts it (`resourcehelper.PodRequests`/`PodLimits`): the sum of its containers,
 *    sidecars (init containers with restartPolicy Always) added, or the largest init container if that is more
 *    (a RuntimeClass's pod overhead, added by its own admission plugin, is not modelled);
 * 4. pod-level resources (`spec.resources`, PodLevelResources, on by default since v1.34): where the pod sets a
 *    resource it is the pod's total, and the API server refuses the pod when a container's limit (a LimitRange
 *    default included) is above the pod's limit or the containers' requests add up to more than the pod's request
 *    (checked on kube-apiserver v1.37: `spec.resources.containers[0][cpu].limits: must be less than or equal to pod
 *    limits`). A pod that sets only pod-level resources under a LimitRange with defaults is therefore refused.
 * Quantities are milli-units (1 CPU = 1000, 1 byte = 1000) so sums of `100m` stay exact.
 */
import { parseQuantity } from "../quantity.js";

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;
const asList = (v: unknown): Rec[] => (Array.isArray(v) ? v.map(asRec).filter((x): x is Rec => x !== undefined) : []);

/** Resource name → milli-units. */
export type Amounts = Map<string, number>;

export const milli = (text: string): number => Math.round(parseQuantity(text) * 1000);

/** The Container limits of one LimitRange, after the LimitRange's own API defaulting. */
export interface ContainerLimits {
  /** The LimitRange's name, for messages. */
  name: string;
  defaultLimit: Amounts;
  defaultRequest: Amounts;
  min: Amounts;
  max: Amounts;
  maxRatio: Amounts;
}

function amounts(v: unknown, where: string, problems: string[]): Amounts {
  const out: Amounts = new Map();
  for (const [k, q] of Object.entries(asRec(v) ?? {})) {
    try {
      out.set(k, milli(String(q)));
    } catch {
      problems.push(`${where}.${k}: "${String(q)}" is not a Kubernetes quantity (e.g. "500m", "2", "512Mi")`);
    }
  }
  return out;
}

/** The Container-type limits of LimitRange objects (their spec), defaulted as the API server defaults them. */
export function containerLimits(
  ranges: ReadonlyArray<{ name: string; spec: unknown }>,
  problems: string[],
): ContainerLimits[] {
  return [...ranges]
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap(({ name, spec }) =>
      asList(asRec(spec)?.limits)
        .filter((item) => item.type === "Container")
        .map((item) => {
          const where = `LimitRange "${name}"`;
          const max = amounts(item.max, `${where} max`, problems);
          const min = amounts(item.min, `${where} min`, problems);
          const defaultLimit = amounts(item.default, `${where} default`, problems);
          const defaultRequest = amounts(item.defaultRequest, `${where} defaultRequest`, problems);
          for (const [k, v] of max) if (!defaultLimit.has(k)) defaultLimit.set(k, v);
          for (const [k, v] of defaultLimit) if (!defaultRequest.has(k)) defaultRequest.set(k, v);
          for (const [k, v] of min) if (!defaultRequest.has(k)) defaultRequest.set(k, v);
          const maxRatio = amounts(item.maxLimitRequestRatio, `${where} maxLimitRequestRatio`, problems);
          return { name, defaultLimit, defaultRequest, min, max, maxRatio };
        }),
    );
}

/** One container's resources after defaulting, and which values came from a LimitRange default. */
export interface ContainerResources {
  name: string;
  requests: Amounts;
  limits: Amounts;
  /** "requests.cpu" → the LimitRange whose default it is. */
  defaulted: Map<string, string>;
}

/** A pod's total, as ResourceQuota counts it, with its containers. */
export interface PodResources {
  requests: Amounts;
  limits: Amounts;
  containers: ContainerResources[];
  /** `requests.cpu`, `limits.memory`, … the pod sets at pod level (`spec.resources`): no container needs them. */
  podLevel: Set<string>;
  /** What the LimitRanger or the API server's validation would refuse, one phrase each (no pod would be created). */
  problems: string[];
}

function container(c: Rec, where: string, ranges: readonly ContainerLimits[], problems: string[]): ContainerResources {
  const res = asRec(c.resources) ?? {};
  const limits = amounts(res.limits, `${where} resources.limits`, problems);
  const requests = amounts(res.requests, `${where} resources.requests`, problems);
  for (const [k, v] of limits) if (!requests.has(k)) requests.set(k, v);
  const defaulted = new Map<string, string>();
  for (const r of ranges) {
    for (const [k, v] of r.defaultLimit)
      if (!limits.has(k)) {
        limits.set(k, v);
        defaulted.set(`limits.${k}`, r.name);
      }
    for (const [k, v] of r.defaultRequest)
      if (!requests.has(k)) {
        requests.set(k, v);
        defaulted.set(`requests.${k}`, r.name);
      }
  }
  for (const [k, limit] of limits) {
    const request = requests.get(k);
    if (request !== undefined && request > limit)
      problems.push(
        `${where} requests ${formatAmount(k, request)} of ${k} but its limit is ${formatAmount(k, limit)}${defaulted.has(`limits.${k}`) ? ` (the default of LimitRange "${defaulted.get(`limits.${k}`)}")` : ""}: set resources.limits.${k} at least as high as the request`,
      );
  }
  for (const r of ranges) {
    for (const [k, max] of r.max) {
      const limit = limits.get(k);
      if (limit === undefined || limit > max)
        problems.push(
          `${where} ${limit === undefined ? `sets no limit of ${k}` : `has a ${k} limit of ${formatAmount(k, limit)}`}; LimitRange "${r.name}" allows at most ${formatAmount(k, max)} per container`,
        );
    }
    for (const [k, min] of r.min) {
      const request = requests.get(k);
      if (request === undefined || request < min)
        problems.push(
          `${where} requests ${request === undefined ? `no ${k}` : formatAmount(k, request)}; LimitRange "${r.name}" asks at least ${formatAmount(k, min)} per container`,
        );
    }
    for (const [k, ratio] of r.maxRatio) {
      const limit = limits.get(k);
      const request = requests.get(k);
      if (limit !== undefined && request !== undefined && request > 0 && (limit * 1000) / request > ratio)
        problems.push(
          `${where}: its ${k} limit is more than ${ratio / 1000} times its request (LimitRange "${r.name}" maxLimitRequestRatio)`,
        );
    }
  }
  return { name: String(c.name ?? "?"), requests, limits, defaulted };
}

const add = (into: Amounts, from: Amounts): void => {
  for (const [k, v] of from) into.set(k, (into.get(k) ?? 0) + v);
};
const maxInto = (into: Amounts, from: Amounts): void => {
  for (const [k, v] of from) into.set(k, Math.max(into.get(k) ?? 0, v));
};

/** A pod spec's resources under these LimitRanges; `where` names the workload in problems. */
export function podResources(pod: Rec, ranges: readonly ContainerLimits[], where: string): PodResources {
  const problems: string[] = [];
  const main = asList(pod.containers).map((c) =>
    container(c, `${where}: container "${String(c.name)}"`, ranges, problems),
  );
  const init = asList(pod.initContainers).map((c) => ({
    sidecar: c.restartPolicy === "Always",
    res: container(c, `${where}: init container "${String(c.name)}"`, ranges, problems),
  }));
  const total = (field: "requests" | "limits"): Amounts => {
    const sum: Amounts = new Map();
    for (const c of main) add(sum, c[field]);
    const sidecars: Amounts = new Map();
    const initPeak: Amounts = new Map();
    for (const { sidecar, res } of init) {
      const step: Amounts = new Map(sidecars);
      add(step, res[field]);
      if (sidecar) {
        add(sum, res[field]);
        add(sidecars, res[field]);
      }
      maxInto(initPeak, step);
    }
    maxInto(sum, initPeak);
    return sum;
  };
  const containers = [...main, ...init.map((i) => i.res)];
  const requests = total("requests");
  const limits = total("limits");
  const podLevel = new Set<string>();
  const own = asRec(pod.resources);
  if (own) {
    const podLimits = amounts(own.limits, `${where}: the pod's resources.limits`, problems);
    const podRequests = amounts(own.requests, `${where}: the pod's resources.requests`, problems);
    for (const [k, v] of podLimits) if (!podRequests.has(k)) podRequests.set(k, v);
    for (const [k, podLimit] of podLimits) {
      for (const c of containers) {
        const limit = c.limits.get(k);
        if (limit !== undefined && limit > podLimit)
          problems.push(
            `${where}: container "${c.name}" has a ${k} limit of ${formatAmount(k, limit)}${c.defaulted.has(`limits.${k}`) ? ` (the default of LimitRange "${c.defaulted.get(`limits.${k}`)}")` : ""}, above the pod's resources.limits.${k} ${formatAmount(k, podLimit)}, so the API server refuses its pods: set the container's own resources.limits.${k} (containers[].resources), not only the pod's`,
          );
      }
      limits.set(k, podLimit);
      podLevel.add(`limits.${k}`);
    }
    for (const [k, podRequest] of podRequests) {
      const request = requests.get(k);
      if (request !== undefined && request > podRequest)
        problems.push(
          `${where}: its containers request ${formatAmount(k, request)} of ${k}${containers.some((c) => c.defaulted.has(`requests.${k}`)) ? " (LimitRange defaults included)" : ""}, more than the pod's resources.requests.${k} ${formatAmount(k, podRequest)}, so the API server refuses its pods: set the containers' own resources.requests.${k} (containers[].resources), or raise the pod's`,
        );
      requests.set(k, podRequest);
      podLevel.add(`requests.${k}`);
    }
  }
  return { requests, limits, containers, podLevel, problems };
}

/** `4.5 CPU`, `1.5Gi`, `3` — milli-units back to a quantity a person reads. */
export function formatAmount(resource: string, value: number): string {
  const base = value / 1000;
  if (resource.endsWith("cpu")) return value < 1000 ? `${value}m CPU` : `${Number(base.toFixed(3))} CPU`;
  if (/memory|storage|hugepages/.test(resource)) {
    for (const [suffix, size] of [
      ["Ti", 2 ** 40],
      ["Gi", 2 ** 30],
      ["Mi", 2 ** 20],
      ["Ki", 2 ** 10],
    ] as const)
      if (base >= size) return `${Number((base / size).toFixed(2))}${suffix}`;
    return `${base}`;
  }
  return Number.isInteger(base) ? String(base) : base.toFixed(3);
}
