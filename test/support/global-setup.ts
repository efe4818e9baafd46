/**
 * Jest global setup: one real PostgreSQL server for the whole run. Its URL reaches every test worker through
 * TEST_PG_URL (workers inherit this process's environment). Tests create their own databases inside it. The pinned
 * Go-built tools (.tools/bin, from `bash tools/build.sh`) go first on PATH, so kustomize and helm are those.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { startPostgres, type TestPostgres } from "./postgres.ts";

declare global {
  // eslint-disable-next-line no-var
  var __TEST_PG__: TestPostgres | undefined;
}

export default async function globalSetup(): Promise<void> {
  const toolsBin = path.resolve(import.meta.dirname, "..", "..", ".tools", "bin");
  if (existsSync(toolsBin)) process.env.PATH = `${toolsBin}${path.delimiter}${process.env.PATH ?? ""}`;
  const pg = await startPostgres();
  globalThis.__TEST_PG__ = pg;
  process.env.TEST_PG_URL = pg.url;
  process.env.TEST_PG_BIN_DIR = pg.binDir;
}
