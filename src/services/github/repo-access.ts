/**
 * "Login L can read repository R", remembered briefly. Preview URLs ask on every request (the gateway calls
 * /auth/check for each one), so the answer is cached per login and repository: a reader for `ttlMs` (default two
 * minutes: access taken away on GitHub stops working within that), a non-reader for a shorter time (so someone just
 * given access waits less). Concurrent questions for the same pair share one GitHub request. A token GitHub no longer
 * accepts is never cached: the visitor signs in again. Bounded: the oldest entries go first.
 */
import type { RepoAccess } from "./user-auth.js";

export interface RepoAccessCacheOptions {
  /** Ask GitHub with the visitor's token. */
  check(token: string, owner: string, repo: string): Promise<RepoAccess>;
  ttlMs?: number;
  negativeTtlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  access: Exclude<RepoAccess, "unauthorized">;
  until: number;
}

export class RepoAccessCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<RepoAccess>>();
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly opts: RepoAccessCacheOptions) {
    this.ttlMs = opts.ttlMs ?? 120_000;
    this.negativeTtlMs = Math.min(opts.negativeTtlMs ?? 30_000, this.ttlMs);
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** Whether `login` (whose token this is) reads `owner/repo`. Errors from GitHub propagate (callers deny). */
  async access(login: string, token: string, owner: string, repo: string): Promise<RepoAccess> {
    const key = `${login.toLowerCase()}\n${owner.toLowerCase()}/${repo.toLowerCase()}`;
    const hit = this.entries.get(key);
    if (hit && hit.until > this.now()) return hit.access;
    if (hit) this.entries.delete(key);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const asked = this.opts
      .check(token, owner, repo)
      .then((access) => {
        if (access !== "unauthorized") this.remember(key, access);
        return access;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, asked);
    return asked;
  }

  /** Forget what is known about a login (it signed out, or its token stopped working). */
  forget(login: string): void {
    const prefix = `${login.toLowerCase()}\n`;
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private remember(key: string, access: Entry["access"]): void {
    this.entries.delete(key);
    this.entries.set(key, { access, until: this.now() + (access === "read" ? this.ttlMs : this.negativeTtlMs) });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}
