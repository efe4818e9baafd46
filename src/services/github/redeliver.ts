/**
 * Missed deliveries: GitHub does not retry a webhook delivery that failed (our pod was down, a 5xx, a timeout). On
 * start-up the bot asks GitHub for the App's recent deliveries and redelivers, once, every one that never got
 * through. Bounded, logged, and it never throws: start-up must not depend on it (the sweeper converges the rest).
 *
 * A delivery (one `guid`) can have several attempts; GitHub marks a redelivered attempt `redelivery: true`. A guid
 * is redelivered when none of its attempts succeeded and none is a redelivery already. With several replicas
 * starting at once, a shared ScheduleLock claim per guid keeps it to one redelivery.
 */
import { describeError } from "../shared/format.js";
import type { Logger } from "../../logger.js";
import type { ScheduleLock } from "../shared/schedule-lock.js";
import type { Octokit } from "./reads.js";

export interface RedeliverOptions {
  /** App-authenticated Octokit (JWT), e.g. `await probot.auth()`. */
  octokit: Octokit;
  logger: Logger;
  /** Look back this far (default 24 h; GitHub keeps deliveries for 3 days). */
  lookbackMs?: number;
  /** At most this many redeliveries per run (default 50) and pages read (default 10 × 100). */
  max?: number;
  maxPages?: number;
  now?: () => number;
  /** Shared across replicas so each guid is redelivered by one of them only. */
  lock?: ScheduleLock;
}

export interface RedeliverResult {
  scanned: number;
  /** Guids whose every attempt failed. */
  failed: number;
  redelivered: Array<{ guid: string; id: number; event: string }>;
  skipped: Array<{ guid: string; reason: string }>;
  errors: string[];
}

interface Delivery {
  id: number;
  guid: string;
  delivered_at: string;
  redelivery: boolean;
  status: string;
  status_code: number;
  event: string;
  action?: string | null;
}

const failedAttempt = (d: Delivery) => d.status_code === 0 || d.status_code >= 400;

export async function redeliverMissed(opts: RedeliverOptions): Promise<RedeliverResult> {
  const log = opts.logger.child({ component: "redeliver" });
  const now = (opts.now ?? Date.now)();
  const since = now - (opts.lookbackMs ?? 86_400_000);
  const max = opts.max ?? 50;
  const result: RedeliverResult = { scanned: 0, failed: 0, redelivered: [], skipped: [], errors: [] };
  const byGuid = new Map<string, Delivery[]>();
  try {
    let pages = 0;
    let reachedEnd = false;
    for await (const page of opts.octokit.paginate.iterator(opts.octokit.rest.apps.listWebhookDeliveries, {
      per_page: 100,
    })) {
      for (const d of page.data as Delivery[]) {
        if (Date.parse(d.delivered_at) < since) {
          reachedEnd = true; // newest first: everything after this is older still
          break;
        }
        result.scanned++;
        byGuid.set(d.guid, [...(byGuid.get(d.guid) ?? []), d]);
      }
      if (reachedEnd || ++pages >= (opts.maxPages ?? 10)) break;
    }
  } catch (err) {
    result.errors.push(`listing the App's webhook deliveries: ${describeError(err)}`);
    log.warn({ err }, "could not list webhook deliveries; skipping redelivery");
    return result;
  }

  for (const [guid, attempts] of byGuid) {
    if (!attempts.every(failedAttempt)) continue;
    result.failed++;
    if (attempts.some((a) => a.redelivery)) {
      result.skipped.push({ guid, reason: "already redelivered" });
      continue;
    }
    if (result.redelivered.length >= max) {
      result.skipped.push({ guid, reason: `over the limit of ${max} redeliveries per run` });
      continue;
    }
    const latest = attempts.reduce((a, b) => (Date.parse(b.delivered_at) > Date.parse(a.delivered_at) ? b : a));
    try {
      if (
        opts.lock &&
        !(await opts.lock.claim(`redeliver:${guid}`, new Date(Date.parse(latest.delivered_at)).toISOString()))
      ) {
        result.skipped.push({ guid, reason: "another replica redelivers it" });
        continue;
      }
      await opts.octokit.rest.apps.redeliverWebhookDelivery({ delivery_id: latest.id });
      result.redelivered.push({
        guid,
        id: latest.id,
        event: latest.action ? `${latest.event}.${latest.action}` : latest.event,
      });
    } catch (err) {
      result.errors.push(`redelivering ${latest.event} ${guid} (attempt ${latest.id}): ${describeError(err)}`);
      log.warn({ err, guid }, "redelivery failed");
    }
  }
  log.info(
    {
      scanned: result.scanned,
      failed: result.failed,
      redelivered: result.redelivered.length,
      errors: result.errors.length,
    },
    `webhook deliveries: ${result.failed} failed in the last ${Math.round((now - since) / 3_600_000)} h, ${result.redelivered.length} redelivered`,
  );
  return result;
}
