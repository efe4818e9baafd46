/**
 * node-postgres emits `error` on a client whose connection dies (PostgreSQL restarting, a connection reset), and
 * pg-pool listens for it only while the client is idle in the pool. A client checked out at that moment (a
 * transaction, a job's advisory-lock connection held for the whole job) has nobody listening: the event becomes an
 * uncaught exception and the process ends. So every client of a pool gets a listener of its own for its whole life;
 * the failure still reaches whoever uses the client through its query, and pg-pool still drops a broken idle one.
 */
import type pg from "pg";

export function guardPoolClients(pool: pg.Pool, onError: (err: Error) => void = () => undefined): pg.Pool {
  pool.on("connect", (client) => {
    client.on("error", onError);
  });
  return pool;
}
