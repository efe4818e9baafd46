/**
 * Kubernetes resource quantities (`500m`, `2`, `1.5Gi`, `8G`, `1e3`) as numbers, to compare a repository's guardrail
 * values with the bot's bounds. Floating point is exact enough for "which is smaller": quotas are whole units.
 */
import { QUANTITY } from "../../env.js";

const SUFFIX: Record<string, number> = {
  "": 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The quantity's value in base units (cores, bytes), or throws for text that is not a quantity. */
export function parseQuantity(text: string): number {
  const m = QUANTITY.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a Kubernetes quantity (e.g. "500m", "2", "512Mi")`);
  const number = Number(m[1]);
  const suffix = m[3] ?? "";
  if (/^[eE]/.test(suffix)) return number * 10 ** Number(suffix.slice(1));
  return number * SUFFIX[suffix]!;
}

/** The smaller of two quantities, as written. */
export function smallerQuantity(a: string, b: string): string {
  return parseQuantity(a) <= parseQuantity(b) ? a : b;
}
