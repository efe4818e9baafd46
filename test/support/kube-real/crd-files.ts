/**
 * The CRDs every test run serves: Gateway API (from its Go module, fetched by tools/build.sh) and the YAML vendored
 * in test/fixtures/crds/. The jest global setup installs them on the real control plane; the fake API server loads
 * the same files (`startFakeKube({ crdFiles })`), so both serve the same kinds. No Jest imports: the global setup
 * loads this too.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { ROOT, TOOLS_CRDS } from "../paths.ts";

const VENDORED_CRDS_DIR = path.join(ROOT, "test", "fixtures", "crds");

/** Existing CRD files, Gateway API first, then the vendored ones by name. */
export function runCrdFiles(): string[] {
  const files = [path.join(TOOLS_CRDS, "gateway-api", "standard-install.yaml")];
  if (existsSync(VENDORED_CRDS_DIR))
    files.push(
      ...readdirSync(VENDORED_CRDS_DIR)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
        .map((f) => path.join(VENDORED_CRDS_DIR, f)),
    );
  return files.filter((f) => existsSync(f));
}
