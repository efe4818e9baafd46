/**
 * The wake door: sleeping previews' routes point at the bot's Service (cluster/sleep-routes.ts), so a request whose
 * Host is a sleeping preview's arrives here. It is answered at once with a small page that refreshes itself, and —
 * for a real visitor — starts the wake through the intake (door `visitor`: it may only wake). Link unfurlers and
 * crawlers (Slack, GitHub's image proxy, social previews) and the bot's own health checks get the page and wake
 * nothing, so they never extend a preview's life either.
 *
 * Which hosts sleep comes from the namespaces (WAKE_HOSTS_ANNOTATION), looked up at most once per `cacheMs` however
 * many requests arrive (one list call shared by all of them); any other Host falls through to the bot's doors.
 *
 * One sleep of one preview is asked to wake at most once per `resubmitMs` (the queue deduplicates besides). The record
 * of those asks is keyed by the sleep (namespace and asleep-since), so a preview that wakes and falls asleep again
 * within that time is woken again at once; it keeps only the asks of the last `resubmitMs` (RecentAsks), so it stays
 * as small as the rate of wakes, however many previews come and go.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../logger.js";
import { MANAGED_BY, PR_LABEL, REPOSITORY_ANNOTATION } from "../services/shared/labels.js";
import type { Cluster } from "../services/shared/preview.js";
import type { Request } from "../services/shared/request.js";
import { HEALTH_CHECK_USER_AGENT, readSleep } from "../services/shared/sleep.js";

export type Listener = (req: IncomingMessage, res: ServerResponse) => Promise<boolean> | boolean;

export interface WakeDoorOptions {
  cluster: Pick<Cluster, "listNamespaces">;
  submit(request: Request): Promise<unknown>;
  logger: Logger;
  /** How long one look at the sleeping hosts is trusted (default 2 s). */
  cacheMs?: number;
  /** How often one preview's wake is asked for at most (default 15 s; the queue deduplicates besides). */
  resubmitMs?: number;
}

interface Sleeper {
  namespace: string;
  owner: string;
  repo: string;
  number: number;
  installationId?: number;
  asleepSince: number;
}

/**
 * Link unfurlers, crawlers and the bot's own health checks, by User-Agent: Slack's unfurler and image proxy, GitHub's
 * camo, the social networks' preview fetchers, search engines, and anything calling itself a bot or crawler.
 */
const NOT_A_VISITOR = new RegExp(
  [
    "slackbot",
    "slack-imgproxy",
    "github-camo",
    "camo asset proxy",
    "twitterbot",
    "facebookexternalhit",
    "facebot",
    "linkedinbot",
    "discordbot",
    "telegrambot",
    "whatsapp",
    "skypeuripreview",
    "microsoft teams",
    "mattermost",
    "embedly",
    "iframely",
    "googlebot",
    "bingbot",
    "applebot",
    "redditbot",
    "pinterest",
    "bot\\b",
    "crawler",
    "spider",
    "preview-bot",
    HEALTH_CHECK_USER_AGENT.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"),
  ].join("|"),
  "i",
);

/** Whether this request is a person (or their browser) opening the preview: only they wake it. */
export function isRealVisitor(method: string | undefined, userAgent: string | undefined): boolean {
  if (method === "HEAD" || method === "OPTIONS") return false;
  if (!userAgent?.trim()) return false;
  return !NOT_A_VISITOR.test(userAgent);
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="3">
<meta name="robots" content="noindex"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Waking up the preview…</title>
<style>body{font:16px/1.5 system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;margin:0;color:#24292f}
main{text-align:center;max-width:32rem;padding:1rem}</style></head>
<body><main><h1>Waking up the preview…</h1>
<p>This preview was asleep after a while without visitors. It is starting again; this page reloads itself until it is
back (usually within a minute).</p></main></body></html>
`;

/**
 * Keys asked for within the last `ms`: `ask` says whether a key is due (not asked for within `ms`) and records it.
 * Entries older than `ms` are dropped as new ones come (insertion order is time order), so the record never holds
 * more than the asks of the last `ms`.
 */
export class RecentAsks {
  private readonly at = new Map<string, number>();

  constructor(
    private readonly ms: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** True (and recorded) when `key` was not asked for within `ms`. */
  ask(key: string): boolean {
    const now = this.now();
    for (const [k, t] of this.at) {
      if (now - t < this.ms) break;
      this.at.delete(k);
    }
    if (this.at.has(key)) return false;
    this.at.set(key, now);
    return true;
  }

  /** Forget an ask (it failed): the next one is due at once. */
  forget(key: string): void {
    this.at.delete(key);
  }

  /** Asks remembered (at most those of the last `ms`). */
  get size(): number {
    return this.at.size;
  }
}

export interface WakeDoor {
  listener: Listener;
  /** Forget what is cached (a test, or after a sleep this process did itself). */
  refresh(): void;
}

export function createWakeDoor(o: WakeDoorOptions): WakeDoor {
  const log = o.logger.child({ component: "wake-door" });
  const cacheMs = o.cacheMs ?? 2_000;
  const resubmitMs = o.resubmitMs ?? 15_000;
  let hosts = new Map<string, Sleeper>();
  let lookedAt = 0;
  let looking: Promise<void> | undefined;
  const asked = new RecentAsks(resubmitMs);

  async function look(): Promise<void> {
    const next = new Map<string, Sleeper>();
    for (const ns of await o.cluster.listNamespaces({ ...MANAGED_BY })) {
      if (ns.phase === "Terminating") continue;
      const facts = readSleep(ns.annotations);
      const [owner, repo] = (ns.annotations[REPOSITORY_ANNOTATION] ?? "").split("/");
      const number = Number(ns.labels[PR_LABEL]);
      if (facts.asleepSince === undefined || !owner || !repo || !Number.isSafeInteger(number)) continue;
      const sleeper: Sleeper = {
        namespace: ns.name,
        owner,
        repo,
        number,
        asleepSince: facts.asleepSince,
        ...(facts.installationId ? { installationId: facts.installationId } : {}),
      };
      for (const h of facts.hosts) next.set(h, sleeper);
    }
    hosts = next;
    lookedAt = Date.now();
  }

  async function sleeperFor(host: string): Promise<Sleeper | undefined> {
    if (Date.now() - lookedAt > cacheMs) {
      looking ??= look().finally(() => (looking = undefined));
      try {
        await looking;
      } catch (err) {
        log.warn({ err }, "could not look up the sleeping previews");
      }
    }
    return hosts.get(host);
  }

  function wake(s: Sleeper, userAgent: string): void {
    const sleep = `${s.namespace} ${s.asleepSince}`;
    if (!asked.ask(sleep)) return;
    const request: Request = {
      door: "visitor",
      action: "wake",
      subject: {
        kind: "pull",
        owner: s.owner,
        repo: s.repo,
        number: s.number,
        ...(s.installationId ? { installationId: s.installationId } : {}),
      },
      actor: "a visitor",
      args: {},
      trigger: "a visitor opened the preview",
      // One wake per sleep, however many visitors, replicas or retries ask.
      deliveryId: `wake ${s.namespace} ${new Date(s.asleepSince).toISOString()}`,
    };
    o.submit(request).then(
      () => log.info({ namespace: s.namespace, userAgent: userAgent.slice(0, 120) }, "a visitor is waking the preview"),
      (err: unknown) => {
        asked.forget(sleep);
        log.warn({ err, namespace: s.namespace }, "could not start the wake of a preview");
      },
    );
  }

  const listener: Listener = async (req, res) => {
    const host = (req.headers.host ?? "").replace(/:\d+$/, "").toLowerCase();
    if (!host) return false;
    const sleeper = await sleeperFor(host);
    if (!sleeper) return false;
    const userAgent = req.headers["user-agent"] ?? "";
    if (isRealVisitor(req.method, userAgent)) wake(sleeper, userAgent);
    res.writeHead(503, {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "retry-after": "3",
      "x-robots-tag": "noindex",
    });
    res.end(req.method === "HEAD" ? undefined : PAGE);
    return true;
  };

  return {
    listener,
    refresh() {
      lookedAt = 0;
    },
  };
}
