/**
 * A pool client whose connection dies while it is checked out (PostgreSQL terminating its backend, as a restart does)
 * must not end the process: node-postgres emits `error` on it and pg-pool listens only to idle clients. On a real
 * PostgreSQL: the failure reaches the holder through its next query, and the pool goes on with a new connection.
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import pg from "pg";
import { guardPoolClients } from "../../../src/services/shared/pg-pool.js";
import { createTestDatabase } from "../../support/pg-database.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase("pg_pool_guard");
}, 60_000);
afterAll(async () => {
  await db?.drop();
});

it("survives the connection of a checked-out client being terminated, and reports it through the next query", async () => {
  const pool = guardPoolClients(new pg.Pool({ connectionString: db.url, max: 2 }));
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on("uncaughtException", onUncaught);
  try {
    const client = await pool.connect();
    const { rows } = await client.query<{ pid: number }>("select pg_backend_pid() as pid");
    const ended = new Promise<void>((r) => client.once("end", () => r()));
    await admin.query("select pg_terminate_backend($1)", [rows[0]!.pid]);
    await ended; // the client saw its connection go (and emitted `error` on the way)
    await expect(client.query("select 1")).rejects.toThrow();
    client.release(true);
    expect((await pool.query<{ one: number }>("select 1 as one")).rows[0]!.one).toBe(1);
    expect(uncaught).toEqual([]);
  } finally {
    process.off("uncaughtException", onUncaught);
    await admin.end();
    await pool.end();
  }
}, 60_000);
