/**
 * Restore a backup from its blob download stream into a database with `pg_restore --no-owner --no-acl` (no temp
 * file). Used for verification (into a scratch database) and to seed preview databases (`database.seedFrom`).
 */
import { spawn } from "node:child_process";
import { pipeline } from "node:stream/promises";
import { logger as rootLogger, type Logger } from "../../../logger.js";
import type { BlobStore } from "./blob-store.js";
import { resolveBackup, type BackupEntry, type BackupLocation } from "./catalog.js";
import { captureStderr, childEnv, describeExit, findPgTools, waitForExit } from "./pg-tools.js";
import { connectionFromUrl, describeConnection, libpqUrl, type PgConnection } from "./targets.js";

export interface RestoreDeps {
  store: BlobStore;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

export interface RestoreResult {
  target: string;
  blobName: string;
  bytes: number;
  durationMs: number;
  database: string;
}

/** Stream one blob into pg_restore connected to `to`. Throws with pg_restore's (redacted) stderr on failure. */
export async function restoreBlob(loc: BackupLocation, blobName: string, to: PgConnection, deps: RestoreDeps): Promise<RestoreResult> {
  const env = deps.env ?? process.env;
  const doing = `restoring "${blobName}" into ${describeConnection(to)}`;
  const log = (deps.logger ?? rootLogger).child({ component: "restore", target: loc.name });
  const tools = findPgTools(env);
  const started = Date.now();
  const source = await deps.store.download(loc.container, blobName);
  const child = spawn(tools.pgRestore, ["--no-owner", "--no-acl", "--no-password", "--exit-on-error", "--dbname", libpqUrl(to)], {
    env: childEnv(to, env),
    stdio: ["pipe", "ignore", "pipe"],
  });
  const stderr = captureStderr(child);
  let bytes = 0;
  source.on("data", (c: Buffer) => (bytes += c.length));
  const exited = waitForExit(child);
  const piped = pipeline(source, child.stdin).then(
    () => undefined,
    (err: Error) => err,
  );
  let exit: Awaited<typeof exited>;
  try {
    exit = await exited;
  } catch (cause) {
    source.destroy();
    throw new Error(`${doing}: starting ${tools.pgRestore}: ${(cause as Error).message}`, { cause });
  }
  const pipeErr = await piped;
  if (exit.code !== 0) throw new Error(`${doing}: ${describeExit("pg_restore", exit, stderr())}`);
  if (pipeErr) throw new Error(`${doing}: reading the blob: ${pipeErr.message}`, { cause: pipeErr });
  const result = { target: loc.name, blobName, bytes, durationMs: Date.now() - started, database: to.database };
  log.info({ blob: blobName, database: to.database, bytes, durationMs: result.durationMs }, "restore finished");
  return result;
}

/**
 * Restore the latest (or a named) backup of a target into the database at `toUrl` — e.g. to seed a preview
 * database. The database must exist and should be empty.
 */
export async function restoreBackup(loc: BackupLocation, which: string, toUrl: string, deps: RestoreDeps): Promise<RestoreResult & { entry: BackupEntry }> {
  const entry = await resolveBackup(deps.store, loc, which);
  const result = await restoreBlob(loc, entry.name, connectionFromUrl(toUrl), deps);
  return { ...result, entry };
}
