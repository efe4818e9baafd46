/**
 * Backups to Azure Blob Storage: the public surface the runner, scheduler wiring and CLI use. Schedules (which slot
 * runs when, once across replicas) are infrastructure and live in jobs/schedule.ts.
 */
export {
  runBackup,
  backupPreviewDatabase,
  backupDatabase,
  BackupRefusedError,
  PgDumpError,
  type BackupResult,
  type BackupDeps,
} from "./backup.js";
export {
  createBlobStore,
  blobStoreFromEnv,
  defaultCredential,
  type BlobStore,
  type BlobStoreSettings,
  type StoredBlob,
} from "./blob-store.js";
export {
  listBackups,
  resolveBackup,
  blobNameFor,
  timeFromBlobName,
  type BackupEntry,
  type BackupLocation,
} from "./catalog.js";
export { parseCron, nextSlot, previousSlot, cronMatches, type Cron } from "../../shared/cron.js";
export { runBackupJob, type BackupJobDeps } from "./job.js";
export { findPgTools, type PgTools } from "./pg-tools.js";
export {
  checkMissed,
  detectMissed,
  formatBackupFailure,
  formatBackupMissed,
  formatBackupSuccess,
  type BackupEvents,
} from "./report.js";
export { restoreBackup, type RestoreDeps, type RestoreResult } from "./restore.js";
/** @public bench/backup.mjs restores through it (imported from dist/, which knip cannot follow). */
export { restoreBlob } from "./restore.js";
export {
  pruneBackups,
  selectRetention,
  isoWeek,
  utcDay,
  type PruneResult,
  type RetentionDecision,
  type RetentionItem,
} from "./retention.js";
export {
  connectionFromUrl,
  findTarget,
  loadTargets,
  parseTargets,
  targetAllows,
  targetConnection,
  TargetsConfigError,
  type BackupTarget,
  type PgConnection,
  type RetentionPolicy,
} from "./targets.js";
export { verifyBackup, VerificationError, type VerifyResult } from "./verify.js";
