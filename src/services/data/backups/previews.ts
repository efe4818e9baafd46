/**
 * Backups of preview databases (`/preview backup`, the final backup before a preview's database is dropped, the
 * safety backup before a restore) and restores into them (`database.seedFrom`, `/preview restore`) — every preview
 * doubles as a restore drill. The runner sees only this small interface.
 *
 * Data stays with its owner: a preview backup records the preview it was taken from (blob metadata `previewkey`),
 * and only that preview may restore or list it; a backup target's data goes only to repositories on the target's
 * `allowedRepos` list. Restores run as the preview role; the extensions a backup uses are created first with the
 * least privilege that works (see ../extensions.ts).
 */
import pg from "pg";
import type { Logger } from "../../../logger.js";
import { ensureExtensions } from "../extensions.js";
import { backupDatabase, type BackupResult } from "./backup.js";
import type { BlobStore } from "./blob-store.js";
import { listBackups, OWNER_METADATA, resolveBackup, type BackupEntry, type BackupLocation } from "./catalog.js";
import { restoreBlob, type RestoreResult } from "./restore.js";
import {
  connectionFromUrl,
  findTarget,
  pgClientConfig,
  targetAllows,
  withDatabase,
  type BackupTarget,
  type PgConnection,
} from "./targets.js";

/** A preview's database, as the databases list gives it. */
export interface PreviewDatabaseRef {
  database: string;
  /** `owner/repo#N`. */
  key: string;
}

/** What a restore into a preview database may draw from: its own backups, and the latest of its seedFrom target. */
export interface RestoreScope extends PreviewDatabaseRef {
  /** `owner/repo`, checked against the seedFrom target's allowedRepos. */
  repository: string;
  seedFrom?: string;
}

/** Refused before anything changed: the backup is not this preview's, or the target does not allow the repository. */
class RestoreRefusedError extends Error {
  override readonly name = "RestoreRefusedError";
}

export interface PreviewBackups {
  /** Back the preview database up now (as the admin connection, into the preview container), recording its owner. */
  backup(db: PreviewDatabaseRef): Promise<BackupResult>;
  /** This preview's backups of its database, newest first. */
  list(db: PreviewDatabaseRef): Promise<BackupEntry[]>;
  /**
   * Find a backup the preview may restore (`latest` of its seedFrom target, or one of its own); throws with why not.
   */
  resolve(which: string, scope: RestoreScope): Promise<BackupEntry>;
  /** Restore such a backup into the (fresh) preview database at `toUrl` (connection as its role). */
  restore(which: string, scope: RestoreScope, toUrl: string): Promise<RestoreResult & { entry: BackupEntry }>;
  /** Restore the latest backup of `target` into a freshly created preview database of `repository`. */
  seed(target: string, repository: string, toUrl: string): Promise<RestoreResult & { entry: BackupEntry }>;
}

export interface PreviewBackupsOptions {
  store: BlobStore;
  /** The admin URL of the preview database server (PREVIEW_DATABASE_URL). */
  adminUrl: string;
  container: string;
  targets: BackupTarget[];
  /** Untrusted extensions the admin may create in preview databases (PREVIEW_DATABASE_ADMIN_EXTENSIONS). */
  adminExtensions?: readonly string[];
  /**
   * The variables the tools and credentials read (PATH, PG_BIN_DIR, passwordEnv): the settings' (src/env.ts
   * variablesOf).
   */
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

async function connected(conn: PgConnection): Promise<pg.Client> {
  const c = new pg.Client({ ...pgClientConfig(conn), application_name: "preview-bot-restore" });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

export function createPreviewBackups(opts: PreviewBackupsOptions): PreviewBackups {
  const deps = { store: opts.store, env: opts.env, logger: opts.logger };
  // Blob names are `previews/<database>/<database>-<time>.dump`; the database name is already identifier-safe.
  const locationOf = (database: string): BackupLocation => ({
    name: database,
    container: opts.container,
    prefix: "previews/",
  });
  const own = (db: PreviewDatabaseRef, entries: BackupEntry[]) =>
    entries.filter((e) => e.metadata[OWNER_METADATA] === db.key);

  /** The seedFrom target, if this repository may use it. */
  function allowedTarget(name: string, repository: string, field: string): BackupTarget {
    const target = findTarget(opts.targets, name);
    if (!targetAllows(target, repository)) {
      const list = target.allowedRepos?.length
        ? `its allowedRepos are ${target.allowedRepos.join(", ")}`
        : "it has no allowedRepos";
      throw new RestoreRefusedError(
        `${field}: backup target "${name}" does not allow ${repository} to use its backups (${list})`,
      );
    }
    return target;
  }

  async function resolve(which: string, scope: RestoreScope): Promise<BackupEntry & { location: BackupLocation }> {
    if (which === "latest") {
      if (!scope.seedFrom)
        throw new RestoreRefusedError(
          `"latest" means the newest backup of database.seedFrom, and this repository sets none`,
        );
      const target = allowedTarget(scope.seedFrom, scope.repository, "database.seedFrom");
      return { ...(await resolveBackup(opts.store, target, "latest")), location: target };
    }
    const named = /^previews\/([^/]+)\/[^/]+$/.exec(which)?.[1];
    const notOurs = `"${which}" is not one of this preview's backups: /preview restore takes a backup of ${scope.database} (previews/${scope.database}/…) or "latest" (of database.seedFrom)`;
    if (named !== undefined && named !== scope.database) throw new RestoreRefusedError(notOurs);
    const location = locationOf(scope.database);
    const entry = await resolveBackup(opts.store, location, which);
    if (entry.metadata[OWNER_METADATA] !== scope.key)
      throw new RestoreRefusedError(`${notOurs} (it was not taken from ${scope.key})`);
    return { ...entry, location };
  }

  /** Restore into the preview database at `toUrl`, creating the extensions the backup uses first. */
  function restoreInto(
    location: BackupLocation,
    entry: BackupEntry,
    toUrl: string,
  ): Promise<RestoreResult & { entry: BackupEntry }> {
    const to = connectionFromUrl(toUrl);
    const admin = withDatabase(connectionFromUrl(opts.adminUrl), to.database);
    const conns = {
      asRole: () => connected(to),
      asAdmin: () => connected(admin),
      adminAllowed: opts.adminExtensions ?? [],
    };
    return restoreBlob(location, entry.name, to, deps, {
      extensions: (names) => ensureExtensions(names, conns, `the backup ${entry.name}`),
    }).then((r) => ({ ...r, entry }));
  }

  return {
    backup(db) {
      return backupDatabase(
        locationOf(db.database),
        withDatabase(connectionFromUrl(opts.adminUrl), db.database),
        deps,
        { kind: "preview", owner: db.key },
      );
    },
    async list(db) {
      return own(db, await listBackups(opts.store, locationOf(db.database)));
    },
    async resolve(which, scope) {
      const { location: _location, ...entry } = await resolve(which, scope);
      return entry;
    },
    async restore(which, scope, toUrl) {
      const { location, ...entry } = await resolve(which, scope);
      return restoreInto(location, entry, toUrl);
    },
    async seed(target, repository, toUrl) {
      const t = allowedTarget(target, repository, "database.seedFrom");
      return restoreInto(t, await resolveBackup(opts.store, t, "latest"), toUrl);
    },
  };
}
