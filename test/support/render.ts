/**
 * Helpers for renderer tests: the renderer as the bot builds it (the real sandboxed worker, tools/sandbox), a
 * validated config from YAML, and throw-away repository trees on disk (readable by the sandbox's unprivileged uid).
 */
import { afterAll, beforeAll } from "@jest/globals";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseConfig, type PreviewConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import {
  createRenderer,
  type RenderInput,
  type RendererOptions,
  type RenderResult,
} from "../../src/services/preview/render/index.js";
import { createSandboxWorker, DEFAULT_RENDER_LIMITS } from "../../src/services/preview/render/isolation.js";
import { TOOLS_BIN } from "./paths.js";

const SANDBOX_BIN = path.join(TOOLS_BIN, "preview-sandbox");

/** The sandboxed worker the bot uses, with the test process's PATH (the pinned tools first). */
export function testWorker(opts: { sandbox?: string[] } = {}) {
  if (!existsSync(SANDBOX_BIN)) throw new Error(`${SANDBOX_BIN} is missing: build it with \`bash tools/build.sh\``);
  return createSandboxWorker({
    sandbox: opts.sandbox ?? [SANDBOX_BIN],
    path: process.env.PATH!,
    isolation: "auto",
    limits: DEFAULT_RENDER_LIMITS,
    logger: createLogger({ level: "silent" }),
  });
}

/**
 * A renderer as the bot builds one, rendering a directory (as `preview-bot render --dir` does) in a run directory of
 * its own, removed afterwards.
 */
export function testRenderer(opts: Partial<RendererOptions> = {}) {
  const renderer = createRenderer({
    worker: testWorker(),
    logger: createLogger({ level: "silent" }),
    toolPath: process.env.PATH!,
    ...opts,
  });
  return {
    async render(input: Omit<RenderInput, "source" | "runDir"> & { dir: string }): Promise<RenderResult> {
      const runDir = await mkdtemp(path.join(os.tmpdir(), "render-run-"));
      try {
        const { dir, ...rest } = input;
        return await renderer.render({ ...rest, source: { kind: "dir", dir }, runDir });
      } finally {
        await rm(runDir, { recursive: true, force: true });
      }
    },
  };
}

export function config(yaml: string): PreviewConfig {
  const r = parseConfig(yaml);
  if (!r.ok) throw new Error(r.errors.join("\n"));
  return r.config;
}

/** Registers beforeAll/afterAll for a temp dir; `tree(files)` writes a repository under it and returns its root. */
export function useTrees(prefix: string): {
  tree: (files: Record<string, string>) => Promise<string>;
  tmp: () => string;
} {
  let tmp = "";
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), prefix));
    await chmod(tmp, 0o755); // the sandboxed renderer runs as an unprivileged uid when the tests run as root
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });
  return {
    tmp: () => tmp,
    async tree(files) {
      const root = await mkdtemp(path.join(tmp, "repo-"));
      await chmod(root, 0o755);
      for (const [rel, text] of Object.entries(files)) {
        await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
        await writeFile(path.join(root, rel), text);
      }
      return root;
    },
  };
}
