/**
 * Where the fleet's seats and its waiting line live: in memory for one process (MemorySeatStore), in the bot's
 * PostgreSQL across replicas and restarts (seat-store-pg.ts). Both apply the same transitions (`transition`, pure,
 * over fair-order.ts), each one atomically: one at a time in memory, under one transaction-scoped advisory lock in
 * PostgreSQL — so two replicas can never both take the last seat.
 *
 * A preview holds a seat from the moment its deploy is let through until its teardown removed it; a deploy that finds
 * no seat waits here with what it needs to run later (the job) and to show where it stands (QueuedFacts).
 */
import type { PreviewJob } from "../../shared/dispatch.js";
import type { PreviewNames, PreviewRef } from "../../shared/preview.js";
import { promote, serviceOrder, type Caps, type RepoCaps, type Seat, type Waiting } from "./fair-order.js";

/** What a queued deploy shows while it waits (check run, sticky comment, Slack), and where. */
export interface QueuedFacts {
  ref: PreviewRef;
  names: PreviewNames;
  trigger: string;
  slackChannel?: string;
}

export interface WaitingEntry extends Waiting {
  /** When it first started waiting (ISO). */
  since: string;
  job: PreviewJob;
  facts: QueuedFacts;
}

export interface SeatRequest {
  key: string;
  repo: string;
  author: string;
  limits: RepoCaps;
  job: PreviewJob;
  facts: QueuedFacts;
}

/** The outcome of one transition: whether the asker got a seat, who else did, and the line as it now stands. */
export interface SeatTransition {
  granted: boolean;
  /** Waiting deploys that got a seat in this transition (the asker's own excluded): their jobs must be started. */
  promoted: WaitingEntry[];
  /** Still waiting, in service order (position = index + 1). */
  waiting: WaitingEntry[];
  seats: Seat[];
  /**
   * Left the line without a seat: replaced by a deploy of a newer commit of the same preview (`superseded`), or given
   * up (`released`: closed, destroyed). Their queued check runs must be concluded. A durable store records each in the
   * transition's own transaction (`id`), so one a crash cut short is done later (`pendingWithdrawals`).
   */
  withdrawn: Withdrawal[];
}

export interface Withdrawal {
  entry: WaitingEntry;
  why: "superseded" | "released";
  /** Set by a durable store: the record to mark done once the check run is concluded. */
  id?: string;
}

export interface SeatStore {
  /** A deploy wants to run: it keeps the seat it holds, takes a free one in its turn, or waits (keeping its place). */
  claim(req: SeatRequest, caps: Caps): Promise<SeatTransition>;
  /** The preview is gone (or never came): its seat and its place in line are given up; the next in line move up. */
  release(key: string, caps: Caps): Promise<SeatTransition>;
  /** Promote whatever fits now (start-up, a sweep, caps changed). */
  pump(caps: Caps): Promise<SeatTransition>;
  /**
   * The seam for sleeping previews: an asleep preview keeps its seat but does not count against the caps, so putting
   * one to sleep frees room (the next in line is promoted); waking counts it again.
   */
  setAsleep(key: string, asleep: boolean, caps: Caps): Promise<SeatTransition>;
  /** Seats and the waiting line as they are. */
  snapshot(): Promise<{ seats: Seat[]; waiting: WaitingEntry[]; asleepSince: Map<string, string> }>;
  /**
   * Level-triggered repair against what exists: every existing preview holds a seat (previews from before caps, or a
   * seat row lost), and a seat whose preview does not exist and is not being worked on (`busy`) is given up.
   */
  reconcile(existing: readonly Omit<Seat, "state">[], busy: ReadonlySet<string>, caps: Caps): Promise<SeatTransition>;
  /** Withdrawals recorded but not yet done (their process died first); none for a store that dies with its process. */
  pendingWithdrawals(): Promise<Withdrawal[]>;
  /** A recorded withdrawal was carried out (or tried and given up): forget it. */
  withdrawalDone(id: string): Promise<void>;
}

/** Everything a transition reads and writes. */
export interface FleetState {
  seats: Seat[];
  waiting: WaitingEntry[];
  served: Map<string, number>;
  asleepSince: Map<string, string>;
}

/**
 * One transition on a copy of the state (pure; `now` is the clock for `since`). The stores persist the result.
 */
export function transition(
  state: FleetState,
  change:
    | { kind: "claim"; req: SeatRequest }
    | { kind: "release"; key: string }
    | { kind: "pump" }
    | { kind: "sleep"; key: string; asleep: boolean }
    | { kind: "reconcile"; existing: readonly Omit<Seat, "state">[]; busy: ReadonlySet<string> },
  caps: Caps,
  now: string,
): { state: FleetState; result: SeatTransition } {
  let seats = [...state.seats];
  let waiting = [...state.waiting];
  const asleepSince = new Map(state.asleepSince);
  let asker: string | undefined;
  const withdrawn: SeatTransition["withdrawn"] = [];
  switch (change.kind) {
    case "claim": {
      const { req } = change;
      if (seats.some((s) => s.key === req.key)) {
        const sorted = serviceOrder(waiting, state.served);
        return { state, result: { granted: true, promoted: [], waiting: sorted, seats, withdrawn } };
      }
      asker = req.key;
      const old = waiting.find((w) => w.key === req.key);
      const entry: WaitingEntry = {
        key: req.key,
        repo: req.repo,
        author: req.author,
        limits: req.limits,
        job: req.job,
        facts: req.facts,
        seq: old?.seq ?? Math.max(0, ...waiting.map((w) => w.seq)) + 1,
        since: old?.since ?? now,
      };
      if (old && old.facts.ref.sha !== req.facts.ref.sha) withdrawn.push({ entry: old, why: "superseded" });
      waiting = [...waiting.filter((w) => w.key !== req.key), entry];
      break;
    }
    case "release":
      seats = seats.filter((s) => s.key !== change.key);
      for (const w of waiting) if (w.key === change.key) withdrawn.push({ entry: w, why: "released" });
      waiting = waiting.filter((w) => w.key !== change.key);
      asleepSince.delete(change.key);
      break;
    case "sleep":
      seats = seats.map((s) => (s.key === change.key ? { ...s, state: change.asleep ? "asleep" : "running" } : s));
      if (change.asleep) asleepSince.set(change.key, asleepSince.get(change.key) ?? now);
      else asleepSince.delete(change.key);
      break;
    case "reconcile": {
      const exists = new Set(change.existing.map((e) => e.key));
      seats = seats.filter((s) => exists.has(s.key) || change.busy.has(s.key));
      for (const e of change.existing)
        if (!seats.some((s) => s.key === e.key)) {
          seats.push({ ...e, state: "running" });
          waiting = waiting.filter((w) => w.key !== e.key);
        }
      break;
    }
    case "pump":
      break;
  }
  const p = promote(seats, waiting, state.served, caps);
  const granted = asker !== undefined && p.promoted.some((w) => w.key === asker);
  return {
    state: { seats: p.seats, waiting: p.waiting, served: p.served, asleepSince },
    result: {
      granted,
      promoted: p.promoted.filter((w) => w.key !== asker),
      waiting: p.waiting,
      seats: p.seats,
      withdrawn,
    },
  };
}

/** One process's seats (no DATABASE_URL): transitions are synchronous, so they never interleave. */
export class MemorySeatStore implements SeatStore {
  private state: FleetState = { seats: [], waiting: [], served: new Map(), asleepSince: new Map() };

  constructor(private readonly now: () => number = Date.now) {}

  private apply(change: Parameters<typeof transition>[1], caps: Caps): SeatTransition {
    const { state, result } = transition(this.state, change, caps, new Date(this.now()).toISOString());
    this.state = state;
    return result;
  }

  async claim(req: SeatRequest, caps: Caps) {
    return this.apply({ kind: "claim", req }, caps);
  }
  async release(key: string, caps: Caps) {
    return this.apply({ kind: "release", key }, caps);
  }
  async pump(caps: Caps) {
    return this.apply({ kind: "pump" }, caps);
  }
  async setAsleep(key: string, asleep: boolean, caps: Caps) {
    return this.apply({ kind: "sleep", key, asleep }, caps);
  }
  async reconcile(existing: readonly Omit<Seat, "state">[], busy: ReadonlySet<string>, caps: Caps) {
    return this.apply({ kind: "reconcile", existing, busy }, caps);
  }
  /** Nothing outlives the process here: a withdrawal is done by the process that decided it, or not at all. */
  async pendingWithdrawals(): Promise<Withdrawal[]> {
    return [];
  }
  async withdrawalDone(): Promise<void> {}
  async snapshot() {
    return {
      seats: [...this.state.seats],
      waiting: serviceOrder(this.state.waiting, this.state.served),
      asleepSince: new Map(this.state.asleepSince),
    };
  }
}
