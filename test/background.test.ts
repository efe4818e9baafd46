/**
 * The scheduled work as the server wires it (`startBackups`, which buildDeps calls): the missed-backup alarm counts a
 * new target from when it was first scheduled, so adding a target does not alert at once. Real Azurite; the target's
 * server is the test PostgreSQL (no backup runs here: its slot is half an hour in the past).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startBackups, type BackupWiring } from "../src/background.js";
import { loadEnv } from "../src/env.js";
import { createLogger } from "../src/logger.js";
import { createMetrics } from "../src/services/metrics.js";
import { MemoryScheduleLock } from "../src/services/jobs/schedule.js";
import { startAzurite, type TestAzurite } from "./support/azurite.js";

let azurite: TestAzurite;
let wiring: BackupWiring;
const announced: string[] = [];
const started = new Date();

beforeAll(async () => {
  azurite = await startAzurite();
  const u = new URL(process.env.TEST_PG_URL!);
  // Hourly, at the minute of half an hour ago: its latest slot is too old to run now (no backup), and two
  // intervals have not passed since this process started scheduling it.
  const minute = new Date(started.getTime() - 30 * 60_000).getUTCMinutes();
  const env = loadEnv({
    AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
    BACKUP_TARGETS: JSON.stringify([
      {
        name: "fresh",
        host: u.hostname,
        port: Number(u.port),
        database: "postgres",
        user: u.username,
        passwordEnv: "FRESH_PW",
        schedule: `${minute} * * * *`,
        container: "fresh-backups",
      },
    ]),
    FRESH_PW: decodeURIComponent(u.password),
  });
  const notifier = { notify: async () => undefined, announce: async (text: string) => void announced.push(text) };
  wiring = startBackups(env, {
    logger: createLogger({ level: "silent" }),
    metrics: createMetrics(),
    notifier,
    lock: new MemoryScheduleLock(),
  });
}, 180_000);

afterAll(async () => {
  await wiring?.stop();
  await azurite?.stop();
});

describe("the missed-backup alarm", () => {
  it("stays quiet for a target just added, and alerts once two intervals pass without a backup", async () => {
    expect(await wiring.checkMissed!(new Date(started.getTime() + 60_000))).toEqual([]);
    expect(announced).toEqual([]);
    expect(await wiring.checkMissed!(new Date(started.getTime() + 3 * 3_600_000))).toEqual(["fresh"]);
    expect(announced).toEqual([
      ":warning: Backup of *fresh* missed its schedule: there is no successful backup at all",
    ]);
  });
});
