/**
 * `describe` with the run's shared OCI registry (see registry.ts): a skipped describe saying why when there is
 * none, or under CI=true a failing one (CI must never pass by skipping the real registry).
 */
import { describe, it } from "@jest/globals";
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
