/**
 * Preview databases: one PostgreSQL database and one login role per preview, on a configured server, so previews never
 * share data or the admin's credentials. The role we create carries a JSON mark in its COMMENT naming the preview and
 * its database (a COMMENT the role itself cannot change); a database is ours only when such a role owns it; we never
 * adopt, alter or drop what lacks it. Identifiers always go through `escapeIdentifier`, values through `escapeLiteral`
 * or bind parameters; passwords are sent as SCRAM verifiers and never logged. The marks and catalog reads that
 * provision, drop and list share are in database-marks.ts.
 *
 * Longer than 300 lines: the class keeps provision's steps, drop and list side by side, since they share the
 * advisory locks, the ownership checks and the connection rules that make them safe.
 */
import { describeError } from "../shared/format.js";
import pg from "pg";
import { registerSecret, type Logger } from "../../logger.js";
import { ensureExtensions } from "./extensions.js";
import {
  connectionCredentials,
  derivePassword,
  parseAdminUrl,
  passwordKeyFromAdminPassword,
  pgSsl,
  scramVerifier,
  SSL_MODES,
  type AdminConnection,
  type SslMode,
} from "./database-secret.js";
import type { DatabaseCredentials, Databases, PreviewNames, ProvisionOptions } from "../shared/preview.js";
import { guardPoolClients } from "../shared/pg-pool.js";
import {
  checkIdentifier,
  databaseKey,
  grantPublicSchema,
  markFor,
  markedDatabase,
  markNamesDatabase,
  parseMark,
  readDatabase,
  readRole,
  type DatabaseRow,
  type RoleRow,
} from "./database-marks.js";

const { escapeIdentifier: ident, escapeLiteral: literal } = pg;

export { derivePassword, type SslMode } from "./database-secret.js";
export { markFor } from "./database-marks.js";

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
  /** Databases a preview may be created from (`database.template`); none by default (PREVIEW_DATABASE_TEMPLATES). */
  templates?: readonly string[];
  /** Untrusted extensions the admin may create in preview databases (PREVIEW_DATABASE_ADMIN_EXTENSIONS). */
  adminExtensions?: readonly string[];
  logger: Logger;
}

/** The database or role exists but is not marked as this preview's: we refuse to touch it. */
export class DatabaseNotOursError extends Error {
  override readonly name = "DatabaseNotOursError";
}

type Names = Pick<PreviewNames, "key" | "database" | "role">;
type DropResult = Awaited<ReturnType<Databases["drop"]>>;

function messageOf(err: unknown): string {
  return describeError(err);
}

async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DatabaseNotOursError) throw err;
    throw new Error(`${what}: ${messageOf(err)}`, { cause: err });
  }
}

/** Everything one provision call knows: the names, the quoted identifiers, the options and the derived password. */
interface Provisioning {
  names: Names;
  opts: ProvisionOptions;
  what: string;
  password: string;
  db: string;
  role: string;
  mark: string;
  /** The role's mark: the preview and the database it owns. */
  roleMark: string;
  limit: number;
  superuser: boolean;
}

class PostgresDatabases implements Databases {
  private readonly admin: AdminConnection;
  private readonly ssl: { mode: SslMode; ca?: string };
  private readonly passwordKey: string | Uint8Array;
  private readonly publicHost: string;
  private readonly publicPort: number;
  private readonly defaultLimit: number;
  private readonly templates: readonly string[];
  private readonly adminExtensions: readonly string[];
  private readonly log: Logger;
  private readonly base: pg.ClientConfig;
  private readonly pool: pg.Pool;
  private server: Promise<{ superuser: boolean; version: number }> | undefined;

  constructor(options: DatabasesOptions) {
    this.admin = parseAdminUrl(options.adminUrl);
    this.ssl = options.ssl ?? { mode: (this.admin.sslmode ?? "disable") as SslMode };
    if (!SSL_MODES.includes(this.ssl.mode))
      throw new Error(`unsupported sslmode "${this.ssl.mode}" (use ${SSL_MODES.join(", ")})`);
    const passwordKey =
      options.passwordKey ?? (this.admin.password ? passwordKeyFromAdminPassword(this.admin.password) : undefined);
    if (passwordKey === undefined || passwordKey.length === 0) {
      throw new Error("no passwordKey configured and the admin URL has no password to derive one from");
    }
    this.passwordKey = passwordKey;
    this.publicHost = options.publicHost ?? this.admin.host;
    this.publicPort = options.publicPort ?? this.admin.port;
    this.defaultLimit = options.defaultConnectionLimit ?? 20;
    this.templates = options.templates ?? [];
    this.adminExtensions = options.adminExtensions ?? [];
    this.log = options.logger.child({ component: "databases" });
    this.base = {
      host: this.admin.host,
      port: this.admin.port,
      ssl: pgSsl(this.ssl),
      application_name: "preview-bot",
      connectionTimeoutMillis: 15_000,
    };
    this.pool = new pg.Pool({
      ...this.base,
      user: this.admin.user,
      password: this.admin.password,
      database: this.admin.database,
      max: 4,
    });
    this.pool.on("error", (err) => this.log.warn({ err }, "idle admin connection failed"));
    guardPoolClients(this.pool);
  }

  private serverInfo(client: pg.PoolClient): Promise<{ superuser: boolean; version: number }> {
    return (this.server ??= client
      .query<{ su: boolean; v: number }>(
        "select rolsuper as su, current_setting('server_version_num')::int as v from pg_roles where rolname = current_user",
      )
      .then((r) => ({ superuser: r.rows[0]?.su ?? false, version: r.rows[0]?.v ?? 0 }))
      .catch((err: unknown) => {
        this.server = undefined;
        throw err;
      }));
  }

  /**
   * Run `fn` holding session advisory locks on the database and role names (CREATE DATABASE cannot run in a
   * transaction).
   */
  private async locked<T>(names: Names, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
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

  /** A connection to the preview database (as admin, or as the preview role); errors surface through its queries. */
  private async connect(database: string, as: { user: string; password: string }): Promise<pg.Client> {
    const client = new pg.Client({ ...this.base, ...as, database });
    client.on("error", () => undefined);
    await client.connect();
    return client;
  }

  /** A short-lived connection to the preview database. */
  private async withDatabase<T>(
    database: string,
    as: { user: string; password: string },
    fn: (c: pg.Client) => Promise<T>,
  ): Promise<T> {
    const client = await this.connect(database, as);
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Extensions in the preview database, each with the least privilege that works (see extensions.ts). */
  private createExtensions(
    names: Names,
    password: string,
    extensions: readonly string[],
    field: string,
  ): Promise<void> {
    const asRole = () => this.connect(names.database, { user: names.role, password });
    return ensureExtensions(
      extensions,
      { asRole, asAdmin: () => this.connect(names.database, this.admin), adminAllowed: this.adminExtensions },
      field,
    );
  }

  async provision(names: Names, opts: ProvisionOptions = {}): Promise<DatabaseCredentials> {
    checkIdentifier("database", names.database);
    checkIdentifier("role", names.role);
    if (opts.template !== undefined) this.checkTemplate(names, opts.template);
    for (const ext of opts.extensions ?? []) checkIdentifier("extension", ext);
    const limit = opts.connectionLimit ?? this.defaultLimit;
    if (!Number.isInteger(limit) || limit < -1)
      throw new Error(`connection limit must be an integer ≥ -1, got ${limit}`);
    const password = derivePassword(this.passwordKey, names.role);
    // Pods may print it (a connection string in a crash log): the log tails in PR comments are redacted with it.
    registerSecret(password);
    const p = {
      names,
      opts,
      limit,
      password,
      what: `provisioning database "${names.database}" for ${names.key}`,
      db: ident(names.database),
      role: ident(names.role),
      mark: literal(markFor(names.key)),
      roleMark: literal(markFor(names.key, names.database)),
      superuser: false,
    };
    const created = await this.locked(names, async (client) => {
      p.superuser = (await step(`${p.what}: reading server`, () => this.serverInfo(client))).superuser;
      const existing = await this.checkOwnership(client, p);
      await this.ensureRole(client, p, existing.role);
      const existingDb = existing.database;
      await this.ensureDatabase(client, p, existingDb);
      await this.initialize(client, p, !existingDb);
      return !existingDb;
    });
    const plog = this.log.child({ key: names.key, database: names.database, role: names.role });
    plog.info(
      { created, extensions: opts.extensions?.length ?? 0, seeded: created && Boolean(opts.seedSql) },
      created ? "created preview database" : "preview database up to date",
    );
    return connectionCredentials({
      ...names,
      password,
      host: this.publicHost,
      port: this.publicPort,
      sslmode: this.ssl.mode,
    });
  }

  /** A template is another database's data: only those the bot's settings name may be copied into a preview. */
  private checkTemplate(names: Names, template: string): void {
    checkIdentifier("template", template);
    if (this.templates.includes(template)) return;
    const allowed = this.templates.length
      ? `it allows ${this.templates.map((t) => `"${t}"`).join(", ")}`
      : "it allows none";
    throw new Error(
      `provisioning database "${names.database}" for ${names.key}: database.template "${template}" is not allowed: the bot setting PREVIEW_DATABASE_TEMPLATES lists the templates previews may be created from, and ${allowed}`,
    );
  }

  /** Refuse a role or database that exists without this preview's mark (or a role someone made superuser). */
  private async checkOwnership(
    client: pg.PoolClient,
    p: Provisioning,
  ): Promise<{ role?: RoleRow; database?: DatabaseRow }> {
    const { names, what } = p;
    const existingRole = await step(`${what}: reading role "${names.role}"`, () => readRole(client, names.role));
    if (existingRole && parseMark(existingRole.comment) !== names.key) {
      throw new DatabaseNotOursError(
        `${what}: role "${names.role}" exists but is not managed by preview-bot for ${names.key}; refusing to adopt it`,
      );
    }
    if (existingRole?.rolsuper)
      throw new DatabaseNotOursError(
        `${what}: role "${names.role}" has been made a superuser; refusing to hand it to a preview`,
      );
    const existingDb = await step(`${what}: reading database`, () => readDatabase(client, names.database));
    if (existingDb && databaseKey(existingDb) !== names.key) {
      throw new DatabaseNotOursError(
        `${what}: database "${names.database}" exists but is not managed by preview-bot for ${names.key}; refusing to adopt it`,
      );
    }
    return { ...(existingRole ? { role: existingRole } : {}), ...(existingDb ? { database: existingDb } : {}) };
  }

  /** Create the login role, or re-assert its attributes and (derived, hence unchanged) password: repairs drift, needs no state. */
  private async ensureRole(client: pg.PoolClient, p: Provisioning, existing: RoleRow | undefined): Promise<void> {
    const attributes = `LOGIN NOCREATEDB NOCREATEROLE NOINHERIT CONNECTION LIMIT ${p.limit} PASSWORD ${literal(scramVerifier(p.password))}`;
    await step(`${p.what}: ${existing ? "updating" : "creating"} role "${p.names.role}"`, async () => {
      if (existing) {
        // NOSUPERUSER may only be written by a superuser, even when unchanged; rolsuper was checked before.
        await client.query(`ALTER ROLE ${p.role} WITH ${attributes}`);
        // A mark from before marks named the database: name it now (ownership is read from this mark alone).
        if (!markNamesDatabase(existing.comment)) await client.query(`COMMENT ON ROLE ${p.role} IS ${p.roleMark}`);
        return;
      }
      await client.query("BEGIN");
      try {
        await client.query(`CREATE ROLE ${p.role} WITH NOSUPERUSER ${attributes}`);
        await client.query(`COMMENT ON ROLE ${p.role} IS ${p.roleMark}`);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
      }
    });
    // A non-superuser admin (Azure) must be a member of a role to create databases it owns, and to drop them.
    if (!p.superuser)
      await step(`${p.what}: granting role "${p.names.role}" to the admin`, () =>
        client.query(`GRANT ${p.role} TO CURRENT_USER`),
      );
  }

  private async ensureDatabase(
    client: pg.PoolClient,
    p: Provisioning,
    existingDb: DatabaseRow | undefined,
  ): Promise<void> {
    await step(`${p.what}: ${existingDb ? "updating" : "creating"} database`, async () => {
      if (!existingDb) {
        await client.query(
          `CREATE DATABASE ${p.db} OWNER ${p.role}${p.opts.template ? ` TEMPLATE ${ident(p.opts.template)}` : ""}`,
        );
      } else if (existingDb.owner !== p.names.role) {
        await client.query(`ALTER DATABASE ${p.db} OWNER TO ${p.role}`);
      }
      // For people reading the catalog; never read back (the preview role owns it and can rewrite it).
      if (!existingDb) await client.query(`COMMENT ON DATABASE ${p.db} IS ${p.mark}`);
      await client.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${p.db} FROM PUBLIC`);
      await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${p.db} TO ${p.role}`);
    });
  }

  /**
   * Inside the database: the public schema, extensions, and on creation the seed. A database born here is dropped if
   * this fails.
   */
  private async initialize(client: pg.PoolClient, p: Provisioning, createdNow: boolean): Promise<void> {
    const { names, opts, what } = p;
    const asRole = { user: names.role, password: p.password };
    try {
      await step(`${what}: granting the public schema to "${names.role}"`, () =>
        this.withDatabase(names.database, asRole, (c) => grantPublicSchema(c, p.role)),
      );
      if (opts.extensions?.length)
        await step(`${what}: creating extensions`, () =>
          this.createExtensions(names, p.password, opts.extensions!, "database.extensions"),
        );
      if (createdNow && opts.seedSql) {
        await step(`${what}: running seed SQL as "${names.role}"`, () =>
          this.withDatabase(names.database, asRole, (c) => c.query(opts.seedSql!)),
        );
      }
    } catch (err) {
      if (createdNow) {
        // The database was born in this call: drop it so the next provision starts over (seed runs on creation only).
        await client
          .query(`DROP DATABASE IF EXISTS ${p.db}`)
          .catch((dropErr: unknown) =>
            this.log.warn(
              { err: dropErr, key: names.key, database: names.database },
              "could not drop half-provisioned database",
            ),
          );
      }
      throw err;
    }
  }

  async drop(names: Names): Promise<DropResult> {
    checkIdentifier("database", names.database);
    checkIdentifier("role", names.role);
    const result = await this.locked(names, async (client) => {
      const out: DropResult = { database: "absent", role: "absent" };
      const whatDb = `dropping database "${names.database}" for ${names.key}`;
      const { superuser, version } = await step(`${whatDb}: reading server`, () => this.serverInfo(client));
      const existingRole = await step(`${whatDb}: reading role`, () => readRole(client, names.role));
      const roleOurs = existingRole !== undefined && parseMark(existingRole.comment) === names.key;
      const existingDb = await step(`${whatDb}: reading database`, () => readDatabase(client, names.database));
      if (existingDb && databaseKey(existingDb) !== names.key) out.database = "not-ours";
      else if (existingDb) {
        const db = ident(names.database);
        await step(whatDb, async () => {
          if (!superuser && roleOurs && existingDb.owner === names.role)
            await client.query(`GRANT ${ident(names.role)} TO CURRENT_USER`);
          await client.query(`ALTER DATABASE ${db} WITH ALLOW_CONNECTIONS false CONNECTION LIMIT 0`);
          await client.query(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
            [names.database],
          );
          await client.query(`DROP DATABASE IF EXISTS ${db}${version >= 130000 ? " WITH (FORCE)" : ""}`);
        });
        out.database = "dropped";
      }
      if (existingRole && !roleOurs) out.role = "not-ours";
      else if (existingRole) {
        await step(`dropping role "${names.role}" for ${names.key}`, () =>
          client.query(`DROP ROLE IF EXISTS ${ident(names.role)}`),
        );
        out.role = "dropped";
      }
      return out;
    });
    this.log
      .child({ key: names.key, database: names.database, role: names.role })
      .info(result, "dropped preview database");
    return result;
  }

  async strayRoles(): ReturnType<Databases["strayRoles"]> {
    const r = await step("listing preview roles that own no database", () =>
      this.pool.query<{ role: string; comment: string | null }>(
        `select r.rolname as role, shobj_description(r.oid, 'pg_authid') as comment from pg_roles r
          where not exists (select 1 from pg_database d where d.datdba = r.oid) order by r.rolname`,
      ),
    );
    return r.rows.flatMap((row) => {
      const key = parseMark(row.comment);
      const database = markedDatabase(row.comment);
      return key === undefined ? [] : [{ role: row.role, key, ...(database !== undefined ? { database } : {}) }];
    });
  }

  async list(): ReturnType<Databases["list"]> {
    const r = await step("listing preview databases", () =>
      this.pool.query<DatabaseRow>(
        `select d.datname as name, r.rolname as owner, shobj_description(d.oid, 'pg_database') as comment,
                shobj_description(r.oid, 'pg_authid') as "ownerComment"
           from pg_database d join pg_roles r on r.oid = d.datdba order by d.datname`,
      ),
    );
    return r.rows.flatMap((row) => {
      const key = databaseKey(row);
      if (key === undefined) return [];
      // Every preview's password is known to the redacting logger, also those provisioned by an earlier process.
      registerSecret(derivePassword(this.passwordKey, row.owner));
      return [{ database: row.name, key, role: row.owner }];
    });
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

export function createDatabases(options: DatabasesOptions): Databases {
  return new PostgresDatabases(options);
}
