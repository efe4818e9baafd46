import { describe, expect, it } from "@jest/globals";
import { nextSlot, parseCron, previousSlot } from "../../../../src/services/shared/cron.js";
import {
  detectMissed,
  formatBackupFailure,
  formatBackupMissed,
  formatBackupSuccess,
} from "../../../../src/services/data/backups/report.js";
import { isoWeek, selectRetention } from "../../../../src/services/data/backups/retention.js";
import { blobNameFor, timeFromBlobName } from "../../../../src/services/data/backups/catalog.js";
import {
  parseTargets,
  targetAllows,
  TargetsConfigError,
  targetConnection,
} from "../../../../src/services/data/backups/targets.js";
import { withoutExtensions } from "../../../../src/services/data/backups/restore.js";

const at = (s: string) => new Date(s);

describe("cron", () => {
  it.each([
    ["0 */2 * * *", "2026-11-26T06:43:00Z", "2026-11-26T08:00:00.000Z", "2026-11-26T06:00:00.000Z"],
    ["*/15 * * * *", "2026-11-26T06:43:10Z", "2026-11-26T06:45:00.000Z", "2026-11-26T06:30:00.000Z"],
    ["5,35 1-3 * * *", "2026-11-26T03:40:00Z", "2026-11-27T01:05:00.000Z", "2026-11-26T03:35:00.000Z"],
    ["0 9 * * 1-5", "2026-11-28T10:00:00Z", "2026-11-30T09:00:00.000Z", "2026-11-27T09:00:00.000Z"], // Sat → Mon / Fri
    ["30 4 1 * *", "2026-12-31T23:59:00Z", "2027-01-01T04:30:00.000Z", "2026-12-01T04:30:00.000Z"],
    ["0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00.000Z", "2024-02-29T00:00:00.000Z"],
    ["0 12 1 * 0", "2026-11-26T00:00:00Z", "2026-11-29T12:00:00.000Z", "2026-11-22T12:00:00.000Z"], // day OR weekday
    ["0 0 * * 7", "2026-11-26T00:00:00Z", "2026-11-29T00:00:00.000Z", "2026-11-22T00:00:00.000Z"], // 7 = Sunday
  ])("%s around %s: next %s, previous %s", (expr, now, next, prev) => {
    expect(nextSlot(expr, at(now)).toISOString()).toBe(next);
    expect(previousSlot(expr, at(now)).toISOString()).toBe(prev);
  });

  it("counts a slot exactly at `now` as previous, not next", () => {
    expect(previousSlot("0 * * * *", at("2026-11-26T06:00:00Z")).toISOString()).toBe("2026-11-26T06:00:00.000Z");
    expect(nextSlot("0 * * * *", at("2026-11-26T06:00:00Z")).toISOString()).toBe("2026-11-26T07:00:00.000Z");
  });

  it.each(["* * * *", "60 * * * *", "* 24 * * *", "*/0 * * * *", "5-1 * * * *", "MON * * * *", "0 0 0 * *"])(
    "rejects %s",
    (expr) => {
      expect(() => parseCron(expr)).toThrow(/cron/);
    },
  );
});

describe("retention over a synthetic history", () => {
  // Two backups a day (00:00 and 12:00 UTC) for 60 days ending Thursday 2026-11-26.
  const history = Array.from({ length: 120 }, (_, i) => {
    const time = new Date(Date.UTC(2026, 10, 26, 12) - i * 12 * 3600_000);
    return { name: `db/db-${time.toISOString()}`, time };
  });
  const shuffled = [...history].sort(
    (a, b) =>
      ((a.name.length + a.time.getUTCHours()) % 3) - ((b.name.length + b.time.getUTCHours()) % 3) ||
      a.name.localeCompare(b.name),
  );

  it.each([
    [{ keepLast: 3, keepDaily: 0, keepWeekly: 0 }, 3],
    [{ keepLast: 1, keepDaily: 7, keepWeekly: 0 }, 7], // newest of each of 7 days (the last one overlaps)
    [{ keepLast: 3, keepDaily: 7, keepWeekly: 0 }, 8], // 3 last (2 on the newest day) + 6 other days
    [{ keepLast: 1, keepDaily: 0, keepWeekly: 4 }, 4],
    [{ keepLast: 2, keepDaily: 7, keepWeekly: 4 }, 2 + 6 + 2], // W48 and W47 (Sun 22nd) are already daily; W46, W45 add 2
    [{ keepLast: 200, keepDaily: 0, keepWeekly: 0 }, 120],
  ])("policy %j keeps %i", (policy, kept) => {
    const d = selectRetention(shuffled, policy);
    expect(d.keep).toHaveLength(kept);
    expect(d.keep.length + d.prune.length).toBe(history.length);
    expect(d.keep[0]!.name).toBe(history[0]!.name); // the newest is always kept
    expect(new Set([...d.keep.map((k) => k.name), ...d.prune.map((p) => p.name)]).size).toBe(history.length);
  });

  it("keeps the newest per day and per ISO week, with reasons", () => {
    const d = selectRetention(history, { keepLast: 1, keepDaily: 3, keepWeekly: 2 });
    expect(d.keep.map((k) => [k.time.toISOString(), k.reasons])).toEqual([
      ["2026-11-26T12:00:00.000Z", ["last 1", "daily 2026-11-26", "weekly 2026-W48"]],
      ["2026-11-25T12:00:00.000Z", ["daily 2026-11-25"]],
      ["2026-11-24T12:00:00.000Z", ["daily 2026-11-24"]],
      ["2026-11-22T12:00:00.000Z", ["weekly 2026-W47"]], // Sunday ends ISO week 47
    ]);
  });

  it("keeps the newest verified backup while the newer ones failed verification", () => {
    const items = history.slice(0, 10).map((h, i) => ({ ...h, ...(i >= 6 ? { verified: h.time.toISOString() } : {}) }));
    const d = selectRetention(items, { keepLast: 3, keepDaily: 0, keepWeekly: 0 });
    expect(d.keep.map((k) => [k.name, k.reasons])).toEqual([
      [items[0]!.name, ["last 1"]],
      [items[1]!.name, ["last 2"]],
      [items[2]!.name, ["last 3"]],
      [items[6]!.name, ["newest verified"]],
    ]);
  });

  it("never prunes more because time passed: days without backups do not count", () => {
    const sparse = [at("2026-01-01T00:00:00Z"), at("2026-03-01T00:00:00Z"), at("2026-06-01T00:00:00Z")].map(
      (time, i) => ({ name: `b${i}`, time }),
    );
    expect(selectRetention(sparse, { keepLast: 1, keepDaily: 3, keepWeekly: 0 }).prune).toEqual([]);
  });

  it.each([
    ["2026-01-01T00:00:00Z", "2026-W01"],
    ["2027-01-01T00:00:00Z", "2026-W53"],
    ["2024-12-30T00:00:00Z", "2025-W01"],
    ["2026-11-23T00:00:00Z", "2026-W48"],
    ["2026-11-22T23:59:59Z", "2026-W47"],
  ])("ISO week of %s is %s", (d, w) => expect(isoWeek(at(d))).toBe(w));
});

describe("missed-schedule detection", () => {
  const every2h = "0 */2 * * *";
  it.each([
    ["success at the latest slot", "2026-11-26T06:01:00Z", "2026-11-26T06:30:00Z", false],
    ["success one slot back, current still running", "2026-11-26T04:03:00Z", "2026-11-26T06:00:30Z", false],
    ["the slot before last failed and the last too", "2026-11-26T02:05:00Z", "2026-11-26T06:10:00Z", true],
    ["just under two intervals", "2026-11-26T04:00:00Z", "2026-11-26T07:59:00Z", false],
    ["more than two intervals", "2026-11-26T03:59:00Z", "2026-11-26T08:00:00Z", true],
  ])("%s", (_label, last, now, missed) => {
    expect(detectMissed(every2h, at(last), at(now))).toBe(missed);
  });

  it("a target never backed up is missed, unless it was only just scheduled", () => {
    expect(detectMissed(every2h, undefined, at("2026-11-26T06:10:00Z"))).toBe(true);
    expect(detectMissed(every2h, undefined, at("2026-11-26T06:10:00Z"), at("2026-11-26T05:00:00Z"))).toBe(false);
  });

  it("works for weekday-only schedules (no alarm over the weekend)", () => {
    expect(detectMissed("0 9 * * 1-5", at("2026-11-27T09:20:00Z"), at("2026-11-30T08:00:00Z"))).toBe(false);
    expect(detectMissed("0 9 * * 1-5", at("2026-11-26T09:20:00Z"), at("2026-11-30T09:30:00Z"))).toBe(true);
  });
});

describe("Slack text", () => {
  const result = {
    target: "orders",
    container: "backups",
    blobName: "prod/orders/orders-20261126T064300Z.dump",
    sizeBytes: 157_286_400,
    sha256: "ab".repeat(32),
    durationMs: 12_500,
    startedAt: at("2026-11-26T06:43:00Z"),
    finishedAt: at("2026-11-26T06:43:12.5Z"),
    serverVersion: "16.4",
    pgDumpVersion: "16.4",
    tables: 12,
  };
  it("reports size, duration, throughput, blob and verification", () => {
    expect(formatBackupSuccess(result)).toBe(
      ":floppy_disk: Backup of *orders* done: 150.0 MiB in 12.5 s (12.0 MiB/s), 12 tables, PostgreSQL 16.4\n`backups/prod/orders/orders-20261126T064300Z.dump` · not verified",
    );
    expect(formatBackupSuccess({ ...result, verifiedAt: "2026-11-26T06:50:00.000Z" })).toMatch(
      /verified 2026-11-26T06:50:00.000Z$/,
    );
  });
  it("scrubs secrets from failure reasons and reports a missed schedule", () => {
    const text = formatBackupFailure(
      "orders",
      new Error("pg_dump: connection to postgres://app:hunter2hunter2@db:5432/x failed; PGPASSWORD=hunter2hunter2"),
    );
    expect(text).toMatch(/^:x: Backup of \*orders\* failed: pg_dump: connection to postgres:\/\/app:\[REDACTED\]@db/);
    expect(text).not.toContain("hunter2");
    expect(formatBackupMissed("orders", at("2026-11-26T02:00:00Z"), at("2026-11-26T06:10:00Z"))).toBe(
      ":warning: Backup of *orders* missed its schedule: the last successful backup was 2026-11-26T02:00:00.000Z (250 min 0 s ago)",
    );
  });
});

describe("targets config", () => {
  const base = {
    name: "orders",
    host: "db",
    database: "orders",
    user: "backup",
    passwordEnv: "ORDERS_PW",
    schedule: "0 */2 * * *",
    container: "backups",
  };
  it("fills defaults and reads the password from the environment", () => {
    const [t] = parseTargets({ targets: [base] });
    expect(t).toMatchObject({ prefix: "", verify: false, retention: { keepLast: 7, keepDaily: 7, keepWeekly: 4 } });
    expect(targetConnection(t!, { ORDERS_PW: "pw-from-env" })).toMatchObject({
      host: "db",
      port: 5432,
      database: "orders",
      user: "backup",
      password: "pw-from-env",
    });
    expect(() => targetConnection(t!, {})).toThrow(/ORDERS_PW \(passwordEnv\) is not set/);
  });
  it.each([
    [{ ...base, password: "x" }, /targets\.0: Unrecognized key: "password"/],
    [
      { ...base, host: undefined, url: "postgres://u:inline@db/orders" },
      /targets\.0\.url: must not contain a password/,
    ],
    [{ ...base, schedule: "every hour" }, /targets\.0\.schedule: must be a 5-field cron/],
    [{ ...base, container: "Backups!" }, /targets\.0\.container: must be a valid blob container name/],
    [{ ...base, retention: { keepLast: 0 } }, /targets\.0\.retention\.keepLast/],
    [{ ...base, database: undefined }, /targets\.0\.database: is required/],
  ])("rejects %j", (target, message) => {
    expect(() => parseTargets({ targets: [target] }, "targets.yml")).toThrow(TargetsConfigError);
    expect(() => parseTargets({ targets: [target] }, "targets.yml")).toThrow(message);
  });
  it.each([
    [["acme/web"], "acme/web", true],
    [["acme/web"], "ACME/Web", true], // GitHub names are case-insensitive
    [["acme/web"], "acme/web-fork", false],
    [["acme/*"], "acme/api", true],
    [["acme/*"], "acme-evil/api", false],
    [["acme/*"], "other/acme", false],
    [[], "acme/web", false],
    [undefined, "acme/web", false], // no list: no repository may use the target's data
  ])("allowedRepos %j allows %s: %s", (allowedRepos, repository, allowed) => {
    expect(targetAllows(allowedRepos ? { allowedRepos } : {}, repository)).toBe(allowed);
  });
  it("rejects allowedRepos entries that are not owner/repo or owner/*", () => {
    expect(() => parseTargets([{ ...base, allowedRepos: ["*"] }])).toThrow(
      /targets\.0\.allowedRepos\.0: must be owner\/repo or owner\/\*/,
    );
    expect(() => parseTargets([{ ...base, allowedRepos: ["acme/web/x"] }])).toThrow(/allowedRepos\.0/);
  });
  it("rejects duplicate names", () => {
    expect(() => parseTargets([base, base])).toThrow(/targets\.1\.name: duplicate target name "orders"/);
  });
  it("round-trips blob names and ignores foreign ones", () => {
    const name = blobNameFor({ name: "orders", prefix: "prod/" }, at("2026-11-26T06:43:00.123Z"));
    expect(name).toBe("prod/orders/orders-20261126T064300123Z.dump");
    expect(timeFromBlobName({ name: "orders", prefix: "prod/" }, name)?.toISOString()).toBe("2026-11-26T06:43:00.123Z");
    // names written before milliseconds were added still parse
    expect(
      timeFromBlobName({ name: "orders", prefix: "prod/" }, "prod/orders/orders-20261126T064300Z.dump")?.toISOString(),
    ).toBe("2026-11-26T06:43:00.000Z");
    expect(timeFromBlobName({ name: "orders", prefix: "prod/" }, "prod/orders/notes.txt")).toBeUndefined();
    expect(
      timeFromBlobName({ name: "orders", prefix: "prod/" }, "prod/orders-eu/orders-eu-20261126T064300Z.dump"),
    ).toBeUndefined();
  });
});

describe("an archive's table of contents", () => {
  it("lists the extensions a dump creates, and drops their CREATE and COMMENT entries, keeping the order", () => {
    const toc = [
      ";",
      "; Archive created at 2026-12-01 08:54:40 UTC",
      "2; 3079 16385 EXTENSION - citext ",
      "3548; 0 0 COMMENT - EXTENSION citext ",
      "3; 3079 16490 EXTENSION - pg_stat_statements ",
      "219; 1259 16649 TABLE public t postgres",
      "3551; 0 0 COMMENT public TABLE t postgres",
      "3541; 0 16649 TABLE DATA public t postgres",
    ].join("\n");
    expect(withoutExtensions(toc)).toEqual({
      extensions: ["citext", "pg_stat_statements"],
      list: [
        ";",
        "; Archive created at 2026-12-01 08:54:40 UTC",
        "219; 1259 16649 TABLE public t postgres",
        "3551; 0 0 COMMENT public TABLE t postgres",
        "3541; 0 16649 TABLE DATA public t postgres",
      ].join("\n"),
    });
  });
});
