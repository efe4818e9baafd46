/**
 * The Slack door through the real server (`startServer` with Slack configured, as production builds it): signed
 * slash commands and button clicks into Bolt, the real directory (namespaces on the fake Kubernetes API), the real
 * authorizer (the repository's own `permissions` policy, read from its config on the fake GitHub), the queue and the
 * runner. Slack's Web API and response URLs are on nock.
 *
 * Slack authorization = GitHub authorization; a job started from Slack answers in Slack; Slack gets its ack before
 * anything asks GitHub.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import nock from "nock";
import {
  commentEvent,
  pull,
  prEvent,
  startHarness,
  webApp,
  INSTALLATION,
  OWNER,
  REPO,
  type Harness,
} from "../support/e2e-bot.js";
import { fakeGitHub, type FakePull } from "../support/github-fake.js";
import { blockActionBody, postForm, signSlack, slashCommandBody } from "../support/slack.js";

const SIGNING_SECRET = "doors-slack-signing-secret-0000";
const H1 = "1".repeat(40);
const H2 = "2".repeat(40);
const CONFIG = `manifests: { path: k8s }\nnames: { namespace: "slk-{number}" }\nroute: { host: "{name}.previews.example.test", expose: { service: web, port: 80 }, parentRefs: [{ name: previews, namespace: gateway-system }], scheme: https }\npermissions: { deploy: maintain, redeploy: maintain }\n`;

let h: Harness;
let gh: ReturnType<typeof fakeGitHub>;
/** Everything posted to a Slack response_url, in order. */
const answers: Array<{ url: string; text: string }> = [];

function slackApi(): void {
  nock("https://slack.com")
    .persist()
    .post("/api/auth.test")
    .reply(200, { ok: true, user_id: "U0BOT", bot_id: "B0BOT", team_id: "T0TEAM" });
  nock("https://hooks.slack.com")
    .persist()
    .post(/.*/)
    .reply(async (req: Request) => {
      answers.push({ url: req.url, text: String(((await req.json()) as { text?: string }).text) });
      return [200, "ok"];
    });
}

/** A slash command from `user`, signed as Slack signs it; resolves with the HTTP answer (the ack). */
function slash(user: string, text: string, responseUrl: string) {
  const body = slashCommandBody({ user_id: user, text, response_url: responseUrl });
  return postForm(`http://127.0.0.1:${h.bot.port}/slack/events`, body, signSlack(SIGNING_SECRET, body));
}

/**
 * The answers that reached `url`, once there are `count` of them (Slack is answered after its ack) and the bot is idle.
 */
async function answersTo(url: string, count = 1): Promise<string[]> {
  const mine = () => answers.filter((a) => a.url === url).map((a) => a.text);
  const deadline = Date.now() + 20_000;
  while (mine().length < count) {
    if (Date.now() > deadline)
      throw new Error(`waited for ${count} Slack answer(s) to ${url}; got ${JSON.stringify(mine())}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  await h.bot.app!.idle();
  return mine();
}

let n = 0;
const responseUrl = () => `https://hooks.slack.com/commands/T0TEAM/${++n}/doors`;

beforeAll(async () => {
  h = await startHarness({
    env: {
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_BOT_TOKEN: "xoxb-doors-0000000000-token",
      SLACK_USER_MAP: "U0MIA=mia-maintain,U0WES=wes-write,U0RITA=rita-read",
      PREVIEW_DATABASE_URL: "",
    },
  });
  gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: CONFIG });
  for (const [login, role] of Object.entries({ "mia-maintain": "maintain", "wes-write": "write", "rita-read": "read" }))
    gh.state.roles.set(login, role);
  for (const head of [H1, H2])
    gh.state.tarballs.set(
      head,
      await h.tarball(head, { "k8s/app.yaml": webApp({ image: "ghcr.io/o/app:1", service: true }) }),
    );
});
afterAll(async () => h?.stop());
beforeEach(() => slackApi());

describe("Slack, as production wires it", () => {
  it("lists previews and shows one's status from the cluster, to a mapped user only", async () => {
    gh.state.pulls.set(81, pull({ number: 81, sha: H1 }));
    await h.send("pull_request", prEvent("opened", gh.state.pulls.get(81)!));
    expect(h.fake.get("v1", "Namespace", undefined, "slk-81")).toBeDefined();

    const list = responseUrl();
    expect((await slash("U0RITA", `list ${OWNER}/${REPO}`, list)).status).toBe(200);
    expect(await answersTo(list)).toEqual([expect.stringContaining(`${OWNER}/${REPO}#81`)]);
    const status = responseUrl();
    await slash("U0RITA", `status ${OWNER}/${REPO}#81`, status);
    expect((await answersTo(status))[0]).toContain("https://slk-81.previews.example.test/");

    const stranger = responseUrl();
    await slash("U0STRANGER", "list", stranger);
    const [refusal] = await answersTo(stranger);
    expect(refusal).toMatch(/don't know your GitHub account/);
    expect(refusal).not.toContain("#81");
  });

  it("applies the repository's permissions policy: a writer cannot deploy where the config asks for maintain", async () => {
    gh.state.pulls.set(82, pull({ number: 82, sha: H1 }));
    const before = gh.state.checkRuns.length;
    const url = responseUrl();
    await slash("U0WES", `deploy ${OWNER}/${REPO}#82`, url);
    expect(await answersTo(url)).toEqual([
      "Sorry, `deploy` needs maintain access to this repository (you have write).",
    ]);
    // … and in a PR comment, the same rule from the same config.
    const from = gh.state.writes.length;
    const payload = commentEvent("/preview deploy", "wes-write", { number: 82 });
    payload.comment.created_at = new Date().toISOString();
    await h.send("issue_comment", payload);
    expect(gh.state.writes.slice(from).map((w) => w.body?.body)).toEqual([
      "@wes-write Sorry, `deploy` needs maintain access to this repository (you have write).",
    ]);
    expect(gh.state.checkRuns.length).toBe(before);
  });

  it("answers a job started from Slack in Slack, not on the pull request", async () => {
    const from = gh.state.writes.length;
    const url = responseUrl();
    await slash("U0WES", `backup ${OWNER}/${REPO}#81`, url);
    const texts = await answersTo(url, 2);
    expect(texts).toHaveLength(2); // in either order: the job may answer before the "queued" note lands
    expect(texts).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^Queued `backup` for .*#81\. I'll answer here when it's done\.$/),
        expect.stringMatching(/#81: Backups of preview databases are not configured on this installation/),
      ]),
    );
    expect(gh.state.writes.slice(from)).toEqual([]); // nothing posted to the PR

    gh.state.pulls.set(84, pull({ number: 84, sha: H1, state: "closed" }));
    const closed = responseUrl();
    await slash("U0MIA", `deploy ${OWNER}/${REPO}#84`, closed);
    expect(await answersTo(closed, 2)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/#84: This pull request is closed, so there is nothing to deploy\./),
      ]),
    );
    expect(gh.state.writes.slice(from)).toEqual([]);
  });

  it("acknowledges a command before it asks GitHub anything", async () => {
    const held = gh.hold("GET", /\/collaborators\/[^/]+\/permission$/);
    const url = responseUrl();
    const ack = await slash("U0MIA", `destroy ${OWNER}/${REPO}#82 --dry-run`, url);
    expect(ack).toEqual({ status: 200, body: "" }); // answered while GitHub is still held
    await held.reached;
    held.release();
    expect((await answersTo(url))[0]).toContain("Queued `destroy --dry-run`");
  });

  it("a fork PR's deploy names its commit, and a Redeploy button never moves a fork preview to a newer commit", async () => {
    const fork = (head: string): FakePull =>
      pull({ number: 83, sha: head, fork: true, author: "someone", branch: "someone-patch" });
    gh.state.pulls.set(83, fork(H1));
    const unnamed = responseUrl();
    await slash("U0MIA", `deploy ${OWNER}/${REPO}#83`, unnamed);
    expect((await answersTo(unnamed))[0]).toMatch(
      /comes from a fork: a deploy must name the reviewed commit\. The head is `1111111`/,
    );
    expect(gh.state.checkRuns.filter((r) => r.external_id?.endsWith("#83"))).toEqual([]);
    const deploy = responseUrl();
    await slash("U0MIA", `deploy ${OWNER}/${REPO}#83 1111111`, deploy);
    expect((await answersTo(deploy))[0]).toContain(
      "at `1111111` (exactly that commit: the pull request comes from a fork)",
    );
    expect(h.fake.get("v1", "Namespace", undefined, "slk-83")?.metadata.annotations?.["preview-bot.dev/head-sha"]).toBe(
      H1,
    );

    gh.state.pulls.set(83, fork(H2)); // someone pushes to the fork
    const click = "https://hooks.slack.com/actions/T0TEAM/83/redeploy";
    const body = blockActionBody({
      userId: "U0MIA",
      actionId: "preview:redeploy",
      value: `redeploy ${OWNER}/${REPO}#83`,
      responseUrl: click,
    });
    expect(
      (await postForm(`http://127.0.0.1:${h.bot.port}/slack/events`, body, signSlack(SIGNING_SECRET, body))).status,
    ).toBe(200);
    // Refused, with a button that names the new head: pressing it would be a deliberate deploy of exactly that commit.
    expect((await answersTo(click))[0]).toMatch(/must name the reviewed commit\. The head is `2222222`/);
    expect(gh.state.checkRuns.filter((r) => r.head_sha === H2 && r.name === "preview")).toEqual([]);
    expect(h.fake.get("v1", "Namespace", undefined, "slk-83")?.metadata.annotations?.["preview-bot.dev/head-sha"]).toBe(
      H1,
    );
  });
});
