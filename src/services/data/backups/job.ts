/**
 * One backup of a configured target: back up, verify if the target asks for it, apply retention, and report through
 * BackupEvents. Every outcome goes to the events; the result says how it went, so the `backup` job (service.ts) can
 * hand a transient failure back to the queue for another try.
 */
import type { Logger } from "../../../logger.js";
import { runBackup, type BackupDeps, type BackupResult } from "./backup.js";
import { pruneBackups } from "./retention.js";
import type { BackupEvents } from "./report.js";
import { targetConnection, type BackupTarget, type PgConnection } from "./targets.js";
import { verifyBackup } from "./verify.js";

export interface BackupJobDeps extends BackupDeps {
  events: BackupEvents;
  /** Where verification creates its scratch database (default: the target's own server and credentials). */
  scratch?: PgConnection;
  logger: Logger;
}

export type BackupOutcome = { ok: true; value: BackupResult } | { ok: false; error: Error };

export async function runBackupJob(target: BackupTarget, deps: BackupJobDeps): Promise<BackupOutcome> {
  const log = deps.logger.child({ component: "backup-job", target: target.name });
  let result: BackupResult;
  try {
    result = await runBackup(target, deps);
    if (target.verify) {
      const v = await verifyBackup(target, result.blobName, deps.scratch ?? targetConnection(target, deps.env), deps);
      result = { ...result, verifiedAt: v.verifiedAt };
    }
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    await Promise.resolve(deps.events.onFailure(target.name, error)).catch((e: unknown) =>
      log.error({ err: e }, "reporting a backup failure failed"),
    );
    return { ok: false, error };
  }
  try {
    const pruned = await pruneBackups(target, target.retention, deps);
    if (pruned.errors.length) log.warn({ errors: pruned.errors }, "some old backups could not be pruned");
  } catch (err) {
    log.warn({ err }, "retention failed (the backup itself succeeded)");
  }
  await Promise.resolve(deps.events.onSuccess(result)).catch((e: unknown) =>
    log.error({ err: e }, "reporting a backup success failed"),
  );
  return { ok: true, value: result };
}
