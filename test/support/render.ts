/** Helpers for renderer tests: a validated config from YAML, and throw-away repository trees on disk. */
import { afterAll, beforeAll } from "@jest/globals";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseConfig, type PreviewConfig } from "../../src/config.js";
import { createLogger } from "../../src/logger.js";
import { createRenderer, type RendererOptions } from "../../src/services/preview/render/index.js";

/** A renderer as the bot builds one, with the test process's PATH (the pinned tools first) and a quiet logger. */
export function testRenderer(opts: Partial<RendererOptions> = {}) {
  return createRenderer({ logger: createLogger({ level: "silent" }), toolPath: process.env.PATH!, ...opts });
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
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });
  return {
    tmp: () => tmp,
    async tree(files) {
      const root = await mkdtemp(path.join(tmp, "repo-"));
      for (const [rel, text] of Object.entries(files)) {
        await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
        await writeFile(path.join(root, rel), text);
      }
      return root;
    },
  };
}
