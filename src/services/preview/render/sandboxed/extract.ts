/**
 * A pull request's tree from GitHub's tarball (`owner-repo-<sha7>/` top directory stripped), extracted inside the
 * renderer. Nothing is buffered whole: memory stays flat whatever the repository's size, and extraction stops the
 * moment a cap is crossed.
 *
 * Safety: the compressed file, the unpacked bytes and the number of entries are capped (counted while streaming);
 * tar's own refusal of absolute and `..` paths is kept; only files, directories and links are extracted (no devices
 * or FIFOs); hard links must stay inside. Symlinks are made last, only when their text stays inside, and then every
 * link is judged again by the kernel (links.ts): one that resolves outside the checkout, or passes through another
 * link followed by `..`, is removed. Refused entries are listed in `skipped`.
 */
import { createReadStream } from "node:fs";
import { lstat, mkdir, realpath, stat, symlink } from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { Unpack, type ReadEntry } from "tar";
import { describeError } from "../../../shared/format.js";
import { RenderError } from "../render-error.js";
import { checkLinks } from "./links.js";
import { isInside } from "./plain.js";

export interface ExtractOptions {
  /** The gzipped tarball. */
  file: string;
  /** Where to extract (created if missing). */
  dest: string;
  /** Cap on the archive and, separately, on the unpacked bytes. */
  maxBytes: number;
  maxEntries: number;
  /** "owner/repo@sha" for messages. */
  label: string;
}

export interface ExtractResult {
  dir: string;
  files: number;
  bytes: number;
  /** Entries not extracted (or links removed), with the reason. */
  skipped: string[];
}

const ALLOWED_TYPES = new Set(["File", "OldFile", "ContiguousFile", "Directory", "SymbolicLink", "Link"]);

/** Entry path with the archive's top directory removed; undefined for the top directory itself. */
function stripTop(entryPath: string): string | undefined {
  const parts = entryPath.replace(/^\.\//, "").split("/").filter(Boolean);
  return parts.length > 1 ? parts.slice(1).join("/") : undefined;
}

/** Why an entry must not be extracted, or undefined when it is fine (symlinks are judged later, in linkRefusal). */
function refusal(entry: ReadEntry, dest: string): string | undefined {
  if (!ALLOWED_TYPES.has(entry.type)) return `${entry.type} entries are not extracted`;
  const rel = stripTop(entry.path);
  if (rel === undefined) return undefined;
  if (!isInside(dest, path.resolve(dest, rel))) return "path escapes the checkout";
  if (entry.type === "Link") {
    const linked = stripTop(entry.linkpath ?? "");
    if (linked === undefined || !isInside(dest, path.resolve(dest, linked)))
      return `hard link to ${entry.linkpath} points outside the checkout`;
  }
  return undefined;
}

/** Why a symlink must not be made, judged on its text and the extracted tree (the kernel judges it again once all exist). */
async function linkRefusal(dest: string, at: string, linkpath: string): Promise<string | undefined> {
  if (path.isAbsolute(linkpath)) return `symlink to ${linkpath} points outside the checkout`;
  const target = path.resolve(path.dirname(at), linkpath);
  if (!isInside(dest, target)) return `symlink to ${linkpath} points outside the checkout`;
  const info = await lstat(target).catch(() => undefined);
  if (!info) return `symlink to ${linkpath}: the target is not in the checkout`;
  if (info.isSymbolicLink()) return `symlink to ${linkpath} points at another link`;
  if (!info.isFile() && !info.isDirectory()) return `symlink to ${linkpath}: the target is not a file or directory`;
  if ((await realpath(target)) !== target) return `symlink to ${linkpath} passes through another link`;
  return undefined;
}

/** Extract the tarball `file` into `dest`. */
export async function extractSource(opts: ExtractOptions): Promise<ExtractResult> {
  const { maxBytes, maxEntries } = opts;
  const what = `extracting ${opts.label}`;
  await mkdir(opts.dest, { recursive: true });
  const dest = await realpath(opts.dest);
  const size = (await stat(opts.file)).size;
  if (size > maxBytes) throw new RenderError(`${what}: the tarball is ${size} bytes, over the ${maxBytes}-byte limit`);
  const skipped: string[] = [];
  const links: Array<{ rel: string; linkpath: string }> = [];
  let downloaded = 0;
  let unpacked = 0;
  let entries = 0;
  let files = 0;
  let failure: RenderError | undefined;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      downloaded += chunk.length;
      if (downloaded > maxBytes)
        return done(
          new RenderError(`${what}: the tarball unpacks to more than ${maxBytes} bytes (stopped after ${downloaded})`),
        );
      done(null, chunk);
    },
  });
  const stop = (err: RenderError): false => {
    failure ??= err;
    counter.destroy(failure);
    return false;
  };
  const unpack = new Unpack({
    cwd: dest,
    strip: 1,
    filter: (p: string, entry: unknown) => {
      const e = entry as ReadEntry;
      entries += 1;
      unpacked += e.size ?? 0;
      if (entries > maxEntries)
        return stop(new RenderError(`${what}: the tarball has more than ${maxEntries} entries`));
      if (unpacked > maxBytes)
        return stop(new RenderError(`${what}: the tarball unpacks to more than ${maxBytes} bytes`));
      const why = refusal(e, dest);
      if (why) skipped.push(`${stripTop(p) ?? p}: ${why}`);
      else if (e.type === "SymbolicLink") {
        const rel = stripTop(p);
        if (rel) links.push({ rel, linkpath: e.linkpath ?? "" });
        return false;
      } else if (e.type !== "Directory") files += 1;
      return !why;
    },
    onwarn: (_code: string, message: string) => skipped.push(message),
  });
  try {
    await pipeline(createReadStream(opts.file), createGunzip(), counter, unpack);
  } catch (err) {
    if (failure) throw failure;
    if (err instanceof RenderError) throw err;
    throw new RenderError(`${what}: reading the tarball: ${describeError(err)}`, {
      cause: err,
    });
  }
  for (const { rel, linkpath } of links) {
    const at = path.resolve(dest, rel);
    const why = await linkRefusal(dest, at, linkpath);
    if (why) {
      skipped.push(`${rel}: ${why}`);
      continue;
    }
    await mkdir(path.dirname(at), { recursive: true });
    if ((await realpath(path.dirname(at))) !== path.dirname(at)) {
      skipped.push(`${rel}: symlink inside another link`);
      continue;
    }
    await symlink(linkpath, at).catch((err: unknown) =>
      skipped.push(`${rel}: symlink not made (${describeError(err)})`),
    );
  }
  // The kernel's view of every link, now that all exist.
  skipped.push(...(await checkLinks(dest, { remove: true })));
  return { dir: dest, files, bytes: unpacked, skipped };
}
