/**
 * `npm start` builds first (prestart). The build is TypeScript's own incremental build (`tsc -b` with
 * a build-info file in dist/), so a second start with nothing changed compiles nothing, and a change rebuilds only
 * what it touches. Checked on a copy of the project (src/, package.json, the tsconfigs; node_modules linked) so the
 * real dist/ is left alone: the project's own `prestart` script (the same command as `build`, without a second npm
 * in between) runs three times — fresh, unchanged, one file edited —
 * and the files in dist/ are compared by modification time and content. How long a second start takes is measured
 * in docs/benchmarks.md, not here.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const ROOT = path.resolve(import.meta.dirname, "..");
const run = promisify(execFile);
let copy: string;

/** Every file under dist/ → its mtime in ms and its content. */
function snapshot(): Map<string, { mtimeMs: number; text: string }> {
  const out = new Map<string, { mtimeMs: number; text: string }>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else out.set(path.relative(copy, full), { mtimeMs: statSync(full).mtimeMs, text: readFileSync(full, "utf8") });
    }
  };
  walk(path.join(copy, "dist"));
  return out;
}

/** What `npm start` runs first: package.json's `prestart`. */
async function build(): Promise<void> {
  await run("npm", ["run", "--silent", "prestart"], { cwd: copy, maxBuffer: 16 * 1024 * 1024 }).catch(
    (err: { stdout?: string; stderr?: string }) => {
      throw new Error(`building the copy of the project failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`, {
        cause: err,
      });
    },
  );
}

const changed = (before: ReturnType<typeof snapshot>, after: ReturnType<typeof snapshot>) =>
  [...after]
    .filter(([file, f]) => before.get(file)?.mtimeMs !== f.mtimeMs)
    .map(([file]) => file)
    .sort();

beforeAll(() => {
  copy = mkdtempSync(path.join(tmpdir(), "build-"));
  for (const f of ["package.json", "tsconfig.json", "tsconfig.build.json"])
    cpSync(path.join(ROOT, f), path.join(copy, f));
  cpSync(path.join(ROOT, "src"), path.join(copy, "src"), { recursive: true });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(copy, "node_modules"), "dir");
});

afterAll(() => rmSync(copy, { recursive: true, force: true }));

describe("npm start's build (prestart)", () => {
  it("does no work when the build is fresh, and rebuilds only the edited file when one source changes", async () => {
    await build();
    const fresh = snapshot();
    expect(fresh.has("dist/server.js")).toBe(true);

    await build();
    const again = snapshot();
    expect(changed(fresh, again)).toEqual([]);
    expect([...again.keys()].sort()).toEqual([...fresh.keys()].sort());

    // A comment-only edit keeps every other file's emit the same: only that file's output is rewritten.
    appendFileSync(path.join(copy, "src/env.ts"), "\n// edited by test/build.test.ts\n");
    await build();
    const edited = snapshot();
    const rewritten = changed(again, edited);
    expect(rewritten).toContain("dist/env.js");
    expect(edited.get("dist/env.js")!.text).toContain("edited by test/build.test.ts");
    expect(rewritten.filter((f) => !/^dist\/(env\.js|env\.js\.map|\.tsbuildinfo)$/.test(f))).toEqual([]);
  }, 300_000);
});
