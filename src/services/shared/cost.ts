/**
 * What a preview costs, as the sticky comment and Slack show it: from OpenCost's allocation API when the operator runs
 * it (cost/opencost.ts), else requests × the operator's prices (preview/sleep/cost.ts), with the share of its life the
 * preview spent asleep (that share cost nothing but its storage).
 */

/** One preview's cost over its life so far. */
export interface CostFigure {
  amount: number;
  /** ISO 4217 code (PREVIEW_COST_CURRENCY). */
  currency: string;
  /** `opencost`: measured by OpenCost; `estimate`: requests × prices, for the time awake. */
  source: "opencost" | "estimate";
  /** The preview's life the figure covers (ms, since its namespace was created). */
  lifeMs: number;
  /** The share of that life spent asleep, 0…1. */
  asleepShare: number;
}

/** A cost allocation source (OpenCost): a namespace's total cost over a window; undefined when it knows none. */
export interface CostSource {
  namespaceCost(namespace: string, start: Date, end: Date): Promise<number | undefined>;
}

/** `≈ 1.20 USD (estimate from requests; asleep 40 % of its 3 d)`, as the sticky comment and Slack say it. */
export function formatCost(c: CostFigure): string {
  const amount = c.amount < 0.01 && c.amount > 0 ? "< 0.01" : c.amount.toFixed(2);
  const days = c.lifeMs / 86_400_000;
  const life = days >= 1 ? `${days.toFixed(1)} d` : `${(c.lifeMs / 3_600_000).toFixed(1)} h`;
  const source = c.source === "opencost" ? "OpenCost" : "estimate from requests × prices";
  return `≈ ${amount} ${c.currency} (${source}; asleep ${Math.round(c.asleepShare * 100)} % of its ${life})`;
}
