/**
 * The intake's rules that need no GitHub: which requests supersede, who answers which action at which door, and what
 * the gate does with the bot's own webhook requests (records a fork PR's heads; lets only its opening through). The
 * rules that ask GitHub are exercised through the doors (test/handlers/, test/e2e/doors-*).
 */
import { describe, expect, it } from "@jest/globals";
import { ACTIONS, type ActionName } from "../../src/actions.js";
import { answeredBy, createIntake, supersedes } from "../../src/intake/gate.js";
import type { Request } from "../../src/intake/request.js";
import { createLogger } from "../../src/logger.js";
import { MemoryHeadLog } from "../../src/services/github/head-log.js";

const req = (over: Partial<Request>): Request => ({
  door: "comment",
  action: "deploy",
  subject: { kind: "pull", owner: "acme", repo: "web", number: 1, installationId: 7 },
  actor: "mia",
  args: {},
  ...over,
});

describe("supersede (one rule)", () => {
  it.each<[string, Partial<Request>, boolean]>([
    ["a person's deploy", {}, true],
    ["a person's destroy", { action: "destroy" }, true],
    ["a dry-run destroy", { action: "destroy", args: { dryRun: true } }, false],
    ["a status", { action: "status" }, false],
    ["an extend", { action: "extend", args: { ttlMs: 600_000 } }, false],
    ["a push", { door: "webhook", event: { action: "synchronize" } }, true],
    ["a label", { door: "webhook", event: { action: "labeled", label: "preview" } }, false],
    ["a check completion", { door: "webhook", event: { checkName: "build" } }, false],
    ["a close", { door: "webhook", action: "destroy" }, true],
    ["a sweeper's repair deploy", { door: "sweeper" }, false],
    ["a sweeper's destroy", { door: "sweeper", action: "destroy" }, true],
  ])("%s → %s", (_n, over, want) => {
    expect(supersedes(req(over))).toBe(want);
  });

  it("never lets an action the table says does not supersede do so", () => {
    for (const action of Object.keys(ACTIONS) as ActionName[])
      if (!ACTIONS[action].supersedes) expect(supersedes(req({ action }))).toBe(false);
  });
});

describe("who answers", () => {
  it("runs a comment's commands as jobs, and lets Slack answer its reads itself", () => {
    expect(answeredBy("status", "comment")).toBe("job");
    expect(answeredBy("status", "slack")).toBe("door");
    expect(answeredBy("list", "slack")).toBe("door");
    expect(answeredBy("deploy", "slack")).toBe("job");
    expect(answeredBy("deploy", "webhook")).toBe("job");
  });
});

describe("the bot's own webhook requests", () => {
  function gate() {
    const enqueued: unknown[] = [];
    const heads = new MemoryHeadLog();
    const intake = createIntake({
      enqueue: async (job) => {
        enqueued.push(job);
        return { jobId: String(enqueued.length), deduplicated: false };
      },
      github: {
        octokitFor: async () => {
          throw new Error("a webhook request must not ask GitHub");
        },
        installationOf: async () => 7,
      },
      heads,
      logger: createLogger({ level: "silent" }),
    });
    return { intake, heads, enqueued };
  }
  const push = (action: string, sha: string, fork: boolean): Request =>
    req({ door: "webhook", actor: "someone", event: { action, head: { sha, at: "2026-12-07T10:00:00Z", fork } } });

  it("records a fork PR's head and lets only its opening through", async () => {
    const { intake, heads, enqueued } = gate();
    expect(await intake.submit(push("opened", "a".repeat(40), true))).toMatchObject({ type: "queued" });
    expect(await intake.submit(push("synchronize", "b".repeat(40), true))).toMatchObject({ type: "refused" });
    expect((await heads.sightings("acme/web#1")).map((s) => s.sha[0])).toEqual(["a", "b"]);
    expect(enqueued).toHaveLength(1);
  });

  it("queues a same-repository push without recording it, deduplicated by the delivery", async () => {
    const { intake, heads, enqueued } = gate();
    expect(await intake.submit({ ...push("synchronize", "c".repeat(40), false), deliveryId: "d-1" })).toMatchObject({
      type: "queued",
    });
    expect(await heads.sightings("acme/web#1")).toEqual([]);
    expect(enqueued).toEqual([
      expect.objectContaining({ kind: "preview", key: "acme/web#1", supersedes: true, dedupeId: "d-1" }),
    ]);
  });

  it("a visitor at the wake door may wake a preview and do nothing else, without asking GitHub", async () => {
    const { intake, enqueued } = gate();
    const visitor = (action: Request["action"]) =>
      req({ door: "visitor", action, actor: "a visitor", deliveryId: "wake x" });
    for (const action of ["deploy", "destroy", "sleep", "redeploy", "extend"] as const)
      expect(await intake.submit(visitor(action))).toMatchObject({ type: "refused" });
    expect(enqueued).toEqual([]);
    expect(await intake.submit(visitor("wake"))).toMatchObject({ type: "queued" });
    expect(enqueued).toEqual([
      expect.objectContaining({
        key: "acme/web#1",
        supersedes: false,
        dedupeId: "wake x",
        payload: expect.objectContaining({ action: "wake", source: "visitor" }),
      }),
    ]);
  });
});
