/**
 * When the sandbox launcher is missing, the error says what to do about it. Every isolation mode, `none` included,
 * runs the render worker through preview-sandbox (it applies the render limits), so RENDER_ISOLATION=none is no way
 * around a missing launcher and must not be offered as one (issue 22: a new user followed that advice, and got the
 * same error again).
 */
import { describe, expect, it } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createLogger } from "../../../../src/logger.js";
import { createSandboxWorker, DEFAULT_RENDER_LIMITS } from "../../../../src/services/preview/render/isolation.js";

describe("a missing preview-sandbox", () => {
  for (const isolation of ["auto", "none"] as const) {
    it(`RENDER_ISOLATION=${isolation}: names the launcher and how to get it, and does not offer RENDER_ISOLATION=none`, async () => {
      const runDir = await mkdtemp(path.join(os.tmpdir(), "sandbox-missing-"));
      try {
        const worker = createSandboxWorker({
          sandbox: ["preview-sandbox"],
          path: path.join(runDir, "empty-bin"),
          isolation,
          limits: DEFAULT_RENDER_LIMITS,
          logger: createLogger({ level: "silent" }),
        });
        const error = await worker.probe(runDir).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(error?.message).toMatch(
          /the renderer's sandbox \(preview-sandbox\) could not be started: spawn preview-sandbox ENOENT/,
        );
        expect(error?.message).toContain("bash tools/build.sh");
        expect(error?.message).toContain("RENDER_SANDBOX");
        expect(error?.message).toContain("every RENDER_ISOLATION mode, none included");
        expect(error?.message).not.toMatch(/set RENDER_ISOLATION=none to render/);
      } finally {
        await rm(runDir, { recursive: true, force: true });
      }
    });
  }
});
