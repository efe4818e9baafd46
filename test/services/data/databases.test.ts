import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Writable } from "node:stream";
import pg from "pg";
import { createLogger } from "../../../src/logger.js";
import {
  derivePassword,
  scramVerifier,
  secretData,
  DEFAULT_SECRET_KEYS,
} from "../../../src/services/data/database-secret.js";
import { createDatabases } from "../../../src/services/data/databases.js";
import type { DatabaseCredentials, Databases } from "../../../src/services/shared/preview.js";

const adminUrl = process.env.TEST_PG_URL!;
const run = Math.random().toString(36).slice(2, 8);
const names = (n: number) => ({ key: `acme/web#${n}`, database: `dbs_${run}_${n}`, role: `dbs_${run}_${n}_app` });

const logLines: string[] = [];
const logger = createLogger({
  level: "debug",
  destination: new Writable({ write: (chunk: Buffer, _enc, cb) => (logLines.push(chunk.toString()), cb()) }),
});

let su: pg.Client;
let dbs: Databases;
const open: pg.Client[] = [];
const passwords: string[] = [];

async function login(creds: DatabaseCredentials, database = creds.database): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: creds.url.replace(`/${creds.database}?`, `/${database}?`) });
  c.on("error", () => undefined); // terminated sessions emit an error event
  await c.connect();
  open.push(c);
  return c;
}

async function provision(n: number, opts?: Parameters<Databases["provision"]>[1]): Promise<DatabaseCredentials> {
  const creds = await dbs.provision(names(n), opts);
  passwords.push(creds.password);
  return creds;
}

const count = async (sql: string, params: unknown[]) => (await su.query(sql, params)).rowCount;

beforeAll(async () => {
  su = new pg.Client({ connectionString: adminUrl });
  await su.connect();
  dbs = createDatabases({ adminUrl, logger });
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.end().catch(() => undefined)));
  await dbs.close();
  await su.end();
});

describe("Databases.provision", () => {
  it("creates one database and role on first call and keeps data and password on the second", async () => {
    const first = await provision(1);
    expect(first.password.length).toBeGreaterThanOrEqual(32);
    expect(first).toMatchObject({ database: names(1).database, user: names(1).role, host: "127.0.0.1" });
    const c1 = await login(first);
    await c1.query("create table notes(body text)");
    await c1.query("insert into notes values ('kept')");

    const second = await provision(1);
    expect(second).toEqual(first);
    // A second instance (another replica) derives the same password from the same admin credentials.
    const other = createDatabases({ adminUrl, logger });
    try {
      expect((await other.provision(names(1))).password).toBe(first.password);
    } finally {
      await other.close();
    }
    const c2 = await login(second);
    expect((await c2.query("select body from notes")).rows).toEqual([{ body: "kept" }]);
    expect(await count("select 1 from pg_database where datname = $1", [names(1).database])).toBe(1);
    // The session that started before the re-provision still works (its pods keep running).
    expect((await c1.query("select count(*)::int as n from notes")).rows[0].n).toBe(1);
  });

  it("gives a role that is not superuser, cannot create databases or roles, and cannot enter another preview's database", async () => {
    const a = await provision(2);
    const b = await provision(3);
    const { rows } = await su.query(
      "select rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolconnlimit from pg_roles where rolname = $1",
      [a.user],
    );
    expect(rows[0]).toEqual({
      rolsuper: false,
      rolcreatedb: false,
      rolcreaterole: false,
      rolinherit: false,
      rolconnlimit: 20,
    });
    const ca = await login(a);
    await expect(ca.query("create database sneaky")).rejects.toThrow(/permission denied to create database/);
    await expect(ca.query("create role sneaky")).rejects.toThrow(/permission denied to create role/);
    await expect(login(a, b.database)).rejects.toThrow(/permission denied for database/);
    await expect(login(b, a.database)).rejects.toThrow(/permission denied for database/);
  });

  it("provisions two previews concurrently, and the same preview twice concurrently", async () => {
    const [p4, p5] = await Promise.all([provision(4), provision(5)]);
    expect(p4.database).not.toBe(p5.database);
    const [x, y] = await Promise.all([provision(6), provision(6)]);
    expect(x).toEqual(y);
    for (const creds of [p4, p5, x]) {
      const c = await login(creds);
      expect((await c.query("select current_user as u")).rows[0].u).toBe(creds.user);
    }
    expect(await count("select 1 from pg_database where datname = $1", [names(6).database])).toBe(1);
  });

  it("honours connection limit, public host/port and an explicit password key", async () => {
    const custom = createDatabases({
      adminUrl,
      logger,
      publicHost: "db.internal",
      publicPort: 6432,
      passwordKey: "k".repeat(32),
    });
    try {
      const creds = await custom.provision(names(7), { connectionLimit: 3 });
      passwords.push(creds.password);
      expect(creds.password).toBe(derivePassword("k".repeat(32), names(7).role));
      expect(creds.url).toBe(
        `postgres://${names(7).role}:${creds.password}@db.internal:6432/${names(7).database}?sslmode=disable`,
      );
      expect(
        (await su.query("select rolconnlimit from pg_roles where rolname = $1", [creds.user])).rows[0].rolconnlimit,
      ).toBe(3);
    } finally {
      await custom.close();
    }
  });

  it("asks for TLS when sslmode=require (and so fails against this non-TLS server)", async () => {
    const tls = createDatabases({ adminUrl, logger, ssl: { mode: "require" } });
    try {
      await expect(tls.provision(names(8))).rejects.toThrow(/does not support SSL/);
    } finally {
      await tls.close();
    }
  });

  it("says what it was doing when a step fails, with the cause chained", async () => {
    const allowing = createDatabases({ adminUrl, logger, templates: ["no_such_template"] });
    const err = await allowing.provision(names(9), { template: "no_such_template" }).then(
      () => new Error("provision resolved"),
      (e: unknown) => e as Error,
    );
    await allowing.close();
    expect(err.message).toBe(
      `provisioning database "${names(9).database}" for acme/web#9: creating database: template database "no_such_template" does not exist`,
    );
    expect((err.cause as { code?: string }).code).toBe("3D000");
  });
});

describe("Databases.drop and list", () => {
  it("drops database and role while a preview session is connected; a second drop finds them absent", async () => {
    const creds = await provision(10);
    const session = await login(creds);
    await session.query("select 1");
    expect(await dbs.drop(names(10))).toEqual({ database: "dropped", role: "dropped" });
    expect(await count("select 1 from pg_database where datname = $1", [creds.database])).toBe(0);
    expect(await count("select 1 from pg_roles where rolname = $1", [creds.user])).toBe(0);
    await expect(session.query("select 1")).rejects.toThrow();
    expect(await dbs.drop(names(10))).toEqual({ database: "absent", role: "absent" });
  });

  it("lists the databases carrying our mark with their preview key", async () => {
    await provision(11);
    await su.query(`create database ${pg.escapeIdentifier(`dbs_${run}_foreign`)}`);
    const listed = await dbs.list();
    expect(listed).toContainEqual({ database: names(11).database, key: "acme/web#11", role: names(11).role });
    expect(listed.map((l) => l.database)).not.toContain(`dbs_${run}_foreign`);
    expect(listed.map((l) => l.database)).not.toContain("postgres");
  });

  it("finds our role left without its database (a drop cut short between the two), which list cannot see, and drops it", async () => {
    const creds = await provision(12);
    // What a drop cut short by a PostgreSQL restart or a crash leaves: the database gone, its role still there.
    await su.query(`drop database ${pg.escapeIdentifier(creds.database)} with (force)`);
    expect((await dbs.list()).map((l) => l.key)).not.toContain("acme/web#12");
    const strays = await dbs.strayRoles();
    expect(strays).toContainEqual({ role: names(12).role, key: "acme/web#12", database: names(12).database });
    expect(strays.map((s) => s.role)).not.toContain(names(11).role); // owns its database: not stray
    expect(await dbs.drop(names(12))).toEqual({ database: "absent", role: "dropped" });
    expect((await dbs.strayRoles()).map((s) => s.role)).not.toContain(names(12).role);
  });

  it("never writes a password to the log", async () => {
    expect(logLines.join("")).toContain("created preview database");
    expect(logLines.join("")).toContain("dropped preview database");
    expect(passwords.length).toBeGreaterThan(5);
    const adminPassword = decodeURIComponent(new URL(adminUrl).password);
    for (const secret of [...passwords, adminPassword]) expect(logLines.join("")).not.toContain(secret);
  });
});

describe("credentials helpers", () => {
  it("derives a stable, role-specific password of at least 32 characters", () => {
    expect(derivePassword("key", "a")).toBe(derivePassword("key", "a"));
    expect(derivePassword("key", "a")).not.toBe(derivePassword("key", "b"));
    expect(derivePassword("key", "a")).not.toBe(derivePassword("other", "a"));
    expect(derivePassword("key", "a")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(scramVerifier("pw")).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
  });

  it("maps credentials to Secret data and rejects clashing or invalid keys", () => {
    const creds = { host: "h", port: 5432, database: "d", user: "u", password: "p", url: "postgres://u:p@h:5432/d" };
    expect(secretData(creds, { user: "USER", password: "PASSWORD" })).toEqual({ USER: "u", PASSWORD: "p" });
    expect(secretData(creds, DEFAULT_SECRET_KEYS)).toEqual({
      USER: "u",
      PASSWORD: "p",
      POSTGRES_DB: "d",
      POSTGRES_HOST: "h",
      POSTGRES_PORT: "5432",
      DATABASE_URL: creds.url,
    });
    expect(() => secretData(creds, { user: "X", password: "X" })).toThrow(/more than one credential/);
    expect(() => secretData(creds, { user: "bad key", password: "P" })).toThrow(/not a valid Secret data key/);
  });
});
