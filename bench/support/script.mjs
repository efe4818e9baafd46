/**
 * What every bench script that runs the bot's code begins with: the repository root, the rerun under TypeScript
 * (typescript.mjs: in the parent it builds dist/ unless --no-build, runs the script again and exits), the script's
 * options (every one takes --no-build), and URLs into the built code (dist/, or another build with BENCH_DIST) and into
 * test/support. With `tools`, the pinned tools (.tools/bin: helm, kustomize, the renderer's sandbox) come first on
 * PATH, as the test setup puts them.
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { rerunWithTypeScript } from "./typescript.mjs";

export function benchScript(scriptUrl, options = {}, { tools = false } = {}) {
  const root = join(dirname(fileURLToPath(scriptUrl)), "..");
  const argv = process.argv.slice(2);
  if (tools) process.env.PATH = `${join(root, ".tools", "bin")}:${process.env.PATH}`;
  rerunWithTypeScript(scriptUrl, argv, root);
  const { values } = parseArgs({ args: argv, options: { ...options, "no-build": { type: "boolean" } } });
  const distDir = resolve(process.env.BENCH_DIST ?? join(root, "dist"));
  return {
    root,
    opts: values,
    dist: (p) => pathToFileURL(join(distDir, p)).href,
    support: (p) => pathToFileURL(join(root, "test", "support", p)).href,
  };
}
