/**
 * The bot's own state tables (schedule locks, sweep marks, Slack threads, fork heads, the queue's dedupe table) are
 * created on first use with CREATE TABLE IF NOT EXISTS. That check is not atomic: two replicas starting at once can
 * both pass it, and the loser gets a unique violation on the catalog (23505), "relation already exists" (42P07) or
 * "type already exists" (42710, the table's row type). All three mean the table is there.
 */
import { describeError } from "./format.js";
const ALREADY_CREATED = new Set(["23505", "42P07", "42710"]);

export async function createTableOnce(
  pool: { query(sql: string): Promise<unknown> },
  table: string,
  ddl: string,
): Promise<void> {
  try {
    await pool.query(ddl);
  } catch (err) {
    if (ALREADY_CREATED.has((err as { code?: string }).code ?? "")) return;
    throw new Error(`creating the table ${table}: ${describeError(err)}`, { cause: err });
  }
}
