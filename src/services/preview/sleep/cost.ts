/**
 * What a preview has cost so far (shared/cost.ts): OpenCost's allocation for its namespace over its life when the
 * operator runs OpenCost, else its workloads' requests × the operator's prices for the time it was awake; with the
 * share of its life spent asleep either way. Nothing here throws at a caller: no figure is better than a failed run.
 */
import type { Logger } from "../../../logger.js";
import type { CostFigure, CostSource } from "../../shared/cost.js";
import { asleepShare, readSleep, type SleepControl } from "../../shared/sleep.js";
import { parseQuantity } from "../quantity.js";

export interface CostSettings {
  /** OpenCost (allocation by namespace), when configured. */
  source?: CostSource;
  /** Operator prices for the estimate; without both, no estimate. */
  cpuHour?: number;
  memoryGibHour?: number;
  currency: string;
}

const HOUR = 3_600_000;
const GIB = 2 ** 30;

/** Cores and GiB a set of workloads requests while awake (containers without requests count as nothing). */
export function requestedResources(workloads: Awaited<ReturnType<SleepControl["requests"]>>): {
  cores: number;
  gib: number;
} {
  let cores = 0;
  let gib = 0;
  for (const w of workloads)
    for (const c of w.containers) {
      const q = (text: string | undefined) => {
        try {
          return text ? parseQuantity(text) : 0;
        } catch {
          return 0;
        }
      };
      cores += w.replicas * q(c.cpu);
      gib += (w.replicas * q(c.memory)) / GIB;
    }
  return { cores, gib };
}

/** Requests × prices over the time awake: the estimate when OpenCost gives nothing. */
export function estimateCost(
  resources: { cores: number; gib: number },
  prices: { cpuHour: number; memoryGibHour: number },
  awakeMs: number,
): number {
  return ((resources.cores * prices.cpuHour + resources.gib * prices.memoryGibHour) * Math.max(0, awakeMs)) / HOUR;
}

/** The figure for one namespace, or undefined when there is neither OpenCost nor prices (or both failed). */
export async function previewCost(
  o: { settings: CostSettings; control: SleepControl; logger: Logger },
  namespace: { name: string; annotations: Record<string, string>; createdAt?: string },
  now = Date.now(),
): Promise<CostFigure | undefined> {
  const created = Date.parse(namespace.createdAt ?? "");
  if (!Number.isFinite(created)) return undefined;
  const facts = readSleep(namespace.annotations);
  const share = asleepShare(facts, created, now);
  const lifeMs = Math.max(0, now - created);
  const figure = (amount: number, source: CostFigure["source"]): CostFigure => ({
    amount,
    currency: o.settings.currency,
    source,
    lifeMs,
    asleepShare: share,
  });
  if (o.settings.source) {
    try {
      const amount = await o.settings.source.namespaceCost(namespace.name, new Date(created), new Date(now));
      if (amount !== undefined) return figure(amount, "opencost");
    } catch (err) {
      o.logger.warn({ err, namespace: namespace.name }, "OpenCost did not answer: the cost is estimated instead");
    }
  }
  const { cpuHour, memoryGibHour } = o.settings;
  if (cpuHour === undefined && memoryGibHour === undefined) return undefined;
  try {
    const resources = requestedResources(await o.control.requests(namespace.name));
    const prices = { cpuHour: cpuHour ?? 0, memoryGibHour: memoryGibHour ?? 0 };
    return figure(estimateCost(resources, prices, lifeMs * (1 - share)), "estimate");
  } catch (err) {
    o.logger.warn({ err, namespace: namespace.name }, "could not read the preview's requests for its cost");
    return undefined;
  }
}
