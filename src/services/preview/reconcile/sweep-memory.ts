/**
 * What the sweeper remembers between sweeps: previews it expired (not brought back at the same commit), heads-ups
 * sent, retries of a failed deploy. In memory for one process, in the bot's PostgreSQL (DATABASE_URL) across
 * replicas and restarts; a claim succeeds for exactly one caller per (name, value).
 */
import type pg from "pg";
import { createTableOnce } from "../../shared/pg-tables.js";

/** What the sweeper remembers between sweeps (shared across replicas with PostgreSQL). */
export interface SweepMemory {
  /** True for exactly one caller per (name, value). */
  claim(name: string, value: string): Promise<boolean>;
  has(name: string, value: string): Promise<boolean>;
}

export class MemorySweepMemory implements SweepMemory {
  private readonly marks = new Set<string>();
  async claim(name: string, value: string): Promise<boolean> {
    const k = JSON.stringify([name, value]);
    if (this.marks.has(k)) return false;
    this.marks.add(k);
    return true;
  }
  async has(name: string, value: string): Promise<boolean> {
    return this.marks.has(JSON.stringify([name, value]));
  }
}

const SWEEP_MEMORY_TABLE = "preview_bot_sweep_marks";

export class PgSweepMemory implements SweepMemory {
  private ready: Promise<unknown> | undefined;
  private readonly pool: pg.Pool;
  constructor(pool: pg.Pool) {
    this.pool = pool;
  }
  private init(): Promise<unknown> {
    this.ready ??= createTableOnce(
      this.pool,
      SWEEP_MEMORY_TABLE,
      `create table if not exists ${SWEEP_MEMORY_TABLE} (name text not null, value text not null, at timestamptz not null default now(), primary key (name, value))`,
    ).catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }
  async claim(name: string, value: string): Promise<boolean> {
    await this.init();
    const res = await this.pool.query(
      `insert into ${SWEEP_MEMORY_TABLE} (name, value) values ($1, $2) on conflict do nothing`,
      [name, value],
    );
    return res.rowCount === 1;
  }
  async has(name: string, value: string): Promise<boolean> {
    await this.init();
    return (
      ((await this.pool.query(`select 1 from ${SWEEP_MEMORY_TABLE} where name = $1 and value = $2`, [name, value]))
        .rowCount ?? 0) > 0
    );
  }
}
