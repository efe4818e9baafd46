/**
 * Benchmarks that import the TypeScript test support (the fake GitHub, the fake API server) run themselves again
 * under --experimental-transform-types, with a resolve hook that maps `./x.js` imports to `./x.ts`. Call it first
 * thing: in the parent it builds dist/ (unless --no-build), re-runs the script and exits with its status; in the
 * child it returns.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export function rerunWithTypeScript(scriptUrl, argv, root) {
  if (process.execArgv.includes("--experimental-transform-types")) return;
  if (!argv.includes("--no-build")) spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
  const hookDir = mkdtempSync(join(tmpdir(), "bench-hook-"));
  const hook = join(hookDir, "hook.mjs");
  writeFileSync(
    hook,
    `import { registerHooks } from "node:module";
registerHooks({ resolve(s, c, next) { try { return next(s, c); } catch (e) { if (/^\\.{1,2}\\//.test(s) && s.endsWith(".js")) return next(s.slice(0, -3) + ".ts", c); throw e; } } });\n`,
  );
  const r = spawnSync(
    process.execPath,
    [
      "--no-warnings",
      "--experimental-transform-types",
      "--import",
      pathToFileURL(hook).href,
      fileURLToPath(scriptUrl),
      ...argv,
    ],
    { stdio: "inherit" },
  );
  rmSync(hookDir, { recursive: true, force: true });
  process.exit(r.status ?? 1);
}
