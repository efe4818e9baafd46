/**
 * Backups of preview databases (`/preview backup`, the final backup before a preview's database is dropped) and
 * seeding a new preview database from a target's latest backup (`database.seedFrom`) — every preview doubles as a
 * restore drill. The runner sees only this small interface.
 */
import type { Logger } from "../../../logger.js";
import { backupDatabase, type BackupResult } from "./backup.js";
import type { BlobStore } from "./blob-store.js";
import { listBackups, resolveBackup, type BackupEntry } from "./catalog.js";
import { restoreBackup, type RestoreResult } from "./restore.js";
import { connectionFromUrl, findTarget, withDatabase, type BackupTarget } from "./targets.js";

export interface PreviewBackups {
  /** Back the preview database up now (as the admin connection, into the preview container). */
  backup(database: string): Promise<BackupResult>;
  /** Backups of a preview database, newest first. */
  list(database: string): Promise<BackupEntry[]>;
  /**
   * Restore a backup into a (fresh) preview database: `latest` of the `seedFrom` target, a preview backup
   * (`previews/<database>/…`), or a blob of the `seedFrom` target by name.
   */
  restore(which: string, seedFrom: string | undefined, toUrl: string): Promise<RestoreResult & { entry: { name: string } }>;
  /** Find that backup without restoring it (throws with a clear message when it does not exist). */
  resolve(which: string, seedFrom: string | undefined): Promise<BackupEntry>;
  /** Restore the latest backup of `target` into a freshly created preview database (connection as its owner). */
  seed(target: string, toUrl: string): Promise<RestoreResult & { entry: { name: string } }>;
}

export interface PreviewBackupsOptions {
  store: BlobStore;
  /** The admin URL of the preview database server (PREVIEW_DATABASE_URL). */
  adminUrl: string;
  container: string;
  targets: BackupTarget[];
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

export function createPreviewBackups(opts: PreviewBackupsOptions): PreviewBackups {
  const deps = { store: opts.store, ...(opts.env ? { env: opts.env } : {}), ...(opts.logger ? { logger: opts.logger } : {}) };
  // Blob names are `previews/<database>/<database>-<time>.dump`; the database name is already identifier-safe.
  const locationOf = (database: string) => ({ name: database, container: opts.container, prefix: "previews/" });
  /** A preview backup (`previews/<database>/…`), else the seedFrom target's backups. */
  const locate = (which: string, seedFrom: string | undefined) => {
    const preview = /^previews\/([a-z0-9_]{1,63})\/[^/]+\.dump$/.exec(which);
    if (preview) return locationOf(preview[1]!);
    if (!seedFrom) throw new Error(`"${which}" is not a preview backup, and the repository has no database.seedFrom target to look it up in`);
    return findTarget(opts.targets, seedFrom);
  };
  return {
    backup(database) {
      return backupDatabase(locationOf(database), withDatabase(connectionFromUrl(opts.adminUrl), database), deps, "preview");
    },
    list(database) {
      return listBackups(opts.store, locationOf(database));
    },
    restore(which, seedFrom, toUrl) {
      return restoreBackup(locate(which, seedFrom), which, toUrl, deps);
    },
    resolve(which, seedFrom) {
      return resolveBackup(opts.store, locate(which, seedFrom), which);
    },
    seed(target, toUrl) {
      const t = findTarget(opts.targets, target);
      return restoreBackup(t, "latest", toUrl, deps);
    },
  };
}
