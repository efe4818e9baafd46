/**
 * How the bot writes durations, sizes, TTLs and errors for people (check runs, comments, Slack, the CLI, logs):
 * one module, so every surface says the same thing the same way.
 */

const MINUTE = 60_000;
const TTL_UNITS = [
  ["w", 7 * 24 * 60 * MINUTE],
  ["d", 24 * 60 * MINUTE],
  ["h", 60 * MINUTE],
] as const;

/** A time taken: `0.4 s`, `12.5 s`, `3 min 4 s`. */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(Math.max(0, ms) / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** A TTL as a command takes it: `3d`, `12h`, `1w`, `45m` (the largest unit that divides it). */
export function formatTtl(ms: number): string {
  for (const [unit, size] of TTL_UNITS) if (ms % size === 0 && ms >= size) return `${ms / size}${unit}`;
  return `${Math.round(ms / MINUTE)}m`;
}

/** A size: `512 B`, `1.5 KiB`, `3.2 GiB`. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** An error and its causes, each message once: `deploying acme/web#42: applying Deployment "web": 422 …`. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let i = 0; e && i < 5; i++) {
    const msg = e instanceof Error ? e.message : String(e);
    if (!parts.some((p) => p.includes(msg))) parts.push(msg);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": ");
}

/** An image digest for people: `sha256:0123456789ab` (12 hex digits tell digests apart). */
export function shortDigest(digest: string): string {
  const [algorithm, hex] = digest.split(":");
  return hex ? `${algorithm}:${hex.slice(0, 12)}` : digest;
}
