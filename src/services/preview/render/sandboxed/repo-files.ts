/**
 * Reading one file of the PR's checkout (a `database.seed` SQL file) safely: the path must resolve (through any
 * symlinks) to a regular file inside the checkout — never a device such as /dev/zero, a FIFO or a file elsewhere on
 * the bot's disk — and it is read with a size cap, checked while reading (a file that grows is cut off too).
 */
import { constants } from "node:fs";
import { open, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { isInside } from "./plain.js";
import { RenderError } from "../render-error.js";

const DEFAULT_REPO_FILE_MAX_BYTES = 20 * 1024 * 1024;

/** `what` names the field in messages, e.g. `database.seed`. */
export async function readRepoFile(
  root: string,
  rel: string,
  what: string,
  maxBytes = DEFAULT_REPO_FILE_MAX_BYTES,
): Promise<string> {
  const realRoot = await realpath(root);
  const full = await realpath(path.resolve(realRoot, rel)).catch((err: unknown) => {
    throw new RenderError(`${what} "${rel}" does not exist at the PR's commit`, { cause: err });
  });
  if (!isInside(realRoot, full) || full === realRoot)
    throw new RenderError(`${what} "${rel}" points outside the repository`);
  // Checked before opening: opening a FIFO would block, a device would read forever.
  if (!(await stat(full)).isFile()) throw new RenderError(`${what} "${rel}" is not a regular file`);
  const handle = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new RenderError(`${what} "${rel}" is not a regular file`);
    if (info.size > maxBytes)
      throw new RenderError(`${what} "${rel}" is ${info.size} bytes, over the ${maxBytes}-byte limit`);
    const chunks: Buffer[] = [];
    let total = 0;
    const buffer = Buffer.alloc(64 * 1024);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw new RenderError(`${what} "${rel}" is over the ${maxBytes}-byte limit`);
      chunks.push(Buffer.from(buffer.subarray(0, bytesRead)));
    }
    return Buffer.concat(chunks).toString("utf8");
  } finally {
    await handle.close();
  }
}
