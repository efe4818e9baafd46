/**
 * Looking images up (one manifest HEAD each, through the Registry boundary) and waiting for the missing ones.
 *
 * An answer decides: found (done), missing (404: not pushed yet) or an error worth retrying (timeout, 5xx, 429) keep
 * the image waiting; refused (401/403: no use waiting, a credential is missing or wrong) and any other error fail at
 * once. Waiting looks again with backoff (`pollMs`, doubled up to `maxPollMs`, never past a deadline), each image until
 * its own deadline; the first image still missing at its deadline fails the wait, naming it and the registry's last
 * answer. A registry that cannot be reached at all (no HTTP answer: refused connection, unknown host, timeout) on
 * UNREACHABLE_LOOKS looks in a row fails the wait early, naming the registry: a wrong name or a closed network does not
 * fix itself within the image's wait (IMAGE_WAIT is 15 minutes). The pauses run parked (the job's queue slot goes to another preview meanwhile) and end at once when the
 * signal aborts (a newer push superseded the deploy): the abort's reason is thrown.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ImageFound, ImageLookupFailed, ImageMissing, ImageResolution } from "../../registry/image-resolution.js";
import { formatDuration } from "../../shared/format.js";

export type Resolve = (reference: string, signal?: AbortSignal) => Promise<ImageResolution>;

/** Looks in a row with no HTTP answer from the registry before the wait gives up on it (~1 min at the bot's pace). */
export const UNREACHABLE_LOOKS = 5;

/** Looks at once at most. */
const LOOKUPS_AT_ONCE = 8;

/** One HEAD per reference (at most 8 at once); answers by reference. */
export async function lookUp(
  references: readonly string[],
  resolve: Resolve,
  signal?: AbortSignal,
): Promise<Map<string, ImageResolution>> {
  const out = new Map<string, ImageResolution>();
  const todo = [...new Set(references)];
  const worker = async () => {
    for (let r = todo.shift(); r !== undefined; r = todo.shift()) out.set(r, await resolve(r, signal));
  };
  await Promise.all(Array.from({ length: Math.min(LOOKUPS_AT_ONCE, todo.length) }, worker));
  return out;
}

export type Waitable = ImageMissing | ImageLookupFailed;

/** An answer worth waiting on (missing, or an error a retry may fix). */
export function isWaitable(answer: ImageResolution): answer is Waitable {
  return answer.outcome === "missing" || (answer.outcome === "error" && answer.retryable);
}

export class ImageWaitError extends Error {
  override name = "ImageWaitError";
  constructor(
    message: string,
    readonly answer: ImageResolution,
  ) {
    super(message);
  }
}

/**
 * The error for an answer that ends the deploy at once (refused, or an error no retry fixes); a refusal says which
 * credential the bot tried.
 */
export function refusal(answer: ImageResolution): ImageWaitError | undefined {
  if (answer.outcome === "found" || isWaitable(answer)) return undefined;
  const tried = answer.outcome === "unauthorized" ? ` (the bot tried ${answer.credential})` : "";
  return new ImageWaitError(`${answer.message}${tried}`, answer);
}

export interface WaitingImage {
  reference: string;
  /** Epoch ms. */
  since: number;
  deadline: number;
  /** The registry's last answer. */
  answer: Waitable;
  looks: number;
  /** Looks in a row that got no HTTP answer (see UNREACHABLE_LOOKS). */
  unreachable: number;
}

const unreachable = (answer: ImageResolution) => answer.outcome === "error" && answer.status === undefined;

export interface WaitOptions {
  resolve: Resolve;
  signal?: AbortSignal | undefined;
  /** First pause between two looks; doubled after each look, up to maxPollMs. */
  pollMs: number;
  maxPollMs: number;
  now?: () => number;
  /** Told before each pause what is still missing (the check run shows it). */
  onWaiting?(waiting: readonly WaitingImage[]): void;
  /** Runs the waiting without holding a job slot (the queue's JobControl.park). */
  park?<T>(wait: () => Promise<T>): Promise<T>;
}

function timeoutError(w: WaitingImage, now: number): ImageWaitError {
  const waited = w.deadline > w.since ? `within ${formatDuration(w.deadline - w.since)}` : "(its wait is 0)";
  const looks = `${w.looks} look${w.looks === 1 ? "" : "s"}`;
  return new ImageWaitError(
    `\`${w.reference}\` did not appear ${waited} (${looks}, the last after ${formatDuration(now - w.since)}); the registry's last answer: ${w.answer.message}`,
    w.answer,
  );
}

function unreachableError(w: WaitingImage, now: number): ImageWaitError {
  return new ImageWaitError(
    `\`${w.reference}\`: ${w.answer.registry} could not be reached on ${w.unreachable} looks in a row over ${formatDuration(now - w.since)}, so the deploy stops here rather than wait ${formatDuration(w.deadline - w.since)}; check the image's registry name and that the bot can reach it. The last answer: ${w.answer.message}`,
    w.answer,
  );
}

/**
 * Wait for every image of `pending` (each with its last answer and how long it may wait) until it is found. Resolves
 * with what was found; throws ImageWaitError at the first deadline or refusal, or the signal's reason when aborted.
 */
export async function waitForImages(
  pending: ReadonlyArray<{ reference: string; waitMs: number; answer: Waitable }>,
  opts: WaitOptions,
): Promise<Map<string, ImageFound>> {
  const now = opts.now ?? Date.now;
  const start = now();
  const waiting: WaitingImage[] = pending.map((p) => ({
    reference: p.reference,
    since: start,
    deadline: start + p.waitMs,
    answer: p.answer,
    looks: 1,
    unreachable: unreachable(p.answer) ? 1 : 0,
  }));
  const found = new Map<string, ImageFound>();
  const expired = waiting.find((w) => w.deadline <= start);
  if (expired) throw timeoutError(expired, start);

  const loop = async () => {
    let delay = opts.pollMs;
    while (waiting.length > 0) {
      opts.onWaiting?.(waiting.map((w) => ({ ...w })));
      const soonest = Math.min(...waiting.map((w) => w.deadline));
      try {
        await sleep(Math.max(0, Math.min(delay, soonest - now())), undefined, { signal: opts.signal });
      } catch (err) {
        if (opts.signal?.aborted) throw opts.signal.reason;
        throw err;
      }
      const answers = await lookUp(
        waiting.map((w) => w.reference),
        opts.resolve,
        opts.signal,
      );
      opts.signal?.throwIfAborted();
      const at = now();
      for (const w of [...waiting]) {
        const answer = answers.get(w.reference)!;
        w.looks++;
        if (answer.outcome === "found") {
          found.set(w.reference, answer);
          waiting.splice(waiting.indexOf(w), 1);
          continue;
        }
        const refused = refusal(answer);
        if (refused) throw refused;
        w.answer = answer as Waitable;
        w.unreachable = unreachable(answer) ? w.unreachable + 1 : 0;
        if (w.unreachable >= UNREACHABLE_LOOKS) throw unreachableError(w, at);
        if (at >= w.deadline) throw timeoutError(w, at);
      }
      delay = Math.min(delay * 2, opts.maxPollMs);
    }
  };
  await (opts.park ? opts.park(loop) : loop());
  return found;
}
