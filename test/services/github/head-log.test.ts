/**
 * The head log (every sighting of a fork PR's head, by GitHub's clock) in memory and on the real PostgreSQL, shared by
 * two replicas' pools.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { MAX_SIGHTINGS, MemoryHeadLog, PgHeadLog, type HeadLog } from "../../../src/services/github/head-log.js";
import { createTestDatabase } from "../../support/pg-database.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
const pools: pg.Pool[] = [];

beforeAll(async () => {
  db = await createTestDatabase("head_log");
  pools.push(new pg.Pool({ connectionString: db.url }), new pg.Pool({ connectionString: db.url }));
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await db?.drop();
});

describe.each<[string, () => [HeadLog, HeadLog]]>([
  [
    "in memory",
    () => {
      const one = new MemoryHeadLog();
      return [one, one];
    },
  ],
  ["in PostgreSQL, across replicas", () => [new PgHeadLog(pools[0]!), new PgHeadLog(pools[1]!)]],
])("the head log %s", (_name, make) => {
  it("keeps every sighting in time order, a force-push back to an older commit included, per pull request", async () => {
    const [a, b] = make();
    const key = `acme/web#${Math.floor(Math.random() * 1e6)}`;
    await Promise.all([
      a.record(key, "abc", "2026-11-01T10:05:00.000Z"),
      b.record(key, "abc", "2026-11-01T10:05:00.000Z"), // the same delivery on two replicas: one sighting
    ]);
    await b.record(key, "def", "2026-11-01T10:07:00.000Z");
    await b.record(key, "abc", "2026-11-01T10:09:00.000Z"); // pushed back: a new interval of abc
    await a.record(key, "abc", "2026-11-01T10:01:00.000Z"); // an older delivery arriving late
    expect(await b.sightings(key)).toEqual([
      { sha: "abc", at: "2026-11-01T10:01:00.000Z" },
      { sha: "abc", at: "2026-11-01T10:05:00.000Z" },
      { sha: "def", at: "2026-11-01T10:07:00.000Z" },
      { sha: "abc", at: "2026-11-01T10:09:00.000Z" },
    ]);
    expect(await a.sightings("acme/web#0")).toEqual([]);
  });

  it(`keeps the newest ${MAX_SIGHTINGS} sightings of a pull request`, async () => {
    const [a] = make();
    const key = `acme/storm#${Math.floor(Math.random() * 1e6)}`;
    const base = Date.parse("2026-11-01T10:00:00.000Z");
    for (let i = 0; i < MAX_SIGHTINGS + 5; i++) await a.record(key, `s${i}`, new Date(base + i * 1000).toISOString());
    const kept = await a.sightings(key);
    expect(kept).toHaveLength(MAX_SIGHTINGS);
    expect(kept[0]!.sha).toBe("s5");
    expect(kept.at(-1)!.sha).toBe(`s${MAX_SIGHTINGS + 4}`);
  });
});
