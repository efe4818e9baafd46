/**
 * Who runs next, pure: the caps, the previews that hold a seat, and the deploys waiting for one → the order the
 * waiting deploys are served in and which of them may start now. No I/O, no clock.
 *
 * Fairness: first come, first served within a repository; round-robin across repositories — the repository served
 * least recently goes first (one never served before counts as served longest ago; ties go to whichever has the
 * oldest waiting deploy), and once served it goes to the back. A waiting deploy that the caps keep out (its
 * repository or its author is at their limit) is passed over, not served out of turn later: the next one in the order
 * that fits is promoted, and the order is computed again after each promotion.
 */

/** Bot-level caps (settings); absent: no limit. */
export interface Caps {
  /** Previews running at once, all repositories together. */
  total?: number;
  /** Previews of one repository running at once. */
  perRepo?: number;
  /** Previews of one author running at once, all repositories together. */
  perAuthor?: number;
}

/** A repository's own, lower limits (`caps` in its .github/preview.yml), carried by each of its waiting deploys. */
export interface RepoCaps {
  /** This repository's previews running at once. */
  maxPreviews?: number;
  /** One author's previews of this repository running at once. */
  maxPreviewsPerAuthor?: number;
}

/** A preview that holds a seat (counted while `running`; an `asleep` one does not count). */
export interface Seat {
  key: string;
  /** Lower-case `owner/repo`. */
  repo: string;
  /** Lower-case GitHub login of the pull request's author. */
  author: string;
  state: "running" | "asleep";
}

/** A deploy waiting for a seat. */
export interface Waiting {
  key: string;
  repo: string;
  author: string;
  /** Arrival order (first come, first served within a repository). */
  seq: number;
  limits: RepoCaps;
}

/** When each repository was last served (a counter, higher is later). */
export type Served = ReadonlyMap<string, number>;

/** The waiting deploys in the order they would be served (position = index + 1), ignoring the caps. */
export function serviceOrder<W extends Waiting>(waiting: readonly W[], served: Served): W[] {
  const byRepo = new Map<string, W[]>();
  for (const w of [...waiting].sort((a, b) => a.seq - b.seq)) {
    const list = byRepo.get(w.repo) ?? byRepo.set(w.repo, []).get(w.repo)!;
    list.push(w);
  }
  const repos = [...byRepo.keys()].sort(
    (a, b) => (served.get(a) ?? 0) - (served.get(b) ?? 0) || byRepo.get(a)![0]!.seq - byRepo.get(b)![0]!.seq,
  );
  const out: W[] = [];
  for (let round = 0; out.length < waiting.length; round++)
    for (const repo of repos) {
      const w = byRepo.get(repo)![round];
      if (w) out.push(w);
    }
  return out;
}

/** Which cap keeps this deploy waiting right now, in words; undefined when it would fit. */
export function blockedBy(w: Waiting, seats: readonly Seat[], caps: Caps): string | undefined {
  const running = seats.filter((s) => s.state === "running");
  const inRepo = running.filter((s) => s.repo === w.repo);
  const byAuthor = running.filter((s) => s.author === w.author);
  const repoLimit = min(caps.perRepo, w.limits.maxPreviews);
  if (caps.total !== undefined && running.length >= caps.total)
    return `preview-bot runs at most ${caps.total} preview${caps.total === 1 ? "" : "s"} at once`;
  if (repoLimit !== undefined && inRepo.length >= repoLimit)
    return `${w.repo} may run ${repoLimit} preview${repoLimit === 1 ? "" : "s"} at once`;
  if (caps.perAuthor !== undefined && byAuthor.length >= caps.perAuthor)
    return `@${w.author} may have ${caps.perAuthor} preview${caps.perAuthor === 1 ? "" : "s"} running at once`;
  const authorInRepo = w.limits.maxPreviewsPerAuthor;
  if (authorInRepo !== undefined && byAuthor.filter((s) => s.repo === w.repo).length >= authorInRepo)
    return `@${w.author} may have ${authorInRepo} preview${authorInRepo === 1 ? "" : "s"} of ${w.repo} running at once`;
  return undefined;
}

export interface Promotion<W extends Waiting> {
  /** Promoted now, in the order they were served. */
  promoted: W[];
  /** Still waiting, in service order. */
  waiting: W[];
  /** The seats after the promotions. */
  seats: Seat[];
  /** `served` after the promotions. */
  served: Map<string, number>;
}

/** Promote waiting deploys, in service order, while one fits the caps. */
export function promote<W extends Waiting>(
  seats: readonly Seat[],
  waiting: readonly W[],
  served: Served,
  caps: Caps,
): Promotion<W> {
  const held = [...seats];
  const left = [...waiting];
  const clock = new Map(served);
  let now = Math.max(0, ...clock.values());
  const promoted: W[] = [];
  for (;;) {
    const next = serviceOrder(left, clock).find((w) => blockedBy(w, held, caps) === undefined);
    if (!next) break;
    promoted.push(next);
    left.splice(left.indexOf(next), 1);
    held.push({ key: next.key, repo: next.repo, author: next.author, state: "running" });
    clock.set(next.repo, ++now);
  }
  return { promoted, waiting: serviceOrder(left, clock), seats: held, served: clock };
}

function min(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
