/**
 * The scheduled (or `/preview backup`-requested) job for one target: back up, verify if the target asks for it,
 * apply retention, and report through BackupEvents. Never throws: every outcome goes to the events.
 */
import { logger as rootLogger } from "../../../logger.js";
import { runBackup, type BackupDeps, type BackupResult } from "./backup.js";
import { pruneBackups } from "./retention.js";
import type { BackupEvents } from "./report.js";
import { targetConnection, type BackupTarget, type PgConnection } from "./targets.js";
import { verifyBackup } from "./verify.js";

export interface BackupJobDeps extends BackupDeps {
  events: BackupEvents;
  /** Where verification creates its scratch database (default: the target's own server and credentials). */
  scratch?: PgConnection;
}

export async function runBackupJob(target: BackupTarget, deps: BackupJobDeps): Promise<BackupResult | undefined> {
  const log = (deps.logger ?? rootLogger).child({ component: "backup-job", target: target.name });
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
    return undefined;
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
  return result;
}
