/** The reviewed-commit rule (src/intake/pin.ts), table-tested: which commit a person's deploy may deploy. */
import { describe, expect, it } from "@jest/globals";
import { reviewedCommit, type PinInput } from "../../src/intake/pin.js";

const A = "a".repeat(40);
const B = "b".repeat(40);
const T = (s: number) => new Date(Date.UTC(2026, 11, 7, 10, 0, s)).toISOString();
const base = (over: Partial<PinInput>): PinInput => ({
  action: "deploy",
  door: "comment",
  pull: { sha: B, fork: true },
  commentedAt: T(30),
  sightings: [],
  ...over,
});
const outcome = (p: ReturnType<typeof reviewedCommit>) => ("refuse" in p ? `refuse: ${p.refuse}` : (p.sha ?? "no pin"));

describe("the reviewed commit", () => {
  it.each<[string, Partial<PinInput>, RegExp | string]>([
    ["a named commit that is the head: pinned to the full head", { named: "bbbbbbb" }, B],
    [
      "a named commit that is not the head: refused",
      { named: "aaaaaaa" },
      /`aaaaaaa` is not the head.*the head is `bbbbbbb`/,
    ],
    ["a PR from the same repository: no pin (the head when the job runs)", { pull: { sha: B, fork: false } }, "no pin"],
    [
      "a fork's head seen before the comment and still the head: pinned",
      {
        sightings: [
          { sha: A, at: T(1) },
          { sha: B, at: T(20) },
        ],
      },
      B,
    ],
    [
      "a push in the comment's own second: refused",
      {
        sightings: [
          { sha: A, at: T(1) },
          { sha: B, at: T(30) },
        ],
      },
      /same second/,
    ],
    [
      "a push after the comment: refused",
      {
        sightings: [
          { sha: A, at: T(1) },
          { sha: B, at: T(31) },
        ],
      },
      /moved after your comment/,
    ],
    [
      "a force-push back to a commit seen before, after the comment: refused",
      {
        pull: { sha: A, fork: true },
        sightings: [
          { sha: A, at: T(1) },
          { sha: B, at: T(10) },
          { sha: A, at: T(40) },
        ],
      },
      /moved after your comment/,
    ],
    [
      "a head not yet recorded (its event still on the way): refused",
      { sightings: [{ sha: A, at: T(1) }] },
      /the head is now `bbbbbbb`, which is not the commit this pull request had when you commented/,
    ],
    ["no record at all: refused, with the way out", {}, /no record of its head `bbbbbbb`.*`\/preview deploy bbbbbbb`/],
    [
      "two heads in the last second before the comment: refused (their order is unknown)",
      {
        sightings: [
          { sha: A, at: T(20) },
          { sha: B, at: T(20) },
        ],
      },
      /not the commit this pull request had/,
    ],
    [
      "GitHub first saw the head after the comment: refused",
      { sightings: [{ sha: B, at: T(20) }], headArrivedAt: T(35) },
      /GitHub first saw `bbbbbbb` after your comment/,
    ],
    ["a check suite alone never vouches for a head", { headArrivedAt: T(1) }, /no record of its head/],
    [
      "Slack names no commit: refused, offering the head",
      { door: "slack", commentedAt: undefined },
      /must name the reviewed commit\. The head is `bbbbbbb`/,
    ],
  ])("%s", (_name, over, want) => {
    const got = outcome(reviewedCommit(base(over)));
    if (typeof want === "string") expect(got).toBe(want);
    else expect(got).toMatch(want);
  });

  it("offers the head for confirmation only where there is no comment to date (Slack)", () => {
    expect(reviewedCommit(base({ door: "slack", commentedAt: undefined }))).toMatchObject({ confirm: B });
    expect(reviewedCommit(base({}))).not.toHaveProperty("confirm");
  });
});
