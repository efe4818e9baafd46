/**
 * GitHub writes, one lane per installation: serial, most urgent first, and coalesced by key.
 *
 * GitHub paces an installation's writes (Probot's throttling plugin spaces them ≥ 1 s apart per installation, ≥ 3 s
 * for those that notify people). Under a burst (a storm of PRs), whatever is written first is what people see first.
 * So the Reporter does not fire its writes at Octokit as they come: it asks a lane to *sync* a surface (a check
 * run, a deployment, a sticky comment) and the lane runs one write at a time, picking the most urgent pending one
 * (check runs before deployments before comments). A request for a key that is already pending merges into it (the
 * write renders the latest state when its turn comes), so a check run whose deploy finished while its "in
 * progress" write was still waiting is written once, completed.
 *
 * `prepare` (the reads a write needs, e.g. finding an existing check run) runs at once, outside the lane: reads are
 * not paced, and a read inside the lane would hold up every write behind it.
 *
 * A write that failed transiently may ask to run again (`{ retryInMs }`): it rests outside the lane for that long (other
 * writes go on meanwhile), still counted as pending, and its waiters wait for the retry. A newer request for the same
 * key ends the rest at once: it writes the latest state anyway.
 *
 * A lane is keyed by the repository owner: a GitHub App is installed at most once per account, so owner and
 * installation are the same partition (Probot's throttling keys its pacing by installation id).
 */
import type { Logger } from "../../logger.js";

/** Lower runs first. */
export const WRITE_PRIORITY = { checkRun: 0, deployment: 1, progress: 2, comment: 3 } as const;

export interface WriteRequest {
  /** The lane (installation): the repository owner. */
  lane: string;
  /** What is being synced, e.g. `check-run acme/web#42`; pending requests with the same key merge. */
  key: string;
  priority: number;
  /** Reads the write needs; runs at once, outside the lane. Must not throw (record failures itself). */
  prepare?: () => Promise<void>;
  /** The write; renders the latest state when it runs. Must not throw (record failures itself). */
  write: () => Promise<WriteOutcome | void>;
}

/** What a write may ask for after a transient failure (recorded by itself): another try in `retryInMs`. */
export interface WriteOutcome {
  retryInMs?: number;
}

interface Entry {
  key: string;
  priority: number;
  seq: number;
  ready: boolean;
  preparing?: Promise<void>;
  write: () => Promise<WriteOutcome | void>;
  waiters: Array<() => void>;
}

class Lane {
  readonly pending = new Map<string, Entry>();
  /** Entries waiting to retry a transiently failed write. */
  readonly resting = new Map<string, { entry: Entry; timer: NodeJS.Timeout }>();
  running = false;

  constructor(
    private readonly log: Logger | undefined,
    private readonly onIdle: () => void,
  ) {}

  /** Run the most urgent ready entry, one at a time. */
  pump(): void {
    if (this.running) return;
    let next: Entry | undefined;
    for (const e of this.pending.values()) {
      if (e.ready && (!next || e.priority < next.priority || (e.priority === next.priority && e.seq < next.seq)))
        next = e;
    }
    if (!next) {
      if (this.pending.size === 0 && this.resting.size === 0) this.onIdle();
      return;
    }
    const entry = next;
    this.pending.delete(entry.key);
    this.running = true;
    // Never rejects: a rejected write is logged, and what follows cannot throw.
    void entry
      .write()
      .then(
        (outcome) => outcome?.retryInMs,
        (err: unknown) => {
          this.log?.error(
            { err, key: entry.key },
            `GitHub write "${entry.key}" threw; writes must record their own failures`,
          );
          return undefined;
        },
      )
      .then((retryInMs) => {
        this.running = false;
        if (retryInMs !== undefined) this.rest(entry, retryInMs);
        else for (const w of entry.waiters) w();
        this.pump();
      });
  }

  /** Back into the line now (a newer request for its key, or its rest is over). */
  wake(key: string): void {
    const resting = this.resting.get(key);
    if (!resting) return;
    clearTimeout(resting.timer);
    this.resting.delete(key);
    const newer = this.pending.get(key);
    if (newer) newer.waiters.push(...resting.entry.waiters);
    else this.pending.set(key, { ...resting.entry, ready: true, preparing: undefined });
  }

  private rest(entry: Entry, ms: number): void {
    const newer = this.pending.get(entry.key);
    if (newer) {
      newer.waiters.push(...entry.waiters); // a newer request already waits to write the latest state
      return;
    }
    const timer = setTimeout(() => {
      this.wake(entry.key);
      this.pump();
    }, ms);
    timer.unref();
    this.resting.set(entry.key, { entry, timer });
  }
}

export class WriteLanes {
  private readonly lanes = new Map<string, Lane>();
  /** Sticky comments created through these lanes (sticky-comment-sync.ts): no second one for a preview. */
  readonly stickies = new Map<string, { id: number; body: string }>();
  private seq = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly log?: Logger) {}

  /**
   * Ask for a write. Resolves once a write for `key` that started after this request has finished (never rejects).
   */
  request(req: WriteRequest): Promise<void> {
    const lane = this.lane(req.lane.toLowerCase());
    return new Promise<void>((resolve) => {
      lane.wake(req.key);
      const existing = lane.pending.get(req.key);
      if (existing) {
        existing.priority = Math.min(existing.priority, req.priority);
        existing.write = req.write;
        existing.waiters.push(resolve);
        if (req.prepare) this.prepare(lane, existing, req.prepare);
        else lane.pump(); // it may have been resting
        return;
      }
      const entry: Entry = {
        key: req.key,
        priority: req.priority,
        seq: ++this.seq,
        ready: !req.prepare,
        write: req.write,
        waiters: [resolve],
      };
      lane.pending.set(req.key, entry);
      if (req.prepare) this.prepare(lane, entry, req.prepare);
      else lane.pump();
    });
  }

  /** Writes waiting, resting before a retry, or running, across lanes. */
  get pending(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.pending.size + lane.resting.size + (lane.running ? 1 : 0);
    return n;
  }

  /** Resolves when no write is waiting or running (tests, graceful shutdown). */
  drain(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private prepare(lane: Lane, entry: Entry, prepare: () => Promise<void>): void {
    entry.ready = false;
    const run = (entry.preparing ?? Promise.resolve())
      .then(prepare)
      .catch((err: unknown) => this.log?.error({ err, key: entry.key }, `preparing GitHub write "${entry.key}" threw`));
    entry.preparing = run;
    // `run` never rejects (prepare's errors are logged above); nothing waits on the pump.
    void run.then(() => {
      if (entry.preparing !== run) return; // a later prepare for the same entry is still running
      entry.ready = true;
      lane.pump();
    });
  }

  private lane(name: string): Lane {
    let lane = this.lanes.get(name);
    if (!lane) {
      lane = new Lane(this.log, () => this.settle());
      this.lanes.set(name, lane);
    }
    return lane;
  }

  private settle(): void {
    if (this.pending > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
