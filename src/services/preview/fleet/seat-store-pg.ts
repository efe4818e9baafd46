/**
 * The fleet's seats and waiting line in the bot's PostgreSQL (DATABASE_URL): shared by every replica, kept across
 * restarts. Each transition is one transaction that first takes a transaction-scoped advisory lock, reads the whole
 * state (a few rows per preview), applies the pure `transition` and writes back what changed — so transitions from
 * any replica happen one after another and the caps hold across replicas. A replica killed mid-transaction changes
 * nothing (the transaction rolls back, the lock goes with its session).
 */
import type pg from "pg";
import { createTableOnce } from "../../shared/pg-tables.js";
import { serviceOrder, type Caps, type Seat } from "./fair-order.js";
import {
  transition,
  type FleetState,
  type SeatRequest,
  type SeatStore,
  type SeatTransition,
  type WaitingEntry,
  type Withdrawal,
} from "./seat-store.js";

const FLEET_SEATS_TABLE = "preview_bot_fleet_seats";
const FLEET_WAITING_TABLE = "preview_bot_fleet_waiting";
const FLEET_SERVED_TABLE = "preview_bot_fleet_served";
const FLEET_WITHDRAWN_TABLE = "preview_bot_fleet_withdrawn";
/** A withdrawal not done within this long is dropped: its check run was concluded by a later deploy or teardown. */
const WITHDRAWAL_KEPT_HOURS = 24;
const LOCK = "preview-bot:fleet";

export class PgSeatStore implements SeatStore {
  private ready: Promise<unknown> | undefined;

  constructor(private readonly pool: pg.Pool) {}

  private init(): Promise<unknown> {
    this.ready ??= (async () => {
      await createTableOnce(
        this.pool,
        FLEET_SEATS_TABLE,
        `create table if not exists ${FLEET_SEATS_TABLE} (key text primary key, repo text not null, author text not null, state text not null, asleep_since timestamptz, since timestamptz not null default now())`,
      );
      await createTableOnce(
        this.pool,
        FLEET_WAITING_TABLE,
        `create table if not exists ${FLEET_WAITING_TABLE} (key text primary key, repo text not null, author text not null, seq bigint not null, since timestamptz not null, limits jsonb not null, job jsonb not null, facts jsonb not null)`,
      );
      await createTableOnce(
        this.pool,
        FLEET_SERVED_TABLE,
        `create table if not exists ${FLEET_SERVED_TABLE} (repo text primary key, served bigint not null)`,
      );
      await createTableOnce(
        this.pool,
        FLEET_WITHDRAWN_TABLE,
        `create table if not exists ${FLEET_WITHDRAWN_TABLE} (id bigserial primary key, key text not null, why text not null, entry jsonb not null, at timestamptz not null default now())`,
      );
    })().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private async load(client: pg.PoolClient): Promise<FleetState> {
    const seats = await client.query<{ key: string; repo: string; author: string; state: string; asleep: Date | null }>(
      `select key, repo, author, state, asleep_since as asleep from ${FLEET_SEATS_TABLE}`,
    );
    const waiting = await client.query<{
      key: string;
      repo: string;
      author: string;
      seq: string;
      since: Date;
      limits: WaitingEntry["limits"];
      job: WaitingEntry["job"];
      facts: WaitingEntry["facts"];
    }>(`select key, repo, author, seq, since, limits, job, facts from ${FLEET_WAITING_TABLE}`);
    const served = await client.query<{ repo: string; served: string }>(
      `select repo, served from ${FLEET_SERVED_TABLE}`,
    );
    return {
      seats: seats.rows.map((r) => ({
        key: r.key,
        repo: r.repo,
        author: r.author,
        state: r.state === "asleep" ? "asleep" : "running",
      })),
      waiting: waiting.rows.map((r) => ({
        key: r.key,
        repo: r.repo,
        author: r.author,
        seq: Number(r.seq),
        since: r.since.toISOString(),
        limits: r.limits,
        job: r.job,
        facts: r.facts,
      })),
      served: new Map(served.rows.map((r) => [r.repo, Number(r.served)])),
      asleepSince: new Map(seats.rows.filter((r) => r.asleep).map((r) => [r.key, r.asleep!.toISOString()])),
    };
  }

  /** Write what differs between `before` and `after`. */
  private async save(client: pg.PoolClient, before: FleetState, after: FleetState): Promise<void> {
    const seatKey = (s: Seat) => `${s.state}|${s.repo}|${s.author}|${after.asleepSince.get(s.key) ?? ""}`;
    const was = new Map(
      before.seats.map((s) => [s.key, `${s.state}|${s.repo}|${s.author}|${before.asleepSince.get(s.key) ?? ""}`]),
    );
    const now = new Set(after.seats.map((s) => s.key));
    const gone = before.seats.filter((s) => !now.has(s.key)).map((s) => s.key);
    if (gone.length) await client.query(`delete from ${FLEET_SEATS_TABLE} where key = any($1)`, [gone]);
    for (const s of after.seats) {
      if (was.get(s.key) === seatKey(s)) continue;
      await client.query(
        `insert into ${FLEET_SEATS_TABLE} (key, repo, author, state, asleep_since) values ($1, $2, $3, $4, $5)
         on conflict (key) do update set repo = $2, author = $3, state = $4, asleep_since = $5`,
        [s.key, s.repo, s.author, s.state, after.asleepSince.get(s.key) ?? null],
      );
    }
    const stillWaiting = new Set(after.waiting.map((w) => w.key));
    const left = before.waiting.filter((w) => !stillWaiting.has(w.key)).map((w) => w.key);
    if (left.length) await client.query(`delete from ${FLEET_WAITING_TABLE} where key = any($1)`, [left]);
    const wasWaiting = new Map(before.waiting.map((w) => [w.key, w]));
    for (const w of after.waiting) {
      if (wasWaiting.get(w.key) === w) continue; // the same object: untouched by the transition
      await client.query(
        `insert into ${FLEET_WAITING_TABLE} (key, repo, author, seq, since, limits, job, facts) values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (key) do update set repo = $2, author = $3, seq = $4, since = $5, limits = $6, job = $7, facts = $8`,
        [w.key, w.repo, w.author, w.seq, w.since, w.limits, w.job, w.facts],
      );
    }
    for (const [repo, served] of after.served)
      if (before.served.get(repo) !== served)
        await client.query(
          `insert into ${FLEET_SERVED_TABLE} (repo, served) values ($1, $2) on conflict (repo) do update set served = $2`,
          [repo, served],
        );
  }

  private async apply(change: Parameters<typeof transition>[1], caps: Caps): Promise<SeatTransition> {
    await this.init();
    const client = await this.pool.connect();
    try {
      await client.query("begin");
      await client.query("select pg_advisory_xact_lock(hashtextextended($1, 0))", [LOCK]);
      const before = await this.load(client);
      const { state, result } = transition(before, change, caps, new Date().toISOString());
      await this.save(client, before, state);
      // In the same transaction: a withdrawal is recorded exactly when the line changed, and outlives a crash.
      for (const w of result.withdrawn) {
        const { rows } = await client.query<{ id: string }>(
          `insert into ${FLEET_WITHDRAWN_TABLE} (key, why, entry) values ($1, $2, $3) returning id`,
          [w.entry.key, w.why, w.entry],
        );
        w.id = rows[0]!.id;
      }
      await client.query("commit");
      return result;
    } catch (err) {
      await client.query("rollback").catch(() => undefined);
      throw new Error(`updating the fleet's seats (${change.kind})`, { cause: err });
    } finally {
      client.release();
    }
  }

  claim(req: SeatRequest, caps: Caps) {
    return this.apply({ kind: "claim", req }, caps);
  }
  release(key: string, caps: Caps) {
    return this.apply({ kind: "release", key }, caps);
  }
  pump(caps: Caps) {
    return this.apply({ kind: "pump" }, caps);
  }
  setAsleep(key: string, asleep: boolean, caps: Caps) {
    return this.apply({ kind: "sleep", key, asleep }, caps);
  }
  reconcile(existing: readonly Omit<Seat, "state">[], busy: ReadonlySet<string>, caps: Caps) {
    return this.apply({ kind: "reconcile", existing, busy }, caps);
  }

  async pendingWithdrawals(): Promise<Withdrawal[]> {
    await this.init();
    await this.pool.query(`delete from ${FLEET_WITHDRAWN_TABLE} where at < now() - make_interval(hours => $1)`, [
      WITHDRAWAL_KEPT_HOURS,
    ]);
    const { rows } = await this.pool.query<{ id: string; why: Withdrawal["why"]; entry: WaitingEntry }>(
      `select id, why, entry from ${FLEET_WITHDRAWN_TABLE} order by id`,
    );
    return rows.map((r) => ({ id: r.id, why: r.why, entry: r.entry }));
  }

  async withdrawalDone(id: string): Promise<void> {
    await this.init();
    await this.pool.query(`delete from ${FLEET_WITHDRAWN_TABLE} where id = $1`, [id]);
  }

  async snapshot() {
    await this.init();
    const client = await this.pool.connect();
    try {
      const state = await this.load(client);
      return { seats: state.seats, waiting: serviceOrder(state.waiting, state.served), asleepSince: state.asleepSince };
    } finally {
      client.release();
    }
  }
}
