/**
 * The kustomization tree, checked before kustomize runs. Refused, with the field and entry named:
 * - any **remote** reference (`https://…`, `git@…`, `git::…`, `github.com/org/repo//path?ref=…`) in any field
 *   kustomize loads from: resources, bases, components, crds, configurations, generators, transformers,
 *   validators, openapi, patches (and the legacy patch fields), configMap/secret generator `files`/`envs`/`env`,
 *   replacements, and helmCharts values files. kustomize downloads http(s) URLs in generator files and patch
 *   paths even under `LoadRestrictionsRootOnly`, and the content would be applied into the preview (SSRF at render
 *   time); the PR's own commit is the only source a preview is built from.
 * - a local path **outside the repository checkout** (kustomize's root-only restriction still lets a kustomization
 *   load other kustomization directories anywhere on disk).
 * - `helmCharts` from a chart **repository** (`repo:`): a chart must be in the repository (vendored under the
 *   chart home, `charts/` by default), with its own dependencies vendored; such local charts are rendered with
 *   `--enable-helm`.
 * - in the **files** that `generators`, `transformers` and `validators` name (plugin configurations kustomize loads):
 *   a Helm generator (`HelmChartInflationGenerator`) with a `repo` or any `configHome` (helm would pull a chart and run
 *   plugins from wherever that points, the checkout included), and any remote reference (a URL or git address
 *   anywhere in it; a file, env or patch path that is remote).
 * Every file is read with YAML merge keys applied (`<<:`), as kustomize's parser does: a key hidden in a merge is
 * seen here too.
 */
import { readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { checkChartDependencies } from "./helm-chart.js";
import { isInside, KUSTOMIZATION_FILES } from "./plain.js";
import { RenderError } from "../render-error.js";

const SCHEME_OR_GIT = /^(?:[a-z][a-z0-9+.-]*:\/\/|[a-z0-9._-]+@[a-z0-9.-]+:|git::)|[?&]ref=/i;
const HOST_LIKE = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?::\d+)?\//i;

/**
 * True for entries kustomize would fetch over the network. Host-like (`github.com/x/y`) counts unless it exists
 * locally.
 */
export async function isRemoteReference(entry: string, baseDir: string): Promise<boolean> {
  if (SCHEME_OR_GIT.test(entry)) return true;
  if (!HOST_LIKE.test(entry)) return false;
  return !(await stat(path.resolve(baseDir, entry)).then(
    () => true,
    () => false,
  ));
}

export async function findKustomizationFile(dir: string): Promise<string | undefined> {
  for (const name of KUSTOMIZATION_FILES) {
    const file = path.join(dir, name);
    if (
      await stat(file).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return file;
  }
  return undefined;
}

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);
const strings = (v: unknown): string[] => asList(v).filter((x): x is string => typeof x === "string");

const LIST_FIELDS = [
  "resources",
  "bases",
  "components",
  "generators",
  "transformers",
  "validators",
  "crds",
  "configurations",
] as const;
const DIRECTORY_FIELDS = new Set(["resources", "bases", "components", "generators", "transformers", "validators"]);
/** Fields whose entries may be plugin configuration files (checked in checkPluginFile). */
const PLUGIN_FIELDS = new Set(["generators", "transformers", "validators"]);
/** Keys of a plugin configuration whose string values kustomize loads as paths. */
const PATH_KEYS = new Set([
  "files",
  "envs",
  "env",
  "path",
  "paths",
  "resources",
  "valuesFile",
  "additionalValuesFiles",
]);

/** YAML as kustomize reads it: merge keys applied, aliases bounded. */
function parseKustomizeYaml(text: string): unknown[] {
  return parseAllDocuments(text, { merge: true }).map((d) => {
    if (d.errors.length) throw d.errors[0]!;
    return d.toJS({ maxAliasCount: 50 }) as unknown;
  });
}

/** Every `[field, path]` the kustomization loads from. */
function loadedPaths(k: Rec): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const field of LIST_FIELDS) for (const s of strings(k[field])) out.push([field, s]);
  const openapi = asRec(k.openapi)?.path;
  if (typeof openapi === "string") out.push(["openapi.path", openapi]);
  for (const [i, p] of asList(k.patches).entries()) {
    const patchPath = asRec(p)?.path;
    if (typeof patchPath === "string") out.push([`patches[${i}].path`, patchPath]);
  }
  // A strategic-merge entry is a path, or an inline patch (which has a newline or a colon-space).
  for (const [i, p] of strings(k.patchesStrategicMerge).entries())
    if (!/\n|: /.test(p)) out.push([`patchesStrategicMerge[${i}]`, p]);
  for (const [i, p] of asList(k.patchesJson6902).entries()) {
    const patchPath = asRec(p)?.path;
    if (typeof patchPath === "string") out.push([`patchesJson6902[${i}].path`, patchPath]);
  }
  for (const gen of ["configMapGenerator", "secretGenerator"] as const) {
    for (const [i, g] of asList(k[gen]).entries()) {
      const r = asRec(g) ?? {};
      // `files` entries may be `key=path`.
      for (const f of strings(r.files))
        out.push([`${gen}[${i}].files`, f.includes("=") && !SCHEME_OR_GIT.test(f) ? f.slice(f.indexOf("=") + 1) : f]);
      for (const e of [...strings(r.envs), ...strings(r.env)]) out.push([`${gen}[${i}].envs`, e]);
    }
  }
  for (const [i, r] of asList(k.replacements).entries()) {
    const p = asRec(r)?.path;
    if (typeof p === "string") out.push([`replacements[${i}].path`, p]);
  }
  for (const [i, h] of asList(k.helmCharts).entries()) {
    const r = asRec(h) ?? {};
    for (const v of [...strings(r.valuesFile), ...strings(r.additionalValuesFiles)])
      out.push([`helmCharts[${i}] values`, v]);
  }
  return out;
}

async function checkHelmCharts(k: Rec, dir: string, root: string, shown: string): Promise<boolean> {
  const charts = asList(k.helmCharts)
    .map(asRec)
    .filter((x): x is Rec => x !== undefined);
  if (k.helmChartInflationGenerator !== undefined)
    throw new RenderError(
      `${shown}: helmChartInflationGenerator is not supported; use helmCharts with a chart vendored in the repository`,
    );
  if (charts.length === 0) return false;
  const home = typeof asRec(k.helmGlobals)?.chartHome === "string" ? String(asRec(k.helmGlobals)!.chartHome) : "charts";
  for (const [i, c] of charts.entries()) {
    const name = String(c.name ?? "");
    if (typeof c.repo === "string" && c.repo !== "") {
      throw new RenderError(
        `${shown}: helmCharts[${i}] "${name}" comes from the chart repository ${c.repo}; preview-bot renders offline, from the PR's own commit only. ` +
          `Vendor it: helm pull ${name} --repo ${c.repo}${c.version ? ` --version ${String(c.version)}` : ""} --untar --untardir ${path.join(path.relative(root, dir), home) || home}, commit it, and remove repo`,
      );
    }
    const chartDir = await realpath(path.resolve(dir, home, name)).catch(() => undefined);
    if (!chartDir || !isInside(root, chartDir)) {
      throw new RenderError(
        `${shown}: helmCharts[${i}] "${name}" is not in the repository (looked for ${path.join(path.relative(root, dir), home, name)})`,
      );
    }
    await checkChartDependencies(chartDir, root);
  }
  return true;
}

export interface KustomizationFacts {
  /** Some kustomization in the tree inflates Helm charts (`--enable-helm` needed). */
  helm: boolean;
}

/**
 * Walk the kustomization at `dir` and every local kustomization it references; throw RenderError on a remote
 * reference, a path outside `root`, or a remote chart.
 */
export async function checkKustomizationTree(
  dir: string,
  root: string,
  seen = new Set<string>(),
  facts: KustomizationFacts = { helm: false },
): Promise<KustomizationFacts> {
  const realDir = await realpath(dir);
  if (seen.has(realDir)) return facts;
  seen.add(realDir);
  const file = await findKustomizationFile(realDir);
  if (!file) return facts;
  const shown = path.relative(root, file);
  let doc: unknown;
  try {
    doc = parseKustomizeYaml(await readFile(file, "utf8"))[0];
  } catch (err) {
    throw new RenderError(`reading ${shown}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`, {
      cause: err,
    });
  }
  const k = asRec(doc);
  if (!k) return facts;
  if (await checkHelmCharts(k, realDir, root, shown)) facts.helm = true;
  for (const [field, entry] of loadedPaths(k)) {
    if (await isRemoteReference(entry, realDir)) {
      throw new RenderError(
        `${shown}: ${field} entry "${entry}" is a remote reference; preview-bot builds only from the PR's own commit (vendor it into the repository)`,
      );
    }
    const target = await realpath(path.resolve(realDir, entry)).catch(() => undefined);
    if (target === undefined) continue; // kustomize reports missing files itself
    if (!isInside(root, target))
      throw new RenderError(`${shown}: ${field} entry "${entry}" points outside the repository`);
    const info = await stat(target);
    if (DIRECTORY_FIELDS.has(field) && info.isDirectory()) await checkKustomizationTree(target, root, seen, facts);
    else if (PLUGIN_FIELDS.has(field) && info.isFile())
      await checkPluginFile(target, root, `${shown}: ${field} entry "${entry}"`);
  }
  return facts;
}

/**
 * A plugin configuration file (a `generators`/`transformers`/`validators` entry): refuse a Helm generator with a
 * repository or a config home, and every remote reference in it.
 */
async function checkPluginFile(file: string, root: string, where: string): Promise<void> {
  const shown = path.relative(root, file);
  let docs: unknown[];
  try {
    docs = parseKustomizeYaml(await readFile(file, "utf8"));
  } catch (err) {
    throw new RenderError(
      `${where}: reading ${shown}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`,
      {
        cause: err,
      },
    );
  }
  for (const [i, doc] of docs.entries()) {
    const d = asRec(doc);
    if (!d) continue;
    const at = `${shown}${docs.length > 1 ? ` (document ${i + 1})` : ""}`;
    const kind = String(d.kind ?? "");
    if (/HelmChart/i.test(kind) || d.chartName !== undefined || d.chartHome !== undefined) {
      if (typeof d.repo === "string" && d.repo !== "")
        throw new RenderError(
          `${at}: a ${kind || "Helm"} generator pulls the chart from ${d.repo}; preview-bot renders offline, from the PR's own commit only (vendor the chart and use helmCharts)`,
        );
      if (d.configHome !== undefined)
        throw new RenderError(
          `${at}: a ${kind || "Helm"} generator with configHome is refused (helm would load plugins and repositories from there)`,
        );
    }
    for (const [keyPath, value] of stringsIn(d)) {
      const key = keyPath
        .split(".")
        .at(-1)!
        .replace(/\[\d+\]$/, "");
      const remote =
        SCHEME_OR_GIT.test(value) ||
        (PATH_KEYS.has(key) && (await isRemoteReference(pathOf(value), path.dirname(file))));
      if (remote)
        throw new RenderError(
          `${at}: ${keyPath} "${value.slice(0, 200)}" is a remote reference; preview-bot builds only from the PR's own commit (vendor it into the repository)`,
        );
    }
  }
}

/** `key=path` entries of generator `files` name a path after the `=`. */
function pathOf(entry: string): string {
  return entry.includes("=") && !SCHEME_OR_GIT.test(entry) ? entry.slice(entry.indexOf("=") + 1) : entry;
}

/** Every string value in a document, with its path (`spec.files[2]`); bounded. */
function stringsIn(doc: unknown, limit = 10_000): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const stack: Array<[string, unknown]> = [["", doc]];
  while (stack.length && out.length < limit) {
    const [at, v] = stack.pop()!;
    if (typeof v === "string") out.push([at, v]);
    else if (Array.isArray(v)) v.forEach((x, i) => stack.push([`${at}[${i}]`, x]));
    else if (v !== null && typeof v === "object")
      for (const [k, x] of Object.entries(v as Rec)) stack.push([at ? `${at}.${k}` : k, x]);
  }
  return out;
}
