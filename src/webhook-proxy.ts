/**
 * Local development, the Probot way: GitHub cannot deliver webhooks to a laptop, so with WEBHOOK_PROXY_URL set (a
 * smee.io channel or a self-hosted smee server) the bot subscribes to that channel's server-sent events with
 * smee-client — the library Probot itself uses — and re-posts each event to its own webhook path on the port it
 * listens on. Deliveries go through the same HTTP door as direct ones, so Probot still verifies every signature.
 *
 * Startup never waits on the proxy: the connection is made in the background, and a proxy that is down is
 * retried (every 3 s, by the EventSource underneath) while the bot serves everything else. Log lines name the
 * proxy by origin and path only; credentials and query strings in the URL are never written out.
 */
import type { Logger } from "./logger.js";

export interface WebhookProxyOptions {
  /** The proxy channel URL (WEBHOOK_PROXY_URL). */
  source: string;
  /** Where events are re-posted: this process's own webhook endpoint. */
  target: string;
  logger: Logger;
}

export interface WebhookProxy {
  /** Stop listening to the proxy (idempotent). */
  close(): Promise<void>;
}

/** The proxy URL as it may be logged: origin and path, without user, password or query. */
function displayProxyUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/**
 * Subscribe to the proxy channel and forward its events to `target`; returns at once (connection in the background).
 */
export async function startWebhookProxy(opts: WebhookProxyOptions): Promise<WebhookProxy> {
  // Loaded only when WEBHOOK_PROXY_URL is set: without it nothing of the proxy client is even imported.
  const { SmeeClient } = await import("smee-client");
  const shown = displayProxyUrl(opts.source);
  // smee-client writes the source as given and as `new URL(source)` prints it, without a trailing slash.
  const forms = [
    ...new Set([opts.source, new URL(opts.source).toString()].flatMap((u) => [u, u.replace(/\/+$/, "")])),
  ].sort((a, b) => b.length - a.length);
  const scrub = (text: string) => forms.reduce((t, form) => t.split(form).join(shown), text);
  const log = opts.logger.child({ component: "webhook-proxy" });
  // smee-client logs like console (`info(message)`, `error(message, err)`); give it pino lines without the raw URL.
  const adapter = {
    info: (...args: unknown[]) => log.info(scrub(args.map(String).join(" "))),
    error: (...args: unknown[]) => {
      const err = args.find((a) => a instanceof Error || (typeof a === "object" && a !== null));
      const text = args.filter((a) => typeof a === "string").join(" ") || "webhook proxy error";
      log.warn(err ? { err: describe(err, scrub) } : {}, scrub(text));
    },
  };
  const client = new SmeeClient({ source: opts.source, target: opts.target, logger: adapter, queryForwarding: false });
  log.info(`forwarding GitHub webhooks from ${shown} to ${opts.target} (WEBHOOK_PROXY_URL)`);
  let closed = false;
  void client.start().catch((err: unknown) => {
    if (closed) return;
    // The EventSource retries network errors every 3 s, but gives up on an HTTP error status or a non-event-stream
    // answer.
    const status = (err as { code?: unknown }).code;
    const next =
      typeof status === "number"
        ? `it answered HTTP ${status}, so it is not retried: check WEBHOOK_PROXY_URL and restart`
        : "retrying every 3 s; webhooks arrive once it answers";
    log.warn({ err: describe(err, scrub) }, `connecting to the webhook proxy ${shown} failed; ${next}`);
  });
  return {
    async close() {
      if (closed) return;
      closed = true;
      await client.stop();
    },
  };
}

/** An EventSource error event or an Error, as a plain object a log line can carry (no raw URL). */
function describe(err: unknown, scrub: (text: string) => string): Record<string, unknown> {
  if (err instanceof Error)
    return { message: scrub(err.message), ...(err.cause ? { cause: scrub(String(err.cause)) } : {}) };
  const e = err as { message?: unknown; code?: unknown; type?: unknown };
  return {
    ...(e.type ? { type: String(e.type) } : {}),
    ...(e.message ? { message: scrub(String(e.message)) } : {}),
    ...(e.code !== undefined ? { status: e.code } : {}),
  };
}
