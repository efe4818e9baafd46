#!/usr/bin/env node
/**
 * Backup benchmark (not a test): raw `pg_dump -Fc > /dev/null` vs backup streamed to Azurite, peak RSS of the
 * backup at two sizes (flat memory), and restore streamed from Azurite vs raw `pg_restore` from a local file (both
 * twice, in ABBA order, best of two).
 * Usage: node bench/backup.mjs [--size-mb 1024] [--no-build]. Starts its own PostgreSQL and Azurite.
 */
import { execFile, execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parseArgs, promisify } from "node:util";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");
const { values } = parseArgs({
  options: { "size-mb": { type: "string", default: "1024" }, "no-build": { type: "boolean" } },
});
const sizeMb = Number(values["size-mb"]);
const run = promisify(execFile);

if (!values["no-build"]) {
  const r = spawnSync(
    process.execPath,
    [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "tsconfig.build.json")],
    { encoding: "utf8" },
  );
  if (r.status !== 0)
    console.error(`tsc reported errors (emitting anyway):\n${r.stdout.split("\n").slice(0, 5).join("\n")}`);
}
const { createLogger } = await import("../dist/logger.js");
const b = await import("../dist/services/data/backups/index.js");

const freePort = () =>
  new Promise((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => ok(p));
    });
  });
const secs = (ms) => (ms / 1000).toFixed(1);
const mb = (n) => (n / 1048576).toFixed(0);

// --- PostgreSQL (initdb + pg_ctl as the postgres user when root) ---
const binDir =
  process.env.PG_BIN_DIR ??
  join("/usr/lib/postgresql", readdirSync("/usr/lib/postgresql").sort((x, y) => y - x)[0], "bin");
const base = mkdtempSync(join(tmpdir(), "preview-bot-bench-"));
const password = `bench${Math.random().toString(36).slice(2)}`;
writeFileSync(join(base, "pw"), password);
const asRoot = process.getuid?.() === 0;
if (asRoot) {
  chmodSync(base, 0o777);
  execFileSync("chown", ["-R", "postgres:postgres", base]);
}
const pgRun = (cmd, args) => {
  const full = join(binDir, cmd);
  const r = asRoot
    ? spawnSync("runuser", ["-u", "postgres", "--", full, ...args], { encoding: "utf8" })
    : spawnSync(full, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
};
pgRun("initdb", [
  "-D",
  join(base, "data"),
  "-U",
  "postgres",
  "--auth=scram-sha-256",
  `--pwfile=${join(base, "pw")}`,
  "-E",
  "UTF8",
  "--locale=C",
]);
const pgPort = await freePort();
pgRun("pg_ctl", [
  "-D",
  join(base, "data"),
  "-o",
  `-c listen_addresses=127.0.0.1 -c port=${pgPort} -c unix_socket_directories=${base} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=4GB`,
  "-l",
  join(base, "log"),
  "-w",
  "start",
]);
const url = (db) => `postgres://postgres:${password}@127.0.0.1:${pgPort}/${db}`;

// --- Azurite (in memory) ---
const azCwd = mkdtempSync(join(tmpdir(), "preview-bot-bench-az-"));
const az = spawn(
  join(ROOT, "node_modules/.bin/azurite-blob"),
  [
    "--inMemoryPersistence",
    "--blobHost",
    "127.0.0.1",
    "--blobPort",
    "0",
    "--skipApiVersionCheck",
    "--disableTelemetry",
  ],
  { cwd: azCwd, stdio: ["ignore", "pipe", "inherit"] },
);
const azPort = await new Promise((ok, no) => {
  let s = "";
  az.stdout.on("data", (d) => {
    s += d;
    const m = /listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(s);
    if (m) ok(Number(m[1]));
  });
  az.once("exit", () => no(new Error(s)));
});
az.stdout.resume();
const KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const store = b.createBlobStore({
  connectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${KEY};BlobEndpoint=http://127.0.0.1:${azPort}/devstoreaccount1;`,
});
const logger = createLogger({ level: "warn" });
const env = { PATH: process.env.PATH, PG_BIN_DIR: binDir, BENCH_PW: password };
const psql = (db, sql) =>
  run(join(binDir, "psql"), ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url(db), "-c", sql], {
    env: { PATH: process.env.PATH },
    maxBuffer: 1 << 20,
  });

async function makeDb(name, mbTarget) {
  await psql("postgres", `create database ${name}`);
  await psql(name, "create table events (id bigint primary key, kind int not null, payload text not null)");
  // ~300 bytes/row of random-ish hex (compresses about 2:1, like real text); ~1.05 GB heap per 1024 MB asked
  const rows = Math.ceil((mbTarget * 1048576) / 300);
  const step = 500_000;
  for (let from = 1; from <= rows; from += step) {
    const to = Math.min(rows, from + step - 1);
    await psql(
      name,
      `insert into events select g, g % 17, md5(g::text) || md5(random()::text) || repeat(md5((g % 1000)::text), 6) || md5(random()::text) from generate_series(${from}, ${to}) g`,
    );
  }
  await psql(name, "create table small (k text primary key, v int)");
  await psql(name, "insert into small select 'k' || g, g from generate_series(1, 1000) g");
  const { stdout } = await run(
    join(binDir, "psql"),
    ["-X", "-At", "-d", url(name), "-c", "select pg_database_size(current_database())"],
    { env: { PATH: process.env.PATH } },
  );
  return Number(stdout.trim());
}

async function timed(fn) {
  const t = performance.now();
  const r = await fn();
  return [performance.now() - t, r];
}

async function rawDump(db, out) {
  return timed(
    () =>
      new Promise((ok, no) => {
        const fd = openSync(out, "w");
        const c = spawn(join(binDir, "pg_dump"), ["-Fc", "-d", url(db)], { stdio: ["ignore", fd, "inherit"] });
        c.once("exit", (code) => (code === 0 ? ok() : no(new Error(`pg_dump ${code}`))));
      }),
  );
}

async function backupWithRss(db) {
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const target = b.parseTargets([
    {
      name: db.replace(/_/g, "-"),
      host: "127.0.0.1",
      port: pgPort,
      database: db,
      user: "postgres",
      passwordEnv: "BENCH_PW",
      schedule: "0 3 * * *",
      container: "bench",
    },
  ])[0];
  try {
    const [ms, result] = await timed(() => b.runBackup(target, { store, env, logger }));
    return { ms, result, target, baseline, peak };
  } finally {
    clearInterval(timer);
  }
}

const rowsOut = [];
try {
  const smallMb = Math.max(16, Math.round(sizeMb / 8));
  console.error(`generating ${sizeMb} MB and ${smallMb} MB databases ...`);
  const bigBytes = await makeDb("bench_big", sizeMb);
  const smallBytes = await makeDb("bench_small", smallMb);
  const dumpFile = join(base, "big.dump");
  console.error("raw pg_dump ...");
  const [rawNullMs] = await rawDump("bench_big", "/dev/null");
  await rawDump("bench_big", dumpFile);
  console.error("backup to Azurite ...");
  const small = await backupWithRss("bench_small");
  const big = await backupWithRss("bench_big");
  console.error("restores ...");
  // Restores in ABBA order (raw, blob, blob, raw), each into a fresh database, best of two: on a shared machine
  // the order and a neighbour's load skew one run; both sides get the same chances.
  let restores = 0;
  const fresh = async () => {
    const name = `restore_${++restores}`;
    await psql("postgres", `create database ${name}`);
    return name;
  };
  const raw = async () => {
    const db = await fresh();
    return (
      await timed(() =>
        run(join(binDir, "pg_restore"), ["--no-owner", "--no-acl", "-d", url(db), dumpFile], {
          env: { PATH: process.env.PATH },
        }),
      )
    )[0];
  };
  const blob = async () => {
    const db = await fresh();
    return (
      await timed(() =>
        b.restoreBlob(big.target, big.result.blobName, b.connectionFromUrl(url(db)), { store, env, logger }),
      )
    )[0];
  };
  const rawRuns = [await raw()];
  const blobRuns = [await blob(), await blob()];
  rawRuns.push(await raw());
  const rawRestoreMs = Math.min(...rawRuns);
  const blobRestoreMs = Math.min(...blobRuns);
  rowsOut.push(
    ["database size", `${mb(bigBytes)} MB (small: ${mb(smallBytes)} MB)`, "", ""],
    ["dump size (-Fc)", `${mb(statSync(dumpFile).size)} MB`, `${mb(big.result.sizeBytes)} MB`, ""],
    [
      "raw pg_dump -Fc > /dev/null vs backup to Azurite",
      `${secs(rawNullMs)} s`,
      `${secs(big.ms)} s`,
      `${(rawNullMs / big.ms).toFixed(2)} (target ≥ 0.9)`,
    ],
    [
      "backup peak RSS over baseline, big DB",
      "",
      `${mb(big.peak - big.baseline)} MB (peak ${mb(big.peak)} MB)`,
      "target ≤ 200 MB",
    ],
    [
      "backup peak RSS over baseline, small DB",
      "",
      `${mb(small.peak - small.baseline)} MB (peak ${mb(small.peak)} MB)`,
      "flat with size",
    ],
    [
      "raw pg_restore from file vs restore from Azurite (best of 2, ABBA)",
      `${secs(rawRestoreMs)} s (${rawRuns.map(secs).join(", ")})`,
      `${secs(blobRestoreMs)} s (${blobRuns.map(secs).join(", ")})`,
      `${(rawRestoreMs / blobRestoreMs).toFixed(2)} (target ≥ 0.9)`,
    ],
  );
  console.log(`\n| measure | raw | preview-bot | ratio / note |\n|---|---|---|---|`);
  for (const r of rowsOut) console.log(`| ${r.join(" | ")} |`);
} finally {
  az.kill("SIGTERM");
  try {
    pgRun("pg_ctl", ["-D", join(base, "data"), "-m", "immediate", "-w", "stop"]);
  } catch {
    // already stopped: the cleanup goes on
  }
  rmSync(base, { recursive: true, force: true });
  rmSync(azCwd, { recursive: true, force: true });
}
