/**
 * Backups as the bot runs them (service.ts), on real Azurite and the test PostgreSQL: a `backup` job backs the target
 * up and answers the Slack user who asked; a transient failure is handed back to the queue; the missed-backup alarm
 * counts a new target from when it was first scheduled, so adding a target does not alert at once; the page's
 * overview of the targets comes from the same catalog.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createLogger } from "../../../../src/logger.js";
import { createBlobStore } from "../../../../src/services/data/backups/blob-store.js";
import { createBackupService, type BackupService } from "../../../../src/services/data/backups/service.js";
import { parseTargets } from "../../../../src/services/data/backups/targets.js";
import { MemoryScheduleLock } from "../../../../src/services/jobs/schedule.js";
import { isTransientError } from "../../../../src/services/shared/errors.js";
import { startAzurite, type TestAzurite } from "../../../support/azurite.js";

let azurite: TestAzurite;
let service: BackupService;
const announced: string[] = [];
const answered: Array<{ user: string; text: string }> = [];
const started = new Date();

beforeAll(async () => {
  azurite = await startAzurite();
  const u = new URL(process.env.TEST_PG_URL!);
  // Hourly, at the minute of half an hour ago: two intervals have not passed since this process started scheduling it.
  const minute = new Date(started.getTime() - 30 * 60_000).getUTCMinutes();
  const target = (name: string, port: number) => ({
    name,
    host: u.hostname,
    port,
    database: "postgres",
    user: u.username,
    passwordEnv: "FRESH_PW",
    schedule: `${minute} * * * *`,
    container: `${name}-backups`,
  });
  service = createBackupService({
    store: createBlobStore({ connectionString: azurite.connectionString }),
    // `down` points at a port nothing listens on: the connection is refused (a transient error).
    // `fresh` is verified by a restore after each backup, as a target may ask.
    targets: parseTargets([{ ...target("fresh", Number(u.port)), verify: true }, target("down", 9)]),
    variables: {
      FRESH_PW: decodeURIComponent(u.password),
      PATH: process.env.PATH!,
      PG_BIN_DIR: process.env.TEST_PG_BIN_DIR!,
    },
    announcer: { announce: async (text) => void announced.push(text) },
    answerSlack: async (to, text) => void answered.push({ user: to.user, text }),
    logger: createLogger({ level: "silent" }),
  });
}, 180_000);

afterAll(async () => {
  await azurite?.stop();
});

describe("a backup job", () => {
  it("backs the target up, announces it and answers the Slack user who asked", async () => {
    await service.run({
      target: "fresh",
      trigger: "Slack /preview backup by @wes",
      slack: { channel: "C1", user: "U1" },
    });
    const listed = await service.reads.ofTarget("fresh");
    expect(listed).toHaveLength(1);
    expect(listed[0]!.name).toMatch(/^fresh\//);
    expect(announced.at(-1)).toMatch(/Backup of \*fresh\* done/);
    expect(answered).toEqual([{ user: "U1", text: expect.stringMatching(/Backup of \*fresh\* done/) }]);
  });

  it("hands a transient failure back to the queue (it throws), after announcing it", async () => {
    const err = await service.run({ target: "down", trigger: "schedule" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeDefined();
    expect(isTransientError(err)).toBe(true);
    expect(announced.at(-1)).toMatch(/Backup of \*down\* failed/);
    expect(await service.reads.ofTarget("down")).toEqual([]); // nothing half-done was committed
  });
});

describe("what the preview page shows of the targets", () => {
  it("gives each target's last backup (time, size, verified), its next slot, and nothing for one never backed up", async () => {
    const now = new Date();
    const overview = await service.reads.overview!(now);
    const fresh = overview.find((t) => t.name === "fresh")!;
    const [latest] = await service.reads.ofTarget("fresh");
    expect(fresh).toMatchObject({ lastSuccess: latest!.createdAt, sizeBytes: latest!.sizeBytes });
    expect(fresh.sizeBytes).toBeGreaterThan(0);
    expect(Date.parse(fresh.verified!)).toBeGreaterThanOrEqual(Date.parse(fresh.lastSuccess!));
    // Hourly at a fixed minute: the next slot is within the hour ahead.
    const next = Date.parse(fresh.nextRun!);
    expect(next).toBeGreaterThan(now.getTime());
    expect(next - now.getTime()).toBeLessThanOrEqual(3_600_000);
    const down = overview.find((t) => t.name === "down")!;
    expect(down.lastSuccess).toBeUndefined();
    expect(down.nextRun).toBe(fresh.nextRun);
  });
});

describe("the missed-backup alarm", () => {
  it("stays quiet for a target just added, and alerts once two intervals pass without a backup", async () => {
    const lock = new MemoryScheduleLock();
    const before = announced.length;
    expect(await service.checkMissed(lock, started, new Date(started.getTime() + 60_000))).toEqual([]);
    expect(announced.length).toBe(before);
    expect(await service.checkMissed(lock, started, new Date(started.getTime() + 3 * 3_600_000))).toEqual([
      "fresh",
      "down",
    ]);
    expect(announced.at(-1)).toBe(
      ":warning: Backup of *down* missed its schedule: there is no successful backup at all",
    );
  });
});
