/**
 * Verification: restore a backup into a scratch database, check that the tables recorded at backup time are there
 * with the same exact row counts (small tables) or not empty (big ones), drop the scratch database, and mark the
 * blob `verified=<time>`. A backup that was never restored is a hope, not a backup.
 */
import { randomBytes } from "node:crypto";
import { decodeManifest, resolveBackup, type BackupLocation } from "./catalog.js";
import { connectPg, serverMajor, tableStats } from "./pg-tools.js";
import { restoreBlob, type RestoreDeps } from "./restore.js";
import { withDatabase, type PgConnection } from "./targets.js";

export interface VerifyResult {
  target: string;
  blobName: string;
  verifiedAt: string;
  tables: number;
  /** Tables whose exact row count matched. */
  exactChecked: number;
  restoreMs: number;
}

class VerificationError extends Error {
  override name = "VerificationError";
}

/**
 * @param scratch a connection allowed to CREATE DATABASE (its `database` is only used to connect); the scratch
 *   database is created on that server and always dropped afterwards.
 */
export async function verifyBackup(
  loc: BackupLocation,
  which: string,
  scratch: PgConnection,
  deps: RestoreDeps,
): Promise<VerifyResult> {
  const log = deps.logger.child({ component: "verify", target: loc.name });
  const entry = await resolveBackup(deps.store, loc, which);
  const doing = `verifying "${entry.name}"`;
  const dbName = `pbverify_${loc.name.replace(/[^a-z0-9_]/g, "_").slice(0, 40)}_${randomBytes(4).toString("hex")}`;
  const admin = await connectPg(scratch, `${doing}: creating a scratch database`);
  let problems: string[] = [];
  let restoreMs: number;
  let exactChecked = 0;
  let tablesFound: number;
  try {
    const major = serverMajor(
      Number((await admin.query<{ v: string }>("select current_setting('server_version_num') as v")).rows[0]!.v),
    );
    await admin.query(`create database ${admin.escapeIdentifier(dbName)}`);
    try {
      restoreMs = (await restoreBlob(loc, entry.name, withDatabase(scratch, dbName), deps)).durationMs;
      const db = await connectPg(withDatabase(scratch, dbName), `${doing}: checking the scratch database`);
      try {
        const found = await tableStats(db);
        tablesFound = found.length;
        const byKey = new Map(found.map((t) => [t.key, t]));
        const expectedTables = Number(entry.metadata.tables ?? NaN);
        if (Number.isFinite(expectedTables) && expectedTables !== found.length) {
          problems.push(`expected ${expectedTables} tables, found ${found.length}`);
        }
        for (const want of decodeManifest(entry.metadata.rows)) {
          const got = byKey.get(want.key);
          if (!got) {
            problems.push(`table ${decodeURIComponent(want.key)} is missing`);
          } else if (want.rows !== undefined) {
            const rows =
              got.rows ??
              Number(
                (
                  await db.query<{ n: string }>(
                    `select count(*)::text as n from ${db.escapeIdentifier(got.schema)}.${db.escapeIdentifier(got.name)}`,
                  )
                ).rows[0]!.n,
              );
            if (rows !== want.rows)
              problems.push(`table ${decodeURIComponent(want.key)} has ${rows} rows, the backup recorded ${want.rows}`);
            else exactChecked++;
          } else {
            const any = await db.query(
              `select 1 from ${db.escapeIdentifier(got.schema)}.${db.escapeIdentifier(got.name)} limit 1`,
            );
            if (any.rowCount === 0)
              problems.push(`table ${decodeURIComponent(want.key)} is empty (it was too big to count at backup time)`);
          }
        }
      } finally {
        await db.end().catch(() => {});
      }
    } finally {
      const force = major >= 13 ? " with (force)" : "";
      await admin.query(`drop database if exists ${admin.escapeIdentifier(dbName)}${force}`).catch((err: Error) => {
        problems = [...problems, `dropping scratch database ${dbName}: ${err.message}`];
      });
    }
  } finally {
    await admin.end().catch(() => {});
  }
  if (problems.length) throw new VerificationError(`${doing}: ${problems.join("; ")}`);
  const verifiedAt = new Date().toISOString();
  await deps.store.setMetadata(loc.container, entry.name, { ...entry.metadata, verified: verifiedAt }, entry.etag);
  log.info({ blob: entry.name, tables: tablesFound, exactChecked, restoreMs }, "backup verified");
  return { target: loc.name, blobName: entry.name, verifiedAt, tables: tablesFound, exactChecked, restoreMs };
}
