/**
 * What a backup is in blob storage: its name (`<prefix><target>/<target>-20261126T064300Z.dump`, UTC), its
 * metadata (size, sha256, versions, duration, table manifest, verified), and how to list a target's backups.
 */
import type { BlobStore, StoredBlob } from "./blob-store.js";
import type { TableStat } from "./pg-tools.js";

/** Where a target's backups live. */
export interface BackupLocation {
  name: string;
  container: string;
  prefix: string;
}

export interface BackupEntry {
  name: string;
  time: Date;
  size: number;
  etag: string;
  metadata: Record<string, string>;
  /** ISO time of the last successful verification, if any. */
  verified?: string;
}

/**
 * Blob metadata naming the preview (`owner/repo#N`) a preview backup was taken from: only that preview may restore it.
 */
export const OWNER_METADATA = "previewkey";

function stamp(d: Date): string {
  // Milliseconds too: an on-demand backup and the final backup at teardown can fall in the same second.
  return d.toISOString().replace(/[-:.]/g, "");
}

export function blobNameFor(loc: Pick<BackupLocation, "name" | "prefix">, at: Date): string {
  return `${loc.prefix}${loc.name}/${loc.name}-${stamp(at)}.dump`;
}

function targetPrefix(loc: Pick<BackupLocation, "name" | "prefix">): string {
  return `${loc.prefix}${loc.name}/${loc.name}-`;
}

/** The UTC time in a backup's blob name, or undefined when the name is not one of ours. */
export function timeFromBlobName(loc: Pick<BackupLocation, "name" | "prefix">, blobName: string): Date | undefined {
  const p = targetPrefix(loc);
  if (!blobName.startsWith(p)) return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})?Z\.dump$/.exec(blobName.slice(p.length));
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms] = m.map((v) => Number(v ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
}

/** A target's backups, newest first. Blobs not named like ours are ignored (never listed, never pruned). */
export async function listBackups(store: BlobStore, loc: BackupLocation): Promise<BackupEntry[]> {
  const blobs = await store.list(loc.container, targetPrefix(loc));
  const out: BackupEntry[] = [];
  for (const b of blobs) {
    const time = timeFromBlobName(loc, b.name);
    if (time) out.push(toEntry(b, time));
  }
  return out.sort((a, b) => b.time.getTime() - a.time.getTime());
}

function toEntry(b: StoredBlob, time: Date): BackupEntry {
  return {
    name: b.name,
    time,
    size: b.size,
    etag: b.etag,
    metadata: b.metadata,
    ...(b.metadata.verified ? { verified: b.metadata.verified } : {}),
  };
}

/** "latest" or a blob name (with or without the prefix path) → the entry; throws when absent. */
export async function resolveBackup(store: BlobStore, loc: BackupLocation, which: string): Promise<BackupEntry> {
  const all = await listBackups(store, loc);
  if (which === "latest") {
    if (!all[0]) throw new Error(`backup target "${loc.name}" has no backups in container "${loc.container}"`);
    return all[0];
  }
  const hit = all.find((e) => e.name === which || e.name.endsWith(`/${which}`));
  if (!hit) throw new Error(`backup "${which}" of target "${loc.name}" not found in container "${loc.container}"`);
  return hit;
}

/** Metadata values are HTTP header values: printable ASCII only, bounded. */
export function metaValue(s: string, max = 256): string {
  return s.replace(/[^\x20-\x7e]/g, "?").slice(0, max);
}

/** Blob metadata holds at most 8 KiB; the table manifest gets this much of it. */
const MANIFEST_MAX_CHARS = 6000;

/** Tables → "a.t1=10;a.t2=~" (exact count, or ~ for presence-only), truncated to fit. */
export function encodeManifest(tables: TableStat[]): { rows: string; truncated: boolean } {
  let rows = "";
  for (const t of tables) {
    const item = `${t.key}=${t.rows ?? "~"}`;
    if (rows.length + item.length + 1 > MANIFEST_MAX_CHARS) return { rows, truncated: true };
    rows += (rows ? ";" : "") + item;
  }
  return { rows, truncated: false };
}

export function decodeManifest(rows: string | undefined): Array<{ key: string; rows?: number }> {
  if (!rows) return [];
  return rows.split(";").map((item) => {
    const i = item.lastIndexOf("=");
    const key = item.slice(0, i);
    const v = item.slice(i + 1);
    return v === "~" ? { key } : { key, rows: Number(v) };
  });
}
