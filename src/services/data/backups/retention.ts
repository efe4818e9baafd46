/**
 * Retention, restic-style: keep the `keepLast` newest backups, plus the newest backup of each of the `keepDaily`
 * most recent UTC days that have backups, plus the newest of each of the `keepWeekly` most recent ISO weeks that
 * have backups. Everything else is pruned. Counting days/weeks *that have backups* (not calendar days back from
 * now) means an outage never makes retention delete more; the newest backup is always kept, and so is the newest
 * *verified* one: while newer backups fail verification, the last one known to restore is never pruned.
 */
import type { Logger } from "../../../logger.js";
import type { BlobStore } from "./blob-store.js";
import { listBackups, type BackupLocation } from "./catalog.js";
import type { RetentionPolicy } from "./targets.js";

export interface RetentionItem {
  name: string;
  time: Date;
  /** When the backup was last verified (restored and checked), if ever. */
  verified?: string;
}

export interface RetentionDecision<T extends RetentionItem = RetentionItem> {
  keep: Array<T & { reasons: string[] }>;
  prune: T[];
}

/** "2026-11-26" */
function utcDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** ISO 8601 week, e.g. "2026-W48" (weeks start Monday; week 1 holds the year's first Thursday). */
export function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const dow = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - dow); // the Thursday of this week decides the year
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

/** Pure: which backups to keep (with why) and which to prune. Input order does not matter. */
export function selectRetention<T extends RetentionItem>(items: T[], policy: RetentionPolicy): RetentionDecision<T> {
  const sorted = [...items].sort((a, b) => b.time.getTime() - a.time.getTime() || (a.name < b.name ? 1 : -1));
  const reasons = new Map<T, string[]>();
  const add = (item: T, why: string) => reasons.set(item, [...(reasons.get(item) ?? []), why]);
  sorted.slice(0, Math.max(1, policy.keepLast)).forEach((item, i) => add(item, `last ${i + 1}`));
  const bucket = (keyOf: (d: Date) => string, n: number, label: string) => {
    const seen = new Set<string>();
    for (const item of sorted) {
      const key = keyOf(item.time);
      if (seen.has(key)) continue;
      if (seen.size >= n) break;
      seen.add(key);
      add(item, `${label} ${key}`);
    }
  };
  bucket(utcDay, policy.keepDaily, "daily");
  bucket(isoWeek, policy.keepWeekly, "weekly");
  const verified = sorted.find((item) => item.verified);
  if (verified) add(verified, "newest verified");
  const keep: Array<T & { reasons: string[] }> = [];
  const prune: T[] = [];
  for (const item of sorted) {
    const why = reasons.get(item);
    if (why) keep.push({ ...item, reasons: why });
    else prune.push(item);
  }
  return { keep, prune };
}

export interface PruneResult {
  dryRun: boolean;
  kept: Array<{ name: string; reasons: string[] }>;
  pruned: string[];
  errors: string[];
}

/** Apply retention to a target's blobs. Deletes every prunable blob even if some fail, then reports the errors. */
export async function pruneBackups(
  loc: BackupLocation,
  policy: RetentionPolicy,
  deps: { store: BlobStore; dryRun?: boolean; logger: Logger },
): Promise<PruneResult> {
  const log = deps.logger.child({ component: "retention", target: loc.name });
  const decision = selectRetention(await listBackups(deps.store, loc), policy);
  const result: PruneResult = {
    dryRun: !!deps.dryRun,
    kept: decision.keep.map((k) => ({ name: k.name, reasons: k.reasons })),
    pruned: [],
    errors: [],
  };
  for (const item of decision.prune) {
    if (deps.dryRun) {
      result.pruned.push(item.name);
      continue;
    }
    try {
      await deps.store.delete(loc.container, item.name); // "absent" counts as done
      result.pruned.push(item.name);
    } catch (err) {
      result.errors.push((err as Error).message);
    }
  }
  log.info(
    { dryRun: result.dryRun, kept: result.kept.length, pruned: result.pruned.length, errors: result.errors.length },
    "retention applied",
  );
  return result;
}
