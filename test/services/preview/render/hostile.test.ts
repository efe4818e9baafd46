/**
 * The attacks issue 20 reproduced, as regressions: each of these rendered (and the first ran the PR's code as the bot)
 * before the renderer was isolated and its pre-checks parsed plugin files, merge keys and links with the kernel's
 * eyes. Real kustomize and helm (the pinned builds), the real sandboxed worker; the tarball case goes through the same
 * extraction the bot's renders use.
 */
import { describe, expect, it } from "@jest/globals";
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { c as createTar } from "tar";
import { createLogger } from "../../../../src/logger.js";
import { createRenderer, previewNamesFor } from "../../../../src/services/preview/render/index.js";
import { toolProblems } from "../../../../src/services/preview/render/sandboxed/tool-run.js";
import type { PreviewRef } from "../../../../src/services/shared/preview.js";
import { config, testRenderer, testWorker, useTrees } from "../../../support/render.js";

const ref: PreviewRef = { owner: "acme", repo: "shop", number: 9, branch: "evil", sha: "9".repeat(40) };
const { tree } = useTrees("render-hostile-");

const CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: b\n";
/** A chart vendored in the repository: what makes kustomize run with --enable-helm. */
const LOCAL_CHART = {
  "deploy/charts/local/Chart.yaml": "apiVersion: v2\nname: local\nversion: 0.1.0\n",
  "deploy/charts/local/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-chart\n",
};
/** A helm downloader plugin the PR ships, for `evil://` (it would run as whoever runs helm). */
const PLUGIN = {
  "helm-home/plugins/evil/plugin.yaml":
    'name: evil\nversion: 0.1.0\ndownloaders:\n- command: "bin/pull.sh"\n  protocols: ["evil"]\n',
  "helm-home/plugins/evil/bin/pull.sh": "#!/bin/sh\nenv > /tmp/preview-bot-pwned\n",
};

const render = (root: string, yaml: string) => {
  const c = config(yaml);
  return testRenderer().render({ dir: root, config: c, ref, names: previewNamesFor(ref, c) });
};

describe("the second wall: plugin files, merge keys and generator files are read as kustomize reads them", () => {
  it("refuses a generator file declaring a Helm generator with a repository and a configHome in the PR", async () => {
    const root = await tree({
      ...LOCAL_CHART,
      ...PLUGIN,
      "deploy/kustomization.yaml":
        "resources:\n- cm.yaml\ngenerators:\n- gen.yaml\nhelmCharts:\n- name: local\n  releaseName: local\n",
      "deploy/cm.yaml": CM,
      "deploy/gen.yaml":
        "apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata:\n  name: evil\nname: evil\nrepo: evil://charts\nversion: 1.0.0\nreleaseName: evil\nconfigHome: ../helm-home\n",
    });
    await expect(render(root, "manifests:\n  path: deploy\n")).rejects.toThrow(
      /deploy\/gen\.yaml: a HelmChartInflationGenerator generator pulls the chart from evil:\/\/charts/,
    );
  });

  it("refuses a generator file's configHome even without a repository", async () => {
    const root = await tree({
      ...PLUGIN,
      "deploy/kustomization.yaml": "generators:\n- gen.yaml\n",
      "deploy/gen.yaml":
        "apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata:\n  name: x\nname: local\nconfigHome: ../helm-home\n",
    });
    await expect(render(root, "manifests:\n  path: deploy\n")).rejects.toThrow(/generator with configHome is refused/);
  });

  it("refuses a URL in a generator file's files", async () => {
    const root = await tree({
      "deploy/kustomization.yaml": "generators:\n- cmgen.yaml\n",
      "deploy/cmgen.yaml":
        "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: cfg\nfiles:\n- conf=http://127.0.0.1:9/secret\n",
    });
    await expect(render(root, "manifests:\n  path: deploy\n")).rejects.toThrow(
      /deploy\/cmgen\.yaml: files\[0\] "conf=http:\/\/127\.0\.0\.1:9\/secret" is a remote reference/,
    );
  });

  it("sees a remote resource hidden in a YAML merge key (Go's YAML merges it; a naive parse keeps `<<` as a key)", async () => {
    const root = await tree({
      "deploy/kustomization.yaml": "<<: { resources: [ 'http://127.0.0.1:9/evil.yaml' ] }\n",
    });
    await expect(render(root, "manifests:\n  path: deploy\n")).rejects.toThrow(
      /resources entry "http:\/\/127\.0\.0\.1:9\/evil\.yaml" is a remote reference/,
    );
  });
});

describe("links resolved by the kernel, not by their text", () => {
  it("a chain through a link followed by `..` reads no file outside the checkout with helm's .Files.Get", async () => {
    // chart/a/b/…/l/hop -> ../×12 r; chart/leak -> a/b/…/l/hop/../×13 etc/passwd, with a decoy chart/etc/passwd. Each
    // link's text stays inside; the kernel resolves `hop/..` after following hop, and climbs out.
    const work = await mkdtemp(path.join(os.tmpdir(), "hostile-links-"));
    try {
      const top = path.join(work, "acme-shop-9999999");
      const deep = "abcdefghijkl".split("");
      const chart = path.join(top, "chart");
      await mkdir(path.join(chart, ...deep), { recursive: true });
      await mkdir(path.join(chart, "r"), { recursive: true });
      await mkdir(path.join(chart, "etc"), { recursive: true });
      await mkdir(path.join(chart, "templates"), { recursive: true });
      await writeFile(path.join(chart, "etc", "passwd"), "decoy\n");
      await writeFile(path.join(chart, "Chart.yaml"), "apiVersion: v2\nname: leak\nversion: 0.1.0\n");
      await writeFile(
        path.join(chart, "templates", "leak.yaml"),
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  leak: {{ .Files.Get "leak" | quote }}\n',
      );
      const up = (n: number) => Array(n).fill("..").join("/");
      await symlink(`${up(12)}/r`, path.join(chart, ...deep, "hop"));
      await symlink(`${deep.join("/")}/hop/${up(13)}/etc/passwd`, path.join(chart, "leak"));
      await writeFile(path.join(top, ".keep"), "");
      const tarball = path.join(work, "source.tar.gz");
      await createTar({ gzip: true, cwd: work, portable: true, file: tarball }, ["acme-shop-9999999"]);
      await chmod(work, 0o755);
      await chmod(tarball, 0o644);

      const c = config("manifests:\n  path: chart\n");
      const renderer = createRenderer({
        worker: testWorker(),
        logger: createLogger({ level: "silent" }),
        toolPath: process.env.PATH!,
      });
      const runDir = await mkdtemp(path.join(work, "run-"));
      const result = await renderer.render({
        source: { kind: "tarball", file: tarball },
        runDir,
        config: c,
        ref,
        names: previewNamesFor(ref, c),
      });
      const leak = result.objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === "leak") as
        { data?: Record<string, string> } | undefined;
      const hostPasswd = await readFile("/etc/passwd", "utf8");
      expect(hostPasswd).toMatch(/root:/);
      expect(leak?.data?.leak ?? "").not.toContain("root:");
      expect(result.warnings.join("\n")).toMatch(
        /leak: symlink to .* passes through the link chart\/a\/b\/c\/d\/e\/f\/g\/h\/i\/j\/k\/l\/hop and then "\.\."/,
      );
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe("hostile tool output", () => {
  it("reads a tool's stderr in linear time, cut before any pattern runs on it (a 100 KB `resources` entry froze the bot)", () => {
    const stderr = `Error: accumulating resources: accumulation err='accumulating resources from '${"../".repeat(700_000)}': open ${"a".repeat(2_000_000)}`;
    const started = process.hrtime.bigint();
    const problems = toolProblems(stderr, ["/tmp/x"]);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join("").length).toBeLessThan(5_000);
    expect(seconds).toBeLessThan(20); // generous: linear takes milliseconds; the old code took minutes at 160 KB
  });
});
