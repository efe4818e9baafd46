/**
 * Backups to Azure Blob Storage: the public surface the runner, scheduler wiring and CLI use. Schedules (which slot
 * runs when, once across replicas) are infrastructure and live in jobs/schedule.ts.
 */
export { runBackup, backupPreviewDatabase, BackupRefusedError, PgDumpError, type BackupResult } from "./backup.js";
export { createBlobStore, blobStoreFromEnv, type BlobStore } from "./blob-store.js";
export { listBackups } from "./catalog.js";
export { runBackupJob } from "./job.js";
export { checkMissed, formatBackupFailure, formatBackupSuccess } from "./report.js";
export { restoreBackup } from "./restore.js";
/** @public bench/backup.mjs restores through it (imported from dist/, which knip cannot follow). */
export { restoreBlob } from "./restore.js";
export { pruneBackups } from "./retention.js";
export {
  connectionFromUrl,
  findTarget,
  loadTargets,
  parseTargets,
  targetConnection,
  type BackupTarget,
} from "./targets.js";
export { verifyBackup } from "./verify.js";
