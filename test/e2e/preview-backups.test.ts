/**
 * Backups in the preview lifecycle, end to end: a new preview database is seeded from the latest backup of a target
 * (`database.seedFrom` — every preview is a restore drill), also when that database uses extensions; `/preview
 * backup` backs it up and answers in the PR; `/preview restore` takes only this preview's own backups; closing the
 * PR takes a final backup before the database is dropped (`database.finalBackup`). And data stays with its owner: a
 * target gives its data only to the repositories it allows, a template only when the bot allows it, and one preview
 * cannot restore another's backup. Real PostgreSQL, real Azurite, the fake Kubernetes API server; GitHub on nock
 * (small payloads only: nock wraps every socket).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { PassThrough } from "node:stream";
import pg from "pg";
import { createLogger } from "../../src/logger.js";
import {
  createBlobStore,
  listBackups,
  parseTargets,
  runBackup,
  type BlobStore,
} from "../../src/services/data/backups/index.js";
import { startAzurite, type TestAzurite } from "../support/azurite.js";
import { commentEvent, pull, prEvent, startHarness, OWNER, REPO, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub, type FakePull } from "../support/github-fake.js";

const SHA = "a".repeat(40);
const NS = "hello-pr-9";
const DB = "hello_pr_9";
const SOURCE_DB = `seed_source_${process.pid}`;
const PREVIEWS = { name: DB, container: "preview-backups", prefix: "previews/" };
const DEADLINE = 120_000; // a few seconds on an idle machine

let azurite: TestAzurite;
let store: BlobStore;
let h: Harness;
let gh: ReturnType<typeof fakeGitHub>;
let admin: pg.Client;

const adminUrl = (db: string) => {
  const u = new URL(process.env.TEST_PG_URL!);
  u.pathname = `/${db}`;
  return u.toString();
};
const PR = pull({ number: 9, branch: "seeded", sha: SHA });
const send = async (event: string, payload: unknown) => expect(await h.send(event, payload)).toBe(200);
const config = (database: string) =>
  `manifests: { path: deploy }\nnames: { namespace: "hello-pr-{number}" }\ndatabase:\n${database}`;
const SEEDED = config("  enabled: true\n  extensions: [citext]\n  seedFrom: shop\n  finalBackup: true\n");

/** Log in as the preview role with the credentials the preview's Secret holds. */
async function asPreview(namespace: string, database: string): Promise<pg.Client> {
  const secret = h.fake.get("v1", "Secret", namespace, "preview-database") as any;
  const u = new URL(process.env.TEST_PG_URL!);
  const c = new pg.Client({
    host: u.hostname,
    port: Number(u.port),
    database,
    user: Buffer.from(secret.data.PGUSER, "base64").toString(),
    password: Buffer.from(secret.data.PGPASSWORD, "base64").toString(),
  });
  await c.connect();
  return c;
}

async function openPull(p: FakePull): Promise<void> {
  gh.state.pulls.set(p.number, p);
  await send("pull_request", prEvent("opened", p));
}

beforeAll(async () => {
  azurite = await startAzurite();
  store = createBlobStore({ connectionString: azurite.connectionString });
  admin = new pg.Client({ connectionString: process.env.TEST_PG_URL });
  await admin.connect();
  await admin.query(`create database ${admin.escapeIdentifier(SOURCE_DB)}`);
  const src = new pg.Client({ connectionString: adminUrl(SOURCE_DB) });
  await src.connect();
  // The team's database uses a trusted extension (citext) and one only a superuser may create (pg_stat_statements).
  await src.query("create extension citext; create extension pg_stat_statements");
  await src.query(
    "create table customers (id int primary key, name citext); insert into customers select g, 'customer ' || g from generate_series(1, 250) g",
  );
  await src.end();

  // The bot-level backup target the previews are seeded from, with one backup already taken.
  const u = new URL(process.env.TEST_PG_URL!);
  const targets = [
    {
      name: "shop",
      host: u.hostname,
      port: Number(u.port),
      database: SOURCE_DB,
      user: u.username,
      passwordEnv: "SEED_PW",
      schedule: "0 3 * * *",
      container: "shop-backups",
      prefix: "",
      allowedRepos: [`${OWNER}/*`],
    },
    {
      name: "payroll",
      host: u.hostname,
      port: Number(u.port),
      database: SOURCE_DB,
      user: u.username,
      passwordEnv: "SEED_PW",
      schedule: "0 3 * * *",
      container: "payroll-backups",
      prefix: "",
      allowedRepos: ["finance/payroll"],
    },
  ];
  const seedPassword = decodeURIComponent(u.password);
  for (const t of parseTargets(targets))
    await runBackup(t, {
      store,
      env: { PATH: process.env.PATH, SEED_PW: seedPassword },
      logger: createLogger({ level: "silent" }),
    });

  h = await startHarness({
    env: {
      AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
      BACKUP_TARGETS: JSON.stringify(targets),
      SEED_PW: seedPassword,
      PREVIEW_DATABASE_ADMIN_EXTENSIONS: "pg_stat_statements",
    },
  });
  gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: 2, config: SEEDED });
  gh.state.tarballs.set(
    SHA,
    await h.tarball(SHA, {
      "deploy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: b\n",
    }),
  );
  gh.state.roles.set("Codertocat", "write");
  gh.state.roles.set("mallory", "write");
}, DEADLINE);

afterAll(async () => {
  await h?.stop();
  await azurite?.stop();
  await admin.query(`drop database if exists ${admin.escapeIdentifier(SOURCE_DB)} with (force)`);
  await admin.end();
});

describe("backups in the preview lifecycle", () => {
  it(
    "seeds a new preview database from the target's latest backup, extensions included",
    async () => {
      await openPull(PR);
      const run = gh.state.checkRuns.find((r) => r.head_sha === SHA);
      expect({
        conclusion: run?.conclusion,
        output: run?.conclusion === "success" ? "" : JSON.stringify(run?.output),
      }).toEqual({ conclusion: "success", output: "" });
      const c = await asPreview(NS, DB);
      const { rows } = await c.query(
        "select count(*)::int as n, max(name)::text as last, count(*) filter (where name = 'CUSTOMER 7')::int as ci from customers",
      );
      // the preview role owns what was restored, so the app can write to it
      await c.query("insert into customers values (1000, 'added in the preview')");
      const ext = await c.query(
        "select extname, extowner::regrole::text as owner from pg_extension where extname in ('citext', 'pg_stat_statements') order by 1",
      );
      await c.end();
      expect(rows[0]).toEqual({ n: 250, last: "customer 99", ci: 1 });
      // least privilege: the trusted extension is the preview role's; only the one the bot allows came from the admin
      expect(ext.rows).toEqual([
        { extname: "citext", owner: "hello_pr_9_app" },
        { extname: "pg_stat_statements", owner: new URL(process.env.TEST_PG_URL!).username },
      ]);
    },
    DEADLINE,
  );

  it(
    "/preview backup backs the preview database up and answers in the PR",
    async () => {
      await send("issue_comment", commentEvent("/preview backup", "Codertocat", { number: 9 }));
      const backups = await listBackups(store, PREVIEWS);
      expect(backups).toHaveLength(1);
      expect(backups[0]!.metadata.previewkey).toBe(`${OWNER}/${REPO}#9`);
      const reply = gh.state.comments.find((c) => c.body.includes("Backed up"));
      expect(reply?.body).toContain(backups[0]!.name);
    },
    DEADLINE,
  );

  it(
    "/preview restore <backup> puts the preview database back to that backup, with the same credentials",
    async () => {
      const [backup] = await listBackups(store, PREVIEWS);
      const before = await asPreview(NS, DB);
      await before.query("insert into customers values (2000, 'written after the backup')");
      await before.end();

      // a name that does not exist changes nothing
      await send(
        "issue_comment",
        commentEvent(`/preview restore previews/${DB}/${DB}-20200101T000000000Z.dump`, "Codertocat", { number: 9 }),
      );
      expect(gh.state.comments.at(-1)?.body).toMatch(/Nothing was changed: backup .* not found/);
      const still = await asPreview(NS, DB);
      expect((await still.query("select count(*)::int as n from customers where id = 2000")).rows[0]).toEqual({ n: 1 });
      await still.end();

      await send("issue_comment", commentEvent(`/preview restore ${backup!.name}`, "Codertocat", { number: 9 }));
      expect(gh.state.comments.at(-1)?.body).toContain(`Restored \`${backup!.name}\``);
      // the data it replaced was backed up first, and the reply says where
      const all = await listBackups(store, PREVIEWS);
      expect(all).toHaveLength(2);
      expect(gh.state.comments.at(-1)?.body).toContain(all[0]!.name);
      const after = await asPreview(NS, DB); // the Secret's credentials still log in
      const { rows } = await after.query(
        "select count(*)::int as n, bool_or(id = 2000) as late, bool_or(id = 1000) as kept from customers",
      );
      await after.end();
      expect(rows[0]).toEqual({ n: 251, late: false, kept: true });
    },
    DEADLINE,
  );
});

describe("data stays with its owner", () => {
  it(
    "one preview cannot restore another preview's backup, by path or by a blob planted under its own name",
    async () => {
      await openPull(pull({ number: 10, branch: "mallory", sha: SHA, author: "mallory" }));
      const victim = (await listBackups(store, PREVIEWS))[0]!;
      await send("issue_comment", commentEvent(`/preview restore ${victim.name}`, "mallory", { number: 10 }));
      expect(gh.state.comments.at(-1)?.body).toMatch(
        /Nothing was changed: "previews\/hello_pr_9\/[^"]+" is not one of this preview's backups/,
      );

      // the same data copied under PR #10's own database name still carries its owner: refused
      const copy = `previews/hello_pr_10/hello_pr_10-20260101T000000000Z.dump`;
      const body = new PassThrough();
      const upload = store.upload("preview-backups", copy, body, { ...victim.metadata });
      (await store.download("preview-backups", victim.name)).pipe(body);
      await upload;
      await send("issue_comment", commentEvent(`/preview restore ${copy}`, "mallory", { number: 10 }));
      expect(gh.state.comments.at(-1)?.body).toMatch(
        /Nothing was changed: .*it was not taken from Codertocat\/Hello-World#10/,
      );
      const c = await asPreview("hello-pr-10", "hello_pr_10");
      expect((await c.query("select count(*)::int as n from customers where id = 1000")).rows[0]).toEqual({ n: 0 }); // #9's row never arrived
      await c.end();
    },
    DEADLINE,
  );

  it(
    "a backup target gives its data only to the repositories it allows (database.seedFrom, restore latest)",
    async () => {
      gh.state.config = config("  enabled: true\n  seedFrom: payroll\n");
      await openPull(pull({ number: 11, branch: "payroll", sha: SHA }));
      const run = gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === SHA).at(-1)!;
      expect(run.conclusion).toBe("failure");
      expect(JSON.stringify(run.output)).toMatch(
        /database\.seedFrom: backup target \\"payroll\\" does not allow Codertocat\/Hello-World to use its backups \(its allowedRepos are finance\/payroll\)/,
      );
      const { rows } = await admin.query("select 1 from pg_database where datname = 'hello_pr_11'");
      expect(rows).toEqual([]); // nothing was left half seeded

      await send("issue_comment", commentEvent("/preview restore latest", "Codertocat", { number: 10 }));
      expect(gh.state.comments.at(-1)?.body).toMatch(
        /Nothing was changed: database\.seedFrom: backup target "payroll" does not allow/,
      );
      gh.state.config = SEEDED;
    },
    DEADLINE,
  );

  it(
    "database.template copies another database only when the bot's settings name it",
    async () => {
      gh.state.config = config(`  enabled: true\n  template: ${DB}\n`);
      await openPull(pull({ number: 12, branch: "template", sha: SHA }));
      const run = gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === SHA).at(-1)!;
      expect(run.conclusion).toBe("failure");
      expect(JSON.stringify(run.output)).toContain(
        `database.template \\"${DB}\\" is not allowed: the bot setting PREVIEW_DATABASE_TEMPLATES lists the templates previews may be created from, and it allows none`,
      );
      expect((await admin.query("select 1 from pg_database where datname = 'hello_pr_12'")).rows).toEqual([]);
      gh.state.config = SEEDED;
    },
    DEADLINE,
  );
});

describe("teardown", () => {
  it(
    "closing the PR takes a final backup, then drops the database",
    async () => {
      const before = (await listBackups(store, PREVIEWS)).length;
      gh.state.pulls.get(9)!.state = "closed";
      await send("pull_request", prEvent("closed", PR));
      const backups = await listBackups(store, PREVIEWS);
      expect(backups).toHaveLength(before + 1);
      const { rows } = await admin.query("select 1 from pg_database where datname = $1", [DB]);
      expect(rows).toHaveLength(0);
      expect(h.fake.get("v1", "Namespace", undefined, NS)).toBeUndefined();
    },
    DEADLINE,
  );
});
