/**
 * Slack from the PR lifecycle: one thread per PR — the parent message is the PR's current summary (kept up to date),
 * updates go into the thread — remembered in PostgreSQL, so a restarted bot posts into the same thread, also for the
 * sweeper's expiry heads-up in a repository with its own `slack.channel`; and Slack being down never breaks the
 * GitHub side. Slack's Web API on nock.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import nock from "nock";
import {
  nockInstallationListing,
  startHarness,
  pull,
  prEvent,
  INSTALLATION,
  OWNER,
  REPO,
  type Harness,
} from "../support/e2e-bot.js";
import { startFakeKube, type FakeKube } from "../support/fake-kube/index.js";
import { fakeGitHub } from "../support/github-fake.js";
import { createTestDatabase } from "../support/pg-database.js";

const CHANNEL = "C0PREVIEWS";
const sha = (c: string) => c.repeat(40);
let state: Awaited<ReturnType<typeof createTestDatabase>>;
let gh: ReturnType<typeof fakeGitHub>;
const calls: Array<{ method: string; body: Record<string, unknown> }> = [];
let slackDown = false;
let nextTs = 1000;

function slackApi() {
  return nock("https://slack.com")
    .persist()
    .post(/^\/api\/chat\.(postMessage|update)$/)
    .reply(async (req: Request) => {
      const method = new URL(req.url).pathname
        .split("/")
        .pop()!
        .replace(/^chat\./, "");
      const text = await req.text();
      const body = text.startsWith("{") ? JSON.parse(text) : Object.fromEntries(new URLSearchParams(text));
      calls.push({ method, body });
      if (slackDown)
        return [500, JSON.stringify({ ok: false, error: "internal_error" }), { "content-type": "application/json" }];
      const ts = method === "update" ? String(body.ts) : `${++nextTs}.000100`;
      return [200, JSON.stringify({ ok: true, channel: body.channel, ts }), { "content-type": "application/json" }];
    });
}

async function withBot<T>(fn: (h: Harness) => Promise<T>, cluster?: FakeKube): Promise<T> {
  if (!nock.isActive()) nock.activate(); // the previous harness's stop() deactivated it
  const h = await startHarness({
    env: {
      DATABASE_URL: state.url,
      SLACK_BOT_TOKEN: "xoxb-test-0000000000-token",
      SLACK_DEFAULT_CHANNEL: CHANNEL,
      PREVIEW_DATABASE_URL: "",
    },
    ...(cluster ? { cluster } : {}),
  });
  slackApi();
  try {
    return await fn(h);
  } finally {
    await h.stop();
  }
}

beforeAll(async () => {
  state = await createTestDatabase("slack_threads");
});
afterAll(async () => state?.drop());

function enroll(h: Harness, c: string) {
  gh = fakeGitHub({
    owner: OWNER,
    repo: REPO,
    installationId: INSTALLATION,
    config: `manifests: { path: k8s }\nnames: { namespace: "slack-{number}" }\n`,
  });
  gh.state.pulls.set(51, pull({ number: 51, sha: sha(c) }));
  return h
    .tarball(sha(c), {
      "k8s/cm.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: app }\ndata: { v: "${c}" }\n`,
    })
    .then((t) => gh.state.tarballs.set(sha(c), t));
}

describe("one Slack thread per pull request", () => {
  it("posts the parent once, keeps it current, threads the updates — across a restart", async () => {
    await withBot(async (h) => {
      await enroll(h, "a");
      await h.send("pull_request", prEvent("opened", gh.state.pulls.get(51)!));
    });
    const parents = calls.filter((c) => c.method === "postMessage" && !c.body.thread_ts);
    expect(parents).toHaveLength(1);
    expect(parents[0]!.body.channel).toBe(CHANNEL);
    const parentTs = `${nextTs - 1}.000100`;
    const replies = calls.filter((c) => c.method === "postMessage" && c.body.thread_ts);
    expect(replies.length).toBeGreaterThan(0);
    expect(String(replies.at(-1)!.body.text)).toMatch(/Preview deployed|ready/i);

    // a new process: the thread comes from PostgreSQL, not memory
    calls.length = 0;
    await withBot(async (h) => {
      await enroll(h, "b");
      await h.send("pull_request", prEvent("synchronize", gh.state.pulls.get(51)!));
    });
    expect(calls.filter((c) => c.method === "postMessage" && !c.body.thread_ts)).toHaveLength(0);
    expect(calls.filter((c) => c.method === "update").map((c) => c.body.ts)).toContain(parentTs);
    expect(calls.filter((c) => c.method === "postMessage").every((c) => c.body.thread_ts === parentTs)).toBe(true);
  }, 180_000);

  it("Slack being down does not break the GitHub side", async () => {
    slackDown = true;
    try {
      await withBot(async (h) => {
        await enroll(h, "c");
        await h.send("pull_request", prEvent("synchronize", gh.state.pulls.get(51)!));
      });
    } finally {
      slackDown = false;
    }
    expect(calls.length).toBeGreaterThan(0);
    expect(gh.state.checkRuns.find((r) => r.head_sha === sha("c"))?.conclusion).toBe("success");
    expect(gh.sticky(51)).toHaveLength(1);
  }, 180_000);

  it("a restarted bot sends the expiry heads-up into the PR's thread in the repository's own channel", async () => {
    const TEAM = "C0TEAMROOM";
    const cluster = await startFakeKube({ namespaceFinalizeMs: 20 });
    const config = `manifests: { path: k8s }\nnames: { namespace: "slack-{number}" }\nttl: 30m\nslack: { channel: ${TEAM} }\n`;
    const enrollTeam = async (h: Harness) => {
      gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config });
      gh.state.pulls.set(53, pull({ number: 53, sha: sha("d") }));
      gh.state.tarballs.set(
        sha("d"),
        await h.tarball(sha("d"), {
          "k8s/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: app }\ndata: { v: d }\n",
        }),
      );
      nockInstallationListing(gh);
    };
    try {
      calls.length = 0;
      await withBot(async (h) => {
        await enrollTeam(h);
        await h.send("pull_request", prEvent("opened", gh.state.pulls.get(53)!));
      }, cluster);
      const parent = calls.find((c) => c.method === "postMessage" && !c.body.thread_ts)!;
      expect(parent.body.channel).toBe(TEAM);
      const parentTs = `${nextTs - 1}.000100`;

      // The preview is about to expire; a new process (another replica, or after a restart) sweeps.
      const ns = cluster.get("v1", "Namespace", undefined, "slack-53")!;
      cluster.seed({
        ...ns,
        metadata: {
          ...ns.metadata,
          annotations: {
            ...ns.metadata.annotations,
            "preview-bot.dev/expires-at": new Date(Date.now() + 60_000).toISOString(),
          },
        },
      });
      calls.length = 0;
      await withBot(async (h) => {
        await enrollTeam(h);
        const result = await h.bot.app!.sweeper.sweep();
        expect(result.plan.headsUp.map((x) => x.key)).toEqual([`${OWNER}/${REPO}#53`]);
      }, cluster);
      expect(calls.filter((c) => c.method === "postMessage" && !c.body.thread_ts)).toEqual([]); // no new thread
      expect(calls.filter((c) => c.method === "update").map((c) => [c.body.channel, c.body.ts])).toEqual([
        [TEAM, parentTs],
      ]);
      const replies = calls.filter((c) => c.method === "postMessage");
      expect(replies.map((c) => [c.body.channel, c.body.thread_ts])).toEqual([[TEAM, parentTs]]);
      expect(String(replies[0]!.body.text)).toMatch(/This preview expires at .*Press Extend/);
    } finally {
      await cluster.stop();
    }
  }, 120_000);
});
