/**
 * Where each PR's Slack thread lives: in memory for one process, or in the bot's PostgreSQL (DATABASE_URL), so every
 * replica — and the next process after a restart — posts into the same thread instead of starting a new one.
 */
import type pg from "pg";
import { createTableOnce } from "../shared/pg-tables.js";

export interface ThreadRef {
  channel: string;
  ts: string;
}

/** Where each PR's thread lives, keyed by preview key (`owner/repo#N`). */
export interface ThreadStore {
  get(key: string): Promise<ThreadRef | undefined>;
  set(key: string, ref: ThreadRef): Promise<void>;
}

export class MemoryThreadStore implements ThreadStore {
  private readonly threads = new Map<string, ThreadRef>();
  async get(key: string): Promise<ThreadRef | undefined> {
    return this.threads.get(key);
  }
  async set(key: string, ref: ThreadRef): Promise<void> {
    this.threads.set(key, { ...ref });
  }
}

const THREADS_TABLE = "preview_bot_slack_threads";

export class PgThreadStore implements ThreadStore {
  private ready: Promise<unknown> | undefined;

  constructor(private readonly pool: pg.Pool) {}

  private init(): Promise<unknown> {
    this.ready ??= createTableOnce(
      this.pool,
      THREADS_TABLE,
      `create table if not exists ${THREADS_TABLE} (key text primary key, channel text not null, ts text not null, updated_at timestamptz not null default now())`,
    ).catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  async get(key: string): Promise<ThreadRef | undefined> {
    await this.init();
    const { rows } = await this.pool.query<ThreadRef>(`select channel, ts from ${THREADS_TABLE} where key = $1`, [key]);
    return rows[0];
  }

  async set(key: string, ref: ThreadRef): Promise<void> {
    await this.init();
    await this.pool.query(
      `insert into ${THREADS_TABLE} (key, channel, ts) values ($1, $2, $3) on conflict (key) do update set channel = excluded.channel, ts = excluded.ts, updated_at = now()`,
      [key, ref.channel, ref.ts],
    );
  }
}
