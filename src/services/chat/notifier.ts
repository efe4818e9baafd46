/**
 * The Slack notifier: one thread per PR in the repository's channel. The parent message carries the summary (state,
 * URL, buttons) and is edited in place; each update is posted as a reply in the thread.
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
import { redactText, type Logger } from "../../logger.js";
import type { Announcer } from "../shared/announcer.js";
import { formatCost } from "../shared/cost.js";
import type { PreviewSummary } from "../shared/dispatch.js";
import type { RunReport } from "../shared/run-report.js";
import { stateAfterRun } from "../shared/state.js";
import { escapeSlack, previewBlocks, previewText } from "./slack-blocks.js";
import { describeSlackError as describe, platformError, retryDelay, type WebClient } from "./slack-retry.js";

export { createSlackWebClient } from "./slack-retry.js";
import type { ThreadRef, ThreadStore } from "./slack-threads.js";

export { MemoryThreadStore, type ThreadStore } from "./slack-threads.js";

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

export interface Notifier extends Announcer {
  notify(summary: PreviewSummary, update: NotifyUpdate, opts?: NotifyOptions): Promise<void>;
  /** A finished run (deploy or teardown): the PR thread's summary and one reply. Never throws. */
  notifyRun(report: RunReport): Promise<void>;
  /** The preview expires soon: a reply in its thread, whose summary carries the Extend button. */
  headsUp(item: ExpiryHeadsUp): Promise<void>;
  /** Try again what Slack refused for a passing reason (outage, rate limit); runs on a timer once started. */
  flushPending?(): Promise<void>;
  /** Start the retry timer (the composition root's start step). */
  start?(): void;
  /** Stop the retry timer. */
  close?(): void;
}

/** What the sweeper knows of a preview that expires soon. */
export interface ExpiryHeadsUp {
  key: string;
  owner: string;
  repo: string;
  number: number;
  namespace: string;
  expiresAt: string;
  slackChannel?: string;
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
  private timer: NodeJS.Timeout | undefined;
  private flushing = false;

  constructor(private readonly opts: SlackNotifierOptions) {
    this.log = opts.logger.child({ component: "slack-notifier" });
    this.sleep = opts.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    this.attempts = Math.max(1, opts.retry?.attempts ?? 4);
    this.baseDelayMs = opts.retry?.baseDelayMs ?? 500;
    this.maxDelayMs = opts.retry?.maxDelayMs ?? 30_000;
  }

  start(): void {
    const every = this.opts.outboxIntervalMs ?? 60_000;
    if (this.timer || every <= 0) return;
    this.timer = setInterval(() => void this.flushPending().catch(() => undefined), every);
    this.timer.unref();
  }

  async notifyRun(report: RunReport): Promise<void> {
    const { ref, names } = report;
    await this.notify(
      {
        key: names.key,
        owner: ref.owner,
        repo: ref.repo,
        number: ref.number,
        state: stateAfterRun(report),
        namespace: names.namespace,
        ...(report.url ? { url: report.url } : {}),
        ...(report.extraUrls?.length ? { extraUrls: report.extraUrls } : {}),
        ...(ref.sha ? { sha: ref.sha } : {}),
        ...(report.sleep?.asleepSince ? { asleepSince: report.sleep.asleepSince } : {}),
        ...(report.cost ? { cost: formatCost(report.cost) } : {}),
        ...(report.pageUrl ? { pageUrl: report.pageUrl } : {}),
      },
      { text: report.summary, ...(report.error ? { detail: report.error } : {}) },
      report.slackChannel ? { channel: report.slackChannel } : {},
    );
  }

  async headsUp(item: ExpiryHeadsUp): Promise<void> {
    await this.notify(
      {
        key: item.key,
        owner: item.owner,
        repo: item.repo,
        number: item.number,
        state: "ready",
        namespace: item.namespace,
        expiresAt: item.expiresAt,
      },
      {
        text: `This preview expires at ${item.expiresAt}. Press Extend, or comment \`/preview extend 3d\` on the pull request, to keep it.`,
      },
      item.slackChannel ? { channel: item.slackChannel } : {},
    );
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
