/**
 * The renderer's own work, run where nothing is worth stealing (src/render-worker.ts, under preview-sandbox or in the
 * renderer workload): extract the pull request's tarball, find `manifests.path`, and build it with kustomize,
 * `helm template` or the plain-YAML walk; read `database.seed` if the config names one. The answer is plain data
 * (protocol.ts); the bot checks it and applies its transforms and guardrails to it.
 *
 * Every refusal of the pre-checks (remote references, paths or links out of the checkout, Helm generators with a
 * repository or a config home) happens here too: a second wall behind the sandbox, not instead of it.
 */
import { mkdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import type { KubeObject } from "../../../shared/preview.js";
import type { WorkerRequest, WorkerResponse } from "../protocol.js";
import { RenderError } from "../render-error.js";
import { parseManifests } from "../manifests.js";
import { extractSource, type ExtractResult } from "./extract.js";
import { isChartDirectory } from "./helm-chart.js";
import { renderHelmChart } from "./helm.js";
import { checkLinks } from "./links.js";
import { checkKustomizationTree, findKustomizationFile, runKustomize } from "./kustomize.js";
import { filterPaths, isInside, readPlainManifests, type PathFilter } from "./plain.js";
import { readRepoFile } from "./repo-files.js";
import { describeError } from "../../../shared/format.js";

type ManifestType = "kustomize" | "helm" | "plain";

/** Render the request's tree; failures come back as `{ ok: false }` with one line per problem. */
export async function renderTree(req: WorkerRequest): Promise<WorkerResponse> {
  try {
    return await render(req);
  } catch (err) {
    if (err instanceof RenderError) return { ok: false, error: err.message, problems: [...err.problems] };
    if ((err as NodeJS.ErrnoException).code === "EACCES")
      return {
        ok: false,
        error: `rendering ${req.label}: ${(err as Error).message} (the renderer runs as an unprivileged user: the directory must be readable by others, e.g. chmod -R o+rX)`,
      };
    return { ok: false, error: `rendering ${req.label}: ${describeError(err)}` };
  }
}

async function render(req: WorkerRequest): Promise<WorkerResponse> {
  const { root, extracted } = await checkout(req);
  const { manifestDir } = await locate(root, req);
  const type = req.manifests.type ?? (await detectType(manifestDir));
  const warnings: string[] = [];
  const read = await readManifests(type, manifestDir, root, req, warnings);
  const seed = req.seed ? await readRepoFile(root, req.seed, "database.seed") : undefined;
  return {
    ok: true,
    type,
    objects: read.objects,
    ...(read.sources ? { sources: read.sources } : {}),
    warnings,
    ...(seed !== undefined ? { seed } : {}),
    ...(extracted ? { source: { files: extracted.files, bytes: extracted.bytes, skipped: extracted.skipped } } : {}),
  };
}

/** The tree to read: the tarball extracted into the scratch directory, or the given directory (links judged). */
async function checkout(req: WorkerRequest): Promise<{ root: string; extracted?: ExtractResult }> {
  if (req.source.kind === "tarball") {
    const extracted = await extractSource({
      file: req.source.file,
      dest: path.join(req.scratch, "src"),
      maxBytes: req.limits.sourceBytes,
      maxEntries: req.limits.sourceEntries,
      label: req.label,
    });
    return { root: extracted.dir, extracted };
  }
  const root = await realpath(req.source.dir).catch((err: unknown) => {
    throw new RenderError(
      `rendering ${req.label}: the directory ${req.source.kind === "dir" ? req.source.dir : ""} does not exist`,
      {
        cause: err,
      },
    );
  });
  // A directory is the user's own: a link the bot would not have extracted fails the render instead of being removed.
  const refused = await checkLinks(root, { remove: false });
  if (refused.length)
    throw new RenderError(refused.map((r) => `link refused: ${r}`).join("\n"), {
      problems: refused.map((r) => `link refused: ${r}`),
    });
  return { root };
}

/** `manifests.path`, resolved: a directory that does not leave the repository. */
async function locate(root: string, req: WorkerRequest): Promise<{ manifestDir: string }> {
  const rel = req.manifests.path;
  const manifestDir = await realpath(path.resolve(root, rel)).catch((err: unknown) => {
    throw new RenderError(`rendering ${rel}: no such directory in ${req.label} (manifests.path)`, { cause: err });
  });
  if (!isInside(root, manifestDir))
    throw new RenderError(`rendering ${rel}: manifests.path leads outside the repository`);
  if (!(await stat(manifestDir)).isDirectory())
    throw new RenderError(`rendering ${rel}: manifests.path must be a directory`);
  return { manifestDir };
}

async function detectType(dir: string): Promise<ManifestType> {
  if (await findKustomizationFile(dir)) return "kustomize";
  if (await isChartDirectory(dir)) return "helm";
  return "plain";
}

function pathFilter(req: WorkerRequest): PathFilter {
  return { include: req.manifests.include, exclude: req.manifests.exclude };
}

async function readManifests(
  type: ManifestType,
  manifestDir: string,
  root: string,
  req: WorkerRequest,
  warnings: string[],
): Promise<{ objects: KubeObject[]; sources?: string[] }> {
  const filter = pathFilter(req);
  const rel = req.manifests.path;
  if (type === "kustomize") {
    if (filter.include.length + filter.exclude.length > 0)
      throw new RenderError(
        "manifests.include and path globs in manifests.exclude select files of plain or Helm manifests; kustomize output has no files (exclude by kind and name instead)",
      );
    return { objects: await kustomize(manifestDir, root, req) };
  }
  if (type === "helm") {
    const helm = req.tools.helm;
    if (!helm)
      throw new RenderError(
        `rendering ${rel} with helm: helm is not installed (the preview-bot image ships it; elsewhere put helm on PATH)`,
      );
    const out = await renderHelmChart(manifestDir, root, {
      helm,
      workDir: await scratchDir(req, "helm"),
      ...(req.manifests.release ? { release: req.manifests.release } : {}),
      namespace: req.manifests.namespace,
      ...(req.manifests.kubeVersion ? { kubeVersion: req.manifests.kubeVersion } : {}),
      ...(req.manifests.apiVersions ? { apiVersions: req.manifests.apiVersions } : {}),
      values: req.manifests.values,
      set: req.manifests.set,
      path: req.tools.path,
      timeoutMs: req.limits.toolTimeoutMs,
      maxOutputBytes: req.limits.toolOutputBytes,
    });
    const pairs = filterPaths(
      out.objects.map((o, i) => ({ o, s: out.sources[i]! })),
      (p) => p.s,
      filter,
      warnings,
    );
    return { objects: pairs.map((p) => p.o), sources: pairs.map((p) => path.join(rel, p.s)) };
  }
  const plain = await readPlainManifests(manifestDir, root, { filter });
  warnings.push(...plain.warnings);
  return plain;
}

async function kustomize(manifestDir: string, root: string, req: WorkerRequest): Promise<KubeObject[]> {
  const shown = req.manifests.path;
  const facts = await checkKustomizationTree(manifestDir, root);
  const argv = req.tools.kustomize;
  if (!argv)
    throw new RenderError(
      `rendering ${shown} with kustomize: neither kustomize nor kubectl is installed (set KUSTOMIZE_COMMAND, or use manifests.type: plain)`,
    );
  if (facts.helm && !req.tools.helm)
    throw new RenderError(`rendering ${shown} with kustomize: its helmCharts need helm, which is not installed`);
  const yaml = await runKustomize(manifestDir, root, {
    command: argv,
    home: await scratchDir(req, "kustomize"),
    path: req.tools.path,
    ...(facts.helm ? { helm: req.tools.helm! } : {}),
    timeoutMs: req.limits.toolTimeoutMs,
    maxOutputBytes: req.limits.toolOutputBytes,
  });
  return parseManifests(yaml, `kustomize output of ${shown}`);
}

/** A fresh directory in the scratch space (a tool's HOME). */
async function scratchDir(req: WorkerRequest, name: string): Promise<string> {
  const dir = path.join(req.scratch, `${name}-home`);
  await mkdir(dir, { recursive: true });
  return dir;
}
