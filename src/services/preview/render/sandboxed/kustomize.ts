/**
 * The kustomize renderer: `kustomize build <dir>` when `kustomize` is on PATH, else `kubectl kustomize <dir>`
 * (kubectl ships kustomize v5), with `--load-restrictor LoadRestrictionsRootOnly` (kustomize's default, passed
 * explicitly so no wrapper can loosen it), offline (tool-run.ts), after the tree was checked
 * (kustomization-check.ts). A tree with local `helmCharts` is built with `--enable-helm` and the helm binary found
 * on PATH.
 */
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import path from "node:path";
import { RenderError } from "../render-error.js";
import { helmEnv, runTool } from "./tool-run.js";

export { checkKustomizationTree, findKustomizationFile, isRemoteReference } from "./kustomization-check.js";

export async function findOnPath(name: string, envPath: string): Promise<string | undefined> {
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
export async function findKustomizeCommand(envPath: string): Promise<string[] | undefined> {
  const kustomize = await findOnPath("kustomize", envPath);
  if (kustomize) return [kustomize, "build"];
  const kubectl = await findOnPath("kubectl", envPath);
  if (kubectl) return [kubectl, "kustomize"];
  return undefined;
}

export interface KustomizeOptions {
  command: string[];
  timeoutMs?: number;
  maxOutputBytes?: number;
  /** HOME for the child (kubectl and helm may write a cache there). */
  home: string;
  /** The child's PATH. */
  path: string;
  /** Inflate local helmCharts with this helm binary. */
  helm?: string;
}

/** Run kustomize on `dir` (inside `root`) and return its YAML output. */
export async function runKustomize(dir: string, root: string, opts: KustomizeOptions): Promise<string> {
  const shown = path.relative(root, dir) || ".";
  const [file, ...baseArgs] = opts.command;
  if (!file) throw new RenderError(`rendering ${shown} with kustomize: empty kustomize command`);
  const helmArgs = opts.helm ? ["--enable-helm", "--helm-command", opts.helm] : [];
  return runTool(file, [...baseArgs, "--load-restrictor", "LoadRestrictionsRootOnly", ...helmArgs, dir], {
    what: `rendering ${shown} with kustomize`,
    root,
    cwd: root,
    home: opts.home,
    path: opts.path,
    ...(opts.helm
      ? {
          env: helmEnv(opts.home),
        }
      : {}),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.maxOutputBytes ? { maxOutputBytes: opts.maxOutputBytes } : {}),
  });
}
