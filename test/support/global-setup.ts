/**
 * Jest global setup: one real PostgreSQL server for the whole run. Its URL reaches every test worker through
 * TEST_PG_URL (workers inherit this process's environment). Tests create their own databases inside it.
 */
import { startPostgres, type TestPostgres } from "./postgres.ts";

declare global {
  // eslint-disable-next-line no-var
  var __TEST_PG__: TestPostgres | undefined;
}

export default async function globalSetup(): Promise<void> {
  const pg = await startPostgres();
  globalThis.__TEST_PG__ = pg;
  process.env.TEST_PG_URL = pg.url;
  process.env.TEST_PG_BIN_DIR = pg.binDir;
}
