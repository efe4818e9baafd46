/**
 * `describe` with the run's shared OCI registry (see registry.ts): a skipped describe saying why when there is
 * none, or under CI=true a failing one (CI must never pass by skipping the real registry).
 */
import { describe, it } from "@jest/globals";
import { isMap, isSeq, parseDocument } from "yaml";
import { REGISTRY_ERROR_ENV, sharedRegistry, type TestRegistry } from "./registry.js";
import { HOW_TO_GET_TOOLS } from "./tools.js";

export type SharedRegistry = Omit<TestRegistry, "stop">;

export function describeWithRegistry(name: string, fn: (registry: () => SharedRegistry) => void): void {
  const registry = sharedRegistry();
  if (registry)
    return describe(`${name} [preview-registry, go-containerregistry ${registry.version}]`, () => fn(() => registry));
  const why = `no real OCI registry: ${process.env[REGISTRY_ERROR_ENV] ?? `preview-registry is missing: ${HOW_TO_GET_TOOLS}`}`;
  if (process.env.CI === "true") {
    describe(name, () => {
      it("has a real OCI registry", () => {
        throw new Error(`under CI=true a missing real OCI registry fails the suite: ${why}`);
      });
    });
    return;
  }
  console.warn(`${name}: skipped: ${why}`);
  describe.skip(`${name} [skipped: ${why}]`, () => fn(() => undefined as never));
}

/**
 * The run's shared registry, for suites whose config pins images (every pinned image is resolved before a deploy):
 * they cannot run without one, so its absence is an error saying how to get it, never a skip.
 */
export function requireRegistry(): SharedRegistry {
  const registry = sharedRegistry();
  if (registry) return registry;
  throw new Error(
    `this suite needs the run's real OCI registry: ${process.env[REGISTRY_ERROR_ENV] ?? `preview-registry is missing: ${HOW_TO_GET_TOOLS}`}`,
  );
}

/**
 * A `.github/preview.yml` with its `images[]` renamed into the run's registry: each entry whose `name` `to` maps gets
 * that `newName` (comments and the rest of the file kept). Every pinned image is resolved to a digest before a deploy,
 * so suites push the images there and rename them here. Throws when nothing was renamed (a fixture that changed).
 */
export function imagesInto(config: string, to: (name: string) => string | undefined): string {
  const doc = parseDocument(config);
  const images = doc.get("images");
  let renamed = 0;
  for (const item of isSeq(images) ? images.items : []) {
    const name = isMap(item) ? item.get("name") : undefined;
    const target = typeof name === "string" ? to(name) : undefined;
    if (!isMap(item) || !target) continue;
    item.set("newName", target);
    renamed++;
  }
  if (renamed === 0) throw new Error(`imagesInto: no image of this config was renamed:\n${config}`);
  return doc.toString();
}
