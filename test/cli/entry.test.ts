/**
 * `npx preview-bot`, a global install and node_modules/.bin start the CLI through a symlink: the entry check must
 * resolve it, or the command silently does nothing.
 */
import { describe, expect, it } from "@jest/globals";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { isEntryPoint } from "../../src/cli.js";

describe("isEntryPoint", () => {
  it("is true for the module itself and for a symlink to it (npx, global install), false otherwise", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "entry-"));
    try {
      const real = path.join(dir, "cli.js");
      writeFileSync(real, "");
      const bin = path.join(dir, "preview-bot");
      symlinkSync(real, bin);
      const url = pathToFileURL(real).href;
      expect(isEntryPoint(real, url)).toBe(true);
      expect(isEntryPoint(bin, url)).toBe(true);
      expect(isEntryPoint(path.join(dir, "other.js"), url)).toBe(false);
      expect(isEntryPoint(undefined, url)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
