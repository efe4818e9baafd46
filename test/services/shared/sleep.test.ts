/** What a namespace's annotations say about its sleep (readSleep and its durations), and the share of life asleep. */
import { describe, expect, it } from "@jest/globals";
import {
  asleepShare,
  formatSleepDuration,
  isAsleep,
  parseSleepDuration,
  readSleep,
} from "../../../src/services/shared/sleep.js";

const H = 3_600_000;
const NOW = Date.parse("2026-12-01T12:00:00Z");

describe("sleep durations", () => {
  it.each([
    ["90s", 90_000],
    ["30m", 30 * 60_000],
    ["2h", 2 * H],
    ["3d", 72 * H],
    ["1w", 168 * H],
    ["250ms", 250],
    [" 1h ", H],
    ["1.5h", undefined],
    ["-1h", undefined],
    ["1H", undefined],
    ["h", undefined],
    ["1234567890m", undefined],
    ["", undefined],
    [undefined, undefined],
  ])("%p → %p", (text, ms) => {
    expect(parseSleepDuration(text)).toBe(ms);
  });

  it("writes the largest exact unit, which reads back as the same duration", () => {
    expect(formatSleepDuration(H)).toBe("1h");
    expect(formatSleepDuration(90 * 60_000)).toBe("90m");
    expect(formatSleepDuration(14 * 24 * H)).toBe("2w");
    expect(formatSleepDuration(1_500)).toBe("1500ms");
    for (const ms of [1, 999, 1_000, 61_000, H, 25 * H, 7 * 24 * H, 8 * 24 * H])
      expect(parseSleepDuration(formatSleepDuration(ms))).toBe(ms);
  });
});

describe("readSleep", () => {
  it("reads every fact a sleep and the deploy record", () => {
    expect(
      readSleep({
        "preview-bot.dev/sleep-after": "2h",
        "preview-bot.dev/last-activity": "2026-12-01T09:00:00.000Z",
        "preview-bot.dev/asleep-since": "2026-12-01T11:00:00.000Z",
        "preview-bot.dev/asleep-ms": String(3 * H),
        "preview-bot.dev/wake-hosts": " Web-PR-5.Previews.example.test , ,alt.example.test",
        "preview-bot.dev/installation": "77",
        "preview-bot.dev/state": "ready",
      }),
    ).toEqual({
      afterMs: 2 * H,
      lastActivity: Date.parse("2026-12-01T09:00:00.000Z"),
      asleepSince: Date.parse("2026-12-01T11:00:00.000Z"),
      asleepTotalMs: 3 * H,
      hosts: ["web-pr-5.previews.example.test", "alt.example.test"],
      installationId: 77,
    });
  });

  it("an awake namespace without sleep annotations never sleeps and has slept for nothing", () => {
    expect(readSleep({ "preview-bot.dev/state": "ready" })).toEqual({ asleepTotalMs: 0, hosts: [] });
  });

  it("leaves out what it cannot read instead of guessing", () => {
    expect(
      readSleep({
        "preview-bot.dev/sleep-after": "soon",
        "preview-bot.dev/last-activity": "yesterday",
        "preview-bot.dev/asleep-since": "",
        "preview-bot.dev/asleep-ms": "-5",
        "preview-bot.dev/installation": "7.5",
      }),
    ).toEqual({ asleepTotalMs: 0, hosts: [] });
    expect(readSleep({ "preview-bot.dev/sleep-after": "0m", "preview-bot.dev/installation": "0" })).toEqual({
      asleepTotalMs: 0,
      hosts: [],
    });
    expect(readSleep({ "preview-bot.dev/asleep-ms": "NaN" }).asleepTotalMs).toBe(0);
  });

  it("a namespace is asleep exactly while it carries a readable asleep-since", () => {
    expect(isAsleep({ "preview-bot.dev/asleep-since": "2026-12-01T11:00:00.000Z" })).toBe(true);
    expect(isAsleep({ "preview-bot.dev/asleep-ms": String(H), "preview-bot.dev/sleep-after": "1h" })).toBe(false);
    expect(isAsleep({ "preview-bot.dev/asleep-since": "not a time" })).toBe(false);
  });
});

describe("asleepShare", () => {
  const created = NOW - 10 * H;
  it.each([
    ["never asleep", { asleepTotalMs: 0, hosts: [] }, 0],
    ["asleep 2 h before, awake now", { asleepTotalMs: 2 * H, hosts: [] }, 0.2],
    ["asleep for the last 3 h", { asleepTotalMs: 0, asleepSince: NOW - 3 * H, hosts: [] }, 0.3],
    ["both", { asleepTotalMs: 2 * H, asleepSince: NOW - 3 * H, hosts: [] }, 0.5],
    ["records longer than its life (clock skew)", { asleepTotalMs: 20 * H, hosts: [] }, 1],
    ["asleep since a time after now (clock skew)", { asleepTotalMs: 0, asleepSince: NOW + H, hosts: [] }, 0],
  ])("%s", (_what, facts, share) => {
    expect(asleepShare(facts, created, NOW)).toBeCloseTo(share, 10);
  });

  it("a preview with no life yet (or created after now) has slept for none of it", () => {
    expect(asleepShare({ asleepTotalMs: H, hosts: [] }, NOW, NOW)).toBe(0);
    expect(asleepShare({ asleepTotalMs: H, hosts: [] }, NOW + H, NOW)).toBe(0);
    expect(asleepShare({ asleepTotalMs: H, hosts: [] }, Number.NaN, NOW)).toBe(0);
  });
});
