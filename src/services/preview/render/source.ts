/**
 * The PR's own tree: GitHub's tarball of the repository **at the head SHA** (`GET /repos/{owner}/{repo}/tarball/{sha}`,
 * redirect followed by fetch), streamed straight from the response into `tar`'s extractor with the top directory
 * (`owner-repo-<sha7>/`) stripped. Nothing is buffered whole: memory stays flat whatever the repository's size,
 * and the download stops the moment a cap is crossed. Manifests always come from this commit.
 *
 * Safety: the compressed download, the unpacked bytes and the number of entries are capped (counted while
 * streaming); tar's own refusal of absolute and `..` paths is kept; only files, directories and links are
 * extracted (no devices or FIFOs); hard links must stay inside. Symlinks are made last, and only when their
 * target is a file or directory already extracted inside the checkout, reached without passing through another
 * link (so no chain of relative links can lead out, and no link can point at /dev/zero or the bot's files).
 * Refused entries are listed in `skipped`.
 */
import { describeError } from "../../shared/format.js";
import { lstat, mkdir, realpath, rm, symlink } from "node:fs/promises";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { Unpack, type ReadEntry } from "tar";
import { isInside } from "./plain.js";
import { RenderError } from "./render-error.js";

/** The one Octokit call used, typed minimally so any Octokit (Probot's, a test one) fits. */
export interface TarballOctokit {
  request(
    route: "GET /repos/{owner}/{repo}/tarball/{ref}",
    params: {
      owner: string;
      repo: string;
      ref: string;
      request: { parseSuccessResponseBody: false; signal?: AbortSignal };
    },
  ): Promise<{ data: unknown; headers?: Record<string, unknown> }>;
}

export interface FetchSourceOptions {
  octokit: TarballOctokit;
  owner: string;
  repo: string;
  sha: string;
  dest: string;
  /** Cap on the downloaded archive and, separately, on the unpacked bytes. Default 200 MB. */
  maxBytes?: number;
  /** Cap on the number of entries. Default 100 000. */
  maxEntries?: number;
  signal?: AbortSignal;
}

export interface FetchSourceResult {
  dir: string;
  files: number;
  bytes: number;
  /** Entries not extracted, with the reason. */
  skipped: string[];
}

const DEFAULT_SOURCE_MAX_BYTES = 200 * 1024 * 1024;
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

/**
 * Why a symlink must not be made, judged on the extracted tree; undefined when its target is a plain file or directory
 * inside.
 */
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

/** Download the repository at `sha` and extract it into `dest` (created if missing). */
export async function fetchSource(opts: FetchSourceOptions): Promise<FetchSourceResult> {
  const { owner, repo, sha } = opts;
  const maxBytes = opts.maxBytes ?? DEFAULT_SOURCE_MAX_BYTES;
  const maxEntries = opts.maxEntries ?? 100_000;
  const what = `fetching ${owner}/${repo}@${sha.slice(0, 12)}`;
  const created = await mkdir(opts.dest, { recursive: true });
  const dest = await realpath(opts.dest);
  try {
    return await download(opts, dest, what, maxBytes, maxEntries);
  } catch (err) {
    // Leave nothing half-extracted behind (the caller's directory is kept, emptied only if we made it).
    if (created !== undefined) await rm(created, { recursive: true, force: true });
    throw err;
  }
}

async function download(
  opts: FetchSourceOptions,
  dest: string,
  what: string,
  maxBytes: number,
  maxEntries: number,
): Promise<FetchSourceResult> {
  const { octokit, owner, repo, sha } = opts;

  let response: { data: unknown; headers?: Record<string, unknown> };
  try {
    response = await octokit.request("GET /repos/{owner}/{repo}/tarball/{ref}", {
      owner,
      repo,
      ref: sha,
      request: { parseSuccessResponseBody: false, ...(opts.signal ? { signal: opts.signal } : {}) },
    });
  } catch (err) {
    const status = (err as { status?: number }).status;
    const why =
      status === 404
        ? "not found (no such repository or commit, or the app cannot read it)"
        : err instanceof Error
          ? err.message
          : String(err);
    throw new RenderError(`${what}: downloading the tarball: ${why}`, { cause: err });
  }
  const body = response.data;
  if (!body || typeof (body as { getReader?: unknown }).getReader !== "function")
    throw new RenderError(`${what}: the tarball response had no body`);
  const length = Number(response.headers?.["content-length"] ?? NaN);
  if (length > maxBytes) {
    await (body as WebReadableStream).cancel().catch(() => undefined);
    throw new RenderError(`${what}: the tarball is ${length} bytes, over the ${maxBytes}-byte limit`);
  }

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
          new RenderError(
            `${what}: the tarball is over the ${maxBytes}-byte limit (stopped after ${downloaded} bytes)`,
          ),
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
    await pipeline(Readable.fromWeb(body as WebReadableStream), counter, unpack);
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
  return { dir: dest, files, bytes: unpacked, skipped };
}
