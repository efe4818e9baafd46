/**
 * Backups of preview databases (`/preview backup`, the final backup before a preview's database is dropped) and
 * seeding a new preview database from a target's latest backup (`database.seedFrom`) — every preview doubles as a
 * restore drill. The runner sees only this small interface.
 */
import type { Logger } from "../../logger.js";
import { backupDatabase, type BackupResult } from "./backup.js";
import type { BlobStore } from "./blob-store.js";
import { restoreBackup, type RestoreResult } from "./restore.js";
import { connectionFromUrl, findTarget, withDatabase, type BackupTarget } from "./targets.js";

export interface PreviewBackups {
  /** Back the preview database up now (as the admin connection, into the preview container). */
  backup(database: string, key: string): Promise<BackupResult>;
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
  return {
    backup(database, key) {
      // Blob names are `<prefix><name>/<name>-<time>.dump`; the database name is already DNS/identifier-safe.
      const loc = { name: database, container: opts.container, prefix: "previews/" };
      void key;
      return backupDatabase(loc, withDatabase(connectionFromUrl(opts.adminUrl), database), deps, "preview");
    },
    seed(target, toUrl) {
      const t = findTarget(opts.targets, target);
      return restoreBackup(t, "latest", toUrl, deps);
    },
  };
}
