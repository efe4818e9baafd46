/** What the deploy's Images step gets from the composition root (src/deps.ts). */
import type { RegistryClient } from "../../registry/registry-client.js";

export interface ImageDeps {
  /** The Registry boundary: one manifest HEAD per image, through the registry's auth (REGISTRY_CREDENTIALS, ACR). */
  registry: Pick<RegistryClient, "resolve">;
  /** How long a deploy waits for a missing image when its images[] entry sets no `wait` (IMAGE_WAIT). */
  defaultWaitMs: number;
  /** First pause between two looks at a missing image, doubled after each look up to maxPollMs. */
  pollMs: number;
  maxPollMs: number;
  /**
   * The dockerconfigjson to copy into every preview namespace and name in its pods' imagePullSecrets
   * (PREVIEW_IMAGE_PULL_SECRET); absent when the operator configured none.
   */
  pullSecret?: () => Promise<string>;
}
