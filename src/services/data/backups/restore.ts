/**
 * Restore a backup from its blob download stream into a database with `pg_restore --no-owner --no-acl` (no temp
 * file for the data). Used for verification (into a scratch database) and to seed and restore preview databases.
 *
 * Into a preview database the restore runs as the preview role, which cannot create an untrusted extension nor
 * comment on one it does not own. So with `extensions` given, the archive's table of contents is read first
 * (`pg_restore --list`, which reads only the head of the stream), the extensions it creates are handed to that hook
 * (which creates them with the least privilege that works), and the restore then runs from the list without their
 * `EXTENSION` and `COMMENT ON EXTENSION` entries. The list keeps the archive's order, so a dump streamed from a pipe
 * (no data offsets) still restores from a non-seekable stream.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { type Logger } from "../../../logger.js";
import type { BlobStore } from "./blob-store.js";
import { resolveBackup, type BackupEntry, type BackupLocation } from "./catalog.js";
import { captureStderr, childEnv, describeExit, findPgTools, waitForExit, type PgTools } from "./pg-tools.js";
import { connectionFromUrl, describeConnection, libpqUrl, type PgConnection } from "./targets.js";

export interface RestoreDeps {
  store: BlobStore;
  /**
   * The variables the tools and credentials read (PATH, PG_BIN_DIR, passwordEnv): the settings' (src/env.ts
   * variablesOf).
   */
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

export interface RestoreOptions {
  /** Create these extensions before the restore (their archive entries are then left out). */
  extensions?(names: string[]): Promise<void>;
}

export interface RestoreResult {
  target: string;
  blobName: string;
  bytes: number;
  durationMs: number;
  database: string;
}

const EXTENSION_ENTRY = /^\d+; \d+ \d+ EXTENSION - ([A-Za-z0-9_-]+)\s*$/;
const EXTENSION_COMMENT_ENTRY = /^\d+; \d+ \d+ COMMENT - EXTENSION ([A-Za-z0-9_-]+)\s*$/;

/** Pure: the extensions an archive's table of contents creates, and the list without their entries. */
export function withoutExtensions(toc: string): { extensions: string[]; list: string } {
  const extensions: string[] = [];
  const kept: string[] = [];
  for (const line of toc.split("\n")) {
    const ext = EXTENSION_ENTRY.exec(line)?.[1];
    if (ext) extensions.push(ext);
    else if (!EXTENSION_COMMENT_ENTRY.test(line)) kept.push(line);
  }
  return { extensions, list: kept.join("\n") };
}

/** `pg_restore --list` of a blob; the download is dropped as soon as pg_restore has read the table of contents. */
async function readToc(
  loc: BackupLocation,
  blobName: string,
  tools: PgTools,
  env: NodeJS.ProcessEnv,
  deps: RestoreDeps,
  doing: string,
): Promise<string> {
  const source = await deps.store.download(loc.container, blobName);
  const child = spawn(tools.pgRestore, ["--list"], { env: { PATH: env.PATH ?? "" }, stdio: ["pipe", "pipe", "pipe"] });
  const stderr = captureStderr(child);
  let toc = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (toc += s));
  child.stdin.on("error", () => undefined); // pg_restore closes its stdin once the list is read
  source.on("error", () => undefined);
  source.pipe(child.stdin);
  const exit = await waitForExit(child).catch((cause: unknown) => {
    throw new Error(`${doing}: starting ${tools.pgRestore} --list: ${(cause as Error).message}`, { cause });
  });
  source.unpipe(child.stdin);
  source.destroy();
  if (exit.code !== 0)
    throw new Error(
      `${doing}: reading the archive's table of contents: ${describeExit("pg_restore --list", exit, stderr())}`,
    );
  return toc;
}

/** Stream one blob into pg_restore connected to `to`. Throws with pg_restore's (redacted) stderr on failure. */
export async function restoreBlob(
  loc: BackupLocation,
  blobName: string,
  to: PgConnection,
  deps: RestoreDeps,
  opts: RestoreOptions = {},
): Promise<RestoreResult> {
  const env = deps.env;
  const doing = `restoring "${blobName}" into ${describeConnection(to)}`;
  const log = deps.logger.child({ component: "restore", target: loc.name });
  const tools = findPgTools(env);
  const started = Date.now();
  let listDir: string | undefined;
  const args = ["--no-owner", "--no-acl", "--no-password", "--exit-on-error", "--dbname", libpqUrl(to)];
  try {
    if (opts.extensions) {
      const { extensions, list } = withoutExtensions(await readToc(loc, blobName, tools, env, deps, doing));
      try {
        await opts.extensions(extensions);
      } catch (cause) {
        throw new Error(
          `${doing}: creating the extensions the backup uses (${extensions.join(", ")}): ${(cause as Error).message}`,
          { cause },
        );
      }
      listDir = await mkdtemp(join(tmpdir(), "preview-bot-restore-"));
      await writeFile(join(listDir, "toc.list"), list);
      args.unshift("--use-list", join(listDir, "toc.list"));
    }
    const bytes = await streamInto(loc, blobName, args, to, tools, env, deps, doing);
    const result = { target: loc.name, blobName, bytes, durationMs: Date.now() - started, database: to.database };
    log.info({ blob: blobName, database: to.database, bytes, durationMs: result.durationMs }, "restore finished");
    return result;
  } finally {
    if (listDir) await rm(listDir, { recursive: true, force: true });
  }
}

/** The restore itself: the blob's download piped into pg_restore's stdin; resolves with the bytes read. */
async function streamInto(
  loc: BackupLocation,
  blobName: string,
  args: string[],
  to: PgConnection,
  tools: PgTools,
  env: NodeJS.ProcessEnv,
  deps: RestoreDeps,
  doing: string,
): Promise<number> {
  const source = await deps.store.download(loc.container, blobName);
  const child = spawn(tools.pgRestore, args, { env: childEnv(to, env), stdio: ["pipe", "ignore", "pipe"] });
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
  return bytes;
}

/**
 * Restore the latest (or a named) backup of a target into the database at `toUrl` — e.g. to seed a preview
 * database. The database must exist and should be empty.
 */
export async function restoreBackup(
  loc: BackupLocation,
  which: string,
  toUrl: string,
  deps: RestoreDeps,
  opts: RestoreOptions = {},
): Promise<RestoreResult & { entry: BackupEntry }> {
  const entry = await resolveBackup(deps.store, loc, which);
  const result = await restoreBlob(loc, entry.name, connectionFromUrl(toUrl), deps, opts);
  return { ...result, entry };
}
