/** Times, durations and sizes as people read them, and logs made fit to show (redacted, capped). */
import { redactText } from "../../logger.js";
import { html, type SafeHtml } from "./html.js";
import type { PodLog } from "../../services/shared/page-data.js";

export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function span(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h`;
  return `${Math.round(h / 24)} d`;
}

/** `<time>` saying "3 h ago" / "in 2 d", with the exact time as its datetime and title. */
export function relative(iso: string | undefined, now: number): SafeHtml {
  const t = iso ? Date.parse(iso) : NaN;
  if (!Number.isFinite(t)) return html`—`;
  const exact = new Date(t).toISOString();
  const text = t <= now ? `${span(now - t)} ago` : `in ${span(t - now)}`;
  return html`<time datetime="${exact}" title="${exact.replace("T", " ").replace(/\.\d+Z$/, " UTC")}">${text}</time>`;
}

export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** At most this much of one container's log is shown (its newest lines). */
export const LOG_BYTES_PER_CONTAINER = 64 * 1024;
/** At most this many containers' logs on one page. */
const LOG_CONTAINERS = 12;
/** A diagnosis is cut after this much. */
const DIAGNOSIS_BYTES = 16 * 1024;

/** The newest `max` bytes of `text`, cut at a line start; whether anything was cut. */
function tail(text: string, max: number): { text: string; cut: boolean } {
  if (Buffer.byteLength(text) <= max) return { text, cut: false };
  let t = Buffer.from(text)
    .subarray(-max)
    .toString("utf8")
    .replace(/^\uFFFD+/, "");
  const nl = t.indexOf("\n");
  if (nl >= 0 && nl < t.length - 1) t = t.slice(nl + 1);
  return { text: t, cut: true };
}

/** Logs as the page shows them: redacted (the logger's patterns and every registered secret), newest lines, capped. */
export function boundedLogs(logs: readonly PodLog[]): Array<PodLog & { truncated: boolean }> {
  return logs.slice(0, LOG_CONTAINERS).map((l) => {
    // Redact first: a cut must never leave half a secret that the patterns no longer recognise.
    const t = tail(redactText(l.text), LOG_BYTES_PER_CONTAINER);
    return { pod: l.pod, container: l.container, text: t.text, truncated: t.cut || Boolean(l.truncated) };
  });
}

export function boundedDiagnosis(text: string): { text: string; cut: boolean } {
  const red = redactText(text);
  if (Buffer.byteLength(red) <= DIAGNOSIS_BYTES) return { text: red, cut: false };
  return {
    text: Buffer.from(red)
      .subarray(0, DIAGNOSIS_BYTES)
      .toString("utf8")
      .replace(/\uFFFD+$/, ""),
    cut: true,
  };
}
