/**
 * The Renderer: manifests from the PR's own commit → the objects preview-bot applies.
 *
 *   const renderer = createRenderer();
 *   const { dir } = await fetchSource({ octokit, owner, repo, sha: ref.sha, dest: tmpDir });
 *   const { objects, warnings, url } = await renderer.render({ dir, config, ref, names, cluster });
 *
 * `dir` is a checkout of the repository at the head SHA. The manifests at `config.manifests.path` are built with
 * kustomize (a kustomization file there, or `manifests.type: kustomize`), `helm template` (a Chart.yaml, or
 * `type: helm`) or read as plain YAML, then put through preview-bot's transforms and guardrails (transform.ts), the
 * same for all three. With a `cluster`, kind scopes come from API discovery and the parent Gateway is read to
 * decide the URL's scheme; without one (the offline CLI), the built-in list and https are assumed, and `notes`
 * says so. Failures throw RenderError with what was being done and why (every problem, one line each).
 */
import { mkdtemp, realpath, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { PreviewConfig } from "../../../config.js";
import { type Logger } from "../../../logger.js";
import type { Cluster, KubeObject, PreviewNames, PreviewRef } from "../../shared/preview.js";
import { capLabel, expandTemplate, templateValues } from "../naming.js";
import { scopeKey } from "./cluster-scoped.js";
import { DEFAULT_GUARDRAILS, type GuardrailPolicy } from "../guardrails/object-rules.js";
import { isChartDirectory } from "./helm-chart.js";
import { findHelm, renderHelmChart } from "./helm.js";
import { checkKustomizationTree, findKustomizationFile, findKustomizeCommand, runKustomize } from "./kustomize.js";
import { parseManifests } from "./manifests.js";
import type { PodSecurityLevel } from "../guardrails/pod-security.js";
import { filterPaths, isInside, readPlainManifests, type PathFilter } from "./plain.js";
import { RenderError } from "./render-error.js";
import { planRoute, type RouteDefaults } from "./route-plan.js";
import { transformObjects } from "./transform.js";

export { RenderError } from "./render-error.js";
export { toYaml, parseManifests } from "./manifests.js";
export { fetchSource } from "./source.js";
export { readRepoFile } from "./repo-files.js";
export { findKustomizeCommand } from "./kustomize.js";
export { transformObjects } from "./transform.js";
export { previewNamesFor } from "../naming.js";
export type { PodSecurityLevel } from "../guardrails/pod-security.js";

/** What the render reads from the cluster: kind scopes (discovery) and the parent Gateway. */
export type RenderCluster = Pick<Cluster, "resourceScope" | "readObject">;

export interface RenderInput {
  /** Checkout of the repository at the PR's head SHA. */
  dir: string;
  config: PreviewConfig;
  ref: PreviewRef;
  names: PreviewNames;
  /** Absent offline (`preview-bot render`). */
  cluster?: RenderCluster;
}

export interface RenderResult {
  objects: KubeObject[];
  warnings: string[];
  /** What was changed for safety, and why (also worth showing). */
  rewrites: string[];
  /** How the render was made (e.g. scopes from the built-in list), for the CLI's summary. */
  notes: string[];
  /** The preview URL with its scheme decided (undefined when the preview has none). */
  url?: string;
  type: "kustomize" | "helm" | "plain";
}

export interface Renderer {
  render(input: RenderInput): Promise<RenderResult>;
}

export interface RendererOptions extends RouteDefaults {
  /** argv prefix for kustomize, e.g. `["kustomize", "build"]`; default: found on PATH (kustomize, else kubectl). */
  kustomizeCommand?: string[];
  /** helm binary; default found on PATH. */
  helmCommand?: string;
  /** Scratch directory (HOME for the tool children). Default: the OS temp dir. */
  workDir?: string;
  logger: Logger;
  /** Where helm and kustomize are looked up, and the PATH their children get (the settings' PATH). */
  toolPath: string;
  kustomizeTimeoutMs?: number;
  maxOutputBytes?: number;
  /** Pod Security level the render enforces (default "baseline"). */
  podSecurity?: PodSecurityLevel;
  /** Replicas a workload may ask for (default 10). */
  maxReplicas?: number;
  /** The bot's own ServiceAccount name (pods may not run as it). */
  botServiceAccount?: string;
  /** ClusterRoles a preview's RoleBindings may reference (default view, edit). */
  bindableClusterRoles?: readonly string[];
}

type ManifestType = RenderResult["type"];

async function detectType(dir: string): Promise<ManifestType> {
  if (await findKustomizationFile(dir)) return "kustomize";
  if (await isChartDirectory(dir)) return "helm";
  return "plain";
}

function pathFilter(config: PreviewConfig): PathFilter {
  return {
    include: config.manifests.include,
    exclude: config.manifests.exclude.flatMap((e) => (e.path ? [e.path] : [])),
  };
}

export function createRenderer(opts: RendererOptions): Renderer {
  return new ManifestRenderer(opts);
}

/** One renderer per process: the tools are looked up once, each render gets its own scratch HOME. */
class ManifestRenderer implements Renderer {
  private readonly log: Logger;
  private readonly workDir: string;
  private readonly policy: GuardrailPolicy & RouteDefaults;
  private readonly timeouts: { path: string; timeoutMs?: number; maxOutputBytes?: number };
  private kustomizeArgv: Promise<string[] | undefined> | undefined;
  private helmPath: Promise<string | undefined> | undefined;

  constructor(private readonly opts: RendererOptions) {
    this.log = opts.logger.child({ component: "renderer" });
    this.workDir = opts.workDir ?? os.tmpdir();
    this.policy = {
      ...DEFAULT_GUARDRAILS,
      ...(opts.podSecurity ? { podSecurity: opts.podSecurity } : {}),
      ...(opts.maxReplicas ? { maxReplicas: opts.maxReplicas } : {}),
      ...(opts.botServiceAccount ? { botServiceAccount: opts.botServiceAccount } : {}),
      ...(opts.bindableClusterRoles ? { bindableClusterRoles: opts.bindableClusterRoles } : {}),
      ...(opts.parentRefs ? { parentRefs: opts.parentRefs } : {}),
      ...(opts.ingressClassName ? { ingressClassName: opts.ingressClassName } : {}),
    };
    this.timeouts = {
      path: opts.toolPath,
      ...(opts.kustomizeTimeoutMs ? { timeoutMs: opts.kustomizeTimeoutMs } : {}),
      ...(opts.maxOutputBytes ? { maxOutputBytes: opts.maxOutputBytes } : {}),
    };
  }

  async render(input: RenderInput): Promise<RenderResult> {
    const { config, names } = input;
    const rel = config.manifests.path;
    const { root, manifestDir } = await this.locate(input);
    const type = config.manifests.type ?? (await detectType(manifestDir));
    const started = Date.now();
    const warnings: string[] = [];
    const raw = await this.read(type, manifestDir, root, input, warnings);
    const discovered = await this.scopes(raw.objects, input.cluster);
    const notes = discovered
      ? []
      : ["kind scopes from preview-bot's built-in list of cluster-scoped kinds (no cluster to ask)"];
    const plan = await planRoute(input, raw.objects, this.policy, input.cluster);
    warnings.push(...plan.warnings);
    notes.push(...plan.notes);
    const finalNames = plan.url && plan.url !== names.url ? { ...names, url: plan.url } : names;
    const result = transformObjects(raw.objects, {
      config,
      ref: input.ref,
      names: finalNames,
      policy: this.policy,
      ...(discovered ? { scopes: discovered } : {}),
      ...(raw.sources ? { sources: raw.sources } : {}),
    });
    warnings.push(...result.warnings);
    this.log.debug(
      {
        key: names.key,
        path: rel,
        type,
        rendered: raw.objects.length,
        objects: result.objects.length,
        warnings: warnings.length,
        ms: Date.now() - started,
      },
      "rendered manifests",
    );
    return {
      objects: result.objects,
      warnings,
      rewrites: result.rewrites,
      notes,
      ...(finalNames.url ? { url: finalNames.url } : {}),
      type,
    };
  }

  /** The checkout and `manifests.path` inside it, both resolved: a directory that does not leave the repository. */
  private async locate(input: RenderInput): Promise<{ root: string; manifestDir: string }> {
    const rel = input.config.manifests.path;
    const root = await realpath(input.dir).catch((err: unknown) => {
      throw new RenderError(`rendering ${rel}: the checkout ${input.dir} does not exist`, { cause: err });
    });
    const manifestDir = await realpath(path.resolve(root, rel)).catch((err: unknown) => {
      throw new RenderError(
        `rendering ${rel}: no such directory in ${input.ref.owner}/${input.ref.repo}@${input.ref.sha.slice(0, 7)} (manifests.path)`,
        { cause: err },
      );
    });
    if (!isInside(root, manifestDir))
      throw new RenderError(`rendering ${rel}: manifests.path leads outside the repository`);
    if (!(await stat(manifestDir)).isDirectory())
      throw new RenderError(`rendering ${rel}: manifests.path must be a directory`);
    return { root, manifestDir };
  }

  private async read(
    type: ManifestType,
    manifestDir: string,
    root: string,
    input: RenderInput,
    warnings: string[],
  ): Promise<{ objects: KubeObject[]; sources?: string[] }> {
    const { config } = input;
    if (type === "kustomize") {
      if (pathFilter(config).include.length + pathFilter(config).exclude.length > 0) {
        throw new RenderError(
          "manifests.include and path globs in manifests.exclude select files of plain or Helm manifests; kustomize output has no files (exclude by kind and name instead)",
        );
      }
      return { objects: await this.kustomize(manifestDir, root, config.manifests.path) };
    }
    if (type === "helm") return this.helmChart(manifestDir, root, input, warnings);
    const plain = await readPlainManifests(manifestDir, root, { filter: pathFilter(config) });
    warnings.push(...plain.warnings);
    return plain;
  }

  private async helmChart(
    manifestDir: string,
    root: string,
    input: RenderInput,
    warnings: string[],
  ): Promise<{ objects: KubeObject[]; sources: string[] }> {
    const { config, names, ref } = input;
    const rel = config.manifests.path;
    const values = templateValues(ref, names);
    const set = Object.fromEntries(
      Object.entries(config.manifests.set).map(([k, v]) => [k, expandTemplate(v, values)]),
    );
    const release = config.manifests.releaseName
      ? expandTemplate(config.manifests.releaseName, values)
      : capLabel(names.hostLabel, names.key, true, 53);
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(release) || release.length > 53)
      throw new RenderError(
        `manifests.releaseName: "${release}" is not a valid Helm release name (≤ 53 characters of a-z 0-9 -)`,
      );
    const out = await renderHelmChart(manifestDir, root, {
      helm: await this.helm(rel),
      workDir: this.workDir,
      release,
      namespace: names.namespace,
      values: config.manifests.values,
      set,
      ...this.timeouts,
    });
    const pairs = filterPaths(
      out.objects.map((o, i) => ({ o, s: out.sources[i]! })),
      (p) => p.s,
      pathFilter(config),
      warnings,
    );
    return { objects: pairs.map((p) => p.o), sources: pairs.map((p) => path.join(rel, p.s)) };
  }

  private async helm(shown: string): Promise<string> {
    this.helmPath ??= this.opts.helmCommand ? Promise.resolve(this.opts.helmCommand) : findHelm(this.opts.toolPath);
    const found = await this.helmPath;
    if (!found)
      throw new RenderError(
        `rendering ${shown} with helm: helm is not installed (the preview-bot image ships it; elsewhere put helm on PATH)`,
      );
    return found;
  }

  private async kustomize(manifestDir: string, root: string, shown: string): Promise<KubeObject[]> {
    const facts = await checkKustomizationTree(manifestDir, root);
    this.kustomizeArgv ??= this.opts.kustomizeCommand
      ? Promise.resolve(this.opts.kustomizeCommand)
      : findKustomizeCommand(this.opts.toolPath);
    const argv = await this.kustomizeArgv;
    if (!argv)
      throw new RenderError(
        `rendering ${shown} with kustomize: neither kustomize nor kubectl is installed (set KUSTOMIZE_COMMAND, or use manifests.type: plain)`,
      );
    const home = await mkdtemp(path.join(this.workDir, "kustomize-"));
    try {
      const yaml = await runKustomize(manifestDir, root, {
        command: argv,
        home,
        ...(facts.helm ? { helm: await this.helm(shown) } : {}),
        ...this.timeouts,
      });
      return parseManifests(yaml, `kustomize output of ${shown}`);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }

  /** Each kind's scope from the cluster's discovery (undefined without a cluster: the built-in list is used). */
  private async scopes(
    objects: readonly KubeObject[],
    cluster: RenderCluster | undefined,
  ): Promise<Map<string, "Namespaced" | "Cluster"> | undefined> {
    if (!cluster) return undefined;
    const out = new Map<string, "Namespaced" | "Cluster">();
    for (const key of new Set(objects.map((o) => scopeKey(o.apiVersion, o.kind)))) {
      const i = key.lastIndexOf("/");
      const scope = await cluster.resourceScope(key.slice(0, i), key.slice(i + 1));
      if (scope) out.set(key, scope);
    }
    return out;
  }
}
