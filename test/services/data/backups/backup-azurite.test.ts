/**
 * Backups against real PostgreSQL and a real Azurite: round trip, pg_dump killed mid-stream, version refusal,
 * verification, retention, the CLI, and no secret in any log line or output. nock is not loaded in this file.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { createLogger } from "../../../../src/logger.js";
import { runBackupCli } from "../../../../src/cli/backup.js";
import {
  backupPreviewDatabase,
  BackupRefusedError,
  createBlobStore,
  listBackups,
  parseTargets,
  PgDumpError,
  pruneBackups,
  restoreBackup,
  runBackup,
  verifyBackup,
  connectionFromUrl,
  type BackupTarget,
  type BlobStore,
} from "../../../../src/services/data/backups/index.js";
import { startAzurite, DEV_KEY, type TestAzurite } from "../../../support/azurite.js";

const superUrl = process.env.TEST_PG_URL!;
const realBin = process.env.TEST_PG_BIN_DIR!;
const suffix = randomBytes(3).toString("hex");
const dbName = `bk_src_${suffix}`;
const role = `bk_role_${suffix}`;
const rolePassword = `Rol3Pw-${randomBytes(8).toString("hex")}`;
const superPassword = decodeURIComponent(new URL(superUrl).password);

let azurite: TestAzurite;
let store: BlobStore;
let admin: pg.Client;
let work: string;
const logLines: string[] = [];
const logger = createLogger({
  level: "debug",
  destination: new PassThrough().on("data", (b: Buffer) => logLines.push(b.toString())),
});

function urlFor(database: string, user = "postgres", password = superPassword): string {
  const u = new URL(superUrl);
  u.username = user;
  u.password = password;
  u.pathname = `/${database}`;
  return u.toString();
}
const env = () => ({ PATH: process.env.PATH, PG_BIN_DIR: realBin, BK_PW: rolePassword });
function target(extra: Partial<BackupTarget> = {}): BackupTarget {
  const u = new URL(superUrl);
  return parseTargets([
    {
      name: "shop",
      host: u.hostname,
      port: Number(u.port),
      database: dbName,
      user: role,
      passwordEnv: "BK_PW",
      schedule: "0 */2 * * *",
      container: `bk-${suffix}`,
      prefix: "test/",
      ...extra,
    },
  ])[0]!;
}
async function createDb(name: string, owner = "postgres"): Promise<void> {
  await admin.query(`create database ${admin.escapeIdentifier(name)} owner ${admin.escapeIdentifier(owner)}`);
}
async function rowsOf(database: string): Promise<Array<{ id: number; note: string }>> {
  const c = new pg.Client({ connectionString: urlFor(database) });
  await c.connect();
  try {
    return (await c.query("select id, note from items order by id")).rows;
  } finally {
    await c.end();
  }
}
/** A pg_dump wrapper in its own PG_BIN_DIR (pg_restore is the real one). */
function wrapperBin(name: string, script: string): string {
  const dir = join(work, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeFileSync(join(dir, "pg_dump"), `#!/bin/sh\nREAL=${realBin}\n${script}\n`);
  chmodSync(join(dir, "pg_dump"), 0o755);
  writeFileSync(join(dir, "pg_restore"), `#!/bin/sh\nexec ${realBin}/pg_restore "$@"\n`);
  chmodSync(join(dir, "pg_restore"), 0o755);
  return dir;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "preview-bot-backup-test-"));
  azurite = await startAzurite();
  store = createBlobStore({ connectionString: azurite.connectionString });
  admin = new pg.Client({ connectionString: superUrl });
  await admin.connect();
  await admin.query(`create role ${admin.escapeIdentifier(role)} login password '${rolePassword}'`);
  await createDb(dbName, role);
  const c = new pg.Client({ connectionString: urlFor(dbName, role, rolePassword) });
  await c.connect();
  await c.query("create table items (id int primary key, note text not null)");
  await c.query(
    "insert into items select g, md5(g::text) || repeat(md5((g * 7)::text), 4) from generate_series(1, 40000) g",
  );
  await c.query("create table tags (name text)");
  await c.query("insert into tags values ('a'), ('b'), ('c')");
  await c.end();
}, 180_000);

afterAll(async () => {
  for (const r of (
    await admin.query<{ datname: string }>("select datname from pg_database where datname like $1", [`%${suffix}%`])
  ).rows) {
    await admin.query(`drop database if exists ${admin.escapeIdentifier(r.datname)} with (force)`);
  }
  await admin.query(`drop role if exists ${admin.escapeIdentifier(role)}`);
  await admin.end();
  await azurite?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("backups to Azurite", () => {
  it("round trip: backup → blob with metadata → restore into a fresh database → same rows", async () => {
    const t = target();
    const result = await runBackup(t, { store, env: env(), logger });
    expect(result.blobName).toMatch(/^test\/shop\/shop-\d{8}T\d{9}Z\.dump$/);
    const blob = await store.get(t.container, result.blobName);
    expect(blob).toBeDefined();
    expect(blob!.size).toBe(result.sizeBytes);
    expect(blob!.metadata).toMatchObject({
      target: "shop",
      sizebytes: String(result.sizeBytes),
      sha256: result.sha256,
      tables: "2",
      rows: "public.items=40000;public.tags=3",
    });
    expect(blob!.metadata.serverversion).toMatch(/^\d+\.\d+/);
    expect(blob!.metadata.pgdumpversion).toMatch(/^\d+\.\d+/);
    // the recorded checksum is the checksum of what was committed
    const { createHash } = await import("node:crypto");
    const h = createHash("sha256");
    for await (const chunk of await store.download(t.container, result.blobName)) h.update(chunk as Buffer);
    expect(h.digest("hex")).toBe(result.sha256);

    const restored = `bk_restored_${suffix}`;
    await createDb(restored);
    const r = await restoreBackup(t, "latest", urlFor(restored), { store, env: env(), logger });
    expect(r.blobName).toBe(result.blobName);
    expect(await rowsOf(restored)).toEqual(await rowsOf(dbName));
  });

  it("verifies the newest backup in a scratch database, drops it, and marks the blob", async () => {
    const t = target();
    const v = await verifyBackup(t, "latest", connectionFromUrl(superUrl), { store, env: env(), logger });
    expect(v).toMatchObject({ tables: 2, exactChecked: 2 });
    const [newest] = await listBackups(store, t);
    expect(newest!.metadata.verified).toBe(v.verifiedAt);
    const left = await admin.query("select 1 from pg_database where datname like 'pbverify_shop_%'");
    expect(left.rowCount).toBe(0);
  });

  it("fails verification when the restored data differs from what the backup recorded", async () => {
    const t = target();
    const [newest] = await listBackups(store, t);
    await store.setMetadata(
      t.container,
      newest!.name,
      { ...newest!.metadata, rows: "public.items=39999;public.tags=3;public.gone=1" },
      newest!.etag,
    );
    await expect(verifyBackup(t, "latest", connectionFromUrl(superUrl), { store, env: env(), logger })).rejects.toThrow(
      /public\.items has 40000 rows, the backup recorded 39999; table public\.gone is missing/,
    );
  });

  it("commits no blob when pg_dump is killed mid-stream, and reports why", async () => {
    const t = target({ name: "killed" });
    const bin = wrapperBin(
      "killed",
      `[ "$1" = "--version" ] && exec "$REAL/pg_dump" --version\n"$REAL/pg_dump" "$@" | head -c 300000\necho "pg_dump: simulated crash (password=${rolePassword})" >&2\nkill -9 $$`,
    );
    const err = await runBackup(t, { store, env: { ...env(), PG_BIN_DIR: bin }, logger }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(PgDumpError);
    expect((err as Error).message).toMatch(/pg_dump was killed by SIGKILL: pg_dump: simulated crash/);
    expect((err as Error).message).not.toContain(rolePassword);
    expect(await store.list(t.container, "test/killed/")).toEqual([]);

    const exit1 = wrapperBin(
      "exit1",
      `[ "$1" = "--version" ] && exec "$REAL/pg_dump" --version\n"$REAL/pg_dump" "$@" | head -c 5000000\necho "pg_dump: error: out of disk" >&2\nexit 1`,
    );
    await expect(runBackup(t, { store, env: { ...env(), PG_BIN_DIR: exit1 }, logger })).rejects.toThrow(
      /pg_dump exited with code 1: pg_dump: error: out of disk/,
    );
    expect(await store.list(t.container, "test/killed/")).toEqual([]);
  });

  it("refuses when pg_dump is older than the server, before dumping anything", async () => {
    const marker = join(work, "dumped");
    const bin = wrapperBin(
      "old",
      `[ "$1" = "--version" ] && { echo "pg_dump (PostgreSQL) 9.6.24"; exit 0; }\ntouch ${marker}\nexec "$REAL/pg_dump" "$@"`,
    );
    const t = target({ name: "old" });
    await expect(runBackup(t, { store, env: { ...env(), PG_BIN_DIR: bin }, logger })).rejects.toThrow(
      BackupRefusedError,
    );
    await expect(runBackup(t, { store, env: { ...env(), PG_BIN_DIR: bin }, logger })).rejects.toThrow(
      /pg_dump 9\.6 .* is older than the server \(PostgreSQL \d+/,
    );
    expect(existsSync(marker)).toBe(false);
    expect(await store.list(t.container, "test/old/")).toEqual([]);
  });

  it("backs up a preview database on demand from its connection URL", async () => {
    const r = await backupPreviewDatabase(
      urlFor(dbName, role, rolePassword),
      { name: "pr-42", container: `bk-${suffix}`, prefix: "previews/" },
      { store, env: { PATH: process.env.PATH, PG_BIN_DIR: realBin }, logger },
    );
    expect(r.blobName).toMatch(/^previews\/pr-42\/pr-42-\d{8}T\d{9}Z\.dump$/);
    expect((await store.get(`bk-${suffix}`, r.blobName))!.metadata.kind).toBe("preview");
  });

  it("prunes outside the retention policy; dry-run only lists", async () => {
    const t = target({ name: "ret", retention: { keepLast: 2, keepDaily: 0, keepWeekly: 0 } });
    const times = ["2026-11-20T01:00:00Z", "2026-11-21T01:00:00Z", "2026-11-22T01:00:00Z", "2026-11-23T01:00:00Z"];
    for (const at of times) await runBackup(t, { store, env: env(), logger, now: () => new Date(at) });
    const dry = await pruneBackups(t, t.retention, { store, dryRun: true, logger });
    expect(dry.pruned).toEqual(["test/ret/ret-20261121T010000000Z.dump", "test/ret/ret-20261120T010000000Z.dump"]);
    expect(await listBackups(store, t)).toHaveLength(4);
    const real = await pruneBackups(t, t.retention, { store, logger });
    expect(real.pruned).toEqual(dry.pruned);
    expect((await listBackups(store, t)).map((b) => b.name)).toEqual([
      "test/ret/ret-20261123T010000000Z.dump",
      "test/ret/ret-20261122T010000000Z.dump",
    ]);
  });

  it("never prunes the newest verified backup while the newer ones were not verified", async () => {
    const t = target({ name: "ver", verify: true, retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0 } });
    const times = ["2026-11-20T01:00:00Z", "2026-11-21T01:00:00Z", "2026-11-22T01:00:00Z"];
    for (const at of times) await runBackup(t, { store, env: env(), logger, now: () => new Date(at) });
    await verifyBackup(t, "test/ver/ver-20261120T010000000Z.dump", connectionFromUrl(superUrl), {
      store,
      env: env(),
      logger,
    });
    const r = await pruneBackups(t, t.retention, { store, logger });
    expect(r.pruned).toEqual(["test/ver/ver-20261121T010000000Z.dump"]);
    expect(r.kept).toEqual([
      { name: "test/ver/ver-20261122T010000000Z.dump", reasons: ["last 1"] },
      { name: "test/ver/ver-20261120T010000000Z.dump", reasons: ["newest verified"] },
    ]);
  });

  it("CLI: run, list, verify, prune --dry-run, restore; bad usage exits 2; failures exit 1; nothing secret printed", async () => {
    const u = new URL(superUrl);
    const cliEnv = {
      ...env(),
      BACKUP_TARGETS: JSON.stringify({
        targets: [
          {
            name: "cli",
            host: u.hostname,
            port: Number(u.port),
            database: dbName,
            user: role,
            passwordEnv: "BK_PW",
            schedule: "0 3 * * *",
            container: `bk-${suffix}`,
            verify: true,
          },
        ],
      }),
      AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
      BACKUP_SCRATCH_URL: superUrl,
    };
    const outputs: string[] = [];
    const cli = async (...argv: string[]) => {
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let text = "";
      stdout.on("data", (b: Buffer) => (text += b.toString()));
      stderr.on("data", (b: Buffer) => (text += b.toString()));
      const code = await runBackupCli(argv, { stdout, stderr, env: cliEnv });
      outputs.push(text);
      return { code, text };
    };
    const run = await cli("run", "cli");
    expect(run).toMatchObject({ code: 0 });
    expect(run.text).toMatch(
      /Backup of \*cli\* done: .* 2 tables.*\n`bk-.*\/cli\/cli-\d{8}T\d{9}Z\.dump` · :white_check_mark: verified/,
    );
    expect((await cli("list", "cli")).text).toMatch(/^\S+Z\s+\S+ \S+\s+verified\s+cli\/cli-\d{8}T\d{9}Z\.dump\n$/);
    expect(await cli("verify", "cli")).toMatchObject({
      code: 0,
      text: expect.stringMatching(/^verified cli\/cli-.*: 2 tables, 2 exact row counts matched/),
    });
    expect(await cli("prune", "cli", "--dry-run")).toMatchObject({
      code: 0,
      text: expect.stringMatching(/^keep {4}cli\/cli-.* \(last 1, daily .*, weekly .*\)\n$/),
    });
    const seeded = `bk_seed_${suffix}`;
    await createDb(seeded);
    expect(await cli("restore", "cli", "latest", "--to", urlFor(seeded))).toMatchObject({
      code: 0,
      text: expect.stringMatching(/^restored cli\/cli-.* into database bk_seed_/),
    });
    expect(await rowsOf(seeded)).toHaveLength(40000);
    expect((await cli("--help")).code).toBe(0);
    expect(await cli("frobnicate", "cli")).toMatchObject({
      code: 2,
      text: expect.stringMatching(/unknown command "frobnicate"/),
    });
    expect(await cli("run", "nope")).toMatchObject({
      code: 1,
      text: expect.stringMatching(/unknown backup target "nope" \(known: cli\)/),
    });
    // a failing run: wrong password → exit 1 with the reason, not the password
    const bad = await runBackupCli(["run", "cli"], {
      stdout: new PassThrough(),
      stderr: new PassThrough().on("data", (b: Buffer) => outputs.push(b.toString())),
      env: { ...cliEnv, BK_PW: "Wr0ngPassw0rd-xyz" },
    });
    expect(bad).toBe(1);
    expect(outputs.at(-1)).toMatch(
      /Backup of \*cli\* failed: backing up "cli" \(bk_role_\w+@127\.0\.0\.1:\d+\/bk_src_\w+\): connecting to PostgreSQL .*password authentication failed/,
    );
    const all = [...outputs, ...logLines].join("\n");
    for (const secret of [rolePassword, superPassword, DEV_KEY, "Wr0ngPassw0rd-xyz"]) expect(all).not.toContain(secret);
    expect(logLines.length).toBeGreaterThan(5);
  });
});
