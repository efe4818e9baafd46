/**
 * The PR's own tree, as GitHub's tarball of the repository **at the head SHA** (`GET /repos/{owner}/{repo}/tarball/{sha}`,
 * redirect followed by fetch), streamed to a file: the bot holds the GitHub token, so it downloads; it never opens the
 * archive. The renderer (sandboxed/extract.ts, run isolated) extracts and reads it. The download stops the moment the
 * cap is crossed, and nothing is buffered whole.
 */
import { createWriteStream } from "node:fs";
import { chmod, rm } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { describeError } from "../../shared/format.js";
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
  /** Where to write the gzipped tarball (its directory must exist). */
  file: string;
  /** Cap on the downloaded archive. Default 200 MB. */
  maxBytes?: number;
  signal?: AbortSignal;
}

export interface FetchSourceResult {
  file: string;
  /** Bytes downloaded (compressed). */
  bytes: number;
}

export const DEFAULT_SOURCE_MAX_BYTES = 200 * 1024 * 1024;

/** Download the repository at `sha` into `file` (readable by the renderer; removed again on failure). */
export async function fetchSource(opts: FetchSourceOptions): Promise<FetchSourceResult> {
  const { octokit, owner, repo, sha } = opts;
  const maxBytes = opts.maxBytes ?? DEFAULT_SOURCE_MAX_BYTES;
  const what = `fetching ${owner}/${repo}@${sha.slice(0, 12)}`;
  // Aborted when the download crosses the cap: fetch ends the response itself (and the caller's signal still works).
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  let response: { data: unknown; headers?: Record<string, unknown> };
  try {
    response = await octokit.request("GET /repos/{owner}/{repo}/tarball/{ref}", {
      owner,
      repo,
      ref: sha,
      request: { parseSuccessResponseBody: false, signal },
    });
  } catch (err) {
    const status = (err as { status?: number }).status;
    const why =
      status === 404 ? "not found (no such repository or commit, or the app cannot read it)" : describeError(err);
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
  let bytes = 0;
  let over: RenderError | undefined;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        over = new RenderError(
          `${what}: the tarball is over the ${maxBytes}-byte limit (stopped after ${bytes} bytes)`,
        );
        stop.abort(over);
        return done(over);
      }
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(body as WebReadableStream), counter, createWriteStream(opts.file, { mode: 0o644 }));
    await chmod(opts.file, 0o644);
  } catch (err) {
    await rm(opts.file, { force: true });
    if (over) throw over;
    if (err instanceof RenderError) throw err;
    throw new RenderError(`${what}: downloading the tarball: ${describeError(err)}`, { cause: err });
  }
  return { file: opts.file, bytes };
}
