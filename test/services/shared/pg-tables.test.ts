/** State tables created by several replicas at once, on the real PostgreSQL server. */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { createTableOnce } from "../../../src/services/shared/pg-tables.js";
import { createTestDatabase } from "../../support/pg-database.js";

describe("createTableOnce", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pools: pg.Pool[];

  beforeAll(async () => {
    db = await createTestDatabase("pg_tables");
    // One pool per "replica", each with its own connections, as two bots starting at once have.
    pools = Array.from({ length: 6 }, () => new pg.Pool({ connectionString: db.url, max: 2 }));
    // As production's pool does (deps.ts): an idle connection the server ends (other test files terminate sessions
    // on the shared server) is logged there, not thrown; the pool opens a new one for the next query.
    for (const p of pools) p.on("error", () => undefined);
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await db.drop();
  });

  it("lets every replica create the same table at the same moment, and the table is there", async () => {
    for (let round = 0; round < 15; round++) {
      const table = `state_${round}`;
      const ddl = `create table if not exists ${table} (key text primary key, value text not null)`;
      await Promise.all(pools.flatMap((p) => [createTableOnce(p, table, ddl), createTableOnce(p, table, ddl)]));
      const { rows } = await pools[0]!.query(
        "select count(*)::int as n from information_schema.tables where table_name = $1",
        [table],
      );
      expect(rows[0].n).toBe(1);
    }
  });

  it("reports any other failure, naming the table", async () => {
    await expect(
      createTableOnce(pools[0]!, "broken", "create table if not exists broken (key nosuchtype)"),
    ).rejects.toThrow(/creating the table broken: type "nosuchtype" does not exist/);
  });
});
