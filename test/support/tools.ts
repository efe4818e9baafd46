/**
 * The Go-built tools the tests run (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, helm,
 * kustomize), built and cached by `bash tools/build.sh` into .tools/bin/. The global setup puts .tools/bin first on
 * PATH, so the renderer finds the pinned kustomize and helm there like any user's would.
 *
 * A suite that needs a missing tool skips with a message saying how to get it — except under CI=true, where a
 * missing tool is a failing test: CI must never pass by skipping what it is meant to prove.
 */
import { describe, it } from "@jest/globals";
import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import { TOOLS_BIN } from "./paths.js";

export { ROOT, TOOLS_BIN } from "./paths.js";

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Absolute path of a tool: .tools/bin first, then PATH; undefined when neither has it. */
export function toolPath(name: string): string | undefined {
  const pinned = path.join(TOOLS_BIN, name);
  if (executable(pinned)) return pinned;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

export const HOW_TO_GET_TOOLS =
  "run `bash tools/build.sh` (needs Go >= 1.26; about 17 minutes cold on 2 cores, cached in .tools/)";

/**
 * `describe` when every tool is there; otherwise a skipped describe naming what is missing and how to get it, or,
 * under CI=true, a describe with one failing test.
 */
export function describeWithTools(tools: readonly string[], name: string, fn: () => void): void {
  const missing = tools.filter((t) => !toolPath(t));
  if (missing.length === 0) return describe(name, fn);
  const why = `${missing.join(", ")} not found: ${HOW_TO_GET_TOOLS}`;
  if (process.env.CI === "true") {
    describe(name, () => {
      it(`has its tools (${tools.join(", ")})`, () => {
        throw new Error(`under CI=true a missing tool fails the suite: ${why}`);
      });
    });
    return;
  }
  console.warn(`${name}: skipped: ${why}`);
  describe.skip(`${name} [skipped: ${why}]`, fn);
}
