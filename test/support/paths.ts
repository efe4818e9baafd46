/** Where the repository and its git-ignored tool cache are (no Jest imports: the global setup loads this too). */
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "..", "..");
export const TOOLS_BIN = path.join(ROOT, ".tools", "bin");
export const TOOLS_CRDS = path.join(ROOT, ".tools", "crds");
