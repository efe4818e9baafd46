/**
 * The kustomize renderer: `kustomize build <dir>` when `kustomize` is on PATH, else `kubectl kustomize <dir>`
 * (kubectl ships kustomize v5), run with execFile (no shell), a timeout, an output cap, a minimal environment and
 * `--load-restrictor LoadRestrictionsRootOnly` (kustomize's default, passed explicitly so no wrapper can loosen it).
 *
 * Before running, the kustomization tree is walked and refused when it:
 * - names a **remote** resource (`https://…`, `git@…`, `github.com/org/repo//path?ref=…`): the PR's own commit is
 *   the only source a preview is built from; a remote base would pull content no reviewer saw, from the network,
 *   at deploy time (and the bot may run without egress). Vendor the base into the repository instead.
 * - reaches a local path **outside the repository checkout** (`resources: [../../../../etc]`): kustomize's root-only
 *   restriction still lets a kustomization load other kustomization directories anywhere on disk.
 * - uses `helmCharts` (needs `--enable-helm`, a helm binary and usually the network).
 */
import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access, realpath, stat, readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { redactText } from "../../../logger.js";
import { isInside, KUSTOMIZATION_FILES } from "./plain.js";
import { RenderError } from "./render-error.js";

export const DEFAULT_KUSTOMIZE_TIMEOUT_MS = 60_000;
export const DEFAULT_KUSTOMIZE_MAX_OUTPUT = 32 * 1024 * 1024;

async function onPath(name: string, envPath = process.env.PATH ?? ""): Promise<string | undefined> {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** `["kustomize", "build"]` or `["kubectl", "kustomize"]` (absolute paths), or undefined when neither is installed. */
export async function findKustomizeCommand(envPath?: string): Promise<string[] | undefined> {
  const kustomize = await onPath("kustomize", envPath);
  if (kustomize) return [kustomize, "build"];
  const kubectl = await onPath("kubectl", envPath);
  if (kubectl) return [kubectl, "kustomize"];
  return undefined;
}

export async function findKustomizationFile(dir: string): Promise<string | undefined> {
  for (const name of KUSTOMIZATION_FILES) {
    const file = path.join(dir, name);
    if (await stat(file).then((s) => s.isFile(), () => false)) return file;
  }
  return undefined;
}

const SCHEME_OR_GIT = /^(?:[a-z][a-z0-9+.-]*:\/\/|[a-z0-9._-]+@[a-z0-9.-]+:|git::)|[?&]ref=/i;
const HOST_LIKE = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?::\d+)?\//i;

/** True for entries kustomize would fetch over the network. Host-like (`github.com/x/y`) counts unless it exists locally. */
export async function isRemoteReference(entry: string, baseDir: string): Promise<boolean> {
  if (SCHEME_OR_GIT.test(entry)) return true;
  if (!HOST_LIKE.test(entry)) return false;
  return !(await stat(path.resolve(baseDir, entry)).then(() => true, () => false));
}

const PATH_LIST_FIELDS = ["resources", "bases", "components", "generators", "transformers", "validators", "crds", "configurations"] as const;

/**
 * Walk the kustomization at `dir` and every local kustomization it references; throw RenderError on a remote
 * reference, a path outside `root`, or helm charts.
 */
export async function checkKustomizationTree(dir: string, root: string, seen = new Set<string>()): Promise<void> {
  const realDir = await realpath(dir);
  if (seen.has(realDir)) return;
  seen.add(realDir);
  const file = await findKustomizationFile(realDir);
  if (!file) return;
  const shown = path.relative(root, file);
  let doc: unknown;
  try {
    doc = parseYaml(await readFile(file, "utf8"), { maxAliasCount: 50 });
  } catch (err) {
    throw new RenderError(`reading ${shown}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`, { cause: err });
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return;
  const k = doc as Record<string, unknown>;
  if (k.helmCharts !== undefined || k.helmChartInflationGenerator !== undefined) {
    throw new RenderError(`${shown} uses helmCharts, which preview-bot does not inflate (it needs helm and the network); render the chart into the repository instead`);
  }
  const entries: Array<[string, string]> = [];
  for (const field of PATH_LIST_FIELDS) {
    const list = k[field];
    if (!Array.isArray(list)) continue;
    for (const item of list) if (typeof item === "string") entries.push([field, item]);
  }
  const openapi = k.openapi as { path?: unknown } | undefined;
  if (openapi && typeof openapi.path === "string") entries.push(["openapi.path", openapi.path]);

  for (const [field, entry] of entries) {
    if (await isRemoteReference(entry, realDir)) {
      throw new RenderError(
        `${shown}: ${field} entry "${entry}" is a remote reference; preview-bot builds only from the PR's own commit (vendor the base into the repository)`,
      );
    }
    const target = await realpath(path.resolve(realDir, entry)).catch(() => undefined);
    if (target === undefined) continue; // kustomize reports missing files itself, with its own wording
    if (!isInside(root, target)) {
      throw new RenderError(`${shown}: ${field} entry "${entry}" points outside the repository`);
    }
    if ((field === "resources" || field === "bases" || field === "components") && (await stat(target)).isDirectory()) {
      await checkKustomizationTree(target, root, seen);
    }
  }
}

export interface KustomizeOptions {
  command: string[];
  timeoutMs?: number;
  maxOutputBytes?: number;
  /** HOME for the child (kubectl may write a cache there). */
  home: string;
}

/** Run kustomize on `dir` (inside `root`) and return its YAML output. */
export async function runKustomize(dir: string, root: string, opts: KustomizeOptions): Promise<string> {
  const shown = path.relative(root, dir) || ".";
  const [file, ...baseArgs] = opts.command;
  if (!file) throw new RenderError(`rendering ${shown} with kustomize: empty kustomize command`);
  const timeout = opts.timeoutMs ?? DEFAULT_KUSTOMIZE_TIMEOUT_MS;
  const maxBuffer = opts.maxOutputBytes ?? DEFAULT_KUSTOMIZE_MAX_OUTPUT;
  const args = [...baseArgs, "--load-restrictor", "LoadRestrictionsRootOnly", dir];
  return new Promise<string>((resolve, reject) => {
    execFile(
      file,
      args,
      // A minimal environment: the child gets no tokens, passwords or kubeconfig from ours.
      { cwd: root, timeout, maxBuffer, encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: opts.home }, windowsHide: true },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: string | number | null };
        let why: string;
        if (e.code === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER") why = `output larger than ${maxBuffer} bytes`;
        else if (e.killed || e.signal === "SIGTERM") why = `timed out after ${Math.round(timeout / 1000)} s`;
        else if (e.code === "ENOENT") why = `${file} not found`;
        else why = stderr.trim().slice(0, 4000) || e.message;
        reject(new RenderError(`rendering ${shown} with kustomize: ${redactText(why)}`, { cause: err }));
      },
    );
  });
}
