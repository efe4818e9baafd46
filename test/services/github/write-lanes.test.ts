/**
 * WriteLanes: one write at a time per installation, the most urgent first, requests for a pending key merged.
 */
import { describe, expect, it } from "@jest/globals";
import { WRITE_PRIORITY, WriteLanes } from "../../../src/services/github/write-lanes.js";

/** A write that records its name when it runs, and (optionally) waits for `hold` first. */
function writer(log: string[], name: string, hold?: Promise<void>) {
  return async () => {
    log.push(`start ${name}`);
    await hold;
    log.push(`end ${name}`);
  };
}

describe("WriteLanes", () => {
  it("runs one write at a time per lane, most urgent first, in arrival order within a priority", async () => {
    const lanes = new WriteLanes();
    const log: string[] = [];
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const first = lanes.request({
      lane: "acme",
      key: "a",
      priority: WRITE_PRIORITY.comment,
      write: writer(log, "a", hold),
    });
    const done = [
      lanes.request({
        lane: "acme",
        key: "comment-1",
        priority: WRITE_PRIORITY.comment,
        write: writer(log, "comment-1"),
      }),
      lanes.request({
        lane: "acme",
        key: "deployment",
        priority: WRITE_PRIORITY.deployment,
        write: writer(log, "deployment"),
      }),
      lanes.request({ lane: "acme", key: "check-1", priority: WRITE_PRIORITY.checkRun, write: writer(log, "check-1") }),
      lanes.request({ lane: "acme", key: "check-2", priority: WRITE_PRIORITY.checkRun, write: writer(log, "check-2") }),
    ];
    expect(log).toEqual(["start a"]);
    release();
    await Promise.all([first, ...done]);
    expect(log.filter((l) => l.startsWith("start"))).toEqual([
      "start a",
      "start check-1",
      "start check-2",
      "start deployment",
      "start comment-1",
    ]);
    // never two at once
    for (let i = 0; i < log.length; i += 2)
      expect([log[i]!.slice(6), log[i + 1]!.slice(4)]).toEqual([log[i]!.slice(6), log[i]!.slice(6)]);
  });

  it("merges a request into a pending one of the same key: the latest write runs once, at the most urgent priority", async () => {
    const lanes = new WriteLanes();
    const log: string[] = [];
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const busy = lanes.request({ lane: "acme", key: "busy", priority: 0, write: writer(log, "busy", hold) });
    const p1 = lanes.request({
      lane: "acme",
      key: "other",
      priority: WRITE_PRIORITY.deployment,
      write: writer(log, "other"),
    });
    const p2 = lanes.request({
      lane: "acme",
      key: "run",
      priority: WRITE_PRIORITY.progress,
      write: writer(log, "run v1"),
    });
    const p3 = lanes.request({
      lane: "acme",
      key: "run",
      priority: WRITE_PRIORITY.checkRun,
      write: writer(log, "run v2"),
    });
    expect(lanes.pending).toBe(3);
    release();
    await Promise.all([busy, p1, p2, p3]);
    expect(log.filter((l) => l.startsWith("start"))).toEqual(["start busy", "start run v2", "start other"]);
  });

  it("keeps lanes (installations) independent, and a failing write does not stop its lane", async () => {
    const lanes = new WriteLanes();
    const log: string[] = [];
    const never = new Promise<void>(() => undefined);
    void lanes.request({ lane: "acme", key: "stuck", priority: 0, write: writer(log, "stuck", never) });
    await lanes.request({ lane: "Globex", key: "x", priority: 0, write: writer(log, "globex") });
    await lanes.request({
      lane: "globex",
      key: "boom",
      priority: 0,
      write: async () => Promise.reject(new Error("a bug")),
    });
    await lanes.request({ lane: "globex", key: "y", priority: 0, write: writer(log, "after") });
    expect(log).toEqual(["start stuck", "start globex", "end globex", "start after", "end after"]);
  });

  it("runs `prepare` (reads) outside the lane and writes only after it", async () => {
    const lanes = new WriteLanes();
    const log: string[] = [];
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const busy = lanes.request({ lane: "acme", key: "busy", priority: 0, write: writer(log, "busy", hold) });
    const read = lanes.request({
      lane: "acme",
      key: "w",
      priority: 0,
      prepare: async () => void log.push("read"),
      write: writer(log, "w"),
    });
    await until(() => log.includes("read"));
    expect(log).toEqual(["start busy", "read"]); // the read ran while the lane was busy
    release();
    await Promise.all([busy, read]);
    await lanes.drain();
    expect(log).toEqual(["start busy", "read", "end busy", "start w", "end w"]);
    expect(lanes.pending).toBe(0);
  });
  it("lets a failed write rest before its retry without holding the lane; it stays pending, and a newer request ends the rest", async () => {
    const lanes = new WriteLanes();
    const log: string[] = [];
    let tries = 0;
    const flaky = async () => {
      log.push(`check try ${++tries}`);
      return tries === 1 ? { retryInMs: 600_000 } : undefined; // a rest longer than any test: only a request ends it
    };
    const checkRun = lanes.request({ lane: "acme", key: "check", priority: WRITE_PRIORITY.checkRun, write: flaky });
    await lanes.request({ lane: "acme", key: "comment", priority: WRITE_PRIORITY.comment, write: writer(log, "c") });
    expect(log).toEqual(["check try 1", "start c", "end c"]);
    expect(lanes.pending).toBe(1); // the resting write: not idle yet
    const drained = lanes.drain();
    await lanes.request({ lane: "acme", key: "check", priority: WRITE_PRIORITY.checkRun, write: flaky });
    await Promise.all([checkRun, drained]);
    expect(log).toEqual(["check try 1", "start c", "end c", "check try 2"]);
    expect(lanes.pending).toBe(0);
  });
});

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
