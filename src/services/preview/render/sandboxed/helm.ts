/**
 * The Helm renderer: `helm template <release> <chart> --namespace <preview namespace>` on a chart directory in the
 * repository, offline (dependencies must be vendored, see helm-chart.ts; the child cannot reach the network, see
 * tool-run.ts). `manifests.values[]` are values files in the repository, applied in order; `manifests.set` entries
 * (templates, already expanded) are written to one more values file applied last, typed the way `--set` types them
 * (`true`/`false`, integers and `null`; everything else a string), so a value with commas or `=` can never be
 * parsed as more than one key. The cluster's version and API versions are passed as Argo CD passes them
 * (`--kube-version`, `--api-versions`), so `kubeVersion:` constraints and `.Capabilities` checks see the cluster the
 * preview runs on. Hooks are rendered with their annotations (test hooks too: the bot leaves those out, and says
 * so, see render/hooks.ts); CRDs are not rendered (cluster-scoped). Each object keeps its template path
 * (`templates/deployment.yaml`) for messages and `manifests.include` / `exclude` globs. The release is named after
 * the chart unless the config names it, so a chart's object names are the same in every preview.
 */
import { constants } from "node:fs";
import { access, mkdtemp, realpath, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { stringify } from "yaml";
import type { KubeObject } from "../../../shared/preview.js";
import { checkChartDependencies } from "./helm-chart.js";
import { parseManifestDocuments } from "../manifests.js";
import { isInside } from "./plain.js";
import { RenderError } from "../render-error.js";
import { helmEnv, runTool } from "./tool-run.js";

export interface HelmOptions {
  helm: string;
  /** Scratch directory; a private HOME is made under it for each render. */
  workDir: string;
  /** Absent: the chart's name (as a valid release name). */
  release?: string;
  namespace: string;
  kubeVersion?: string;
  apiVersions?: readonly string[];
  /** Values files, relative to the repository root. */
  values: readonly string[];
  /** `key.path[0]` → value (expanded). */
  set: Readonly<Record<string, string>>;
  /** The child's PATH. */
  path: string;
  timeoutMs?: number;
  maxOutputBytes?: number;
}

/** `a.b[1].c` → `["a", "b", 1, "c"]`. */
function keyPath(key: string): Array<string | number> {
  return key.split(".").flatMap((part) => {
    const m = /^([^[]+)((?:\[\d+\])*)$/.exec(part);
    if (!m) return [part];
    return [m[1]!, ...[...m[2]!.matchAll(/\[(\d+)\]/g)].map((i) => Number(i[1]))];
  });
}

function typed(value: string): unknown {
  if (value === "true") return true;
  if (value === "false") return false;
  if (value === "null") return null;
  if (/^-?(0|[1-9]\d{0,15})$/.test(value)) return Number(value);
  return value;
}

/** The `manifests.set` map as a nested values document. */
export function setValues(set: Readonly<Record<string, string>>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(set)) {
    const parts = keyPath(key);
    if (parts.some((p) => p === "__proto__" || p === "constructor" || p === "prototype"))
      throw new RenderError(`manifests.set: "${key}" is not a usable key`);
    let node: Record<string | number, unknown> = root;
    parts.forEach((part, i) => {
      if (i === parts.length - 1) {
        node[part] = typed(value);
        return;
      }
      const nextIsIndex = typeof parts[i + 1] === "number";
      if (node[part] === undefined || node[part] === null || typeof node[part] !== "object")
        node[part] = nextIsIndex ? [] : {};
      node = node[part] as Record<string | number, unknown>;
    });
  }
  return root;
}

async function valuesFile(root: string, rel: string): Promise<string> {
  const full = await realpath(path.resolve(root, rel)).catch(() => undefined);
  if (!full) throw new RenderError(`manifests.values: "${rel}" does not exist in the repository`);
  if (!isInside(root, full)) throw new RenderError(`manifests.values: "${rel}" points outside the repository`);
  if (!(await stat(full)).isFile()) throw new RenderError(`manifests.values: "${rel}" is not a file`);
  return full;
}

const RELEASE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The chart's name as a release name (≤ 53 characters of a-z 0-9 -), or "release" when nothing of it is usable. */
function releaseFromChart(chartName: string): string {
  const cut = chartName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .slice(0, 53)
    .replace(/^-+|-+$/g, "");
  return RELEASE.test(cut) ? cut : "release";
}

/** `web/templates/svc.yaml` (Helm's `# Source:`) → `templates/svc.yaml`, relative to the chart. */
function chartRelative(source: string, chartName: string): string {
  return source.startsWith(`${chartName}/`) ? source.slice(chartName.length + 1) : source;
}

export async function findHelm(envPath: string): Promise<string | undefined> {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, "helm");
    if (
      await access(candidate, constants.X_OK).then(
        () => stat(candidate).then((s) => s.isFile()),
        () => false,
      )
    )
      return candidate;
  }
  return undefined;
}

/** Render the chart at `chartDir` (inside `root`); objects with their chart-relative template paths. */
export async function renderHelmChart(
  chartDir: string,
  root: string,
  o: HelmOptions,
): Promise<{ objects: KubeObject[]; sources: string[] }> {
  const shown = path.relative(root, chartDir) || ".";
  const chartName = await checkChartDependencies(chartDir, root);
  const files = await Promise.all(o.values.map((v) => valuesFile(root, v)));
  const home = await mkdtemp(path.join(o.workDir, "helm-"));
  try {
    const release = o.release ?? releaseFromChart(chartName);
    const args = ["template", release, chartDir, "--namespace", o.namespace];
    if (o.kubeVersion) args.push("--kube-version", o.kubeVersion);
    if (o.apiVersions?.length) args.push("--api-versions", o.apiVersions.join(","));
    for (const f of files) args.push("--values", f);
    if (Object.keys(o.set).length > 0) {
      const setFile = path.join(home, "manifests-set.yaml");
      await writeFile(setFile, stringify(setValues(o.set)));
      args.push("--values", setFile);
    }
    const yaml = await runTool(o.helm, args, {
      what: `rendering ${shown} with helm`,
      root,
      cwd: root,
      home,
      path: o.path,
      env: helmEnv(home),
      ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
      ...(o.maxOutputBytes ? { maxOutputBytes: o.maxOutputBytes } : {}),
    });
    const parsed = parseManifestDocuments(yaml, `helm output of ${shown}`);
    return { objects: parsed.objects, sources: parsed.sources.map((s) => chartRelative(s, chartName)) };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
