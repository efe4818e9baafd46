/**
 * The reviewed commit: the one rule that says which commit a person's deploy may deploy. Pure; the gate gathers its
 * inputs (the pull request now, the head log, GitHub's record of the head commit).
 *
 * - `/preview deploy <sha>` (any PR): the named commit, which must be the head now; the job carries it, so a retry or
 *   a later run never deploys another (admit.ts refuses when the head has moved by then).
 * - A PR from the same repository: no pin; the deploy takes the head when it runs.
 * - A fork PR from a comment: the head as of the comment, and only when that is still the head. The head log keeps
 *   every sighting of a head (`pull_request` opened, reopened, synchronize, with GitHub's time), so the interval each
 *   commit was the head is known — not just when a commit was first seen (a force-push back to an older, unreviewed
 *   commit starts a new interval). GitHub's times have one-second resolution: a head change in the comment's own
 *   second cannot be ordered against it, and is refused, as is a head nothing records. The head commit's first check
 *   suite (GitHub's record) may only refuse: a commit first pushed after the comment was not what it reviewed.
 * - A fork PR from Slack (no comment time): the commit must be named, or confirmed (the answer offers a button that
 *   names the head).
 * Every refusal says why and what to do.
 */
import type { ActionName } from "../actions.js";
import type { HeadSighting } from "../services/github/head-log.js";
import type { Door } from "./request.js";

export interface PinInput {
  action: ActionName;
  door: Door;
  /** The commit the person named (7–40 hex digits), if any. */
  named?: string;
  pull: { sha: string; fork: boolean };
  /** `comment`: when it was written. */
  commentedAt?: string;
  /** The head log of this PR, any order. */
  sightings: readonly HeadSighting[];
  /** When GitHub first saw the head commit (its earliest check suite), if it has one. */
  headArrivedAt?: string;
}

export type Pin =
  | { sha?: string }
  /** `confirm`: the head to offer for confirmation (Slack). */
  | { refuse: string; confirm?: string };

const second = (iso: string) => Math.floor(Date.parse(iso) / 1000);

export function reviewedCommit(input: PinInput): Pin {
  const { pull, named, action } = input;
  const head = pull.sha;
  const short = head.slice(0, 7);
  if (named !== undefined) {
    if (!head.startsWith(named.toLowerCase())) {
      return {
        refuse: `\`${named.slice(0, 12)}\` is not the head of this pull request (the head is \`${short}\`), so nothing was deployed. Review the head commit and deploy it.`,
      };
    }
    return { sha: head };
  }
  if (!pull.fork) return {};
  const deployExactly = `To deploy exactly the head, review it and ask again naming it: \`/preview ${action} ${short}\`.`;
  if (input.door !== "comment" || input.commentedAt === undefined) {
    return {
      refuse: `This pull request comes from a fork: a deploy must name the reviewed commit. The head is \`${short}\`. ${deployExactly}`,
      confirm: head,
    };
  }
  const asked = second(input.commentedAt);
  const sightings = input.sightings.filter((s) => Number.isFinite(Date.parse(s.at)));
  if (sightings.some((s) => second(s.at) > asked)) {
    return { refuse: `the pull request's head moved after your comment, so nothing was deployed. ${deployExactly}` };
  }
  if (sightings.some((s) => second(s.at) === asked)) {
    return {
      refuse: `the pull request's head changed in the same second as your comment, so I cannot tell which commit you reviewed; nothing was deployed. ${deployExactly}`,
    };
  }
  const before = sightings.filter((s) => second(s.at) < asked);
  const lastSecond = Math.max(...before.map((s) => second(s.at)));
  const atComment = new Set(before.filter((s) => second(s.at) === lastSecond).map((s) => s.sha));
  if (atComment.size === 0) {
    return {
      refuse: `this pull request comes from a fork and I have no record of its head \`${short}\` before your comment, so nothing was deployed. ${deployExactly}`,
    };
  }
  if (atComment.size > 1 || !atComment.has(head)) {
    return {
      refuse: `the head is now \`${short}\`, which is not the commit this pull request had when you commented; nothing was deployed. ${deployExactly}`,
    };
  }
  if (input.headArrivedAt !== undefined && second(input.headArrivedAt) >= asked) {
    return { refuse: `GitHub first saw \`${short}\` after your comment, so nothing was deployed. ${deployExactly}` };
  }
  return { sha: head };
}
