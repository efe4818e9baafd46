/**
 * One backup: `pg_dump -Fc` streamed into a block blob, hashed on the way, with no temporary file. The upload
 * stream is ended only after pg_dump exits 0; on any other exit it is destroyed with the error, so the upload
 * rejects and no (truncated) blob is committed (see DEPENDENCIES.md, "Trap").
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { PassThrough } from "node:stream";
import { redactText, type Logger } from "../../../logger.js";
import type { BlobStore } from "./blob-store.js";
import { blobNameFor, encodeManifest, metaValue, OWNER_METADATA, type BackupLocation } from "./catalog.js";
import {
  captureStderr,
  childEnv,
  connectPg,
  describeExit,
  findPgTools,
  serverMajor,
  tableStats,
  toolVersion,
  waitForExit,
} from "./pg-tools.js";
import type pg from "pg";
import {
  connectionFromUrl,
  describeConnection,
  libpqUrl,
  targetConnection,
  type BackupTarget,
  type PgConnection,
} from "./targets.js";

export interface BackupResult {
  target: string;
  container: string;
  blobName: string;
  sizeBytes: number;
  sha256: string;
  /** From starting pg_dump to the blob being committed. */
  durationMs: number;
  startedAt: Date;
  finishedAt: Date;
  serverVersion: string;
  pgDumpVersion: string;
  tables: number;
  /** Set when the backup was verified right after (target.verify). */
  verifiedAt?: string;
}

export interface BackupDeps {
  store: BlobStore;
  /** PG_BIN_DIR, PATH and the targets' password variables are read from here (default this process's). */
  /**
   * The variables the tools and credentials read (PATH, PG_BIN_DIR, passwordEnv): the settings' (src/env.ts
   * variablesOf).
   */
  env: NodeJS.ProcessEnv;
  logger: Logger;
  now?: () => Date;
}

/** A backup that was refused before it started (e.g. pg_dump older than the server). */
export class BackupRefusedError extends Error {
  override name = "BackupRefusedError";
}

export class PgDumpError extends Error {
  override name = "PgDumpError";
}

/** Back up a configured target. */
export function runBackup(target: BackupTarget, deps: BackupDeps): Promise<BackupResult> {
  return backupDatabase(target, targetConnection(target, deps.env), deps);
}

/** On-demand backup of any database (e.g. a preview's), given its URL (which may carry the password). */
export function backupPreviewDatabase(
  url: string,
  loc: BackupLocation,
  deps: BackupDeps,
  owner?: string,
): Promise<BackupResult> {
  return backupDatabase(loc, connectionFromUrl(url), deps, { kind: "preview", ...(owner ? { owner } : {}) });
}

export interface BackupKind {
  /** "target" (a configured target) or "preview" (a preview database). */
  kind?: string;
  /** The preview the database belongs to (`owner/repo#N`), recorded so only that preview may restore it. */
  owner?: string;
}

/** The dump's blob metadata, filled once pg_dump has exited 0 (the upload reads it at commit time). */
interface DumpStream {
  body: PassThrough;
  metadata: Record<string, string>;
  /** Bytes and SHA-256 so far. */
  stats(): { size: number };
  child: ReturnType<typeof spawn>;
  exited: Promise<unknown>;
}

/**
 * Spawn pg_dump on the exported snapshot; its stdout goes into `body`, which ends only after exit 0 (see the header).
 */
function startDump(
  conn: PgConnection,
  snapshot: string,
  tools: { pgDump: string },
  env: NodeJS.ProcessEnv,
  doing: string,
  describe: (size: number, sha256: string) => Record<string, string>,
): DumpStream {
  const child = spawn(
    tools.pgDump,
    ["--format=custom", "--no-password", `--snapshot=${snapshot}`, "--dbname", libpqUrl(conn)],
    {
      env: childEnv(conn, env),
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const stderr = captureStderr(child);
  const hash = createHash("sha256");
  let size = 0;
  const body = new PassThrough();
  const metadata: Record<string, string> = {};
  child.stdout.on("data", (chunk: Buffer) => {
    hash.update(chunk);
    size += chunk.length;
    if (!body.write(chunk)) child.stdout.pause();
  });
  body.on("drain", () => child.stdout.resume());
  const exited = waitForExit(child).then(
    (exit) => {
      if (exit.code === 0) {
        Object.assign(metadata, describe(size, hash.digest("hex")));
        body.end(); // only now may the upload commit
      } else {
        body.destroy(new PgDumpError(`${doing}: ${describeExit("pg_dump", exit, stderr())}`));
      }
      return exit;
    },
    (err: Error) => {
      body.destroy(new PgDumpError(`${doing}: starting ${tools.pgDump}: ${err.message}`, { cause: err }));
      throw err;
    },
  );
  return { body, metadata, stats: () => ({ size }), child, exited };
}

/** Refuse a pg_dump older than the server's major version (it would refuse or, worse, dump incompletely). */
async function serverVersionFor(
  client: pg.Client,
  dumpVersion: { version: string; major: number },
  pgDump: string,
  doing: string,
): Promise<string> {
  const sv = await client.query<{ num: string; text: string }>(
    "select current_setting('server_version_num') as num, current_setting('server_version') as text",
  );
  const serverNum = Number(sv.rows[0]!.num);
  const serverVersion = sv.rows[0]!.text;
  if (dumpVersion.major < serverMajor(serverNum)) {
    throw new BackupRefusedError(
      `${doing}: refusing: pg_dump ${dumpVersion.version} (${pgDump}) is older than the server (PostgreSQL ${serverVersion}); ` +
        `pg_dump must be at least major ${serverMajor(serverNum)} — set PG_BIN_DIR to a newer client`,
    );
  }
  return serverVersion;
}

export async function backupDatabase(
  loc: BackupLocation,
  conn: PgConnection,
  deps: BackupDeps,
  what: BackupKind = {},
): Promise<BackupResult> {
  const env = deps.env;
  const log = deps.logger.child({ component: "backup", target: loc.name });
  const doing = `backing up "${loc.name}" (${describeConnection(conn)})`;
  const tools = findPgTools(env);
  const dumpVersion = await toolVersion(tools.pgDump);
  const client = await connectPg(conn, doing);
  try {
    const serverVersion = await serverVersionFor(client, dumpVersion, tools.pgDump, doing);
    // One snapshot for the table manifest and the dump, so the counts recorded are exactly what the dump holds.
    await client.query("begin isolation level repeatable read read only");
    const snapshot = (await client.query<{ s: string }>("select pg_export_snapshot() as s")).rows[0]!.s;
    const tables = await tableStats(client);
    const manifest = encodeManifest(tables);

    const now = deps.now ?? (() => new Date());
    const startedAt = now();
    const blobName = blobNameFor(loc, startedAt);
    await deps.store.ensureContainer(loc.container);
    log.info(
      { blob: blobName, container: loc.container, pgDump: dumpVersion.version, server: serverVersion },
      "backup started",
    );
    const dump = startDump(conn, snapshot, tools, env, doing, (size, sha256) => ({
      target: metaValue(loc.name),
      kind: what.kind ?? "target",
      ...(what.owner ? { [OWNER_METADATA]: metaValue(what.owner) } : {}),
      createdat: startedAt.toISOString(),
      sizebytes: String(size),
      sha256,
      serverversion: metaValue(serverVersion),
      pgdumpversion: dumpVersion.version,
      durationms: String(now().getTime() - startedAt.getTime()),
      tables: String(tables.length),
      rows: manifest.rows,
      ...(manifest.truncated ? { rowstruncated: "true" } : {}),
    }));
    try {
      await deps.store.upload(loc.container, blobName, dump.body, dump.metadata);
    } catch (err) {
      if (dump.child.exitCode === null && dump.child.signalCode === null) dump.child.kill("SIGTERM"); // upload failed first: stop pg_dump
      await dump.exited.catch(() => {});
      log.error({ err, blob: blobName }, "backup failed");
      if (err instanceof PgDumpError) throw err;
      throw new Error(`${doing}: ${redactText((err as Error).message)}`, { cause: err });
    }
    await dump.exited;
    const finishedAt = now();
    const size = dump.stats().size;
    const result: BackupResult = {
      target: loc.name,
      container: loc.container,
      blobName,
      sizeBytes: size,
      sha256: dump.metadata.sha256!,
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      startedAt,
      finishedAt,
      serverVersion,
      pgDumpVersion: dumpVersion.version,
      tables: tables.length,
    };
    log.info({ blob: blobName, bytes: size, durationMs: result.durationMs }, "backup committed");
    return result;
  } finally {
    await client.query("rollback").catch(() => {});
    await client.end().catch(() => {});
  }
}
