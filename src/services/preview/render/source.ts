/**
 * The PR's own tree: GitHub's tarball of the repository **at the head SHA** (`GET /repos/{owner}/{repo}/tarball/{sha}`,
 * redirect followed by Octokit/fetch), extracted with `tar` into `dest` with the top directory
 * (`owner-repo-<sha7>/`) stripped. Manifests always come from this commit (the setup preview-bot replaces took them
 * from a different one).
 *
 * Safety: the archive and its unpacked size are capped; tar's own refusal of absolute and `..` paths is kept;
 * symlinks and hard links whose target would land outside `dest` are not extracted (reported in `skipped`); only
 * files, directories and links are extracted (no devices or FIFOs).
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Parser, Unpack, type ReadEntry } from "tar";
import { isInside } from "./plain.js";
import { RenderError } from "./render-error.js";

/** The one Octokit call used, typed minimally so any Octokit (Probot's, a test one) fits. */
export interface TarballOctokit {
  rest: {
    repos: {
      downloadTarballArchive(params: { owner: string; repo: string; ref: string }): Promise<{ data: unknown }>;
    };
  };
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
}

export interface FetchSourceResult {
  dir: string;
  files: number;
  bytes: number;
  /** Entries not extracted, with the reason. */
  skipped: string[];
}

export const DEFAULT_SOURCE_MAX_BYTES = 200 * 1024 * 1024;
const ALLOWED_TYPES = new Set(["File", "OldFile", "ContiguousFile", "Directory", "SymbolicLink", "Link"]);

/** Entry path with the archive's top directory removed; undefined for the top directory itself. */
function stripTop(entryPath: string): string | undefined {
  const parts = entryPath.replace(/^\.\//, "").split("/").filter(Boolean);
  return parts.length > 1 ? parts.slice(1).join("/") : undefined;
}

/** Why an entry must not be extracted, or undefined when it is fine. */
function refusal(entry: ReadEntry, dest: string): string | undefined {
  if (!ALLOWED_TYPES.has(entry.type)) return `${entry.type} entries are not extracted`;
  const rel = stripTop(entry.path);
  if (rel === undefined) return undefined;
  const target = path.resolve(dest, rel);
  if (!isInside(dest, target)) return "path escapes the checkout";
  if (entry.type === "SymbolicLink") {
    const link = entry.linkpath ?? "";
    if (path.isAbsolute(link) || !isInside(dest, path.resolve(path.dirname(target), link))) return `symlink to ${link} points outside the checkout`;
  }
  if (entry.type === "Link") {
    const linked = stripTop(entry.linkpath ?? "");
    if (linked === undefined || !isInside(dest, path.resolve(dest, linked))) return `hard link to ${entry.linkpath} points outside the checkout`;
  }
  return undefined;
}

function waitFor(stream: NodeJS.EventEmitter, event: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once(event, () => resolve());
    stream.once("error", reject);
  });
}

/** Download the repository at `sha` and extract it into `dest` (created if missing). */
export async function fetchSource(opts: FetchSourceOptions): Promise<FetchSourceResult> {
  const { octokit, owner, repo, sha } = opts;
  const maxBytes = opts.maxBytes ?? DEFAULT_SOURCE_MAX_BYTES;
  const maxEntries = opts.maxEntries ?? 100_000;
  const what = `fetching ${owner}/${repo}@${sha.slice(0, 12)}`;
  const dest = path.resolve(opts.dest);

  let data: unknown;
  try {
    ({ data } = await octokit.rest.repos.downloadTarballArchive({ owner, repo, ref: sha }));
  } catch (err) {
    const status = (err as { status?: number }).status;
    const why = status === 404 ? "not found (no such repository or commit, or the app cannot read it)" : err instanceof Error ? err.message : String(err);
    throw new RenderError(`${what}: downloading the tarball: ${why}`, { cause: err });
  }
  // Octokit returns an ArrayBuffer for binary content types (checked by tag: it may come from another realm).
  const archive = Buffer.isBuffer(data) ? data : Object.prototype.toString.call(data) === "[object ArrayBuffer]" ? Buffer.from(data as ArrayBuffer) : undefined;
  if (!archive) throw new RenderError(`${what}: the tarball response was not binary data (content type ${typeof data === "string" ? "text" : typeof data})`);
  if (archive.byteLength > maxBytes) throw new RenderError(`${what}: the tarball is ${archive.byteLength} bytes, over the ${maxBytes}-byte limit`);

  // Pass 1: list, sum sizes and decide what to skip, before writing anything.
  const skip = new Map<string, string>();
  let bytes = 0;
  let entries = 0;
  const lister = new Parser({
    onReadEntry: (entry: ReadEntry) => {
      entries += 1;
      bytes += entry.size ?? 0;
      const why = refusal(entry, dest);
      if (why) skip.set(entry.path, why);
      entry.resume();
    },
  });
  try {
    const done = waitFor(lister, "end");
    lister.end(archive);
    await done;
  } catch (err) {
    throw new RenderError(`${what}: reading the tarball: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (entries > maxEntries) throw new RenderError(`${what}: the tarball has ${entries} entries, over the ${maxEntries}-entry limit`);
  if (bytes > maxBytes) throw new RenderError(`${what}: the tarball unpacks to ${bytes} bytes, over the ${maxBytes}-byte limit`);

  // Pass 2: extract what passed. tar itself still refuses absolute paths and `..` (preservePaths stays off).
  await mkdir(dest, { recursive: true });
  const tarWarnings: string[] = [];
  let files = 0;
  const unpack = new Unpack({
    cwd: dest,
    strip: 1,
    filter: (p: string) => {
      if (skip.has(p)) return false;
      files += 1;
      return true;
    },
    onwarn: (_code: string, message: string) => tarWarnings.push(message),
  });
  try {
    const done = waitFor(unpack, "close");
    unpack.end(archive);
    await done;
  } catch (err) {
    throw new RenderError(`${what}: extracting the tarball: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const skipped = [...[...skip].map(([p, why]) => `${stripTop(p) ?? p}: ${why}`), ...tarWarnings];
  return { dir: dest, files, bytes, skipped };
}
