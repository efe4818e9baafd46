/**
 * The fleet: how many previews run at once. A deploy that is let through (admit.ts) first claims a seat; over the
 * caps it waits in a fair line (fair-order.ts) instead of deploying, and its check run, sticky comment and Slack
 * thread say "queued: position N of M" and why. When a preview is removed (close, destroy, expiry) or a deploy ends
 * with nothing running, its seat is released, and the next deploys in line that fit are started at once — the
 * release is an event, not something a poll finds later. Every change of the line tells the waiting deploys whose
 * standing changed.
 *
 * The seats and the line are durable with DATABASE_URL (seat-store-pg.ts; every replica sees one line, a restart
 * keeps it) and in memory otherwise. The sweeper repairs them against what exists (`reconcile`).
 *
 * Seams for sleeping previews (a later change): `setAsleep` marks a preview asleep (it keeps its seat but no longer
 * counts, so the next in line starts) or awake again; with `evictAsleep` on (operator's choice, off by default) a
 * deploy that has to wait first asks for the longest-asleep preview to be destroyed — with no preview asleep it
 * does nothing.
 */
import { describeError } from "../../shared/format.js";
import type { Logger } from "../../../logger.js";
import type { PreviewJob, PreviewSummary } from "../../shared/dispatch.js";
import { blockedBy, type Caps, type Seat } from "./fair-order.js";
import type { SeatRequest, SeatStore, SeatTransition, WaitingEntry, Withdrawal } from "./seat-store.js";

/** Where a waiting deploy stands. */
export interface Standing {
  position: number;
  of: number;
  /** Which cap keeps it waiting, in words ("acme/web may run 3 previews at once"). */
  reason: string;
}

export interface FleetOptions {
  seats: SeatStore;
  caps: Caps;
  /** Start a promoted deploy: put its job on the queue. */
  start(job: PreviewJob): Promise<void>;
  /** Tell a waiting deploy where it stands (check run, sticky comment, Slack); `first` when it just joined. */
  tell?: (entry: WaitingEntry, standing: Standing, first: boolean) => Promise<void>;
  /** Conclude the queued check run of a deploy that left the line without a seat (a newer commit, or given up). */
  withdraw?: (entry: WaitingEntry, why: "superseded" | "released") => Promise<void>;
  /** With `enabled`, a deploy that has to wait asks for the longest-asleep preview to be destroyed. */
  evictAsleep?: { enabled: boolean; destroy(key: string): Promise<void> };
  logger: Logger;
}

export interface Fleet {
  /** A deploy wants to run: true when it holds (or just got) a seat; false when it waits (and was told so). */
  claim(req: SeatRequest): Promise<boolean>;
  /** The preview is gone or never came: give up its seat and place in line, and start who is next. */
  release(key: string): Promise<void>;
  /** Start whatever fits now. */
  pump(): Promise<void>;
  /** The sleep seam: an asleep preview keeps its seat but does not count. */
  setAsleep(key: string, asleep: boolean): Promise<void>;
  /** Whether this preview holds a seat. */
  holds(key: string): Promise<boolean>;
  /** The waiting deploy's standing, or undefined when it is not waiting. */
  standing(key: string): Promise<Standing | undefined>;
  /** The keys waiting in line (the sweeper leaves those previews to the line). */
  waitingKeys(): Promise<ReadonlySet<string>>;
  /** Waiting deploys as the doors show previews (state `queued`, with their standing). */
  queued(): Promise<PreviewSummary[]>;
  /** Seats and line against what exists (sweeper): see SeatStore.reconcile; line entries of closed PRs dropped. */
  reconcile(
    existing: readonly Omit<Seat, "state">[],
    busy: ReadonlySet<string>,
    open?: ReadonlySet<string>,
  ): Promise<void>;
  /** Resolves when every start and every telling so far is done (tests, shutdown). */
  settled(): Promise<void>;
}

export function createFleet(o: FleetOptions): Fleet {
  const log = o.logger.child({ component: "fleet" });
  /** What each waiting deploy was last told (`position/of/reason`), so an unchanged standing is not written again. */
  const told = new Map<string, string>();
  const pending = new Set<Promise<unknown>>();
  /**
   * What is done for one preview (tell, withdraw, start) runs in the order it was decided, one after another: a
   * withdrawal that ran before the telling it follows had landed would find no queued check run to conclude, and a
   * deploy started before it would not find the run to continue — either way a run left `queued` for good.
   */
  const chains = new Map<string, Promise<void>>();
  const track = (key: string, work: () => Promise<void>) => {
    const p = (chains.get(key) ?? Promise.resolve()).then(work);
    chains.set(key, p);
    pending.add(p);
    void p.finally(() => {
      pending.delete(p);
      if (chains.get(key) === p) chains.delete(key);
    });
  };

  function standingOf(t: Pick<SeatTransition, "waiting" | "seats">, entry: WaitingEntry): Standing {
    return {
      position: t.waiting.indexOf(entry) + 1,
      of: t.waiting.length,
      reason: blockedBy(entry, t.seats, o.caps) ?? "the deploys ahead of it go first",
    };
  }

  /** Withdrawals this process is carrying out (by record id), so a replay does not run one twice. */
  const withdrawing = new Set<string>();

  /** Conclude a withdrawn deploy's queued check run; then its record (if the store keeps one) is done. */
  function withdrawLater({ entry, why, id }: Withdrawal): void {
    if (!o.withdraw || (id !== undefined && withdrawing.has(id))) return;
    const withdraw = o.withdraw;
    if (id !== undefined) withdrawing.add(id);
    track(entry.key, async () => {
      try {
        await withdraw(entry, why);
      } catch (err) {
        log.warn(
          { err, key: entry.key },
          `concluding the queued check run of ${entry.key} at ${entry.facts.ref.sha.slice(0, 7)}: ${describeError(err)}`,
        );
      }
      if (id === undefined) return;
      await o.seats
        .withdrawalDone(id)
        .catch((err: unknown) =>
          log.warn({ err, key: entry.key }, `forgetting a done withdrawal: ${describeError(err)}`),
        )
        .finally(() => withdrawing.delete(id));
    });
  }

  /** Start the promoted, then tell every waiting deploy whose standing changed. */
  async function after(t: SeatTransition, joined?: string): Promise<void> {
    for (const w of t.withdrawn) {
      if (w.why === "released") told.delete(w.entry.key); // superseded: the same preview still waits, told as before
      withdrawLater(w);
    }
    for (const entry of t.promoted) {
      told.delete(entry.key);
      log.info(
        { key: entry.key },
        `a seat is free: starting the deploy of ${entry.key} that waited since ${entry.since}`,
      );
      const { ref, names, trigger } = entry.facts;
      // The job carries the commit its queued check run is at: a run of another commit, or of nothing, concludes it.
      const job = { ...entry.job, fromLine: { ref, names, trigger, since: entry.since } };
      track(entry.key, () =>
        o
          .start(job)
          .catch((err: unknown) =>
            log.warn({ err, key: entry.key }, `starting the waiting deploy of ${entry.key}: ${describeError(err)}`),
          ),
      );
    }
    const still = new Set(t.waiting.map((w) => w.key));
    for (const key of told.keys()) if (!still.has(key)) told.delete(key);
    if (!o.tell) return;
    for (const entry of t.waiting) {
      const s = standingOf(t, entry);
      const text = `${s.position}/${s.of}/${s.reason}`;
      const first = entry.key === joined && !told.has(entry.key);
      if (told.get(entry.key) === text && entry.key !== joined) continue;
      told.set(entry.key, text);
      const tell = o.tell;
      track(entry.key, () =>
        tell(entry, s, first).catch((err: unknown) =>
          log.warn({ err, key: entry.key }, `telling ${entry.key} where it stands in line: ${describeError(err)}`),
        ),
      );
    }
  }

  async function evict(t: SeatTransition): Promise<void> {
    if (!o.evictAsleep?.enabled) return;
    const { asleepSince } = await o.seats.snapshot();
    const oldest = [...asleepSince].sort((a, b) => a[1].localeCompare(b[1]))[0];
    if (!oldest) return; // nothing asleep: nothing to make room with
    log.info(
      { key: oldest[0] },
      `making room for ${t.waiting.length} waiting deploy(s): destroying ${oldest[0]}, asleep since ${oldest[1]}`,
    );
    await o.evictAsleep.destroy(oldest[0]);
  }

  return {
    async claim(req) {
      const t = await o.seats.claim(req, o.caps);
      await after(t, t.granted ? undefined : req.key);
      if (t.granted) return true;
      const entry = t.waiting.find((w) => w.key === req.key);
      log.info(
        { key: req.key, position: entry ? t.waiting.indexOf(entry) + 1 : undefined, of: t.waiting.length },
        `${req.key} waits for a seat`,
      );
      await evict(t).catch((err: unknown) => log.warn({ err }, `evicting an asleep preview: ${describeError(err)}`));
      return false;
    },
    async release(key) {
      await after(await o.seats.release(key, o.caps));
    },
    async pump() {
      // Withdrawals a crash cut short (decided and recorded, the check run not yet concluded) are done now.
      for (const w of await o.seats.pendingWithdrawals()) withdrawLater(w);
      await after(await o.seats.pump(o.caps));
    },
    async setAsleep(key, asleep) {
      await after(await o.seats.setAsleep(key, asleep, o.caps));
    },
    async holds(key) {
      return (await o.seats.snapshot()).seats.some((s) => s.key === key);
    },
    async standing(key) {
      const { seats, waiting } = await o.seats.snapshot();
      const entry = waiting.find((w) => w.key === key);
      return entry ? standingOf({ waiting, seats }, entry) : undefined;
    },
    async waitingKeys() {
      return new Set((await o.seats.snapshot()).waiting.map((w) => w.key));
    },
    async queued() {
      const { seats, waiting } = await o.seats.snapshot();
      const t = { waiting, seats };
      return waiting.map((w) => {
        const { ref, names } = w.facts;
        const s = standingOf(t, w);
        return {
          key: w.key,
          owner: ref.owner,
          repo: ref.repo,
          number: ref.number,
          branch: ref.branch,
          sha: ref.sha,
          state: "queued" as const,
          namespace: names.namespace,
          queue: { position: s.position, of: s.of, reason: s.reason },
        };
      });
    },
    async reconcile(existing, busy, open) {
      const t = await o.seats.reconcile(existing, busy, o.caps);
      await after(t);
      if (!open) return;
      for (const w of t.waiting)
        if (!open.has(w.key) && !busy.has(w.key)) {
          log.info({ key: w.key }, `${w.key} is no longer an open pull request: it leaves the line`);
          await after(await o.seats.release(w.key, o.caps));
        }
    },
    async settled() {
      while (pending.size) await Promise.all([...pending]);
    },
  };
}
