/**
 * When each head commit of a fork PR was first seen, by GitHub's clock: the `pull_request` door records the head of
 * every fork PR event (opened, reopened, synchronize) with the event's `updated_at`. A maintainer's `/preview
 * deploy` comment carries no SHA, so the comment job compares the comment's `created_at` with this (and with the
 * head commit's check suites) to refuse a commit pushed after the comment was written.
 *
 * With DATABASE_URL the log is in PostgreSQL, shared by the replicas; otherwise in memory (one process). A head that
 * no evidence dates is refused too (fail closed), with a hint to pin the commit: `/preview deploy <sha>`.
 */
import type pg from "pg";
import { createTableOnce } from "../shared/pg-tables.js";

export interface HeadLog {
  /** `at`: ISO time (GitHub's) at which `sha` was the PR's head; the earliest time is kept. */
  record(key: string, sha: string, at: string): Promise<void>;
  /** The earliest recorded time `sha` was the head of PR `key`. */
  firstSeen(key: string, sha: string): Promise<string | undefined>;
}

const MEMORY_LIMIT = 10_000;

export class MemoryHeadLog implements HeadLog {
  private readonly seen = new Map<string, string>();

  async record(key: string, sha: string, at: string): Promise<void> {
    const k = `${key}@${sha}`;
    const before = this.seen.get(k);
    if (before !== undefined && Date.parse(before) <= Date.parse(at)) return;
    this.seen.set(k, at);
    if (this.seen.size > MEMORY_LIMIT) this.seen.delete(this.seen.keys().next().value!);
  }

  async firstSeen(key: string, sha: string): Promise<string | undefined> {
    return this.seen.get(`${key}@${sha}`);
  }
}

export const HEAD_LOG_TABLE = "preview_bot_pr_heads";

export class PgHeadLog implements HeadLog {
  private ready: Promise<unknown> | undefined;

  constructor(private readonly pool: pg.Pool) {}

  private init(): Promise<unknown> {
    this.ready ??= createTableOnce(
      this.pool,
      HEAD_LOG_TABLE,
      `create table if not exists ${HEAD_LOG_TABLE} (key text not null, sha text not null, first_seen timestamptz not null, primary key (key, sha))`,
    ).catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  async record(key: string, sha: string, at: string): Promise<void> {
    await this.init();
    await this.pool.query(
      `insert into ${HEAD_LOG_TABLE} (key, sha, first_seen) values ($1, $2, $3) on conflict (key, sha) do update set first_seen = least(${HEAD_LOG_TABLE}.first_seen, excluded.first_seen)`,
      [key, sha, at],
    );
  }

  async firstSeen(key: string, sha: string): Promise<string | undefined> {
    await this.init();
    const { rows } = await this.pool.query<{ first_seen: Date }>(
      `select first_seen from ${HEAD_LOG_TABLE} where key = $1 and sha = $2`,
      [key, sha],
    );
    return rows[0]?.first_seen.toISOString();
  }
}
