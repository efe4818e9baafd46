/**
 * Fork PRs through the real server (signed `pull_request` and `issue_comment` deliveries → Probot → the comment job →
 * the queue → the runner, the fake Kubernetes API, GitHub on the fake): the reviewed commit, and only that.
 *
 * A maintainer's `/preview deploy` deploys the head as of the comment, while it is still the head. A push that races
 * the comment is refused, whether it lands before the comment job runs, in the comment's own second (GitHub's clock
 * cannot order them), or between the comment job and the deploy; a force-push back to an older, unreviewed commit is
 * refused though that commit was seen before; a head nothing records is refused with the way out (`/preview deploy
 * <sha>`); a push never deploys by itself; retries (the durable queue) and the sweeper never move a fork preview; no
 * backup-target data and no E2E dispatch for forks.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
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
import { createTestDatabase } from "../support/pg-database.js";

const sha = (c: string) => c.repeat(40);
const H1 = sha("1");
const H2 = sha("2");
const H3 = sha("3");
const H4 = sha("4");
const MINUTE = 60_000;
const T0 = Date.now() - 60 * MINUTE;
const at = (minutes: number) => new Date(T0 + minutes * MINUTE).toISOString();

const CONFIG = `manifests: { path: k8s }\nnames: { namespace: "fork-{number}" }\ne2e: { workflow: e2e.yml }\n`;
const FILES = { "k8s/app.yaml": webApp({ image: "ghcr.io/someone/app:pr" }) };

let h: Harness;
let gh: ReturnType<typeof fakeGitHub>;

function fork(number: number, head: string, over: Partial<FakePull> = {}): FakePull {
  return pull({ number, sha: head, fork: true, author: "someone", branch: `someone-patch-${number}`, ...over });
}

/** A pull_request event as GitHub sends it for a push (or an open) at `when`. */
async function event(action: "opened" | "synchronize", p: FakePull, when: string): Promise<void> {
  gh.state.pulls.set(p.number, p);
  const payload = prEvent(action, p);
  payload.pull_request.updated_at = when;
  payload.pull_request.created_at = action === "opened" ? when : payload.pull_request.created_at;
  expect(await h.send("pull_request", payload)).toBe(200);
}

/** A comment written at `when` (its delivery may come later), delivered and run to the end. */
async function comment(body: string, number: number, when: string, login = "mia-maintain"): Promise<string[]> {
  const from = gh.state.writes.length;
  const payload = commentEvent(body, login, { number });
  payload.comment.created_at = when;
  expect(await h.send("issue_comment", payload)).toBe(200);
  return gh.state.writes
    .slice(from)
    .filter((w) => w.method === "POST" && /\/issues\/\d+\/comments$/.test(w.path))
    .map((w) => String(w.body.body))
    .filter((b) => !b.includes("preview-bot:sticky"));
}

const previewRuns = (head: string, number?: number) =>
  gh.state.checkRuns.filter(
    (r) =>
      r.name === "preview" && r.head_sha === head && (number === undefined || r.external_id?.endsWith(`#${number}`)),
  );
const deployedSha = (number: number) =>
  h.fake.get("v1", "Namespace", undefined, `fork-${number}`)?.metadata.annotations?.["preview-bot.dev/head-sha"];

async function enroll(): Promise<void> {
  gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: CONFIG });
  for (const [login, role] of Object.entries({ "mia-maintain": "maintain", someone: "read" }))
    gh.state.roles.set(login, role);
  for (const head of [H1, H2, H3, H4]) gh.state.tarballs.set(head, await h.tarball(head, FILES));
}

describe("the reviewed commit, and only that", () => {
  beforeAll(async () => {
    h = await startHarness();
    await enroll();
  });
  afterAll(async () => h?.stop());

  it("deploys exactly the head a maintainer's comment was written for, without dispatching E2E for the fork", async () => {
    await event("opened", fork(61, H1), at(0));
    expect(previewRuns(H1)).toEqual([]); // a fork never deploys on its own
    expect(await comment("/preview deploy", 61, at(1))).toEqual([]);
    expect(previewRuns(H1).map((r) => r.conclusion)).toEqual(["success"]);
    expect(deployedSha(61)).toBe(H1);
    expect(JSON.stringify(previewRuns(H1)[0]!.output)).toMatch(
      /E2E tests \| ⏭️ \|.*not dispatched for a pull request from a fork/,
    );
    expect(gh.writes("POST", /\/dispatches$/)).toEqual([]);
  });

  it("a push to the fork PR never deploys by itself", async () => {
    await event("synchronize", fork(61, H2), at(5));
    expect(previewRuns(H2)).toEqual([]);
    expect(deployedSha(61)).toBe(H1);
  });

  it("refuses a comment written before the push it would deploy: the head moved after it", async () => {
    // Written at minute 3, delivered after the push of minute 5.
    expect(await comment("/preview deploy", 61, at(3))).toEqual([
      "@mia-maintain the pull request's head moved after your comment, so nothing was deployed. To deploy exactly the head, review it and ask again naming it: `/preview deploy 2222222`.",
    ]);
    expect(previewRuns(H2)).toEqual([]);
    expect(deployedSha(61)).toBe(H1);
  });

  it("refuses when the head moves between the accepted comment and the deploy job", async () => {
    // The comment job reads the PR once; the deploy job's read is held while someone pushes H3.
    const held = gh.hold("GET", /\/pulls\/61$/, 1);
    const delivered = comment("/preview deploy", 61, at(6));
    await held.reached;
    gh.state.pulls.set(61, fork(61, H3));
    held.release();
    expect(await delivered).toEqual([
      "@mia-maintain Nothing was deployed: the PR moved to `3333333`; review and deploy again.",
    ]);
    expect(previewRuns(H2)).toEqual([]);
    expect(previewRuns(H3)).toEqual([]);
    expect(deployedSha(61)).toBe(H1);
  });

  it("refuses a head nothing records, and deploys it when the maintainer names it", async () => {
    gh.state.pulls.set(62, fork(62, H4)); // its events were never seen (a lost delivery, a restart)
    const [refusal] = await comment("/preview deploy", 62, at(20));
    expect(refusal).toMatch(
      /I have no record of its head `4444444` before your comment, so nothing was deployed\. To deploy exactly the head, review it and ask again naming it: `\/preview deploy 4444444`/,
    );
    expect(previewRuns(H4)).toEqual([]);
    expect(await comment("/preview deploy 1111111", 62, at(21))).toEqual([
      expect.stringMatching(/`1111111` is not the head of this pull request \(the head is `4444444`\)/),
    ]);
    expect(await comment("/preview deploy 4444444", 62, at(22))).toEqual([]);
    expect(previewRuns(H4).map((r) => r.conclusion)).toEqual(["success"]);
    expect(deployedSha(62)).toBe(H4);
  });

  it("never lets a check suite alone vouch for a head: a first sighting says nothing of a force-push back", async () => {
    gh.state.pulls.set(63, fork(63, H2));
    gh.state.checkSuites.push({ id: 7, head_sha: H2, created_at: at(30) });
    for (const minute of [29, 30, 31])
      expect(await comment("/preview deploy", 63, at(minute))).toEqual([
        expect.stringMatching(/no record of its head `2222222` before your comment, so nothing was deployed/),
      ]);
    expect(deployedSha(63)).toBeUndefined();
  });

  it("black box: a push in the same second as the command is not deployed", async () => {
    await event("opened", fork(71, H1), at(40));
    // The maintainer comments at 41:00.000; the fork pushes H2 at 41:00.001 (GitHub's clock has whole seconds).
    const second = at(41);
    await event("synchronize", fork(71, H2), second);
    expect(await comment("/preview deploy", 71, second)).toEqual([
      expect.stringMatching(
        /head changed in the same second as your comment, so I cannot tell which commit you reviewed; nothing was deployed/,
      ),
    ]);
    expect(previewRuns(H1, 71)).toEqual([]);
    expect(previewRuns(H2, 71)).toEqual([]);
    expect(deployedSha(71)).toBeUndefined();
  });

  it("black box: a force-push back to an older, unreviewed commit after the command is not deployed", async () => {
    // H3 was the head first (never reviewed), then H4; the maintainer reviews H4 and comments; the fork force-pushes H3
    // back before the comment job runs. H3 was seen before the comment, but not as the head at the comment's time.
    await event("opened", fork(72, H3), at(50));
    await event("synchronize", fork(72, H4), at(51));
    await event("synchronize", fork(72, H3), at(53));
    expect(await comment("/preview deploy", 72, at(52))).toEqual([
      expect.stringMatching(/head moved after your comment, so nothing was deployed/),
    ]);
    expect(previewRuns(H3, 72)).toEqual([]);
    expect(deployedSha(72)).toBeUndefined();
  });

  it("black box: the reviewed head is deployed", async () => {
    await event("opened", fork(73, H3), at(56));
    await event("synchronize", fork(73, H4), at(57));
    expect(await comment("/preview deploy", 73, at(58))).toEqual([]);
    expect(previewRuns(H4, 73).map((r) => r.conclusion)).toContain("success");
    expect(deployedSha(73)).toBe(H4);
  });

  it("the sweeper never moves a fork preview to a newer commit", async () => {
    gh.state.pulls.set(61, fork(61, H3)); // the preview runs H1; the head is H3
    const before = gh.state.checkRuns.length;
    const result = await h.bot.app!.sweeper.sweep();
    await h.bot.app!.idle();
    expect(result.errors).toEqual([]);
    expect(gh.state.checkRuns.length).toBe(before);
    expect(deployedSha(61)).toBe(H1);
  });

  it("gives a fork PR no data from a backup target: the database starts empty and the check run says why", async () => {
    gh.state.config = `manifests: { path: k8s }\nnames: { namespace: "fork-{number}" }\ndatabase: { enabled: true, seedFrom: shop }\n`;
    await event("opened", fork(64, H1), at(40));
    expect(await comment("/preview deploy", 64, at(41))).toEqual([]);
    const run = previewRuns(H1).find((r) => r.external_id?.endsWith("#64"))!;
    expect(run.conclusion).toBe("success");
    expect(JSON.stringify(run.output)).toMatch(
      /not seeded from \\"shop\\": a pull request from a fork gets no backup data/,
    );
    // The same config on a branch of the repository does seed (and here fails: this bot has no backup storage).
    gh.state.pulls.set(65, pull({ number: 65, sha: H1 }));
    await h.send("pull_request", prEvent("opened", gh.state.pulls.get(65)!));
    const branchRun = previewRuns(H1).find((r) => r.external_id?.endsWith("#65"))!;
    expect(branchRun.conclusion).toBe("failure");
    expect(JSON.stringify(branchRun.output)).toMatch(
      /database\.seedFrom is \\"shop\\", but preview-bot has no backup storage/,
    );
    gh.state.config = CONFIG;
  });
});

describe("retries never move a fork preview", () => {
  let state: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    if (!nock.isActive()) nock.activate(); // the previous harness's stop() restored nock
    state = await createTestDatabase("doors_fork_retry");
    h = await startHarness({ env: { DATABASE_URL: state.url } });
    await enroll();
  }, 60_000);
  afterAll(async () => {
    await h?.stop();
    await state?.drop();
  });

  it("a transient failure is retried on the reviewed commit; when the head has moved meanwhile, the retry refuses", async () => {
    await event("opened", fork(71, H1), at(0));
    let failed = 0;
    h.fake.setFaults((req) => {
      if (req.method !== "PATCH" || !req.path.includes("/namespaces/fork-71/deployments") || failed++ > 0)
        return undefined;
      gh.state.pulls.set(71, fork(71, H2)); // a push lands while the first attempt fails
      return 503;
    });
    try {
      const replies = await comment("/preview deploy", 71, at(1));
      expect(replies).toEqual([
        "@mia-maintain Nothing was deployed: the PR moved to `2222222`; review and deploy again.",
      ]);
    } finally {
      h.fake.setFaults(undefined);
    }
    expect(failed).toBeGreaterThanOrEqual(1);
    expect(previewRuns(H1).map((r) => r.conclusion)).toEqual(["failure"]); // the first attempt, reported as retrying
    expect(JSON.stringify(previewRuns(H1)[0]!.output)).toMatch(/transient error: retrying/);
    expect(previewRuns(H2)).toEqual([]);
    expect(gh.state.writes.some((w) => w.path.includes(`/tarball/${H2}`))).toBe(false);
  }, 60_000);
});
