import { describe, it, expect, beforeAll, afterAll, afterEach } from "@jest/globals";
import { Writable } from "node:stream";
import nock from "nock";
import { createLogger } from "../../../src/logger.js";
import {
  createSlackNotifier,
  createSlackWebClient,
  MemoryThreadStore,
  type Notifier,
} from "../../../src/services/chat/notifier.js";
import type { PreviewSummary } from "../../../src/services/shared/dispatch.js";

const TOKEN = "xoxb-1234567890-abcdefghijklmnop";
const SLACK = "https://slack.com";

const summary = (over: Partial<PreviewSummary> = {}): PreviewSummary => ({
  key: "acme/web#42",
  owner: "acme",
  repo: "web",
  number: 42,
  title: "Add checkout",
  branch: "feature/checkout",
  sha: "0123456789abcdef0123456789abcdef01234567",
  state: "ready",
  url: "https://pr-42.preview.example.com/",
  prUrl: "https://github.com/acme/web/pull/42",
  expiresAt: "2026-12-01T00:00:00Z",
  ...over,
});

type Body = Record<string, string>;

function setup(opts: { channel?: string | undefined; attempts?: number } = {}) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger({ level: "debug", destination });
  const delays: number[] = [];
  const threads = new MemoryThreadStore();
  const notifier: Notifier = createSlackNotifier({
    client: createSlackWebClient(TOKEN),
    threads,
    channelFor: (owner, repo) =>
      owner === "acme" && repo === "web" ? ("channel" in opts ? opts.channel : "C0PREVIEW") : undefined,
    logger,
    retry: { attempts: opts.attempts ?? 3, baseDelayMs: 10 },
    sleep: async (ms) => {
      delays.push(ms);
    },
    outboxIntervalMs: 0,
  });
  return { notifier, threads, lines, delays };
}

/** Intercept one Slack method, recording the form bodies it receives. */
function slack(method: string, reply: object, bodies: Body[], times = 1): nock.Scope {
  return nock(SLACK)
    .post(`/api/${method}`, (body: Body) => {
      bodies.push(body);
      return true;
    })
    .times(times)
    .reply(200, { ok: true, ...reply });
}

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());
// Jest reuses worker processes and each test file loads its own nock: deactivate ours so the next file's works.
afterAll(() => {
  nock.enableNetConnect();
  nock.restore();
});

describe("Slack notifier", () => {
  it("posts the parent once, then edits it and replies in its thread", async () => {
    const { notifier, threads } = setup();
    const posts: Body[] = [];
    const updates: Body[] = [];
    const parent = slack("chat.postMessage", { channel: "C0PREVIEW", ts: "1700000000.000100" }, posts);
    const reply1 = slack("chat.postMessage", { channel: "C0PREVIEW", ts: "1700000000.000200" }, posts);
    await notifier.notify(summary({ state: "deploying", url: undefined }), { text: "Deploying 0123456" });
    expect(parent.isDone() && reply1.isDone()).toBe(true);
    expect(await threads.get("acme/web#42")).toEqual({ channel: "C0PREVIEW", ts: "1700000000.000100" });
    expect(posts[0]!.thread_ts).toBeUndefined();
    expect(posts[1]).toMatchObject({ channel: "C0PREVIEW", thread_ts: "1700000000.000100", text: "Deploying 0123456" });

    const update = slack("chat.update", { channel: "C0PREVIEW", ts: "1700000000.000100" }, updates);
    const reply2 = slack("chat.postMessage", { ts: "1700000000.000300" }, posts);
    await notifier.notify(summary(), { text: "Ready", detail: "step apply: 2.1 s\nstep rollout: 30 s" });
    expect(update.isDone() && reply2.isDone()).toBe(true);
    expect(updates[0]).toMatchObject({ channel: "C0PREVIEW", ts: "1700000000.000100" });
    expect(posts[2]!.thread_ts).toBe("1700000000.000100");
    expect(posts[2]!.text).toContain("```step apply: 2.1 s\nstep rollout: 30 s```");

    const blocks = JSON.parse(updates[0]!.blocks!) as Array<{
      type: string;
      elements?: Array<Record<string, unknown>>;
    }>;
    const buttons = blocks.find((b) => b.type === "actions")!.elements!;
    expect(buttons.map((b) => b.action_id)).toEqual([
      "preview:open",
      "preview:redeploy",
      "preview:destroy",
      "preview:sleep",
      "preview:extend",
    ]);
    expect(buttons[0]).toMatchObject({ url: "https://pr-42.preview.example.com/" });
    expect(buttons[3]).toMatchObject({ value: "sleep acme/web#42" });
    expect(buttons[2]).toMatchObject({
      value: "destroy acme/web#42",
      style: "danger",
      confirm: { confirm: { text: "Destroy" } },
    });
    expect(buttons[4]).toMatchObject({ value: "extend acme/web#42 3d" });
  });

  it("shows every URL of the preview in the thread's parent, the Open button going to the primary", async () => {
    const { notifier } = setup();
    const posts: Body[] = [];
    slack("chat.postMessage", { channel: "C0PREVIEW", ts: "1700000000.000100" }, posts, 2);
    await notifier.notify(
      summary({
        extraUrls: [
          { name: "results", url: "https://pr-42-results.preview.example.com/" },
          { name: "admin", url: "https://pr-42-admin.preview.example.com/" },
        ],
      }),
      { text: "Ready" },
    );
    const blocks = JSON.parse(posts[0]!.blocks!) as Array<{
      type: string;
      fields?: Array<{ text: string }>;
      elements?: Array<Record<string, unknown>>;
    }>;
    const fields = blocks.flatMap((b) => b.fields ?? []).map((f) => f.text);
    expect(fields).toContain("*URL*\n<https://pr-42.preview.example.com/>");
    expect(fields).toContain(
      "*More URLs*\n<https://pr-42-results.preview.example.com/|results> · <https://pr-42-admin.preview.example.com/|admin>",
    );
    expect(blocks.find((b) => b.type === "actions")!.elements![0]).toMatchObject({
      url: "https://pr-42.preview.example.com/",
    });
  });

  it("keeps secrets and Slack markup out of messages", async () => {
    const { notifier } = setup();
    const posts: Body[] = [];
    slack("chat.postMessage", { channel: "C0PREVIEW", ts: "1.1" }, posts, 2);
    await notifier.notify(
      summary({
        state: "failed",
        title: "<!channel> pwn & <https://evil|click>",
        reason: "connect postgres://app:s3cretpass@db:5432/x failed",
      }),
      {
        text: "Failed: DB_PASSWORD=hunter2hunter2",
        detail: "env:\nAZURE_ACCOUNT_KEY=abc123def456==\nuse xoxb-9999999999-zzzzzzzzzzzz\n```break out```",
      },
    );
    const all = JSON.stringify(posts);
    for (const secret of [
      "s3cretpass",
      "hunter2hunter2",
      "abc123def456",
      "xoxb-9999999999",
      "<!channel>",
      "<https://evil",
    ])
      expect(all).not.toContain(secret);
    expect(all).toContain("&lt;!channel&gt; pwn &amp;");
    expect((posts[1]!.text!.match(/```/g) ?? []).length).toBe(2);
  });

  it("waits as long as Retry-After says on 429, then succeeds", async () => {
    const { notifier, threads, delays } = setup();
    const posts: Body[] = [];
    const limited = nock(SLACK)
      .post("/api/chat.postMessage")
      .reply(429, { ok: false, error: "ratelimited" }, { "Retry-After": "2" });
    const ok = slack("chat.postMessage", { channel: "C0PREVIEW", ts: "5.5" }, posts, 2);
    await notifier.notify(summary(), { text: "Ready" });
    expect(limited.isDone() && ok.isDone()).toBe(true);
    expect(delays).toEqual([2000]);
    expect(await threads.get("acme/web#42")).toEqual({ channel: "C0PREVIEW", ts: "5.5" });
  });

  it("never throws when Slack answers 500 forever, tries a bounded number of times and logs without the token", async () => {
    const { notifier, lines, delays } = setup({ attempts: 3 });
    const scope = nock(SLACK).post("/api/chat.postMessage").times(3).reply(500, "oops");
    await expect(notifier.notify(summary(), { text: "Ready" })).resolves.toBeUndefined();
    expect(scope.isDone()).toBe(true);
    expect(delays).toEqual([10, 20]);
    const warning = lines
      .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message?: string } })
      .find((l) => l.level === 40);
    expect(warning?.msg).toMatch(/Slack notification failed; kept for a later try/);
    expect(warning?.err?.message).toMatch(/posting the thread for acme\/web#42: HTTP 500/);
    expect(lines.join("")).not.toContain(TOKEN);
  });

  it("keeps what Slack refused during an outage and delivers it, in order, once Slack is back", async () => {
    const { notifier, lines } = setup({ attempts: 2 });
    const down = nock(SLACK).post("/api/chat.postMessage").times(4).reply(503, "unavailable");
    await notifier.notify(summary(), { text: "Deploying abc1234" });
    await notifier.notify(summary(), { text: "Ready at https://pr-42.preview.example.com/" });
    expect(down.isDone()).toBe(true);

    // Slack is back: one parent, then both updates in the order they happened.
    const posted: Body[] = [];
    let ts = 100;
    const record =
      (reply: object) =>
      async (req: Request): Promise<[number, string, Record<string, string>]> => {
        posted.push(Object.fromEntries<string>(new URLSearchParams(await req.text())));
        return [
          200,
          JSON.stringify({ ok: true, ...reply, ts: `1700000000.000${++ts}` }),
          { "content-type": "application/json" },
        ];
      };
    const back = nock(SLACK)
      .post("/api/chat.postMessage")
      .times(3)
      .reply(record({ channel: "C0PREVIEW" }))
      .post("/api/chat.update")
      .reply(record({}));
    await notifier.flushPending!();
    expect(back.isDone()).toBe(true);
    const parents = posted.filter((b) => !b.thread_ts && !b.ts);
    expect(parents).toHaveLength(1);
    expect(posted.filter((b) => b.thread_ts).map((b) => b.text)).toEqual([
      expect.stringContaining("Deploying abc1234"),
      expect.stringContaining("Ready at"),
    ]);
    expect(lines.join("")).not.toContain(TOKEN);
  });

  it("does not retry a refusal such as invalid_auth, and does not throw", async () => {
    const { notifier, delays, lines } = setup();
    const scope = nock(SLACK).post("/api/chat.postMessage").reply(200, { ok: false, error: "invalid_auth" });
    await notifier.notify(summary(), { text: "Ready" });
    expect(scope.isDone()).toBe(true);
    expect(delays).toEqual([]);
    expect(lines.join("")).toMatch(/Slack said invalid_auth/);
  });

  it("starts a new thread when the parent message is gone", async () => {
    const { notifier, threads } = setup();
    await threads.set("acme/web#42", { channel: "C0PREVIEW", ts: "1.0" });
    const posts: Body[] = [];
    const gone = nock(SLACK).post("/api/chat.update").reply(200, { ok: false, error: "message_not_found" });
    const fresh = slack("chat.postMessage", { channel: "C0PREVIEW", ts: "2.0" }, posts, 2);
    await notifier.notify(summary(), { text: "Ready" });
    expect(gone.isDone() && fresh.isDone()).toBe(true);
    expect(posts[1]!.thread_ts).toBe("2.0");
    expect(await threads.get("acme/web#42")).toEqual({ channel: "C0PREVIEW", ts: "2.0" });
  });

  it("stays quiet for repositories without a channel", async () => {
    const { notifier, lines } = setup({ channel: undefined });
    await notifier.notify(summary(), { text: "Ready" });
    await notifier.notify(summary({ owner: "other", repo: "x", key: "other/x#1" }), { text: "Ready" });
    const parsed = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(parsed.filter((l) => /not notifying/.test(l.msg))).toHaveLength(2);
    expect(parsed.filter((l) => l.level >= 40)).toEqual([]); // a Slack call would have failed (no net) and warned
  });
});

describe("a sleeping preview in Slack", () => {
  it("shows since when it sleeps and what it cost, and offers Wake instead of Sleep", async () => {
    const { previewBlocks } = await import("../../../src/services/chat/slack-blocks.js");
    const blocks = previewBlocks({
      key: "acme/web#42",
      owner: "acme",
      repo: "web",
      number: 42,
      state: "ready",
      namespace: "web-pr-42",
      asleepSince: "2026-12-01T10:00:00.000Z",
      cost: "≈ 1.00 EUR (estimate from requests × prices; asleep 50 % of its 20.0 h)",
    }) as Array<{ type: string; fields?: Array<{ text: string }>; elements?: Array<Record<string, unknown>> }>;
    const fields = blocks.flatMap((b) => b.fields ?? []).map((f) => f.text);
    expect(fields).toContain("*Sleep*\n:zzz: asleep since 2026-12-01T10:00:00.000Z");
    expect(fields).toContain("*Cost so far*\n≈ 1.00 EUR (estimate from requests × prices; asleep 50 % of its 20.0 h)");
    const buttons = blocks.find((b) => b.type === "actions")!.elements!;
    expect(buttons.map((b) => b.action_id)).toContain("preview:wake");
    expect(buttons.map((b) => b.action_id)).not.toContain("preview:sleep");
    expect(buttons.find((b) => b.action_id === "preview:wake")).toMatchObject({ value: "wake acme/web#42" });
  });
});
