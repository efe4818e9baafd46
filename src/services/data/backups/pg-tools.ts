/**
 * The PostgreSQL client binaries (pg_dump, pg_restore): where they are, what version they are, and how to run
 * them without putting a password on a command line (PGPASSWORD in the child's own, minimal environment).
 */
import { execFile, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { redactText } from "../../../logger.js";
import { pgClientConfig, type PgConnection } from "./targets.js";

const execFileP = promisify(execFile);

export interface PgTools {
  binDir: string;
  pgDump: string;
  pgRestore: string;
}

/** PG_BIN_DIR, else the directory on PATH holding pg_dump, else the newest /usr/lib/postgresql/<major>/bin. */
export function findPgTools(env: NodeJS.ProcessEnv): PgTools {
  const at = (binDir: string): PgTools => ({
    binDir,
    pgDump: join(binDir, "pg_dump"),
    pgRestore: join(binDir, "pg_restore"),
  });
  if (env.PG_BIN_DIR) return at(env.PG_BIN_DIR);
  for (const dir of (env.PATH ?? "").split(delimiter)) if (dir && existsSync(join(dir, "pg_dump"))) return at(dir);
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => existsSync(join(root, d, "bin", "pg_dump")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors[0] === undefined)
    throw new Error("pg_dump not found: set PG_BIN_DIR, put it on PATH, or install postgresql-client");
  return at(join(root, majors[0], "bin"));
}

/** "pg_dump (PostgreSQL) 15.18 (Debian ...)" → { version: "15.18", major: 15 }; 9.6.x → major 9.6. */
function parseToolVersion(text: string): { version: string; major: number } {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(text) ?? /(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) throw new Error(`cannot read a PostgreSQL version from "${text.trim().slice(0, 80)}"`);
  const first = Number(m[1]);
  const major = first >= 10 ? first : Number(`${first}.${m[2] ?? 0}`);
  return { version: m[2] !== undefined ? `${m[1]}.${m[2]}` : m[1]!, major };
}

export async function toolVersion(binary: string): Promise<{ version: string; major: number }> {
  let out: string;
  try {
    out = (await execFileP(binary, ["--version"], { timeout: 15_000 })).stdout;
  } catch (cause) {
    throw new Error(`running ${binary} --version: ${(cause as Error).message}`, { cause });
  }
  return parseToolVersion(out);
}

/** server_version_num 150004 → 15; 90624 → 9.6 */
export function serverMajor(versionNum: number): number {
  return versionNum >= 100000 ? Math.floor(versionNum / 10000) : Math.floor(versionNum / 100) / 100;
}

/** Only what libpq needs: the bot's own environment (tokens, keys) stays out of child processes. */
export function childEnv(conn: PgConnection, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const k of [
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TZ",
    "PGSSLROOTCERT",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGCONNECT_TIMEOUT",
  ]) {
    if (env[k] !== undefined) out[k] = env[k];
  }
  if (conn.password !== undefined) out.PGPASSWORD = conn.password;
  out.PGAPPNAME = "preview-bot-backup";
  return out;
}

/** Keep the last `limit` characters of a child's stderr, redacted when read. */
export function captureStderr(child: ChildProcess, limit = 16 * 1024): () => string {
  let text = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (s: string) => {
    text = (text + s).slice(-limit);
  });
  return () => redactText(text.trim());
}

export function waitForExit(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null)
      return resolve({ code: child.exitCode, signal: child.signalCode });
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
}

export function describeExit(
  tool: string,
  exit: { code: number | null; signal: NodeJS.Signals | null },
  stderr: string,
): string {
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  return `${tool} ${how}${stderr ? `: ${stderr}` : ""}`;
}

export async function connectPg(conn: PgConnection, what: string): Promise<pg.Client> {
  const client = new pg.Client({ ...pgClientConfig(conn), application_name: "preview-bot-backup" });
  try {
    await client.connect();
  } catch (cause) {
    await client.end().catch(() => {});
    throw new Error(
      `${what}: connecting to PostgreSQL at ${conn.host}:${conn.port}/${conn.database}: ${redactText((cause as Error).message)}`,
      { cause },
    );
  }
  return client;
}

/** One user table, as recorded at backup time and checked at verify time. */
export interface TableStat {
  /** schema.table, each part URI-encoded so the list fits blob metadata. */
  key: string;
  schema: string;
  name: string;
  bytes: number;
  /** Exact row count (small tables) or, for big ones, undefined. */
  rows?: number;
}

/** Tables at most this big get an exact count(*) (cheap); bigger ones are only checked for presence. */
const EXACT_COUNT_MAX_BYTES = 16 * 1024 * 1024;

export async function tableStats(client: pg.Client): Promise<TableStat[]> {
  const { rows } = await client.query<{ schema: string; name: string; bytes: string }>(
    `select n.nspname as schema, c.relname as name, pg_relation_size(c.oid)::text as bytes
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema')
        and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
      order by 1, 2`,
  );
  const out: TableStat[] = [];
  for (const r of rows) {
    const bytes = Number(r.bytes);
    const stat: TableStat = {
      key: `${encodeURIComponent(r.schema)}.${encodeURIComponent(r.name)}`,
      schema: r.schema,
      name: r.name,
      bytes,
    };
    if (bytes <= EXACT_COUNT_MAX_BYTES) {
      const ident = `${client.escapeIdentifier(r.schema)}.${client.escapeIdentifier(r.name)}`;
      const c = await client.query<{ n: string }>(`select count(*)::text as n from ${ident}`);
      stat.rows = Number(c.rows[0]!.n);
    }
    out.push(stat);
  }
  return out;
}
