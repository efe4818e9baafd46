/**
 * The head log (when each fork PR head was first seen, by GitHub's clock) in memory and on the real PostgreSQL,
 * shared by two replicas' pools.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { MemoryHeadLog, PgHeadLog, type HeadLog } from "../../../src/services/github/head-log.js";
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
  it("keeps the earliest time a head was seen, per pull request", async () => {
    const [a, b] = make();
    const key = `acme/web#${Math.floor(Math.random() * 1e6)}`;
    await Promise.all([
      a.record(key, "abc", "2026-11-01T10:05:00.000Z"),
      b.record(key, "abc", "2026-11-01T10:05:00.000Z"),
    ]);
    await b.record(key, "abc", "2026-11-01T10:09:00.000Z"); // seen again later (a force-push back): still 10:05
    await a.record(key, "abc", "2026-11-01T10:01:00.000Z"); // an older delivery arriving late: now 10:01
    expect(await b.firstSeen(key, "abc")).toBe("2026-11-01T10:01:00.000Z");
    expect(await a.firstSeen(key, "def")).toBeUndefined();
    expect(await a.firstSeen("acme/web#0", "abc")).toBeUndefined();
  });
});
