/** Where the renderer runs its tools from: their real paths, so the sandbox (which allows real directories) finds them. */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { chmod, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { findRenderTools } from "../../../../src/services/preview/render/index.js";

let dir: string;

beforeAll(async () => {
  dir = await realpath(await mkdtemp(path.join(tmpdir(), "render-tools-")));
  await mkdir(path.join(dir, "real", "bin"), { recursive: true });
  for (const tool of ["kustomize", "helm"]) {
    await writeFile(path.join(dir, "real", "bin", tool), "#!/bin/sh\n");
    await chmod(path.join(dir, "real", "bin", tool), 0o755);
  }
  // A tools directory reached through a link (a worktree's .tools → the shared cache), and a bin/ of links (Homebrew).
  await symlink(path.join(dir, "real"), path.join(dir, "linked"));
  await mkdir(path.join(dir, "links"));
  await symlink(path.join(dir, "real", "bin", "helm"), path.join(dir, "links", "helm"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

it("runs tools found through a linked directory or a link by their real paths, and allows their real directories", async () => {
  const tools = await findRenderTools(`${path.join(dir, "linked", "bin")}${path.delimiter}/nonexistent`);
  expect(tools).toEqual({
    kustomize: [path.join(dir, "real", "bin", "kustomize"), "build"],
    helm: path.join(dir, "real", "bin", "helm"),
    dirs: [path.join(dir, "real", "bin")],
  });
  const linked = await findRenderTools(path.join(dir, "links"), { kustomizeCommand: ["kustomize", "build"] });
  expect(linked.helm).toBe(path.join(dir, "real", "bin", "helm"));
  // A command given by name and not found stays as given (the error then names it).
  expect(linked.kustomize).toEqual(["kustomize", "build"]);
});
