/**
 * What a Helm chart in the repository needs before `helm template` can render it offline: its Chart.yaml, and every
 * dependency vendored in its `charts/` directory (an unpacked chart or a `.tgz`), because preview-bot never fetches
 * from a chart repository. A missing dependency is refused, naming it and the command that vendors it.
 */
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { isInside } from "./plain.js";
import { RenderError } from "../render-error.js";

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;

export async function isChartDirectory(dir: string): Promise<boolean> {
  return stat(path.join(dir, "Chart.yaml")).then(
    (s) => s.isFile(),
    () => false,
  );
}

async function readYaml(file: string, shown: string): Promise<Rec | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    return asRec(parseYaml(text, { maxAliasCount: 50 }));
  } catch (err) {
    throw new RenderError(`reading ${shown}: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`, {
      cause: err,
    });
  }
}

/** Chart names vendored under `charts/`: unpacked charts by their Chart.yaml name, archives by file name. */
async function vendored(chartDir: string, root: string): Promise<{ names: Set<string>; archives: string[] }> {
  const names = new Set<string>();
  const archives: string[] = [];
  const dir = path.join(chartDir, "charts");
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (e.isDirectory()) {
      const chart = await readYaml(
        path.join(dir, e.name, "Chart.yaml"),
        path.relative(root, path.join(dir, e.name, "Chart.yaml")),
      );
      if (typeof chart?.name === "string") names.add(chart.name);
    } else if (e.isFile() && /\.tgz$/.test(e.name)) archives.push(e.name);
  }
  return { names, archives };
}

/** Throw RenderError unless `chartDir` is a chart whose every dependency is vendored. Returns the chart's name. */
export async function checkChartDependencies(chartDir: string, root: string): Promise<string> {
  const real = await realpath(chartDir);
  if (!isInside(root, real))
    throw new RenderError(`${path.relative(root, chartDir)}: the chart is outside the repository`);
  const shown = path.relative(root, real) || ".";
  const chart = await readYaml(path.join(real, "Chart.yaml"), path.join(shown, "Chart.yaml"));
  if (!chart)
    throw new RenderError(
      `${shown} is not a Helm chart: it has no Chart.yaml (manifests.path must be the chart's directory)`,
    );
  const requirements =
    chart.apiVersion === "v1"
      ? await readYaml(path.join(real, "requirements.yaml"), path.join(shown, "requirements.yaml"))
      : chart;
  const deps = (Array.isArray(requirements?.dependencies) ? requirements.dependencies : [])
    .map(asRec)
    .filter((d): d is Rec => d !== undefined);
  if (deps.length === 0) return String(chart.name ?? path.basename(real));
  const { names, archives } = await vendored(real, root);
  const missing = deps.filter((d) => {
    const name = String(d.name ?? "");
    return !names.has(name) && !archives.some((a) => a.startsWith(`${name}-`) && /^\d/.test(a.slice(name.length + 1)));
  });
  if (missing.length > 0) {
    const list = missing
      .map(
        (d) =>
          `"${String(d.name)}"${d.version ? ` ${String(d.version)}` : ""}${d.repository ? ` from ${String(d.repository)}` : ""}`,
      )
      .join(", ");
    throw new RenderError(
      `${shown}: the chart's dependenc${missing.length > 1 ? "ies" : "y"} ${list} ${missing.length > 1 ? "are" : "is"} not vendored in ${path.join(shown, "charts")}/; ` +
        `preview-bot renders offline. Run "helm dependency build ${shown}" and commit ${path.join(shown, "charts")}/`,
    );
  }
  return String(chart.name ?? path.basename(real));
}
