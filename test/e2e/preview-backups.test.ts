/**
 * Backups in the preview lifecycle, end to end: a new preview database is seeded from the latest backup of a target
 * (`database.seedFrom` — every preview is a restore drill), `/preview backup` backs it up and answers in the PR, and
 * closing the PR takes a final backup before the database is dropped (`database.finalBackup`). Real PostgreSQL, real
 * Azurite, the fake Kubernetes API server; GitHub on nock (small payloads only: nock wraps every socket).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { createLogger } from "../../src/logger.js";
import { createBlobStore, listBackups, parseTargets, runBackup } from "../../src/services/data/backups/index.js";
import { startAzurite, type TestAzurite } from "../support/azurite.js";
import { commentEvent, pull, prEvent, startHarness, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub } from "../support/github-fake.js";

const SHA = "a".repeat(40);
const NS = "hello-pr-9";
const DB = "hello_pr_9";
const SOURCE_DB = `seed_source_${process.pid}`;

let azurite: TestAzurite;
let h: Harness;
let gh: ReturnType<typeof fakeGitHub>;
let admin: pg.Client;
const saved = { ...process.env };

const adminUrl = (db: string) => {
  const u = new URL(process.env.TEST_PG_URL!);
  u.pathname = `/${db}`;
  return u.toString();
};
const PR = pull({ number: 9, branch: "seeded", sha: SHA });
const send = async (event: string, payload: unknown) => expect(await h.send(event, payload)).toBe(200);

beforeAll(async () => {
  azurite = await startAzurite();
  admin = new pg.Client({ connectionString: process.env.TEST_PG_URL });
  await admin.connect();
  await admin.query(`create database ${admin.escapeIdentifier(SOURCE_DB)}`);
  const src = new pg.Client({ connectionString: adminUrl(SOURCE_DB) });
  await src.connect();
  await src.query("create table customers (id int primary key, name text); insert into customers select g, 'customer ' || g from generate_series(1, 250) g");
  await src.end();

  // The bot-level backup target the previews are seeded from, with one backup already taken.
  const u = new URL(process.env.TEST_PG_URL!);
  process.env.SEED_PW = decodeURIComponent(u.password);
  process.env.BACKUP_TARGETS = JSON.stringify([
    { name: "shop", host: u.hostname, port: Number(u.port), database: SOURCE_DB, user: u.username, passwordEnv: "SEED_PW", schedule: "0 3 * * *", container: "shop-backups", prefix: "" },
  ]);
  process.env.AZURE_STORAGE_CONNECTION_STRING = azurite.connectionString;
  const store = createBlobStore({ connectionString: azurite.connectionString });
  await runBackup(parseTargets(JSON.parse(process.env.BACKUP_TARGETS))[0]!, { store, env: process.env, logger: createLogger({ level: "silent" }) });

  h = await startHarness({ env: { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString } });
  gh = fakeGitHub({
    owner: "Codertocat",
    repo: "Hello-World",
    installationId: 2,
    config: `manifests: { path: deploy }\nnames: { namespace: "hello-pr-{number}" }\ndatabase:\n  enabled: true\n  seedFrom: shop\n  finalBackup: true\n`,
  });
  gh.state.pulls.set(9, PR);
  gh.state.tarballs.set(SHA, await h.tarball(SHA, { "deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: b\n" }));
  gh.state.roles.set("Codertocat", "write");
}, 60_000);

afterAll(async () => {
  await h?.stop();
  await azurite?.stop();
  await admin.query(`drop database if exists ${admin.escapeIdentifier(SOURCE_DB)} with (force)`);
  await admin.end();
  process.env = saved;
});

describe("backups in the preview lifecycle", () => {
  it("seeds a new preview database from the target's latest backup", async () => {
    await send("pull_request", prEvent("opened", PR));
    expect(gh.state.checkRuns.find((r) => r.head_sha === SHA)?.conclusion).toBe("success");
    const secret = h.fake.get("v1", "Secret", NS, "preview-database") as any;
    const user = Buffer.from(secret.data.PGUSER, "base64").toString();
    const password = Buffer.from(secret.data.PGPASSWORD, "base64").toString();
    const u = new URL(process.env.TEST_PG_URL!);
    const c = new pg.Client({ host: u.hostname, port: Number(u.port), database: DB, user, password });
    await c.connect();
    const { rows } = await c.query("select count(*)::int as n, max(name) as last from customers");
    // the preview role owns what was restored, so the app can write to it
    await c.query("insert into customers values (1000, 'added in the preview')");
    await c.end();
    expect(rows[0]).toEqual({ n: 250, last: "customer 99" });
  });

  it("/preview backup backs the preview database up and answers in the PR", async () => {
    const comment = commentEvent("/preview backup", "Codertocat", { number: 9 });
    await send("issue_comment", comment);
    const store = createBlobStore({ connectionString: azurite.connectionString });
    const backups = await listBackups(store, { name: DB, container: "preview-backups", prefix: "previews/" });
    expect(backups).toHaveLength(1);
    const reply = gh.state.comments.find((c) => c.body.includes("Backed up"));
    expect(reply?.body).toContain(backups[0]!.name);
  });

  it("/preview restore <backup> puts the preview database back to that backup, with the same credentials", async () => {
    const store = createBlobStore({ connectionString: azurite.connectionString });
    const [backup] = await listBackups(store, { name: DB, container: "preview-backups", prefix: "previews/" });
    const secret = h.fake.get("v1", "Secret", NS, "preview-database") as any;
    const u = new URL(process.env.TEST_PG_URL!);
    const login = { host: u.hostname, port: Number(u.port), database: DB, user: Buffer.from(secret.data.PGUSER, "base64").toString(), password: Buffer.from(secret.data.PGPASSWORD, "base64").toString() };
    const before = new pg.Client(login);
    await before.connect();
    await before.query("insert into customers values (2000, 'written after the backup')");
    await before.end();

    // a name that does not exist changes nothing
    await send("issue_comment", commentEvent("/preview restore previews/hello_pr_9/hello_pr_9-20200101T000000000Z.dump", "Codertocat", { number: 9 }));
    expect(gh.state.comments.at(-1)?.body).toMatch(/Nothing was changed: backup .* not found/);
    const still = new pg.Client(login);
    await still.connect();
    expect((await still.query("select count(*)::int as n from customers where id = 2000")).rows[0]).toEqual({ n: 1 });
    await still.end();

    await send("issue_comment", commentEvent(`/preview restore ${backup!.name}`, "Codertocat", { number: 9 }));
    expect(gh.state.comments.at(-1)?.body).toContain(`Restored \`${backup!.name}\``);
    // the data it replaced was backed up first, and the reply says where
    const all = await listBackups(store, { name: DB, container: "preview-backups", prefix: "previews/" });
    expect(all).toHaveLength(2);
    expect(gh.state.comments.at(-1)?.body).toContain(all[0]!.name);
    const after = new pg.Client(login); // the Secret's credentials still log in
    await after.connect();
    const { rows } = await after.query("select count(*)::int as n, bool_or(id = 2000) as late, bool_or(id = 1000) as kept from customers");
    await after.end();
    expect(rows[0]).toEqual({ n: 251, late: false, kept: true });
  });

  it("closing the PR takes a final backup, then drops the database", async () => {
    const store = createBlobStore({ connectionString: azurite.connectionString });
    const before = (await listBackups(store, { name: DB, container: "preview-backups", prefix: "previews/" })).length;
    gh.state.pulls.get(9)!.state = "closed";
    await send("pull_request", prEvent("closed", PR));
    const backups = await listBackups(store, { name: DB, container: "preview-backups", prefix: "previews/" });
    expect(backups).toHaveLength(before + 1);
    const { rows } = await admin.query("select 1 from pg_database where datname = $1", [DB]);
    expect(rows).toHaveLength(0);
    expect(h.fake.get("v1", "Namespace", undefined, NS)).toBeUndefined();
  });
});
