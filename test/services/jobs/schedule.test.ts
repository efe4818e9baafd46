/** Schedules fire once per slot across replicas: two schedulers sharing one PostgreSQL lock table. */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";
import pg from "pg";
import { createLogger } from "../../../src/logger.js";
import {
  checkMissed,
  createBlobStore,
  runBackup,
  parseTargets,
  type BlobStore,
} from "../../../src/services/data/backups/index.js";
import { MemoryScheduleLock, PgScheduleLock, SlotScheduler } from "../../../src/services/jobs/schedule.js";
import { startAzurite, type TestAzurite } from "../../support/azurite.js";

const dbName = `bk_sched_${randomBytes(3).toString("hex")}`;
let admin: pg.Client;
let pools: pg.Pool[] = [];
const logger = createLogger({ level: "warn", destination: new PassThrough().resume() });

function urlFor(database: string): string {
  const u = new URL(process.env.TEST_PG_URL!);
  u.pathname = `/${database}`;
  return u.toString();
}

beforeAll(async () => {
  admin = new pg.Client({ connectionString: process.env.TEST_PG_URL! });
  await admin.connect();
  await admin.query(`create database ${admin.escapeIdentifier(dbName)}`);
  pools = [
    new pg.Pool({ connectionString: urlFor(dbName), max: 3 }),
    new pg.Pool({ connectionString: urlFor(dbName), max: 3 }),
  ];
  // An idle pooled connection closed by the server must not crash the test process (pg emits "error" on the pool).
  for (const p of pools) p.on("error", (err) => process.stderr.write(`idle pool client error: ${err.message}\n`));
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await admin.query(`drop database if exists ${admin.escapeIdentifier(dbName)} with (force)`);
  await admin.end();
});

describe("SlotScheduler", () => {
  it("fires each due slot exactly once across two instances sharing a PostgreSQL lock", async () => {
    const runs: Array<[string, string, string]> = [];
    const make = (id: string, pool: pg.Pool) =>
      new SlotScheduler({
        jobs: [
          { name: "orders", schedule: "0 */2 * * *" },
          { name: "users", schedule: "*/30 * * * *" },
        ],
        lock: new PgScheduleLock({ pool, owner: id }),
        logger,
        run: async (name, slot) => {
          runs.push([id, name, slot.toISOString()]);
          await new Promise((r) => setTimeout(r, 20));
        },
      });
    const a = make("a", pools[0]!);
    const b = make("b", pools[1]!);
    // Both replicas tick at the same moments, concurrently, over 3 hours of a simulated clock (every 5 minutes).
    for (let m = 0; m <= 180; m += 5) {
      const now = new Date(Date.UTC(2026, 10, 26, 6, m, 7));
      await Promise.all([a.tick(now), b.tick(now)]);
    }
    await Promise.all([a.idle(), b.idle()]);
    const slots = runs.map(([, name, slot]) => `${name}@${slot}`).sort();
    expect(slots).toEqual(
      [
        "orders@2026-11-26T06:00:00.000Z",
        "orders@2026-11-26T08:00:00.000Z",
        ...["06:00", "06:30", "07:00", "07:30", "08:00", "08:30", "09:00"].map((t) => `users@2026-11-26T${t}:00.000Z`),
      ].sort(),
    );
    const { rows } = await pools[0]!.query<{ n: string }>("select count(*)::text as n from preview_bot_schedule_slots");
    expect(Number(rows[0]!.n)).toBe(runs.length);
  });

  it("skips a slot it first sees too late instead of running it hours afterwards", async () => {
    const runs: string[] = [];
    const s = new SlotScheduler({
      jobs: [{ name: "nightly", schedule: "0 3 * * *" }],
      lock: new MemoryScheduleLock(),
      logger,
      maxLatenessMs: 10 * 60_000,
      run: async (n, slot) => void runs.push(`${n}@${slot.toISOString()}`),
    });
    expect(await s.tick(new Date("2026-11-26T05:00:00Z"))).toEqual([]);
    expect(await s.tick(new Date("2026-11-27T03:04:00Z"))).toEqual([
      { name: "nightly", slot: "2026-11-27T03:00:00.000Z" },
    ]);
    expect(await s.tick(new Date("2026-11-27T03:05:00Z"))).toEqual([]);
    await s.idle();
    expect(runs).toEqual(["nightly@2026-11-27T03:00:00.000Z"]);
  });
});

describe("checkMissed", () => {
  let azurite: TestAzurite;
  let store: BlobStore;
  beforeAll(async () => {
    azurite = await startAzurite();
    store = createBlobStore({ connectionString: azurite.connectionString });
  });
  afterAll(async () => azurite?.stop());

  it("calls onMissed once per slot for a target whose last backup is older than two intervals", async () => {
    const [t] = parseTargets([
      {
        name: "sched",
        url: urlFor(dbName).replace(/:[^:@/]+@/, "@"),
        passwordEnv: "PW",
        schedule: "0 */2 * * *",
        container: "missed",
      },
    ]);
    const pw = decodeURIComponent(new URL(process.env.TEST_PG_URL!).password);
    const env = { PATH: process.env.PATH, PG_BIN_DIR: process.env.TEST_PG_BIN_DIR, PW: pw };
    await runBackup(t!, { store, env, logger, now: () => new Date("2026-11-26T02:00:05Z") });
    const seen: Array<[string, string | undefined]> = [];
    const events = { onMissed: (name: string, last: Date | undefined) => void seen.push([name, last?.toISOString()]) };
    const lock = new MemoryScheduleLock();
    expect(await checkMissed([t!], { store, events, lock, now: new Date("2026-11-26T05:00:00Z") })).toEqual([]);
    expect(await checkMissed([t!], { store, events, lock, now: new Date("2026-11-26T06:01:00Z") })).toEqual(["sched"]);
    expect(await checkMissed([t!], { store, events, lock, now: new Date("2026-11-26T06:30:00Z") })).toEqual([]); // already announced for this slot
    expect(seen).toEqual([["sched", "2026-11-26T02:00:05.000Z"]]);
  });
});
