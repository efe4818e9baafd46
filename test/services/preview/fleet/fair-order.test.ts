/** Who runs next: first come, first served within a repository, round-robin across repositories, caps respected. */
import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import {
  blockedBy,
  promote,
  serviceOrder,
  type Caps,
  type Seat,
  type Waiting,
} from "../../../../src/services/preview/fleet/fair-order.js";

const w = (key: string, seq: number, author = "ann", limits = {}): Waiting => ({
  key,
  repo: key.split("#")[0]!,
  author,
  seq,
  limits,
});
const seat = (key: string, author = "ann", state: Seat["state"] = "running"): Seat => ({
  key,
  repo: key.split("#")[0]!,
  author,
  state,
});
const keys = (xs: readonly { key: string }[]) => xs.map((x) => x.key);

describe("the service order", () => {
  it("is first come, first served within one repository", () => {
    expect(keys(serviceOrder([w("a/x#3", 3), w("a/x#1", 1), w("a/x#2", 2)], new Map()))).toEqual([
      "a/x#1",
      "a/x#2",
      "a/x#3",
    ]);
  });

  it("takes repositories in turn, the one waiting longest first, so a busy repository cannot starve the others", () => {
    const waiting = [w("a/x#1", 1), w("a/x#2", 2), w("a/x#3", 3), w("b/y#1", 4), w("c/z#1", 5), w("b/y#2", 6)];
    expect(keys(serviceOrder(waiting, new Map()))).toEqual(["a/x#1", "b/y#1", "c/z#1", "a/x#2", "b/y#2", "a/x#3"]);
  });

  it("puts the repository served most recently at the back", () => {
    const waiting = [w("a/x#1", 1), w("b/y#1", 2)];
    expect(keys(serviceOrder(waiting, new Map([["a/x", 7]])))).toEqual(["b/y#1", "a/x#1"]);
    expect(
      keys(
        serviceOrder(
          waiting,
          new Map([
            ["a/x", 7],
            ["b/y", 8],
          ]),
        ),
      ),
    ).toEqual(["a/x#1", "b/y#1"]);
  });
});

describe("blockedBy: which cap keeps a deploy waiting, in words", () => {
  const caps: Caps = { total: 3, perRepo: 2, perAuthor: 2 };
  it.each([
    ["nothing: it fits", [seat("a/x#1")], w("a/x#9", 1), undefined],
    [
      "the bot's total",
      [seat("a/x#1"), seat("b/y#1", "bo"), seat("c/z#1", "cy")],
      w("d/q#1", 1, "di"),
      /at most 3 previews at once/,
    ],
    ["its repository", [seat("a/x#1", "bo"), seat("a/x#2", "cy")], w("a/x#3", 1), /a\/x may run 2 previews/],
    ["its author", [seat("a/x#1"), seat("b/y#1")], w("c/z#1", 1), /@ann may have 2 previews running/],
    [
      "the repository's own lower cap",
      [seat("a/x#1", "bo")],
      w("a/x#2", 1, "ann", { maxPreviews: 1 }),
      /a\/x may run 1 preview /,
    ],
    [
      "the repository's per-author cap",
      [seat("a/x#1")],
      w("a/x#2", 1, "ann", { maxPreviewsPerAuthor: 1 }),
      /@ann may have 1 preview of a\/x/,
    ],
    [
      "a repository cannot raise the bot's cap",
      [seat("a/x#1", "bo"), seat("a/x#2", "cy")],
      w("a/x#3", 1, "ann", { maxPreviews: 9 }),
      /may run 2/,
    ],
    [
      "asleep previews do not count",
      [seat("a/x#1", "bo", "asleep"), seat("a/x#2", "cy", "asleep")],
      w("a/x#3", 1),
      undefined,
    ],
  ] as const)("%s", (_what, seats, waiting, expected) => {
    const why = blockedBy(waiting, seats, caps);
    if (expected === undefined) expect(why).toBeUndefined();
    else expect(why).toMatch(expected);
  });
});

describe("promote", () => {
  it("fills the free seats in service order and passes over a deploy its repository's cap keeps out", () => {
    const p = promote([seat("a/x#1")], [w("a/x#2", 1), w("b/y#1", 2, "bo"), w("c/z#1", 3, "cy")], new Map(), {
      total: 3,
      perRepo: 1,
    });
    expect(keys(p.promoted)).toEqual(["b/y#1", "c/z#1"]);
    expect(keys(p.waiting)).toEqual(["a/x#2"]);
    expect(p.seats).toHaveLength(3);
    expect(p.served.get("b/y")).toBeLessThan(p.served.get("c/z")!);
  });

  it("promotes nothing when the caps are full, everything when there are none", () => {
    const waiting = [w("a/x#2", 1), w("b/y#1", 2)];
    expect(promote([seat("a/x#1")], waiting, new Map(), { total: 1 }).promoted).toEqual([]);
    expect(keys(promote([seat("a/x#1")], waiting, new Map(), {}).promoted)).toEqual(["a/x#2", "b/y#1"]);
  });

  it("never exceeds a cap, whatever holds seats and waits (property)", () => {
    const repo = fc.constantFrom("a/x", "b/y", "c/z");
    const author = fc.constantFrom("ann", "bo", "cy");
    const entry = fc.record({ repo, author, n: fc.integer({ min: 1, max: 50 }), asleep: fc.boolean() });
    const cap = fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined });
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 8 }),
        fc.array(entry, { maxLength: 20 }),
        fc.record({ total: cap, perRepo: cap, perAuthor: cap }),
        (held, queued, rawCaps) => {
          const caps: Caps = Object.fromEntries(Object.entries(rawCaps).filter(([, v]) => v !== undefined));
          // Seats start within the caps (the fleet never grants past them); the promotions must keep it so.
          const seats: Seat[] = [];
          for (const h of held) {
            const s = seat(`${h.repo}#${h.n}`, h.author, h.asleep ? "asleep" : "running");
            if (seats.some((x) => x.key === s.key)) continue;
            const probe = w(s.key, 0, s.author);
            if (s.state === "asleep" || blockedBy(probe, seats, caps) === undefined) seats.push(s);
          }
          const waiting = queued
            .map((q, i) => w(`${q.repo}#${100 + i}`, i + 1, q.author))
            .filter((x) => !seats.some((s) => s.key === x.key));
          const p = promote(seats, waiting, new Map(), caps);
          const running = p.seats.filter((s) => s.state === "running");
          if (caps.total !== undefined) expect(running.length).toBeLessThanOrEqual(Math.max(caps.total, 0));
          for (const r of ["a/x", "b/y", "c/z"]) {
            if (caps.perRepo !== undefined)
              expect(running.filter((s) => s.repo === r).length).toBeLessThanOrEqual(caps.perRepo);
          }
          for (const a of ["ann", "bo", "cy"]) {
            if (caps.perAuthor !== undefined)
              expect(running.filter((s) => s.author === a).length).toBeLessThanOrEqual(caps.perAuthor);
          }
          // nothing is both promoted and still waiting, and nothing is lost
          expect(p.promoted.length + p.waiting.length).toBe(waiting.length);
          // and whatever still waits is really kept out by a cap
          for (const left of p.waiting) expect(blockedBy(left, p.seats, caps)).toBeDefined();
        },
      ),
      { numRuns: 300 },
    );
  });
});
