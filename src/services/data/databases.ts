/**
 * The data domain: preview databases (this file), their credentials Secret (database-secret.ts) and backups to
 * Azure Blob Storage (backups/). Databases: one PostgreSQL database and one login role per preview, on a configured server, so previews never
 * share data or the admin's credentials. Everything we create carries a JSON mark in its COMMENT; we never adopt,
 * alter or drop what lacks it. Identifiers always go through `escapeIdentifier`, values through `escapeLiteral`
 * or bind parameters; passwords are sent as SCRAM verifiers and never logged.
 *
 * Longer than 300 lines: provision, drop and list share the marks, locks and quoting rules that make them safe;
 * they are kept side by side so a change to one is read against the others.
 */
import pg from "pg";
import { logger as rootLogger, type Logger } from "../../logger.js";
import { derivePassword, parseAdminUrl, passwordKeyFromAdminPassword, pgSsl, scramVerifier, SSL_MODES, type SslMode } from "./database-secret.js";
import type { DatabaseCredentials, Databases, PreviewNames, ProvisionOptions } from "../shared/preview.js";

const { escapeIdentifier: ident, escapeLiteral: literal } = pg;

export { DEFAULT_SECRET_KEYS, derivePassword, secretData, type SecretKeys, type SslMode } from "./database-secret.js";

export interface DatabasesOptions {
  /** Admin connection, e.g. PREVIEW_DATABASE_URL (`postgres://admin:pw@host:5432/postgres`). */
  adminUrl: string;
  /** TLS to the server (Azure flexible server needs it). Defaults to the URL's `sslmode`, else "disable". */
  ssl?: { mode: SslMode; ca?: string };
  /** Host and port the preview pods use; default the admin URL's. */
  publicHost?: string;
  publicPort?: number;
  /** Key for password derivation (see derivePassword); defaults to one derived from the admin password. */
  passwordKey?: string | Uint8Array;
  /** CONNECTION LIMIT of preview roles when provision does not say. */
  defaultConnectionLimit?: number;
  logger?: Logger;
}

/** The database or role exists but is not marked as this preview's: we refuse to touch it. */
export class DatabaseNotOursError extends Error {
  override readonly name = "DatabaseNotOursError";
}

type Names = Pick<PreviewNames, "key" | "database" | "role">;
interface Mark { managedBy: "preview-bot"; key: string }
interface RoleRow { comment: string | null; rolsuper: boolean }
interface DatabaseRow { owner: string; comment: string | null; ownerComment: string | null }

const MANAGED_BY = "preview-bot";

export function markFor(key: string): string {
  return JSON.stringify({ managedBy: MANAGED_BY, key } satisfies Mark);
}

/** The preview key in a COMMENT, when the comment is our mark; otherwise undefined. */
export function parseMark(comment: string | null | undefined): string | undefined {
  if (!comment) return undefined;
  try {
    const v: unknown = JSON.parse(comment);
    if (typeof v === "object" && v !== null && (v as Mark).managedBy === MANAGED_BY && typeof (v as Mark).key === "string") return (v as Mark).key;
  } catch {
    // not JSON: not ours
  }
  return undefined;
}

/**
 * Whose database this is. Its own mark decides; a database with no comment at all counts as its owner role's when
 * that role carries our mark — that only happens when we crashed between CREATE DATABASE and COMMENT (which cannot
 * share a transaction), since our roles are NOCREATEDB and nobody else makes them owners.
 */
function databaseKey(row: DatabaseRow): string | undefined {
  return row.comment === null ? parseMark(row.ownerComment) : parseMark(row.comment);
}

/** PostgreSQL silently truncates identifiers past 63 bytes, which would make us look up a different name. */
function checkIdentifier(kind: string, name: string): void {
  if (typeof name !== "string" || name.length === 0) throw new Error(`${kind} name is empty`);
  if (Buffer.byteLength(name, "utf8") > 63) throw new Error(`${kind} name ${JSON.stringify(name)} is longer than 63 bytes`);
  if (name.includes("\0")) throw new Error(`${kind} name ${JSON.stringify(name)} contains a NUL byte`);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DatabaseNotOursError) throw err;
    throw new Error(`${what}: ${messageOf(err)}`, { cause: err });
  }
}

export function createDatabases(options: DatabasesOptions): Databases {
  const admin = parseAdminUrl(options.adminUrl);
  const ssl = options.ssl ?? { mode: (admin.sslmode ?? "disable") as SslMode };
  if (!SSL_MODES.includes(ssl.mode)) throw new Error(`unsupported sslmode "${ssl.mode}" (use ${SSL_MODES.join(", ")})`);
  const passwordKey = options.passwordKey ?? (admin.password ? passwordKeyFromAdminPassword(admin.password) : undefined);
  if (passwordKey === undefined || passwordKey.length === 0) {
    throw new Error("no passwordKey configured and the admin URL has no password to derive one from");
  }
  const publicHost = options.publicHost ?? admin.host;
  const publicPort = options.publicPort ?? admin.port;
  const defaultLimit = options.defaultConnectionLimit ?? 20;
  const log = (options.logger ?? rootLogger).child({ component: "databases" });
  const base: pg.ClientConfig = { host: admin.host, port: admin.port, ssl: pgSsl(ssl), application_name: "preview-bot", connectionTimeoutMillis: 15_000 };
  const pool = new pg.Pool({ ...base, user: admin.user, password: admin.password, database: admin.database, max: 4 });
  pool.on("error", (err) => log.warn({ err }, "idle admin connection failed"));

  let server: Promise<{ superuser: boolean; version: number }> | undefined;
  const serverInfo = (client: pg.PoolClient) =>
    (server ??= client
      .query<{ su: boolean; v: number }>("select rolsuper as su, current_setting('server_version_num')::int as v from pg_roles where rolname = current_user")
      .then((r) => ({ superuser: r.rows[0]?.su ?? false, version: r.rows[0]?.v ?? 0 }))
      .catch((err: unknown) => {
        server = undefined;
        throw err;
      }));

  /** Run `fn` holding session advisory locks on the database and role names (CREATE DATABASE cannot run in a transaction). */
  async function locked<T>(names: Names, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    const keys = [`preview-bot:database:${names.database}`, `preview-bot:role:${names.role}`];
    try {
      for (const k of keys) await client.query("select pg_advisory_lock(hashtextextended($1, 0))", [k]);
      return await fn(client);
    } finally {
      try {
        for (const k of keys) await client.query("select pg_advisory_unlock(hashtextextended($1, 0))", [k]);
        client.release();
      } catch (err) {
        client.release(err instanceof Error ? err : true); // discard the connection; its session locks go with it
      }
    }
  }

  async function readRole(client: pg.PoolClient, role: string): Promise<RoleRow | undefined> {
    const r = await client.query<RoleRow>("select shobj_description(oid, 'pg_authid') as comment, rolsuper from pg_roles where rolname = $1", [role]);
    return r.rows[0];
  }

  async function readDatabase(client: pg.PoolClient, database: string): Promise<DatabaseRow | undefined> {
    const r = await client.query<DatabaseRow>(
      `select r.rolname as owner, shobj_description(d.oid, 'pg_database') as comment, shobj_description(r.oid, 'pg_authid') as "ownerComment"
         from pg_database d join pg_roles r on r.oid = d.datdba where d.datname = $1`,
      [database],
    );
    return r.rows[0];
  }

  /** A short-lived connection to the preview database (as admin, or as the preview role). */
  async function withDatabase<T>(database: string, as: { user: string; password: string }, fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ ...base, ...as, database });
    client.on("error", () => undefined); // surfaced through the failing query instead
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /**
   * Since PostgreSQL 15 the public schema belongs to pg_database_owner; our role owns the database but is NOINHERIT,
   * so it does not get that schema's privileges by membership. Connected as the role, take on pg_database_owner
   * just long enough to grant them to the role itself. Nothing to do when the role already has CREATE there.
   */
  async function grantPublicSchema(c: pg.Client, role: string): Promise<void> {
    const r = await c.query<{ owned: boolean; can: boolean }>(
      "select pg_get_userbyid(nspowner) = 'pg_database_owner' as owned, has_schema_privilege(oid, 'CREATE') as can from pg_namespace where nspname = 'public'",
    );
    const row = r.rows[0];
    if (!row || row.can || !row.owned) return;
    await c.query("SET ROLE pg_database_owner");
    await c.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${role}`);
    await c.query("RESET ROLE");
  }

  function credentials(names: Names, password: string): DatabaseCredentials {
    const host = publicHost.includes(":") ? `[${publicHost}]` : publicHost;
    const e = encodeURIComponent;
    return {
      host: publicHost,
      port: publicPort,
      database: names.database,
      user: names.role,
      password,
      url: `postgres://${e(names.role)}:${e(password)}@${host}:${publicPort}/${e(names.database)}?sslmode=${ssl.mode}`,
    };
  }

  async function provision(names: Names, opts: ProvisionOptions = {}): Promise<DatabaseCredentials> {
    checkIdentifier("database", names.database);
    checkIdentifier("role", names.role);
    if (opts.template !== undefined) checkIdentifier("template", opts.template);
    for (const ext of opts.extensions ?? []) checkIdentifier("extension", ext);
    const limit = opts.connectionLimit ?? defaultLimit;
    if (!Number.isInteger(limit) || limit < -1) throw new Error(`connection limit must be an integer ≥ -1, got ${limit}`);
    const what = `provisioning database "${names.database}" for ${names.key}`;
    const password = derivePassword(passwordKey!, names.role);
    const db = ident(names.database);
    const role = ident(names.role);
    const mark = literal(markFor(names.key));
    const plog = log.child({ key: names.key, database: names.database, role: names.role });

    const created = await locked(names, async (client) => {
      const { superuser } = await step(`${what}: reading server`, () => serverInfo(client));
      const existingRole = await step(`${what}: reading role "${names.role}"`, () => readRole(client, names.role));
      if (existingRole && parseMark(existingRole.comment) !== names.key) {
        throw new DatabaseNotOursError(`${what}: role "${names.role}" exists but is not managed by preview-bot for ${names.key}; refusing to adopt it`);
      }
      if (existingRole?.rolsuper) throw new DatabaseNotOursError(`${what}: role "${names.role}" has been made a superuser; refusing to hand it to a preview`);
      const existingDb = await step(`${what}: reading database`, () => readDatabase(client, names.database));
      if (existingDb && databaseKey(existingDb) !== names.key) {
        throw new DatabaseNotOursError(`${what}: database "${names.database}" exists but is not managed by preview-bot for ${names.key}; refusing to adopt it`);
      }
      // Re-asserting the (derived, hence unchanged) password every time repairs drift and needs no stored state.
      const verifier = literal(scramVerifier(password));
      const attributes = `LOGIN NOCREATEDB NOCREATEROLE NOINHERIT CONNECTION LIMIT ${limit} PASSWORD ${verifier}`;
      await step(`${what}: ${existingRole ? "updating" : "creating"} role "${names.role}"`, async () => {
        if (existingRole) {
          // NOSUPERUSER may only be written by a superuser, even when unchanged; rolsuper was checked above.
          await client.query(`ALTER ROLE ${role} WITH ${attributes}`);
          return;
        }
        await client.query("BEGIN");
        try {
          await client.query(`CREATE ROLE ${role} WITH NOSUPERUSER ${attributes}`);
          await client.query(`COMMENT ON ROLE ${role} IS ${mark}`);
          await client.query("COMMIT");
        } catch (err) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw err;
        }
      });
      // A non-superuser admin (Azure) must be a member of a role to create databases it owns, and to drop them.
      if (!superuser) await step(`${what}: granting role "${names.role}" to the admin`, () => client.query(`GRANT ${role} TO CURRENT_USER`));
      await step(`${what}: ${existingDb ? "updating" : "creating"} database`, async () => {
        if (!existingDb) {
          await client.query(`CREATE DATABASE ${db} OWNER ${role}${opts.template ? ` TEMPLATE ${ident(opts.template)}` : ""}`);
        } else if (existingDb.owner !== names.role) {
          await client.query(`ALTER DATABASE ${db} OWNER TO ${role}`);
        }
        if (existingDb?.comment == null) await client.query(`COMMENT ON DATABASE ${db} IS ${mark}`);
        await client.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${db} FROM PUBLIC`);
        await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${db} TO ${role}`);
      });
      const createdNow = !existingDb;
      try {
        await step(`${what}: granting the public schema to "${names.role}"`, () =>
          withDatabase(names.database, { user: names.role, password }, (c) => grantPublicSchema(c, role)),
        );
        if (opts.extensions?.length) {
          await step(`${what}: creating extensions`, () =>
            withDatabase(names.database, admin, async (c) => {
              for (const ext of opts.extensions ?? []) await c.query(`CREATE EXTENSION IF NOT EXISTS ${ident(ext)}`);
            }),
          );
        }
        if (createdNow && opts.seedSql) {
          await step(`${what}: running seed SQL as "${names.role}"`, () =>
            withDatabase(names.database, { user: names.role, password }, (c) => c.query(opts.seedSql!)),
          );
        }
      } catch (err) {
        if (createdNow) {
          // The database was born in this call: drop it so the next provision starts over (seed runs on creation only).
          await client.query(`DROP DATABASE IF EXISTS ${db}`).catch((dropErr: unknown) => plog.warn({ err: dropErr }, "could not drop half-provisioned database"));
        }
        throw err;
      }
      return createdNow;
    });
    plog.info({ created, extensions: opts.extensions?.length ?? 0, seeded: created && Boolean(opts.seedSql) }, created ? "created preview database" : "preview database up to date");
    return credentials(names, password);
  }

  async function drop(names: Names): ReturnType<Databases["drop"]> {
    checkIdentifier("database", names.database);
    checkIdentifier("role", names.role);
    const db = ident(names.database);
    const role = ident(names.role);
    const dlog = log.child({ key: names.key, database: names.database, role: names.role });
    const result = await locked(names, async (client) => {
      const out: Awaited<ReturnType<Databases["drop"]>> = { database: "absent", role: "absent" };
      const whatDb = `dropping database "${names.database}" for ${names.key}`;
      const { superuser, version } = await step(`${whatDb}: reading server`, () => serverInfo(client));
      const existingRole = await step(`${whatDb}: reading role`, () => readRole(client, names.role));
      const roleOurs = existingRole !== undefined && parseMark(existingRole.comment) === names.key;
      const existingDb = await step(`${whatDb}: reading database`, () => readDatabase(client, names.database));
      if (existingDb && databaseKey(existingDb) !== names.key) out.database = "not-ours";
      else if (existingDb) {
        await step(whatDb, async () => {
          if (!superuser && roleOurs && existingDb.owner === names.role) await client.query(`GRANT ${role} TO CURRENT_USER`);
          await client.query(`ALTER DATABASE ${db} WITH ALLOW_CONNECTIONS false CONNECTION LIMIT 0`);
          await client.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()", [names.database]);
          await client.query(`DROP DATABASE IF EXISTS ${db}${version >= 130000 ? " WITH (FORCE)" : ""}`);
        });
        out.database = "dropped";
      }
      if (existingRole && !roleOurs) out.role = "not-ours";
      else if (existingRole) {
        await step(`dropping role "${names.role}" for ${names.key}`, () => client.query(`DROP ROLE IF EXISTS ${role}`));
        out.role = "dropped";
      }
      return out;
    });
    dlog.info(result, "dropped preview database");
    return result;
  }

  async function list(): ReturnType<Databases["list"]> {
    const r = await step("listing preview databases", () =>
      pool.query<DatabaseRow & { datname: string }>(
        `select d.datname, r.rolname as owner, shobj_description(d.oid, 'pg_database') as comment,
                shobj_description(r.oid, 'pg_authid') as "ownerComment"
           from pg_database d join pg_roles r on r.oid = d.datdba order by d.datname`,
      ),
    );
    return r.rows.flatMap((row) => {
      const key = databaseKey(row);
      return key === undefined ? [] : [{ database: row.datname, key, role: row.owner }];
    });
  }

  return { provision, drop, list, close: () => pool.end() };
}
