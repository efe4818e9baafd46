/**
 * The seat stores, one contract for both: in memory (one process) and in the real PostgreSQL (replicas, restarts).
 * PostgreSQL also gets the race the caps must survive: two replicas' stores, each on its own connection pool,
 * claiming and releasing at once.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import type { Caps } from "../../../../src/services/preview/fleet/fair-order.js";
import { createLogger } from "../../../../src/logger.js";
import { createFleet } from "../../../../src/services/preview/fleet/fleet.js";
import { PgSeatStore } from "../../../../src/services/preview/fleet/seat-store-pg.js";
import {
  MemorySeatStore,
  type SeatRequest,
  type SeatStore,
} from "../../../../src/services/preview/fleet/seat-store.js";
import type { PreviewJob } from "../../../../src/services/shared/dispatch.js";
import { createTestDatabase } from "../../../support/pg-database.js";

function request(key: string, author = "ann", limits = {}): SeatRequest {
  const [full, n] = key.split("#") as [string, string];
  const [owner, repo] = full.split("/") as [string, string];
  const job: PreviewJob = {
    installationId: 1,
    owner,
    repo,
    number: Number(n),
    trigger: "push by @ann",
    source: "webhook",
    action: "deploy",
  };
  return {
    key,
    repo: full,
    author,
    limits,
    job,
    facts: {
      ref: { owner, repo, number: Number(n), branch: "b", sha: "a".repeat(40) },
      names: {
        key,
        namespace: `${repo}-pr-${n}`,
        hostLabel: `${repo}-pr-${n}`,
        database: "d",
        role: "r",
        secret: "s",
        labels: {},
        annotations: {},
        environment: `preview/${repo}-pr-${n}`,
      },
      trigger: "push by @ann",
    },
  };
}
const keys = (xs: readonly { key: string }[]) => xs.map((x) => x.key);

let db: Awaited<ReturnType<typeof createTestDatabase>>;
const pools: pg.Pool[] = [];
const newPool = () => {
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  pool.on("error", () => undefined); // an idle connection closed by the server at the end
  pools.push(pool);
  return pool;
};

beforeAll(async () => {
  db = await createTestDatabase("fleet_seats");
});
afterAll(async () => {
  for (const p of pools) await p.end();
  await db?.drop();
});

/** A store on an empty state (the PostgreSQL one: its tables dropped first). */
const stores: Array<[string, () => Promise<SeatStore>]> = [
  ["in memory", async () => new MemorySeatStore()],
  [
    "in PostgreSQL",
    async () => {
      const pool = newPool();
      await pool.query(
        "drop table if exists preview_bot_fleet_seats, preview_bot_fleet_waiting, preview_bot_fleet_served, preview_bot_fleet_withdrawn",
      );
      return new PgSeatStore(pool);
    },
  ],
];

describe.each(stores)("the seat store %s", (_name, make) => {
  const caps: Caps = { total: 2 };

  it("grants seats while there are free ones, then keeps arrivals waiting in order; a holder keeps its seat", async () => {
    const s = await make();
    expect((await s.claim(request("a/x#1"), caps)).granted).toBe(true);
    expect((await s.claim(request("b/y#1"), caps)).granted).toBe(true);
    const third = await s.claim(request("a/x#2"), caps);
    expect(third.granted).toBe(false);
    expect(keys(third.waiting)).toEqual(["a/x#2"]);
    // c/z was never served, a/x was: c/z goes first although it came later (round-robin across repositories)
    expect(keys((await s.claim(request("c/z#1"), caps)).waiting)).toEqual(["c/z#1", "a/x#2"]);
    // a redeploy of a running preview keeps its seat
    expect((await s.claim(request("a/x#1"), caps)).granted).toBe(true);
    // a waiting deploy asked again (a push) keeps its place, with the newer job
    const again = request("a/x#2");
    again.job.trigger = "push by @bo";
    const kept = await s.claim(again, caps);
    expect(keys(kept.waiting)).toEqual(["c/z#1", "a/x#2"]);
    expect(kept.waiting[1]!.job.trigger).toBe("push by @bo");
  });

  it("a release starts the next in line (round-robin: the repository not served yet first)", async () => {
    const s = await make();
    await s.claim(request("a/x#1"), caps);
    await s.claim(request("a/x#2"), caps);
    await s.claim(request("a/x#3"), caps);
    await s.claim(request("b/y#1"), caps);
    const t = await s.release("a/x#1", caps);
    expect(t.granted).toBe(false);
    expect(keys(t.promoted)).toEqual(["b/y#1"]);
    expect(keys(t.waiting)).toEqual(["a/x#3"]);
    expect(keys(t.seats).sort()).toEqual(["a/x#2", "b/y#1"]);
    // a release of something waiting just leaves the line
    const left = await s.release("a/x#3", caps);
    expect(left.waiting).toEqual([]);
    expect(left.promoted).toEqual([]);
  });

  it("names the waiting deploys that leave the line without a seat: superseded by a newer commit, or released", async () => {
    const s = await make();
    await s.claim(request("a/x#1"), caps);
    await s.claim(request("a/x#2"), caps);
    const first = await s.claim(request("a/x#3"), caps);
    expect(first.withdrawn).toEqual([]);
    // the same commit asked again is the same deploy: nothing withdrawn
    expect((await s.claim(request("a/x#3"), caps)).withdrawn).toEqual([]);
    const pushed = request("a/x#3");
    pushed.facts.ref = { ...pushed.facts.ref, sha: "b".repeat(40) };
    const t = await s.claim(pushed, caps);
    expect(t.withdrawn.map((w) => [w.entry.key, w.entry.facts.ref.sha, w.why])).toEqual([
      ["a/x#3", "a".repeat(40), "superseded"],
    ]);
    expect(t.waiting.map((w) => w.facts.ref.sha)).toEqual(["b".repeat(40)]);
    const closed = await s.release("a/x#3", caps);
    expect(closed.withdrawn.map((w) => [w.entry.facts.ref.sha, w.why])).toEqual([["b".repeat(40), "released"]]);
    // releasing a seat holder withdraws nothing: it never waited
    expect((await s.release("a/x#1", caps)).withdrawn).toEqual([]);
  });

  it("an asleep preview frees its seat for the next in line and counts again when it wakes", async () => {
    const s = await make();
    await s.claim(request("a/x#1"), caps);
    await s.claim(request("a/x#2"), caps);
    await s.claim(request("a/x#3"), caps);
    const slept = await s.setAsleep("a/x#1", true, caps);
    expect(keys(slept.promoted)).toEqual(["a/x#3"]);
    expect((await s.snapshot()).asleepSince.has("a/x#1")).toBe(true);
    await s.setAsleep("a/x#1", false, caps);
    const snap = await s.snapshot();
    expect(snap.seats.filter((x) => x.state === "running")).toHaveLength(3); // over the cap until one goes
    expect((await s.claim(request("b/y#1"), caps)).granted).toBe(false);
  });

  it("reconciles with what exists: previews hold seats, seats of previews that are gone and idle are given up", async () => {
    const s = await make();
    await s.claim(request("a/x#1"), caps); // its preview is gone and nothing works on it
    await s.claim(request("a/x#2"), caps); // being deployed: busy
    await s.claim(request("a/x#3"), caps); // waits
    const t = await s.reconcile(
      [{ key: "b/y#7", repo: "b/y", author: "cy" }], // a preview from before the caps
      new Set(["a/x#2"]),
      caps,
    );
    expect(keys(t.seats).sort()).toEqual(["a/x#2", "b/y#7"]);
    expect(keys(t.waiting)).toEqual(["a/x#3"]);
  });

  it("keeps the line across a restart", async () => {
    const s = await make();
    await s.claim(request("a/x#1"), { total: 1 });
    await s.claim(request("a/x#2"), { total: 1 });
    const restarted = s instanceof PgSeatStore ? new PgSeatStore(pools.at(-1)!) : s;
    expect(keys((await restarted.snapshot()).waiting)).toEqual(["a/x#2"]);
    expect(keys((await restarted.release("a/x#1", { total: 1 })).promoted)).toEqual(["a/x#2"]);
  });
});

describe("withdrawals in PostgreSQL", () => {
  it("a withdrawal recorded with its transition but cut short by a crash is done at the next start, once", async () => {
    const pool = newPool();
    await pool.query(
      "drop table if exists preview_bot_fleet_seats, preview_bot_fleet_waiting, preview_bot_fleet_served, preview_bot_fleet_withdrawn",
    );
    const caps: Caps = { total: 1 };
    const at = (key: string, sha: string) => {
      const r = request(key);
      r.facts.ref = { ...r.facts.ref, sha: sha.repeat(40) };
      return r;
    };
    const before = new PgSeatStore(pool);
    await before.claim(at("a/x#1", "a"), caps);
    await before.claim(at("a/x#2", "a"), caps);
    // A push supersedes the waiting deploy; the process dies before the queued check run is concluded.
    const cut = await before.claim(at("a/x#2", "b"), caps);
    expect(cut.withdrawn.map((w) => [w.entry.facts.ref.sha[0], w.why, typeof w.id])).toEqual([
      ["a", "superseded", "string"],
    ]);

    const events: string[] = [];
    const restarted = new PgSeatStore(pool);
    const fleet = createFleet({
      seats: restarted,
      caps,
      start: async () => undefined,
      withdraw: async (entry, why) => void events.push(`${entry.key}@${entry.facts.ref.sha[0]} ${why}`),
      logger: createLogger({ level: "silent" }),
    });
    await fleet.pump(); // the bot's start
    await fleet.settled();
    expect(events).toEqual(["a/x#2@a superseded"]);
    expect(await restarted.pendingWithdrawals()).toEqual([]);
    await fleet.pump();
    await fleet.settled();
    expect(events).toEqual(["a/x#2@a superseded"]); // done once

    // Without a crash the record goes as soon as the check run is concluded.
    await fleet.release("a/x#2");
    await fleet.settled();
    expect(events).toEqual(["a/x#2@a superseded", "a/x#2@b released"]);
    expect(await restarted.pendingWithdrawals()).toEqual([]);
  });
});

describe("two replicas' PostgreSQL stores at once", () => {
  it("never grant more seats than the caps, however the claims and releases interleave", async () => {
    const db2 = newPool();
    await db2.query(
      "drop table if exists preview_bot_fleet_seats, preview_bot_fleet_waiting, preview_bot_fleet_served",
    );
    const replicas = [new PgSeatStore(db2), new PgSeatStore(newPool())];
    const caps: Caps = { total: 3, perRepo: 2 };
    const repos = ["a/x", "b/y", "c/z"];
    const wanted = Array.from({ length: 30 }, (_, i) => `${repos[i % 3]}#${i + 1}`);
    const granted = await Promise.all(wanted.map((k, i) => replicas[i % 2]!.claim(request(k), caps)));
    expect(granted.filter((t) => t.granted)).toHaveLength(3);
    // every transition saw the caps kept
    for (const t of granted) expect(t.seats.filter((x) => x.state === "running").length).toBeLessThanOrEqual(3);
    // now release everything at once from both replicas: each release starts at most what fits
    let running = (await replicas[0]!.snapshot()).seats.map((x) => x.key);
    const started: string[] = [];
    while (running.length) {
      const ts = await Promise.all(running.map((k, i) => replicas[i % 2]!.release(k, caps)));
      for (const t of ts) {
        expect(t.seats.filter((x) => x.state === "running").length).toBeLessThanOrEqual(3);
        for (const r of repos) expect(t.seats.filter((x) => x.repo === r).length).toBeLessThanOrEqual(2);
        started.push(...keys(t.promoted));
      }
      running = (await replicas[1]!.snapshot()).seats.map((x) => x.key);
    }
    const end = await replicas[0]!.snapshot();
    expect(end.waiting).toEqual([]);
    // every deploy got its seat exactly once: the 3 first granted, the other 27 promoted
    expect(new Set(started).size).toBe(27);
    expect(started).toHaveLength(27);
  });
});
