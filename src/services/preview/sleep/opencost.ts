/**
 * OpenCost's allocation API as a CostSource: `GET <url>/allocation/compute?window=<start>,<end>&aggregate=namespace
 * &accumulate=true&filter=namespace:"<ns>"` → the namespace's totalCost over the window (opencost.io, API docs).
 */
import type { CostSource } from "../../shared/cost.js";

interface AllocationAnswer {
  code?: number;
  data?: Array<Record<string, { totalCost?: unknown } | null> | null>;
}

export function openCostSource(baseUrl: string, fetchImpl: typeof fetch = fetch, timeoutMs = 5_000): CostSource {
  const base = baseUrl.replace(/\/+$/, "");
  return {
    async namespaceCost(namespace, start, end) {
      const url = new URL(`${base}/allocation/compute`);
      url.searchParams.set(
        "window",
        `${start.toISOString().replace(/\.\d+Z$/, "Z")},${end.toISOString().replace(/\.\d+Z$/, "Z")}`,
      );
      url.searchParams.set("aggregate", "namespace");
      url.searchParams.set("accumulate", "true");
      url.searchParams.set("filter", `namespace:"${namespace}"`);
      const res = await fetchImpl(url, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw new Error(`asking OpenCost for the cost of namespace "${namespace}": HTTP ${res.status}`);
      const body = (await res.json()) as AllocationAnswer;
      let total: number | undefined;
      for (const set of body.data ?? [])
        for (const [name, a] of Object.entries(set ?? {}))
          if (name === namespace && typeof a?.totalCost === "number" && Number.isFinite(a.totalCost))
            total = (total ?? 0) + a.totalCost;
      return total;
    },
  };
}
