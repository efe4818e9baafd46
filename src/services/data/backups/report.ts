/**
 * Reporting seams: `BackupEvents` (the wiring connects it to Slack and PRs), pure Slack-text formatters, and
 * missed-schedule detection. Formatters take results, never connections, and pass all free text through
 * redactText, so no secret can reach a message.
 */
import { formatBytes, formatDuration } from "../../shared/format.js";

import { redactText } from "../../../logger.js";
import type { BlobStore } from "./blob-store.js";
import { listBackups, type BackupLocation } from "./catalog.js";
import { previousSlot } from "../../shared/cron.js";
import type { BackupResult } from "./backup.js";
import type { ScheduleLock } from "../../shared/schedule-lock.js";

export interface BackupEvents {
  onSuccess(result: BackupResult): void | Promise<void>;
  onFailure(target: string, error: Error): void | Promise<void>;
  /** No successful backup within two schedule intervals. */
  onMissed(target: string, lastSuccessAt: Date | undefined): void | Promise<void>;
}

export function formatBackupSuccess(r: BackupResult): string {
  const rate = r.durationMs > 0 ? `${formatBytes((r.sizeBytes * 1000) / r.durationMs)}/s` : "n/a";
  const verified = r.verifiedAt ? `:white_check_mark: verified ${r.verifiedAt}` : "not verified";
  return redactText(
    `:floppy_disk: Backup of *${r.target}* done: ${formatBytes(r.sizeBytes)} in ${formatDuration(r.durationMs)} (${rate}), ` +
      `${r.tables} tables, PostgreSQL ${r.serverVersion}\n\`${r.container}/${r.blobName}\` · ${verified}`,
  );
}

export function formatBackupFailure(target: string, error: Error): string {
  const reason = redactText(error.message).slice(0, 1500);
  return `:x: Backup of *${target}* failed: ${reason}`;
}

export function formatBackupMissed(target: string, lastSuccessAt: Date | undefined, now: Date = new Date()): string {
  const last = lastSuccessAt
    ? `the last successful backup was ${lastSuccessAt.toISOString()} (${formatDuration(now.getTime() - lastSuccessAt.getTime())} ago)`
    : "there is no successful backup at all";
  return `:warning: Backup of *${target}* missed its schedule: ${last}`;
}

/**
 * Pure: true when no backup succeeded within the last two schedule intervals, i.e. nothing since the
 * second-latest slot at or before `now`. `since` (when the target was first scheduled) keeps a new target quiet.
 */
export function detectMissed(schedule: string, lastSuccessAt: Date | undefined, now: Date, since?: Date): boolean {
  const s1 = previousSlot(schedule, now);
  const s2 = previousSlot(schedule, new Date(s1.getTime() - 60_000));
  const reference = lastSuccessAt ?? since;
  return reference === undefined || reference.getTime() < s2.getTime();
}

/**
 * Check each target against its blobs and call `onMissed` for the late ones. With a lock, each miss is announced
 * once per slot across replicas.
 */
export async function checkMissed(
  targets: Array<BackupLocation & { schedule: string }>,
  deps: { store: BlobStore; events: Pick<BackupEvents, "onMissed">; now?: Date; since?: Date; lock?: ScheduleLock },
): Promise<string[]> {
  const now = deps.now ?? new Date();
  const missed: string[] = [];
  for (const t of targets) {
    const newest = (await listBackups(deps.store, t))[0];
    if (!detectMissed(t.schedule, newest?.time, now, deps.since)) continue;
    if (deps.lock && !(await deps.lock.claim(`missed:${t.name}`, previousSlot(t.schedule, now).toISOString())))
      continue;
    missed.push(t.name);
    await deps.events.onMissed(t.name, newest?.time);
  }
  return missed;
}
