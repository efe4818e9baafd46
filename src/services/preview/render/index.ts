/**
 * The Renderer: a pull request's manifests → the objects preview-bot applies, in two halves that never share a
 * process. The isolated half (the worker: sandboxed/render-tree.ts, started by isolation.ts, or the renderer workload
 * through remote.ts) extracts the tree and builds `manifests.path` with kustomize (a kustomization file there, or
 * `manifests.type: kustomize`), `helm template` (a Chart.yaml, or `type: helm`) or the plain-YAML walk, and reads
 * `database.seed`. This half, in the bot, checks the worker's answer as hostile input (protocol.ts) and puts the
 * objects through preview-bot's transforms and guardrails (transform.ts), the same for all three. With a `cluster`,
 * kind scopes come from API discovery and the parent Gateway is read to decide the URL's scheme; without one (the
 * offline CLI), the built-in list and https are assumed, and `notes` says so. Failures throw RenderError with what
 * was being done and why (every problem, one line each).
 *
 *   const renderer = createRenderer({ worker, toolPath, logger });
 *   await fetchSource({ octokit, owner, repo, sha, file: path.join(runDir, "source.tar.gz") });
 *   const { objects, warnings, url, isolation } = await renderer.render({ source, runDir, config, ref, names, cluster });
 *
 * Longer than 300 lines: the renderer's options and its one render, in the order the render uses them (worker,
 * discovery, transform, access, hooks); the helpers are already in their own files.
 */
import { chmod, chown, mkdir } from "node:fs/promises";
import path from "node:path";
import type { PreviewConfig } from "../../../config.js";
import type { Logger } from "../../../logger.js";
import type { Cluster, KubeObject, PreviewNames, PreviewRef } from "../../shared/preview.js";
import { DEFAULT_GUARDRAILS, type GuardrailPolicy } from "../guardrails/object-rules.js";
import type { PodSecurityLevel } from "../guardrails/pod-security.js";
import type { NeighbourPolicy } from "../guardrails/settings.js";
import { expandTemplate, templateValues } from "../naming.js";
import { parseAllowlist, type SecretAllowlists } from "./app-secrets.js";
import { helmTarget, type HelmTarget } from "./capabilities.js";
import { scopeKey } from "./cluster-scoped.js";
import { describeHooks, leaveOutHooks, planHooks } from "./hooks.js";
import type { PinnedImage } from "./images.js";
import type { IsolationReport, RenderWorker } from "./isolation.js";
import { PROTOCOL_VERSION, type WorkerRequest } from "./protocol.js";
import { RenderError } from "./render-error.js";
import { protectAccess, type AccessSettings } from "./preview-access.js";
import { planRoute, type RouteDefaults } from "./route-plan.js";
import { findRenderTools } from "./render-tools.js";
import { DEFAULT_SOURCE_MAX_BYTES } from "./source.js";
import { transformObjects } from "./transform.js";

export { RenderError } from "./render-error.js";
export { toYaml, parseManifests } from "./manifests.js";
export { fetchSource } from "./source.js";
export { findKustomizeCommand } from "./sandboxed/kustomize.js";
export { findRenderTools } from "./render-tools.js";
export { transformObjects } from "./transform.js";
export { previewNamesFor } from "../naming.js";
export type { PodSecurityLevel } from "../guardrails/pod-security.js";
export type { IsolationReport } from "./isolation.js";
export type { PinnedImage } from "./images.js";

/** What the render reads from the cluster: kind scopes and its version and API versions (discovery), the parent Gateway. */
export type RenderCluster = Pick<Cluster, "resourceScope" | "readObject" | "capabilities">;

export interface RenderInput {
  /** The PR's tree at its head SHA: GitHub's tarball (downloaded by the bot, never opened by it), or a directory. */
  source: { kind: "tarball"; file: string } | { kind: "dir"; dir: string };
  /** A directory of this run's own, removed by the caller afterwards: the worker's scratch space is made in it. */
  runDir: string;
  config: PreviewConfig;
  ref: PreviewRef;
  names: PreviewNames;
  /** Absent offline (`preview-bot render`). */
  cluster?: RenderCluster;
  /** Who may open the preview (default `public`): `github` puts the bot's sign-in in front of every route. */
  access?: "public" | "github";
}

export interface RenderResult {
  objects: KubeObject[];
  warnings: string[];
  /** What was changed for safety, and why (also worth showing). */
  rewrites: string[];
  /** The images `images[]` pinned by tag, and where (the deploy's Images step resolves them to digests). */
  pinned: PinnedImage[];
  /** How the render was made (e.g. scopes from the built-in list), for the CLI's summary. */
  notes: string[];
  /** Hooks: when they run (before the apply, after the roll-out) and which were left out, and why. */
  hooks: string[];
  /** The preview URL with its scheme decided (undefined when the preview has none). */
  url?: string;
  /** Its further URLs (`route.expose` after the first), by name, schemes decided. */
  extraUrls?: Array<{ name: string; url: string }>;
  type: "kustomize" | "helm" | "plain";
  /** The isolation the render ran under (shown in the check run and by the CLI). */
  isolation: IsolationReport;
  /** `database.seed`'s text, read by the renderer. */
  seed?: string;
  /** What the renderer extracted from a tarball. */
  extracted?: { files: number; bytes: number; skipped: string[] };
  /** The hosts the routes serve, and (access: github) the objects for the bot's own namespace. */
  access: { mode: "public" | "github"; hosts: string[]; grants: KubeObject[] };
}

export interface Renderer {
  render(input: RenderInput, signal?: AbortSignal): Promise<RenderResult>;
}

export interface RendererOptions extends RouteDefaults {
  /** Where the render runs (isolation.ts: a sandboxed process; remote.ts: the renderer workload). */
  worker: RenderWorker;
  /** argv prefix for kustomize, e.g. `["kustomize", "build"]`; default: found on the tool path (kustomize, else kubectl). */
  kustomizeCommand?: string[];
  /** helm binary; default found on the tool path. */
  helmCommand?: string;
  logger: Logger;
  /** Where helm and kustomize are looked up (the settings' PATH). */
  toolPath: string;
  kustomizeTimeoutMs?: number;
  maxOutputBytes?: number;
  /** Cap on the tarball and on what it unpacks to. */
  maxSourceBytes?: number;
  /** Pod Security level the render enforces (default "baseline"). */
  podSecurity?: PodSecurityLevel;
  /** Replicas a workload may ask for (default 10). */
  maxReplicas?: number;
  /** The bot's own ServiceAccount name (pods may not run as it). */
  botServiceAccount?: string;
  /** ClusterRoles a preview's RoleBindings may reference (default view, edit). */
  bindableClusterRoles?: readonly string[];
  /** How `access: github` previews are protected (PREVIEW_ACCESS_GATEWAY, the bot's URLs), or why they cannot be. */
  access?: AccessSettings | { unavailable: string };
  /** Helm without a cluster: the Kubernetes version and API versions to render for (PREVIEW_KUBE_VERSION, …). */
  kubeVersion?: string;
  apiVersions?: readonly string[];
  /** Where `secrets` may come from: PREVIEW_SECRET_SOURCES and PREVIEW_EXTERNAL_SECRET_STORES entries. */
  secretSources?: readonly string[];
  externalSecretStores?: readonly string[];
  /** PREVIEW_SECRETS_FOR_FORKS. */
  secretsForForks?: boolean;
  /** What a preview may ask of its neighbours (default DEFAULT_NEIGHBOURS: the bot's defaults). */
  neighbours?: NeighbourPolicy;
}

export function createRenderer(opts: RendererOptions): Renderer {
  return new ManifestRenderer(opts);
}

/** The uid a sandboxed worker runs as when the bot is root (tools/sandbox): its scratch space must be its own. */
const SANDBOX_UID = 65534;

/** One renderer per process: the tools are looked up once; each render gets its own scratch space. */
class ManifestRenderer implements Renderer {
  private readonly log: Logger;
  private readonly policy: GuardrailPolicy & RouteDefaults;
  private readonly secrets: SecretAllowlists;
  private tools: ReturnType<typeof findRenderTools> | undefined;

  constructor(private readonly opts: RendererOptions) {
    this.log = opts.logger.child({ component: "renderer" });
    this.secrets = {
      sources: parseAllowlist(opts.secretSources ?? []),
      stores: parseAllowlist(opts.externalSecretStores ?? []),
      forks: opts.secretsForForks === true,
    };
    this.policy = {
      ...DEFAULT_GUARDRAILS,
      ...(opts.podSecurity ? { podSecurity: opts.podSecurity } : {}),
      ...(opts.maxReplicas ? { maxReplicas: opts.maxReplicas } : {}),
      ...(opts.botServiceAccount ? { botServiceAccount: opts.botServiceAccount } : {}),
      ...(opts.bindableClusterRoles ? { bindableClusterRoles: opts.bindableClusterRoles } : {}),
      ...(opts.neighbours ? { neighbours: opts.neighbours } : {}),
      ...(opts.parentRefs ? { parentRefs: opts.parentRefs } : {}),
      ...(opts.ingressClassName ? { ingressClassName: opts.ingressClassName } : {}),
    };
  }

  async render(input: RenderInput, signal?: AbortSignal): Promise<RenderResult> {
    const { config, names } = input;
    const started = Date.now();
    const target = await helmTarget(config, input.cluster, {
      ...(this.opts.kubeVersion ? { kubeVersion: this.opts.kubeVersion } : {}),
      ...(this.opts.apiVersions ? { apiVersions: this.opts.apiVersions } : {}),
    });
    const request = await this.request(input, target);
    const { response, isolation } = await this.opts.worker.run(request, { runDir: input.runDir }, signal);
    if (!response.ok)
      throw new RenderError(response.error, {
        problems: response.problems?.length ? response.problems : [response.error],
      });
    const warnings = [...response.warnings];
    if (response.source?.skipped.length)
      warnings.push(
        `${response.source.skipped.length} entr${response.source.skipped.length > 1 ? "ies" : "y"} of the repository not extracted: ${response.source.skipped.slice(0, 3).join("; ")}${response.source.skipped.length > 3 ? "; …" : ""}`,
      );
    // Hooks nothing in a preview runs (tests, deletes, rollbacks) are left out before the transforms judge them.
    const kept = leaveOutHooks(response.objects, response.sources);
    const raw = { objects: kept.objects, ...(kept.sources ? { sources: kept.sources } : {}) };
    const discovered = await this.scopes(raw.objects, input.cluster);
    const notes = discovered
      ? []
      : ["kind scopes from preview-bot's built-in list of cluster-scoped kinds (no cluster to ask)"];
    if (response.type === "helm") {
      notes.push(target.note);
      warnings.push(...target.warnings);
    }
    notes.push(`rendered in isolation: ${isolation.detail}${isolation.fallback ? ` (${isolation.fallback})` : ""}`);
    const plan = await planRoute(input, raw.objects, this.policy, input.cluster);
    warnings.push(...plan.warnings);
    notes.push(...plan.notes);
    const finalNames = plan.url && plan.url !== names.url ? { ...names, url: plan.url } : names;
    const primary = config.route?.expose?.[0];
    const urls = [
      ...(primary && finalNames.url ? [{ name: primary.name ?? primary.service, url: finalNames.url }] : []),
      ...(plan.extraUrls ?? []),
    ];
    const result = transformObjects(raw.objects, {
      config,
      ref: input.ref,
      names: finalNames,
      policy: this.policy,
      secrets: this.secrets,
      urls,
      ...(discovered ? { scopes: discovered } : {}),
      ...(raw.sources ? { sources: raw.sources } : {}),
    });
    warnings.push(...result.warnings);
    // The last step, on purpose after every transform and every filter of what the pull request wrote: the bot's own
    // access annotations and policies are added on top, so nothing that strips PR-supplied metadata removes them.
    const mode = input.access ?? "public";
    const access = protectAccess(
      result.objects,
      {
        mode,
        namespace: names.namespace,
        ...(config.route?.baseUrl ? { pathPrefix: true } : {}),
        labels: names.labels,
      },
      this.opts.access,
    );
    notes.push(...result.notes);
    this.log.debug(
      {
        key: names.key,
        path: config.manifests.path,
        type: response.type,
        isolation: isolation.isolation,
        rendered: raw.objects.length,
        objects: access.objects.length,
        warnings: warnings.length,
        ms: Date.now() - started,
      },
      "rendered manifests",
    );
    return {
      objects: access.objects,
      warnings,
      rewrites: [...result.rewrites, ...access.notes],
      pinned: result.pinned,
      notes,
      hooks: [...describeHooks(planHooks(result.objects)), ...kept.notes],
      ...(finalNames.url ? { url: finalNames.url } : {}),
      ...(plan.extraUrls?.length ? { extraUrls: plan.extraUrls } : {}),
      type: response.type,
      isolation,
      ...(response.seed !== undefined ? { seed: response.seed } : {}),
      ...(response.source ? { extracted: response.source } : {}),
      access: { mode, hosts: access.hosts, grants: access.grants },
    };
  }

  /** What the worker is asked: where the tree is, what to build, with which tools and limits. */
  private async request(input: RenderInput, target: HelmTarget): Promise<WorkerRequest> {
    const { config, names, ref } = input;
    const scratch = path.join(input.runDir, "render");
    await mkdir(scratch, { recursive: true });
    await chmod(input.runDir, 0o755);
    // As root, the sandbox runs the worker as an unprivileged uid: its scratch space must be its own.
    if (process.getuid?.() === 0) await chown(scratch, SANDBOX_UID, SANDBOX_UID);
    this.tools ??= findRenderTools(this.opts.toolPath, {
      ...(this.opts.kustomizeCommand ? { kustomizeCommand: this.opts.kustomizeCommand } : {}),
      ...(this.opts.helmCommand ? { helmCommand: this.opts.helmCommand } : {}),
    });
    const tools = await this.tools;
    const values = templateValues(ref, names);
    // No releaseName: the worker names the release after the chart, the same in every preview.
    const release = config.manifests.releaseName ? expandTemplate(config.manifests.releaseName, values) : undefined;
    if (release !== undefined && (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(release) || release.length > 53))
      throw new RenderError(
        `manifests.releaseName: "${release}" is not a valid Helm release name (≤ 53 characters of a-z 0-9 -)`,
      );
    return {
      version: PROTOCOL_VERSION,
      source: input.source,
      scratch,
      label: `${ref.owner}/${ref.repo}@${ref.sha.slice(0, 7)}`,
      manifests: {
        path: config.manifests.path,
        ...(config.manifests.type ? { type: config.manifests.type } : {}),
        include: config.manifests.include,
        exclude: config.manifests.exclude.flatMap((e) => (e.path ? [e.path] : [])),
        values: config.manifests.values,
        set: Object.fromEntries(Object.entries(config.manifests.set).map(([k, v]) => [k, expandTemplate(v, values)])),
        ...(release !== undefined ? { release } : {}),
        namespace: names.namespace,
        ...(target.kubeVersion ? { kubeVersion: target.kubeVersion } : {}),
        ...(target.apiVersions.length ? { apiVersions: target.apiVersions } : {}),
      },
      ...(config.database.enabled && config.database.seed ? { seed: config.database.seed } : {}),
      tools: {
        ...(tools.kustomize ? { kustomize: tools.kustomize } : {}),
        ...(tools.helm ? { helm: tools.helm } : {}),
        path: tools.dirs.join(":"),
      },
      limits: {
        sourceBytes: this.opts.maxSourceBytes ?? DEFAULT_SOURCE_MAX_BYTES,
        sourceEntries: 100_000,
        toolTimeoutMs: this.opts.kustomizeTimeoutMs ?? 60_000,
        toolOutputBytes: this.opts.maxOutputBytes ?? 32 * 1024 * 1024,
      },
    };
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
