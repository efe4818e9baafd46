/**
 * An enqueue whose connection is reset (ECONNRESET) in the middle of its transaction is tried again on another
 * connection, so a `/preview` comment's job is not lost to a blip: on a real PostgreSQL, through a TCP hop that resets
 * the connection sending the enqueue's `begin`. And a redelivered comment after such a retry is still answered once.
 */
import { createServer, Socket, type Server } from "node:net";
import { Writable } from "node:stream";
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import pg from "pg";
import { enqueueComment, type CommentJob } from "../../../src/intake/comment-job.js";
import { createLogger } from "../../../src/logger.js";
import { createPgQueue, type PgQueue } from "../../../src/services/jobs/queue-pg.js";
import { createTestDatabase } from "../../support/pg-database.js";

const DEADLINE = 120_000;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let hop: Server;
let pool: pg.Pool;
let queue: PgQueue;
/** Connections still to reset when they send `begin` (the enqueue's transaction). */
let resetBegins = 0;
let resets = 0;
const sockets: Socket[] = [];
const lines: string[] = [];

/** A PostgreSQL simple-protocol Query message ('Q') whose text is `begin`. */
const isBegin = (chunk: Buffer) => chunk[0] === 0x51 && /^begin\b/i.test(chunk.toString("utf8", 5, 10));

beforeAll(async () => {
  db = await createTestDatabase("queue_enqueue_retry");
  const target = new URL(db.url);
  hop = createServer((client) => {
    const server = new Socket();
    sockets.push(client, server);
    client.on("error", () => undefined);
    server.on("error", () => undefined);
    server.connect(Number(target.port || 5432), target.hostname, () => {
      client.on("data", (chunk: Buffer) => {
        if (resetBegins > 0 && isBegin(chunk)) {
          resetBegins--;
          resets++;
          client.resetAndDestroy(); // the client sees ECONNRESET
          server.destroy();
          return;
        }
        server.write(chunk);
      });
      server.pipe(client);
    });
  });
  await new Promise<void>((r) => hop.listen(0, "127.0.0.1", r));
  const url = new URL(db.url);
  url.hostname = "127.0.0.1";
  url.port = String((hop.address() as { port: number }).port);
  pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
  pool.on("error", () => undefined);
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  queue = createPgQueue({ pool, work: false, logger: createLogger({ destination, level: "warn" }) });
}, DEADLINE);

afterAll(async () => {
  await queue?.stop(2_000);
  await pool?.end();
  for (const s of sockets) s.destroy();
  await new Promise((r) => hop?.close(r));
  await db?.drop();
});

const comment = (deliveryId: string): CommentJob => ({
  installationId: 7,
  owner: "acme",
  repo: "web",
  number: 42,
  actor: "octocat",
  commentId: 1,
  commentedAt: "2026-12-07T15:00:00Z",
  parsed: { type: "command", command: { name: "deploy" } },
  deliveryId,
});

it(
  "queues a /preview comment whose enqueue was reset mid-transaction, once, on another connection",
  async () => {
    // Connected and the schema made first, so the reset lands on the enqueue itself.
    await enqueueComment(queue, comment("warm-up"));
    resetBegins = 1;
    const { deduplicated } = await enqueueComment(queue, comment("delivery-1"));
    expect(resets).toBe(1);
    expect(deduplicated).toBe(false);
    const retried = lines.map((l) => JSON.parse(l) as { msg: string; attempt?: number }).filter((l) => l.attempt);
    expect(retried).toHaveLength(1);
    expect(retried[0]!.msg).toMatch(/ECONNRESET|Connection terminated/);

    const check = new pg.Client({ connectionString: db.url });
    await check.connect();
    try {
      const { rows } = await check.query<{ n: string }>(
        "select count(*) as n from pgboss.job where data->'payload'->>'deliveryId' = 'delivery-1'",
      );
      expect(Number(rows[0]!.n)).toBe(1);
    } finally {
      await check.end();
    }
    // GitHub's redelivery of the same comment is recognised.
    expect((await enqueueComment(queue, comment("delivery-1"))).deduplicated).toBe(true);
  },
  DEADLINE,
);
