/** Which tag each pinned image is looked up by: the PR's, or the base branch's when the PR left its paths alone. */
import { describe, expect, it } from "@jest/globals";
import { parseConfig, type PreviewConfig } from "../../../../src/config.js";
import { pathMatches, planImages, touchedBy } from "../../../../src/services/preview/images/image-plan.js";
import { previewNamesFor, type PinnedImage } from "../../../../src/services/preview/render/index.js";
import type { PreviewRef } from "../../../../src/services/shared/preview.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const BASE = "fedcba9876543210fedcba9876543210fedcba98";
const ref: PreviewRef = { owner: "acme", repo: "shop", number: 42, branch: "feature/login", sha: SHA };

function config(images: string): PreviewConfig {
  const r = parseConfig(`manifests: { path: k8s }\nimages:\n${images}`);
  if (!r.ok) throw new Error(r.errors.join("\n"));
  return r.config;
}
const pinned = (entry: string, tag = SHA): PinnedImage => ({
  entry,
  repository: entry,
  tag,
  image: `${entry}:${tag}`,
  containers: ["Deployment web, container web"],
});
function plan(c: PreviewConfig, changed?: { paths: string[]; complete: boolean }, base = "main") {
  return planImages({
    pinned: c.images.map((i) => pinned(i.name)),
    config: c,
    ref,
    names: previewNamesFor(ref, c),
    base: { branch: base, sha: BASE },
    ...(changed ? { changed } : {}),
    defaultWaitMs: 900_000,
  });
}

describe("path globs", () => {
  it.each([
    ["services/web/src/app.ts", "services/web/**", true],
    ["services/web/src/app.ts", "services/web", true],
    ["services/web/src/app.ts", "services/web/", true],
    ["services/webhooks/x.ts", "services/web", false],
    ["Dockerfile", "Dockerfile", true],
    ["docs/Dockerfile", "Dockerfile", false],
    ["go.sum", "go.{mod,sum}", true],
    ["services/api/main.go", "services/*/main.go", true],
    ["README.md", "**/*.go", false],
  ])("%s against %s: %s", (file, glob, expected) => {
    expect(pathMatches(file, glob)).toBe(expected);
  });

  it("names the first changed file that touches a component", () => {
    expect(touchedBy(["README.md", "services/web/a.ts", "services/web/b.ts"], ["services/web"])).toBe(
      "services/web/a.ts",
    );
    expect(touchedBy(["README.md"], ["services/web"])).toBeUndefined();
  });
});

describe("planImages", () => {
  const c = config(
    [
      '  - { name: ghcr.io/acme/api, paths: ["services/api/**"], wait: 20m }',
      '  - { name: ghcr.io/acme/web, paths: [services/web], baseTag: "{branch}-{shortSha}" }',
      "  - { name: ghcr.io/acme/worker }",
    ].join("\n"),
  );

  it("reuses the base branch's tag for a component the PR did not touch, expanded for the base branch", () => {
    const p = plan(c, { paths: ["services/api/main.go", "README.md"], complete: true }, "release/2.0");
    expect(p.map((i) => [i.entry, i.tag, i.baseTag, i.waitMs])).toEqual([
      ["ghcr.io/acme/api", SHA, undefined, 1_200_000],
      ["ghcr.io/acme/web", SHA, "release-2-0-fedcba9", 900_000],
      ["ghcr.io/acme/worker", SHA, undefined, 900_000],
    ]);
  });

  it("reuses nothing when the changed files are unknown or incomplete (GitHub lists at most 3000)", () => {
    expect(plan(c).every((i) => i.baseTag === undefined)).toBe(true);
    expect(plan(c, { paths: ["README.md"], complete: false }).every((i) => i.baseTag === undefined)).toBe(true);
  });

  it("uses {branch} (the base branch's name) when baseTag is not set; a renamed file counts by both names", () => {
    const p = plan(c, { paths: ["docs/x.md"], complete: true });
    expect(p.find((i) => i.entry === "ghcr.io/acme/api")!.baseTag).toBe("main");
    const moved = plan(c, { paths: ["lib/api.go", "services/api/api.go"], complete: true });
    expect(moved.find((i) => i.entry === "ghcr.io/acme/api")!.baseTag).toBeUndefined();
  });

  it("refuses a base tag that is not a tag, naming the entry and the template", () => {
    const bad = config('  - { name: ghcr.io/acme/api, paths: [api], baseTag: "{branch}-{sha}" }');
    expect(() => plan(bad, { paths: [], complete: true }, "x".repeat(100))).toThrow(
      /images: the base tag "x{100}-fedcba.*" for ghcr.io\/acme\/api \(from baseTag "\{branch\}-\{sha\}", base branch x+\) is not a valid image tag/,
    );
  });
});
