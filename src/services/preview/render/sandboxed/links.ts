/**
 * Symbolic links in a pull request's tree, judged by the kernel. A link is kept only when the kernel resolves it
 * (realpath) to a file or directory inside the checkout, and no link on its way is followed by `..`: `hop/..` means
 * "the parent of where hop points", not "where we were", so a text-only check (path.resolve) can be led out of the
 * checkout by a chain such as `chart/leak -> a/b/hop/../../../etc/passwd` with `a/b/hop -> ../../../..`. Links are
 * judged after all of them exist (a later link can change what an earlier one means), and removed when refused.
 */
import { lstat, readdir, readlink, realpath, rm, stat } from "node:fs/promises";
import path from "node:path";
import { isInside } from "./plain.js";

/** Why the link at `at` (inside `root`) must go, or undefined when it may stay. */
async function linkProblem(root: string, at: string): Promise<string | undefined> {
  const target = await readlink(at);
  if (path.isAbsolute(target)) return `symlink to ${target} points outside the checkout`;
  // Walk the link's own text from its directory: a `..` right after a component that is itself a link climbs from
  // where that link points, which a text-only resolution cannot see.
  let cursor = path.dirname(at);
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if ((await lstat(cursor).catch(() => undefined))?.isSymbolicLink())
        return `symlink to ${target} passes through the link ${path.relative(root, cursor)} and then "..": refused (the kernel would climb from where that link points)`;
      cursor = path.dirname(cursor);
    } else cursor = path.join(cursor, part);
  }
  const real = await realpath(at).catch(() => undefined);
  if (real === undefined) return `symlink to ${target}: the target is not in the checkout`;
  if (!isInside(root, real)) return `symlink to ${target} leads outside the checkout`;
  const info = await stat(real).catch(() => undefined);
  if (!info?.isFile() && !info?.isDirectory()) return `symlink to ${target}: the target is not a file or directory`;
  return undefined;
}

/** Every symbolic link under `root` (not following links), relative to it. */
async function listLinks(root: string, limit = 100_000): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (out.length >= limit) return;
      const full = path.join(dir, entry.name);
      if (entry.isSymbolicLink()) out.push(path.relative(root, full));
      else if (entry.isDirectory()) await walk(full);
    }
  };
  await walk(root);
  return out;
}

/**
 * Judge every link under `root` and remove the refused ones (`remove`, for an extracted checkout), or only list them
 * (a directory given with `render --dir` is the user's own: refused links fail the render instead). Repeats until
 * stable: removing one link can break another that went through it.
 */
export async function checkLinks(root: string, opts: { remove: boolean }): Promise<string[]> {
  const refused: string[] = [];
  for (let round = 0; round < 10; round++) {
    let changed = false;
    for (const rel of await listLinks(root)) {
      const why = await linkProblem(root, path.join(root, rel));
      if (!why) continue;
      refused.push(`${rel}: ${why}`);
      if (!opts.remove) continue;
      await rm(path.join(root, rel), { force: true });
      changed = true;
    }
    if (!changed) break;
  }
  return [...new Set(refused)];
}
