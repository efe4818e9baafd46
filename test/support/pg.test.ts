import { describe, expect, it } from "@jest/globals";
import pg from "pg";

describe("test PostgreSQL server", () => {
  it("accepts the superuser over TCP with a password and refuses a wrong one", async () => {
    const url = process.env.TEST_PG_URL!;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query<{ v: string }>("select current_setting($1) as v", ["server_version"]);
    await client.end();
    expect(rows[0]!.v).toMatch(/^\d+/);
    const bad = new pg.Client({ connectionString: url.replace(/:[^:@]+@/, ":wrong@") });
    await expect(bad.connect()).rejects.toThrow(/password authentication failed/);
  });
});
