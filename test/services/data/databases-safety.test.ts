import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Writable } from "node:stream";
import pg from "pg";
import { createLogger, redactText } from "../../../src/logger.js";
import {
  createDatabases,
  DatabaseNotOursError,
  derivePassword,
  markFor,
} from "../../../src/services/data/databases.js";
import { passwordKeyFromAdminPassword } from "../../../src/services/data/database-secret.js";
import type { DatabaseCredentials, Databases } from "../../../src/services/shared/preview.js";

const adminUrl = process.env.TEST_PG_URL!;
const run = Math.random().toString(36).slice(2, 8);
const names = (n: number) => ({ key: `acme/api#${n}`, database: `dbs_${run}_${n}`, role: `dbs_${run}_${n}_app` });
const logLines: string[] = [];
const logger = createLogger({
  level: "debug",
  destination: new Writable({ write: (c: Buffer, _e, cb) => (logLines.push(c.toString()), cb()) }),
});

let su: pg.Client;
let dbs: Databases;
const clients: pg.Client[] = [];

async function login(creds: DatabaseCredentials): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: creds.url });
  c.on("error", () => undefined);
  await c.connect();
  clients.push(c);
  return c;
}
const exists = async (table: "pg_database" | "pg_roles", name: string) =>
  (await su.query(`select 1 from ${table} where ${table === "pg_database" ? "datname" : "rolname"} = $1`, [name]))
    .rowCount === 1;

// Top-level await: decide before the tests are declared whether the contrib extensions are installed here.
const probe = new pg.Client({ connectionString: adminUrl });
await probe.connect();
const available = new Set(
  (await probe.query<{ name: string }>("select name from pg_available_extensions")).rows.map((r) => r.name),
);
await probe.end();
const haveContrib = available.has("citext") && available.has("pgcrypto");
if (!haveContrib)
  console.warn("skipping the extensions test: citext/pgcrypto are not installed (apt-get install postgresql-contrib)");

beforeAll(async () => {
  su = new pg.Client({ connectionString: adminUrl });
  await su.connect();
  dbs = createDatabases({ adminUrl, logger });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await dbs.close();
  await su.end();
});

describe("Databases safety", () => {
  it("creates names that would be hostile if interpolated verbatim, executing nothing", async () => {
    await su.query("create table canary(x int)");
    const hostile = {
      key: "acme/api#1",
      database: `dbs_${run}"; DROP TABLE canary; --'`,
      role: `r_${run}'; DROP TABLE canary; --"`,
    };
    const creds = await dbs.provision(hostile);
    expect(await exists("pg_database", hostile.database)).toBe(true);
    expect(await exists("pg_roles", hostile.role)).toBe(true);
    expect(await exists("pg_roles", `r_${run}`)).toBe(false);
    // The URL percent-encodes every part (libpq decodes it; node-pg's parser leaves %3B in database names, so log in
    // with the fields here).
    const url = new URL(creds.url);
    expect([url.username, url.password, url.pathname.slice(1)].map(decodeURIComponent)).toEqual([
      hostile.role,
      creds.password,
      hostile.database,
    ]);
    const c = new pg.Client({
      host: creds.host,
      port: creds.port,
      user: creds.user,
      password: creds.password,
      database: creds.database,
    });
    c.on("error", () => undefined);
    clients.push(c);
    await c.connect();
    expect((await c.query("select current_database() as d, current_user as u")).rows[0]).toEqual({
      d: hostile.database,
      u: hostile.role,
    });
    expect(await dbs.list()).toContainEqual({ database: hostile.database, key: "acme/api#1", role: hostile.role });
    expect(await dbs.drop(hostile)).toEqual({ database: "dropped", role: "dropped" });
    expect((await su.query("select count(*)::int as n from canary")).rows[0].n).toBe(0); // still there
  });

  it("rejects names PostgreSQL would silently truncate, before touching the server", async () => {
    const long = { key: "acme/api#2", database: `dbs_${"x".repeat(70)}`, role: `dbs_${run}_2_app` };
    await expect(dbs.provision(long)).rejects.toThrow(/longer than 63 bytes/);
    expect(await exists("pg_roles", long.role)).toBe(false);
  });

  it("refuses to adopt, and never drops, a database or role that lacks our mark", async () => {
    const n = names(3);
    await su.query(`create database ${pg.escapeIdentifier(n.database)}`);
    await expect(dbs.provision(n)).rejects.toThrow(DatabaseNotOursError);
    await expect(dbs.provision(n)).rejects.toThrow(
      /exists but is not managed by preview-bot for acme\/api#3; refusing to adopt/,
    );
    expect(await dbs.drop(n)).toEqual({ database: "not-ours", role: "absent" });
    expect(await exists("pg_database", n.database)).toBe(true);

    const m = names(4);
    await su.query(`create role ${pg.escapeIdentifier(m.role)}`);
    await expect(dbs.provision(m)).rejects.toThrow(/role "[^"]+" exists but is not managed by preview-bot/);
    expect(await exists("pg_database", m.database)).toBe(false);
    expect(await dbs.drop(m)).toEqual({ database: "absent", role: "not-ours" });
    expect(await exists("pg_roles", m.role)).toBe(true);
  });

  it("treats another preview's database as not ours", async () => {
    const mine = names(5);
    await dbs.provision(mine);
    const thief = { ...mine, key: "acme/api#999" };
    await expect(dbs.provision(thief)).rejects.toThrow(DatabaseNotOursError);
    expect(await dbs.drop(thief)).toEqual({ database: "not-ours", role: "not-ours" });
    expect(await exists("pg_database", mine.database)).toBe(true);
  });

  it("reads ownership only from marks the preview role cannot write: rewriting its database's COMMENT changes nothing", async () => {
    const n = names(20);
    const creds = await dbs.provision(n);
    const preview = await login(creds);
    const db = pg.escapeIdentifier(n.database);
    // The role owns its database, so PostgreSQL lets it rewrite the database's COMMENT: claim another preview's key.
    await preview.query(`comment on database ${db} is ${pg.escapeLiteral(markFor("acme/api#999"))}`);
    // What ownership is read from, it cannot touch: its own mark, its database's name or owner.
    await expect(
      preview.query(
        `comment on role ${pg.escapeIdentifier(n.role)} is ${pg.escapeLiteral(markFor("acme/api#999", n.database))}`,
      ),
    ).rejects.toThrow(/permission denied|must have CREATEROLE|must be superuser/);
    await expect(preview.query(`alter database ${db} rename to ${db.slice(0, -1)}_x"`)).rejects.toThrow(
      /permission denied/,
    );
    expect(await dbs.list()).toContainEqual({ database: n.database, key: n.key, role: n.role });
    expect((await dbs.list()).some((d) => d.key === "acme/api#999")).toBe(false);
    expect(await dbs.drop({ ...n, key: "acme/api#999" })).toEqual({ database: "not-ours", role: "not-ours" });
    // Nor can it make its database look like nobody's, to outlive teardown.
    await preview.query(`comment on database ${db} is null`);
    await preview.end();
    expect(await dbs.drop(n)).toEqual({ database: "dropped", role: "dropped" });
    expect(await exists("pg_database", n.database)).toBe(false);
  });

  it("names the database in a role's mark from before marks named it, on the next provision", async () => {
    const n = names(21);
    await su.query(`create role ${pg.escapeIdentifier(n.role)} login`);
    await su.query(`comment on role ${pg.escapeIdentifier(n.role)} is ${pg.escapeLiteral(markFor(n.key))}`);
    await su.query(`create database ${pg.escapeIdentifier(n.database)} owner ${pg.escapeIdentifier(n.role)}`);
    await dbs.provision(n);
    const r = await su.query<{ c: string }>(
      "select shobj_description(oid, 'pg_authid') as c from pg_roles where rolname = $1",
      [n.role],
    );
    expect(JSON.parse(r.rows[0]!.c)).toEqual({ managedBy: "preview-bot", key: n.key, database: n.database });
    expect(await dbs.drop(n)).toEqual({ database: "dropped", role: "dropped" });
  });

  it("provisions and drops with a non-superuser admin (CREATEDB CREATEROLE, as on Azure)", async () => {
    const admin = `azadmin_${run}`;
    await su.query(`create role ${admin} login createdb createrole password 'azure-admin-pw-${run}'`);
    const url = new URL(adminUrl);
    url.username = admin;
    url.password = `azure-admin-pw-${run}`;
    const azure = createDatabases({ adminUrl: url.toString(), logger });
    try {
      const n = names(6);
      const creds = await azure.provision(n, { seedSql: "create table t(id int); insert into t values (1)" });
      expect(await azure.provision(n)).toEqual(creds);
      const c = await login(creds);
      expect((await c.query("select count(*)::int as n from t")).rows[0].n).toBe(1);
      expect(
        (await su.query("select datdba::regrole::text as owner from pg_database where datname = $1", [n.database]))
          .rows[0].owner,
      ).toBe(n.role);
      expect(await azure.list()).toContainEqual({ database: n.database, key: n.key, role: n.role });
      expect(await azure.drop(n)).toEqual({ database: "dropped", role: "dropped" });
      expect(await exists("pg_database", n.database)).toBe(false);
      expect(await exists("pg_roles", n.role)).toBe(false);
    } finally {
      await azure.close();
    }
    expect(logLines.join("")).not.toContain(`azure-admin-pw-${run}`);
  });

  (haveContrib ? it : it.skip)(
    "creates extensions every time and runs the seed once, as the preview role",
    async () => {
      const n = names(7);
      const opts = {
        extensions: ["citext", "pgcrypto"],
        seedSql: "create table seeded(name citext); insert into seeded values ('Ada')",
      };
      const creds = await dbs.provision(n, opts);
      await dbs.provision(n, opts);
      const c = await login(creds);
      expect((await c.query("select count(*)::int as n from seeded where name = 'ADA'")).rows[0].n).toBe(1);
      expect((await c.query("select tableowner from pg_tables where tablename = 'seeded'")).rows[0].tableowner).toBe(
        n.role,
      );
      expect((await c.query("select length(gen_random_bytes(4)) as l")).rows[0].l).toBe(4);
    },
  );

  (haveContrib ? it : it.skip)("creates a trusted extension as the preview role, which then owns it", async () => {
    const n = names(9);
    await dbs.provision(n, { extensions: ["citext"] });
    const c = new pg.Client({ connectionString: new URL(`/${n.database}`, adminUrl).toString() });
    await c.connect();
    const { rows } = await c.query(
      "select extowner::regrole::text as owner from pg_extension where extname = 'citext'",
    );
    await c.end();
    expect(rows).toEqual([{ owner: n.role }]);
  });

  it("refuses an untrusted extension unless the bot's settings allow it, and then the admin creates it", async () => {
    const n = names(10);
    await expect(dbs.provision(n, { extensions: ["pg_stat_statements"] })).rejects.toThrow(
      /creating extensions: database\.extensions: extension "pg_stat_statements" is not trusted .*PREVIEW_DATABASE_ADMIN_EXTENSIONS/,
    );
    expect(await exists("pg_database", n.database)).toBe(false); // nothing half made
    await expect(dbs.provision(names(11), { extensions: ["no_such_extension"] })).rejects.toThrow(
      /extension "no_such_extension" is not available/,
    );
    const allowing = createDatabases({ adminUrl, logger, adminExtensions: ["pg_stat_statements"] });
    try {
      await allowing.provision(n, { extensions: ["pg_stat_statements"] });
    } finally {
      await allowing.close();
    }
    const c = new pg.Client({ connectionString: new URL(`/${n.database}`, adminUrl).toString() });
    await c.connect();
    const { rows } = await c.query(
      "select extowner::regrole::text as owner from pg_extension where extname = 'pg_stat_statements'",
    );
    await c.end();
    expect(rows).toEqual([{ owner: new URL(adminUrl).username }]);
  });

  it("creates a database from a template only when the bot's settings name that template", async () => {
    const template = `dbs_${run}_template`;
    await su.query(`create database ${pg.escapeIdentifier(template)}`);
    const t = new pg.Client({ connectionString: new URL(`/${template}`, adminUrl).toString() });
    await t.connect();
    await t.query("create table copied (id int); insert into copied values (42)");
    await t.end();
    const n = names(12);
    await expect(dbs.provision(n, { template })).rejects.toThrow(
      `database.template "${template}" is not allowed: the bot setting PREVIEW_DATABASE_TEMPLATES lists the templates previews may be created from, and it allows none`,
    );
    expect(await exists("pg_database", n.database)).toBe(false);
    const allowing = createDatabases({ adminUrl, logger, templates: [template] });
    try {
      await allowing.provision(n, { template });
      const c = new pg.Client({ connectionString: new URL(`/${n.database}`, adminUrl).toString() });
      await c.connect();
      expect((await c.query("select id from copied")).rows).toEqual([{ id: 42 }]);
      await c.end();
    } finally {
      await allowing.close();
      await dbs.drop(n);
      await su.query(`drop database if exists ${pg.escapeIdentifier(template)}`);
    }
  });

  it("registers each derived password with the logger, so free text carrying it is redacted", async () => {
    const creds = await dbs.provision(names(13));
    expect(redactText(`app says: connecting as ${creds.user} with ${creds.password}`)).toBe(
      `app says: connecting as ${creds.user} with [REDACTED]`,
    );
  });

  it("registers the password of every preview database it lists, also one an earlier process provisioned", async () => {
    const n = names(14);
    // as a previous process left it: role and database carrying our mark, never provisioned by this process
    await su.query(`create role ${pg.escapeIdentifier(n.role)} login`);
    await su.query(`comment on role ${pg.escapeIdentifier(n.role)} is ${pg.escapeLiteral(markFor(n.key))}`);
    await su.query(`create database ${pg.escapeIdentifier(n.database)} owner ${pg.escapeIdentifier(n.role)}`);
    await su.query(`comment on database ${pg.escapeIdentifier(n.database)} is ${pg.escapeLiteral(markFor(n.key))}`);
    const password = derivePassword(
      passwordKeyFromAdminPassword(decodeURIComponent(new URL(adminUrl).password)),
      n.role,
    );
    expect(redactText(`tail: ${password}`)).toBe(`tail: ${password}`);
    expect((await dbs.list()).map((d) => d.database)).toContain(n.database);
    expect(redactText(`tail: ${password}`)).toBe("tail: [REDACTED]");
    await dbs.drop(n);
  });

  it("drops a database whose seed failed, so the next provision starts over and seeds it", async () => {
    const n = names(8);
    await expect(dbs.provision(n, { seedSql: "create table x(id int); select no_such_function()" })).rejects.toThrow(
      new RegExp(
        `provisioning database "${n.database}" for acme/api#8: running seed SQL as "${n.role}": function no_such_function\\(\\) does not exist`,
      ),
    );
    expect(await exists("pg_database", n.database)).toBe(false);
    const creds = await dbs.provision(n, { seedSql: "create table x(id int)" });
    const c = await login(creds);
    expect((await c.query("select count(*)::int as n from x")).rows[0].n).toBe(0);
  });
});
