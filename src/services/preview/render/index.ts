/**
 * The Renderer: manifests from the PR's own commit → the objects preview-bot applies.
 *
 *   const renderer = createRenderer();
 *   const { dir } = await fetchSource({ octokit, owner, repo, sha: ref.sha, dest: tmpDir });
 *   const { objects, warnings } = await renderer.render({ dir, config, ref, names });
 *
 * `dir` is a checkout of the repository at the head SHA. The manifests at `config.manifests.path` are built with
 * kustomize (when a kustomization file is there, or `manifests.type: kustomize`) or read as plain YAML, then put
 * through preview-bot's transforms (transform.ts). Failures throw RenderError with what was being done and why.
 */
import { realpath, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { PreviewConfig } from "../../../config.js";
import { logger as rootLogger, type Logger } from "../../../logger.js";
import type { KubeObject, PreviewNames, PreviewRef } from "../../shared/preview.js";
import { checkKustomizationTree, findKustomizationFile, findKustomizeCommand, runKustomize } from "./kustomize.js";
import { parseManifests } from "./manifests.js";
import { isInside, readPlainManifests } from "./plain.js";
import { RenderError } from "./render-error.js";
import { transformObjects } from "./transform.js";

export { RenderError } from "./render-error.js";
export { toYaml, parseManifests } from "./manifests.js";
export { fetchSource, type FetchSourceOptions, type FetchSourceResult, type TarballOctokit } from "./source.js";
export { findKustomizeCommand } from "./kustomize.js";
export { transformObjects } from "./transform.js";
export { nameTemplatesFromConfig, previewNamesFor } from "../naming.js";

export interface RenderInput {
  /** Checkout of the repository at the PR's head SHA. */
  dir: string;
  config: PreviewConfig;
  ref: PreviewRef;
  names: PreviewNames;
}

export interface RenderResult {
  objects: KubeObject[];
  warnings: string[];
}

export interface Renderer {
  render(input: RenderInput): Promise<RenderResult>;
}

export interface RendererOptions {
  /** argv prefix for kustomize, e.g. `["kustomize", "build"]`; default: found on PATH (kustomize, else kubectl). */
  kustomizeCommand?: string[];
  /** Scratch directory (HOME for the kustomize child). Default: the OS temp dir. */
  workDir?: string;
  logger?: Logger;
  kustomizeTimeoutMs?: number;
  maxOutputBytes?: number;
}

export function createRenderer(opts: RendererOptions = {}): Renderer {
  const log = (opts.logger ?? rootLogger).child({ component: "renderer" });
  let command: Promise<string[] | undefined> | undefined;

  async function kustomize(manifestDir: string, root: string, shown: string): Promise<KubeObject[]> {
    await checkKustomizationTree(manifestDir, root);
    command ??= opts.kustomizeCommand ? Promise.resolve(opts.kustomizeCommand) : findKustomizeCommand();
    const argv = await command;
    if (!argv) {
      throw new RenderError(`rendering ${shown} with kustomize: neither kustomize nor kubectl is installed (set kustomizeCommand, or use manifests.type: plain)`);
    }
    const yaml = await runKustomize(manifestDir, root, {
      command: argv,
      home: opts.workDir ?? os.tmpdir(),
      ...(opts.kustomizeTimeoutMs ? { timeoutMs: opts.kustomizeTimeoutMs } : {}),
      ...(opts.maxOutputBytes ? { maxOutputBytes: opts.maxOutputBytes } : {}),
    });
    return parseManifests(yaml, `kustomize output of ${shown}`);
  }

  return {
    async render({ dir, config, ref, names }) {
      const rel = config.manifests.path;
      const root = await realpath(dir).catch((err: unknown) => {
        throw new RenderError(`rendering ${rel}: the checkout ${dir} does not exist`, { cause: err });
      });
      const manifestDir = await realpath(path.resolve(root, rel)).catch((err: unknown) => {
        throw new RenderError(`rendering ${rel}: no such directory in ${ref.owner}/${ref.repo}@${ref.sha.slice(0, 7)} (manifests.path)`, { cause: err });
      });
      if (!isInside(root, manifestDir)) throw new RenderError(`rendering ${rel}: manifests.path leads outside the repository`);
      if (!(await stat(manifestDir)).isDirectory()) throw new RenderError(`rendering ${rel}: manifests.path must be a directory`);

      const type = config.manifests.type ?? ((await findKustomizationFile(manifestDir)) ? "kustomize" : "plain");
      const started = Date.now();
      let objects: KubeObject[];
      const warnings: string[] = [];
      if (type === "kustomize") {
        objects = await kustomize(manifestDir, root, rel);
      } else {
        const plain = await readPlainManifests(manifestDir, root);
        objects = plain.objects;
        warnings.push(...plain.warnings);
      }
      const result = transformObjects(objects, { config, ref, names });
      warnings.push(...result.warnings);
      log.debug({ key: names.key, path: rel, type, rendered: objects.length, objects: result.objects.length, warnings: warnings.length, ms: Date.now() - started }, "rendered manifests");
      return { objects: result.objects, warnings };
    },
  };
}
