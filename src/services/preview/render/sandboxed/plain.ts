/**
 * The plain-YAML renderer: every `*.yaml`, `*.yml` and `*.json` under the manifests directory (recursively, in
 * sorted path order), multi-document, empty documents skipped, `kind: List` flattened. Needs no binary.
 *
 * `manifests.include` / `manifests.exclude` path globs (relative to the manifests directory) pick the files, so a
 * directory with nested variants (`all-in-one/`, `legacy/`) renders one of them.
 *
 * Skipped: dot-files and dot-directories (editor and tool state), kustomization files (a `type: plain` directory
 * may still carry one), and symlinks — files linking inside the repository are read, anything pointing outside it
 * is refused, and linked directories are not followed (no loops, no escapes).
 */
import { lstat, readdir, readFile, readlink, realpath } from "node:fs/promises";
import path from "node:path";
import type { KubeObject } from "../../../shared/preview.js";
import { parseManifests } from "../manifests.js";
import { RenderError } from "../render-error.js";

const MANIFEST_FILE = /\.(ya?ml|json)$/i;
export const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
/** Total bytes read before giving up: manifests are text, far below this; a bigger tree is a mistake or an attack. */
const DEFAULT_MAX_BYTES = 50 * 1024 * 1024;

export function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** `legacy` and `legacy/**` both cover `legacy/app.yaml`: a glob matches the path or any directory above it. */
function globMatches(rel: string, glob: string): boolean {
  if (path.posix.matchesGlob(rel, glob)) return true;
  const parts = rel.split("/");
  for (let i = 1; i < parts.length; i++) if (path.posix.matchesGlob(parts.slice(0, i).join("/"), glob)) return true;
  return false;
}

export interface PathFilter {
  include: readonly string[];
  /** Path globs only (`{kind}` entries act on objects later). */
  exclude: readonly string[];
}

/** Keep what `include` (when given) selects and `exclude` does not; warn about globs that matched nothing. */
export function filterPaths<T>(
  items: readonly T[],
  pathOf: (item: T) => string,
  filter: PathFilter,
  warnings: string[],
): T[] {
  const used = new Set<string>();
  const kept = items.filter((item) => {
    const rel = pathOf(item);
    const inc = filter.include.filter((g) => globMatches(rel, g));
    inc.forEach((g) => used.add(`include:${g}`));
    if (filter.include.length > 0 && inc.length === 0) return false;
    const exc = filter.exclude.filter((g) => globMatches(rel, g));
    exc.forEach((g) => used.add(`exclude:${g}`));
    return exc.length === 0;
  });
  for (const g of filter.include)
    if (!used.has(`include:${g}`)) warnings.push(`manifests.include: "${g}" matches no file`);
  for (const g of filter.exclude)
    if (!used.has(`exclude:${g}`)) warnings.push(`manifests.exclude: "${g}" matches no file`);
  return kept;
}

async function listFiles(dir: string, root: string, warnings: string[]): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    const shown = path.relative(root, full);
    if (entry.isDirectory()) {
      files.push(...(await listFiles(full, root, warnings)));
    } else if (entry.isSymbolicLink()) {
      const target = await realpath(full).catch(() => undefined);
      if (target === undefined) {
        warnings.push(`skipped ${shown}: broken symlink`);
      } else if (!isInside(root, target)) {
        throw new RenderError(`reading plain manifests: ${shown} is a symlink pointing outside the repository`);
      } else if ((await lstat(path.resolve(path.dirname(full), await readlink(full)))).isSymbolicLink()) {
        throw new RenderError(`reading plain manifests: ${shown} is a symlink to another symlink (not followed)`);
      } else if ((await lstat(target)).isFile() && MANIFEST_FILE.test(entry.name)) {
        files.push(full);
      } else if (!(await lstat(target)).isFile()) {
        warnings.push(`skipped ${shown}: symlinked directories are not followed`);
      }
    } else if (entry.isFile() && MANIFEST_FILE.test(entry.name)) {
      // Kustomization files too: left out after include/exclude, so only those the filter kept are mentioned.
      files.push(full);
    }
  }
  return files;
}

/**
 * Read every manifest under `dir`. `root` is the repository checkout (paths in messages are relative to it, and
 * nothing outside it is read). Each object's source file comes back in `sources` (parallel to `objects`).
 */
export async function readPlainManifests(
  dir: string,
  root: string,
  opts: { maxBytes?: number; filter?: PathFilter } = {},
): Promise<{ objects: KubeObject[]; sources: string[]; warnings: string[] }> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const warnings: string[] = [];
  const realRoot = await realpath(root);
  const realDir = await realpath(dir);
  const all = await listFiles(realDir, realRoot, warnings);
  const picked = opts.filter
    ? filterPaths(all, (f) => path.relative(realDir, f).split(path.sep).join("/"), opts.filter, warnings)
    : all;
  const isKustomization = (f: string) => KUSTOMIZATION_FILES.includes(path.basename(f));
  const kustomizations = picked.filter(isKustomization).map((f) => path.relative(realRoot, f));
  if (kustomizations.length > 0)
    warnings.push(
      `skipped ${kustomizations.slice(0, 3).join(", ")}${kustomizations.length > 3 ? ` and ${kustomizations.length - 3} more` : ""}: a kustomization file is not a manifest (set manifests.type: kustomize to build one, or leave it out with manifests.include/exclude)`,
    );
  const files = picked.filter((f) => !isKustomization(f));
  const objects: KubeObject[] = [];
  const sources: string[] = [];
  let total = 0;
  for (const file of files) {
    const shown = path.relative(realRoot, file);
    const text = await readFile(file, "utf8");
    total += Buffer.byteLength(text);
    if (total > maxBytes)
      throw new RenderError(
        `reading plain manifests: more than ${maxBytes} bytes of YAML under ${path.relative(realRoot, dir) || "."}`,
      );
    for (const obj of parseManifests(text, shown)) {
      objects.push(obj);
      sources.push(shown);
    }
  }
  if (files.length === 0)
    warnings.push(
      `no *.yaml, *.yml or *.json files under ${path.relative(realRoot, dir) || "."}${all.length > 0 ? " selected by manifests.include / exclude" : ""}`,
    );
  return { objects, sources, warnings };
}
