/**
 * Every head a pull request had, by GitHub's clock: the `pull_request` door records the head of each fork PR event
 * (opened, reopened, synchronize) with the event's `updated_at`. Sightings are kept, not just a commit's first one, so
 * the interval during which each commit was the head is known: a force-push back to an older commit is a new
 * sighting of it. The reviewed-commit rule (src/intake/pin.ts) reads them to decide which commit a maintainer's
 * comment was written for.
 *
 * With DATABASE_URL the log is in PostgreSQL, shared by the replicas; otherwise in memory (one process). A PR the log
 * has no record of is refused there (fail closed), with a hint to name the commit: `/preview deploy <sha>`.
 */
import type pg from "pg";
import { createTableOnce } from "../shared/pg-tables.js";

/** `sha` was the PR's head as of `at` (ISO, GitHub's clock). */
export interface HeadSighting {
  sha: string;
  at: string;
}

export interface HeadLog {
  record(key: string, sha: string, at: string): Promise<void>;
  /** The PR's sightings, oldest first (at most the newest MAX_SIGHTINGS). */
  sightings(key: string): Promise<HeadSighting[]>;
}

/** Sightings kept per pull request: enough for any review, bounded against a push storm. */
export const MAX_SIGHTINGS = 200;
const MEMORY_PULLS = 10_000;

const byTime = (a: HeadSighting, b: HeadSighting) => Date.parse(a.at) - Date.parse(b.at) || a.sha.localeCompare(b.sha);

export class MemoryHeadLog implements HeadLog {
  private readonly pulls = new Map<string, HeadSighting[]>();

  async record(key: string, sha: string, at: string): Promise<void> {
    const list = this.pulls.get(key) ?? [];
    if (!list.some((s) => s.sha === sha && s.at === at)) list.push({ sha, at });
    list.sort(byTime);
    this.pulls.delete(key); // most recently used last
    this.pulls.set(key, list.slice(-MAX_SIGHTINGS));
    if (this.pulls.size > MEMORY_PULLS) this.pulls.delete(this.pulls.keys().next().value!);
  }

  async sightings(key: string): Promise<HeadSighting[]> {
    return [...(this.pulls.get(key) ?? [])];
  }
}

const HEAD_LOG_TABLE = "preview_bot_pr_head_sightings";

export class PgHeadLog implements HeadLog {
  private ready: Promise<unknown> | undefined;

  constructor(private readonly pool: pg.Pool) {}

  private init(): Promise<unknown> {
    this.ready ??= createTableOnce(
      this.pool,
      HEAD_LOG_TABLE,
      `create table if not exists ${HEAD_LOG_TABLE} (key text not null, sha text not null, at timestamptz not null, primary key (key, at, sha))`,
    ).catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  async record(key: string, sha: string, at: string): Promise<void> {
    await this.init();
    await this.pool.query(`insert into ${HEAD_LOG_TABLE} (key, sha, at) values ($1, $2, $3) on conflict do nothing`, [
      key,
      sha,
      at,
    ]);
  }

  async sightings(key: string): Promise<HeadSighting[]> {
    await this.init();
    const { rows } = await this.pool.query<{ sha: string; at: Date }>(
      `select sha, at from (select sha, at from ${HEAD_LOG_TABLE} where key = $1 order by at desc, sha desc limit $2) s order by at, sha`,
      [key, MAX_SIGHTINGS],
    );
    return rows.map((r) => ({ sha: r.sha, at: r.at.toISOString() }));
  }
}
