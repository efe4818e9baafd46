/**
 * The chat domain: the Slack notifier (this file), its Block Kit messages (slack-blocks.ts) and where each PR's
 * thread is remembered (slack-threads.ts). Slack notifier: one thread per PR in the repository's channel. The parent
 * message carries the summary (state, URL, buttons) and is edited in place; each update is posted as a reply in the
 * thread.
 *
 * Which channel: the one the caller names (the repository's `slack.channel`, read from its config by the run or the
 * sweep), else the channel of the PR's stored thread (shared in PostgreSQL across replicas and restarts), else the
 * default. A message that names no channel never moves a thread.
 *
 * `notify` never throws and never blocks for long: Slack being down, rate limiting or a bad token are logged (no
 * secrets) and the caller goes on. Retries are this module's own bounded loop (429 → wait `Retry-After`; 5xx or
 * network → exponential backoff), so build the client with `createSlackWebClient`, which turns WebClient's own
 * retries off (its default retries for up to 30 minutes).
 */
import { webApi } from "@slack/bolt";
import { redactText, type Logger } from "../../logger.js";
import type { PreviewSummary } from "../shared/dispatch.js";
import { escapeSlack, previewBlocks, previewText } from "./slack-blocks.js";

type WebClient = InstanceType<typeof webApi.WebClient>;
type WebClientOptions = NonNullable<ConstructorParameters<typeof webApi.WebClient>[1]>;

export interface ThreadRef {
  channel: string;
  ts: string;
}

/** Where each PR's thread lives, keyed by preview key (`owner/repo#N`). */
export interface ThreadStore {
  get(key: string): Promise<ThreadRef | undefined>;
  set(key: string, ref: ThreadRef): Promise<void>;
}

export class MemoryThreadStore implements ThreadStore {
  private readonly threads = new Map<string, ThreadRef>();
  async get(key: string): Promise<ThreadRef | undefined> {
    return this.threads.get(key);
  }
  async set(key: string, ref: ThreadRef): Promise<void> {
    this.threads.set(key, { ...ref });
  }
}

export interface NotifyUpdate {
  /** One line: "Deployed abc1234 in 42 s". */
  text: string;
  /** Longer detail (step list, diagnosis); shown in a code block in the thread. */
  detail?: string;
}

export interface NotifyOptions {
  /** The repository's channel (`slack.channel` of its config), when the caller knows it. */
  channel?: string;
}

export interface Notifier {
  notify(summary: PreviewSummary, update: NotifyUpdate, opts?: NotifyOptions): Promise<void>;
  /** Try again what Slack refused for a passing reason (outage, rate limit); runs on a timer too. */
  flushPending?(): Promise<void>;
  /** Stop the retry timer. */
  close?(): void;
  /** A message to the announcement channel (backup results, sweeper reports). Never throws. */
  announce?(text: string): Promise<void>;
}

export interface RetryOptions {
  /** Tries per Slack call, first included (default 4). */
  attempts?: number;
  /** First backoff for 5xx/network errors, doubled each time (default 500 ms). */
  baseDelayMs?: number;
  /** Longest single wait, including a `Retry-After` (default 30 s; a longer Retry-After gives up). */
  maxDelayMs?: number;
}

export interface SlackNotifierOptions {
  client: WebClient;
  threads: ThreadStore;
  /** The default channel for a repository's previews (no `slack.channel`, no thread yet); undefined → not notified. */
  channelFor(owner: string, repo: string): string | undefined;
  logger: Logger;
  retry?: RetryOptions;
  /** Channel for announcements not tied to a PR (backups, sweeper); none → not announced. */
  announceChannel?: string;
  /** How long the Extend button extends by (default `3d`). */
  extendBy?: string;
  /** Injected clock for waits (tests record the delays instead of sleeping). */
  sleep?: (ms: number) => Promise<void>;
  /** How often messages Slack refused for a passing reason are tried again (default 60 s; 0 = only flushPending). */
  outboxIntervalMs?: number;
}

/** Messages kept for a later try at most (oldest dropped first, logged). */
const OUTBOX_LIMIT = 500;

/** A WebClient whose failures surface at once so the notifier's bounded loop decides about retries. */
export function createSlackWebClient(token: string, options: WebClientOptions = {}): WebClient {
  return new webApi.WebClient(token, {
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
    ...options,
  });
}

const MAX_DETAIL = 2800;

interface Pending {
  summary: PreviewSummary;
  update: NotifyUpdate;
  opts: NotifyOptions;
}

class SlackNotifier implements Notifier {
  private readonly log: Logger;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly outbox: Pending[] = [];
  private readonly timer: NodeJS.Timeout | undefined;
  private flushing = false;

  constructor(private readonly opts: SlackNotifierOptions) {
    this.log = opts.logger.child({ component: "slack-notifier" });
    this.sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    this.attempts = Math.max(1, opts.retry?.attempts ?? 4);
    this.baseDelayMs = opts.retry?.baseDelayMs ?? 500;
    this.maxDelayMs = opts.retry?.maxDelayMs ?? 30_000;
    const every = opts.outboxIntervalMs ?? 60_000;
    this.timer = every > 0 ? setInterval(() => void this.flushPending().catch(() => undefined), every) : undefined;
    this.timer?.unref();
  }

  /** One Slack call with the bounded retry loop (429 → Retry-After; 5xx or network → backoff). */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const delay = retryDelay(err, attempt, this.baseDelayMs);
        if (delay === undefined || attempt >= this.attempts || delay > this.maxDelayMs) {
          throw new Error(`${what}: ${describe(err)}`, { cause: err });
        }
        this.log.debug({ what, attempt, delayMs: delay }, "slack call failed, retrying");
        await this.sleep(delay);
      }
    }
  }

  private extendOpt(): { extendBy?: string } {
    return this.opts.extendBy ? { extendBy: this.opts.extendBy } : {};
  }

  private async postParent(channel: string, summary: PreviewSummary): Promise<ThreadRef> {
    const res = await this.call(`posting the thread for ${summary.key}`, () =>
      this.opts.client.chat.postMessage({
        channel,
        text: previewText(summary),
        blocks: previewBlocks(summary, this.extendOpt()),
        unfurl_links: false,
        unfurl_media: false,
      }),
    );
    if (!res.ts) throw new Error(`posting the thread for ${summary.key}: Slack returned no message ts`);
    const ref = { channel: res.channel ?? channel, ts: res.ts };
    await this.opts.threads.set(summary.key, ref);
    return ref;
  }

  /** The PR's thread in `channel`: its stored parent, edited to the current summary, or a new one. */
  private async thread(channel: string, stored: ThreadRef | undefined, summary: PreviewSummary): Promise<ThreadRef> {
    if (!stored || stored.channel !== channel) return this.postParent(channel, summary);
    try {
      await this.call(`updating the thread for ${summary.key}`, () =>
        this.opts.client.chat.update({
          channel: stored.channel,
          ts: stored.ts,
          text: previewText(summary),
          blocks: previewBlocks(summary, this.extendOpt()),
        }),
      );
      return stored;
    } catch (err) {
      // The parent was deleted (or the bot left the channel): start a new thread rather than lose updates.
      if (!["message_not_found", "cant_update_message"].includes(platformError(err) ?? "")) throw err;
      this.log.info({ key: summary.key }, "thread parent is gone; starting a new thread");
      return this.postParent(channel, summary);
    }
  }

  async notify(summary: PreviewSummary, update: NotifyUpdate, opts: NotifyOptions = {}): Promise<void> {
    const key = summary.key;
    try {
      const stored = await this.opts.threads.get(key);
      const channel = opts.channel ?? stored?.channel ?? this.opts.channelFor(summary.owner, summary.repo);
      if (!channel) {
        this.log.debug({ key }, "no Slack channel for this repository; not notifying");
        return;
      }
      const ref = await this.thread(channel, stored, summary);
      await this.call(`posting an update for ${key}`, () =>
        this.opts.client.chat.postMessage({
          channel: ref.channel,
          thread_ts: ref.ts,
          text: updateText(update),
          unfurl_links: false,
          unfurl_media: false,
        }),
      );
    } catch (err) {
      this.keepOrDrop({ summary, update, opts }, err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Slack being down or rate-limiting must not lose the update: keep it and try again later, in order. */
  private keepOrDrop(item: Pending, error: Error): void {
    const key = item.summary.key;
    if (retryDelay(error.cause ?? error, 1, this.baseDelayMs) === undefined) {
      this.log.warn({ key, err: error }, "Slack notification failed; carrying on");
      return;
    }
    this.outbox.push(item);
    if (this.outbox.length > OUTBOX_LIMIT)
      this.log.warn({ key: this.outbox.shift()!.summary.key }, "Slack outbox full; dropped its oldest update");
    this.log.warn({ key, err: error, pending: this.outbox.length }, "Slack notification failed; kept for a later try");
  }

  async flushPending(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      const batch = this.outbox.splice(0);
      for (const [i, item] of batch.entries()) {
        const before = this.outbox.length;
        await this.notify(item.summary, item.update, item.opts);
        if (this.outbox.length > before) {
          // still failing: keep the rest, in order, behind it
          this.outbox.push(...batch.slice(i + 1));
          break;
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async announce(text: string): Promise<void> {
    const channel = this.opts.announceChannel;
    if (!channel) return;
    try {
      await this.call("posting an announcement", () =>
        this.opts.client.chat.postMessage({
          channel,
          text: escapeSlack(redactText(text), 3000),
          unfurl_links: false,
          unfurl_media: false,
        }),
      );
    } catch (err) {
      this.log.warn(
        { err: err instanceof Error ? err : new Error(String(err)) },
        "Slack announcement failed; carrying on",
      );
    }
  }
}

export function createSlackNotifier(opts: SlackNotifierOptions): Notifier & { flushPending(): Promise<void> } {
  return new SlackNotifier(opts);
}

function updateText(update: NotifyUpdate): string {
  const text = escapeSlack(update.text, 500);
  if (!update.detail) return text;
  const detail = redactText(update.detail).replace(/```/g, "'''");
  const cut = detail.length > MAX_DETAIL ? `…${detail.slice(-MAX_DETAIL)}` : detail;
  return `${text}\n\`\`\`${escapeSlack(cut, MAX_DETAIL + 1)}\`\`\``;
}

/** How long to wait before trying again, or undefined when the error is not worth retrying. */
function retryDelay(err: unknown, attempt: number, baseDelayMs: number): number | undefined {
  const e = err as { code?: unknown; retryAfter?: unknown; statusCode?: unknown } | null;
  if (e?.code === webApi.ErrorCode.RateLimitedError && typeof e.retryAfter === "number") return e.retryAfter * 1000;
  const backoff = baseDelayMs * 2 ** (attempt - 1);
  if (e?.code === webApi.ErrorCode.RequestError) return backoff;
  if (e?.code === webApi.ErrorCode.HTTPError && typeof e.statusCode === "number" && e.statusCode >= 500) return backoff;
  if (["internal_error", "fatal_error", "service_unavailable", "request_timeout"].includes(platformError(err) ?? ""))
    return backoff;
  return undefined;
}

function platformError(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 3; depth++) {
    const candidate = e as { code?: unknown; data?: { error?: unknown }; cause?: unknown };
    if (candidate.code === webApi.ErrorCode.PlatformError && typeof candidate.data?.error === "string")
      return candidate.data.error;
    e = candidate.cause;
  }
  return undefined;
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; statusCode?: unknown; retryAfter?: unknown } | null;
  const platform = platformError(err);
  if (platform) return `Slack said ${platform}`;
  if (e?.code === webApi.ErrorCode.HTTPError) return `HTTP ${String(e.statusCode)}`;
  if (e?.code === webApi.ErrorCode.RateLimitedError) return `rate limited (retry after ${String(e.retryAfter)} s)`;
  return redactText(err instanceof Error ? err.message : String(err));
}
