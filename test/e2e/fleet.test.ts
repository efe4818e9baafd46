/**
 * The fleet through the real server (startServer → buildApp) on the real PostgreSQL (DATABASE_URL: durable seats and
 * line) and the fake API server: over the cap a deploy waits and says where it stands (check run, sticky comment,
 * `/preview status`, the Slack directory), a close starts the next in line, and the bot's default expiry applies to a
 * repository without `ttl`, bounded by the bot's max.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { EXPIRES_ANNOTATION } from "../../src/services/shared/labels.js";
import { commentEvent, prEvent, pull, startHarness, OWNER, REPO, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub } from "../support/github-fake.js";
import { createTestDatabase } from "../support/pg-database.js";

const sha = (n: number) => n.toString(16).padStart(40, "0");
const HOUR = 3_600_000;

let h: Harness;
let state: Awaited<ReturnType<typeof createTestDatabase>>;
let gh: ReturnType<typeof fakeGitHub>;

const namespaces = () =>
  [1, 2, 3, 4].filter((n) => h.fake.get("v1", "Namespace", undefined, `cap-${n}`) !== undefined).sort();
const checkRun = (n: number) => gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === sha(n)).at(-1);
const sticky = (n: number) =>
  gh.state.comments.filter((c) => c.issue === n && c.body.includes("preview-bot:sticky")).map((c) => c.body);

beforeAll(async () => {
  state = await createTestDatabase("fleet_e2e");
  h = await startHarness({
    env: {
      DATABASE_URL: state.url,
      PREVIEW_DATABASE_URL: "",
      MAX_PREVIEWS: "2",
      PREVIEW_DEFAULT_TTL: "2h",
      PREVIEW_MAX_TTL: "1d",
    },
  });
  gh = fakeGitHub({
    owner: OWNER,
    repo: REPO,
    installationId: 2,
    config: `manifests: { path: k8s }\nnames: { namespace: "cap-{number}" }\n`,
  });
  gh.state.roles.set("wes-write", "write");
  for (const n of [1, 2, 3, 4]) {
    gh.state.pulls.set(n, pull({ number: n, sha: sha(n), author: n === 4 ? "someone" : OWNER }));
    gh.state.tarballs.set(
      sha(n),
      await h.tarball(sha(n), {
        "k8s/cm.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: app }\ndata: { pr: "${n}" }\n`,
      }),
    );
  }
}, 180_000);

afterAll(async () => {
  await h?.stop();
  await state?.drop();
});

describe("caps with a visible fair line", () => {
  it("runs two previews; the third and fourth wait and say where they stand and why", async () => {
    for (const n of [1, 2, 3, 4])
      expect(await h.send("pull_request", prEvent("opened", gh.state.pulls.get(n)!))).toBe(200);
    expect(namespaces()).toEqual([1, 2]);
    expect(checkRun(1)?.conclusion).toBe("success");
    for (const [n, position] of [
      [3, 1],
      [4, 2],
    ] as const) {
      const run = checkRun(n)!;
      expect(run.status).toBe("queued");
      expect(run.output.title).toMatch(new RegExp(`^Queued: position ${position} of 2\\. Preview-bot runs at most 2`));
      expect(sticky(n).at(-1)).toMatch(new RegExp(`Preview queued[\\s\\S]*position ${position} of 2`));
    }
    // no namespace, deployment or database was made for a waiting deploy
    expect(gh.writes("POST", /\/deployments$/)).toHaveLength(2);
  }, 120_000);

  it("/preview status answers with the place in line; the directory lists the waiting deploys as queued", async () => {
    expect(await h.send("issue_comment", commentEvent("/preview status", "wes-write", { number: 4 }))).toBe(200);
    const reply = gh.state.comments.filter((c) => c.issue === 4 && c.body.includes("@wes-write")).at(-1)!;
    expect(reply.body).toMatch(/\*\*queued\*\* — position 2 of 2: preview-bot runs at most 2 previews at once/);
    const listed = await h.bot.app!.directory.list({ owner: OWNER, repo: REPO });
    expect(listed.filter((p) => p.state === "queued").map((p) => [p.number, p.queue?.position])).toEqual([
      [3, 1],
      [4, 2],
    ]);
  }, 60_000);

  it("a close frees a seat: the next in line deploys, and the one behind it moves up", async () => {
    gh.state.pulls.set(1, { ...gh.state.pulls.get(1)!, state: "closed" });
    expect(await h.send("pull_request", prEvent("closed", gh.state.pulls.get(1)!))).toBe(200);
    expect(namespaces()).toEqual([2, 3]);
    expect(checkRun(3)?.conclusion).toBe("success");
    // the queued check run of PR 3 was carried on by its deploy, not duplicated
    expect(gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === sha(3))).toHaveLength(1);
    expect(checkRun(4)!.output.title).toMatch(/^Queued: position 1 of 1/);
    expect(sticky(4)).toHaveLength(1); // one sticky comment, edited in place
    expect(sticky(4)[0]).toMatch(/position 1 of 1/);
    expect(sticky(3)[0]).toMatch(/Preview ready/);
  }, 120_000);

  it("a push to a waiting PR concludes the older commit's queued check run; a close before its turn, the newer one's", async () => {
    const before = gh.state.pulls.get(4)!;
    const pushed = "f".repeat(40);
    gh.state.pulls.set(4, { ...before, sha: pushed });
    expect(await h.send("pull_request", prEvent("synchronize", gh.state.pulls.get(4)!))).toBe(200);
    const old = gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === sha(4));
    expect(old.map((r) => [r.status, r.conclusion])).toEqual([["completed", "cancelled"]]);
    expect(old[0]!.output.title).toMatch(/superseded/i);
    const current = () => gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === pushed);
    expect(current().map((r) => r.status)).toEqual(["queued"]);
    expect(current()[0]!.output.title).toMatch(/^Queued: position 1 of 1/);

    gh.state.pulls.set(4, { ...gh.state.pulls.get(4)!, state: "closed" });
    expect(await h.send("pull_request", prEvent("closed", gh.state.pulls.get(4)!))).toBe(200);
    expect(current().map((r) => [r.status, r.conclusion])).toEqual([["completed", "cancelled"]]);
    expect(await h.bot.app!.directory.list({ owner: OWNER, repo: REPO })).not.toContainEqual(
      expect.objectContaining({ number: 4 }),
    );
  }, 120_000);

  it("sets the bot's default expiry where the repository sets no ttl", async () => {
    const expires = Date.parse(
      (h.fake.get("v1", "Namespace", undefined, "cap-3") as any).metadata.annotations[EXPIRES_ANNOTATION],
    );
    expect(expires).toBeGreaterThan(Date.now() + 1.5 * HOUR);
    expect(expires).toBeLessThanOrEqual(Date.now() + 2 * HOUR);
  });

  it("keeps an extension within the bot's max expiry", async () => {
    expect(await h.send("issue_comment", commentEvent("/preview extend 1w", "wes-write", { number: 2 }))).toBe(200);
    const reply = gh.state.comments.filter((c) => c.issue === 2 && c.body.includes("@wes-write")).at(-1)!;
    expect(reply.body).toMatch(/preview-bot keeps a preview at most 1d from now/);
    const expires = Date.parse(
      (h.fake.get("v1", "Namespace", undefined, "cap-2") as any).metadata.annotations[EXPIRES_ANNOTATION],
    );
    expect(expires).toBeLessThanOrEqual(Date.now() + 24 * HOUR);
    expect(expires).toBeGreaterThan(Date.now() + 23 * HOUR);
  }, 60_000);

  it("a teardown concludes a queued check run a deploy left when it took its seat and then found its PR closed", async () => {
    // What such a deploy leaves (the soak found it, SOAK_SEED=777001): its queued check run, no longer in the line,
    // so no withdrawal concludes it; the PR's close is the last word.
    const before = checkRun(3)!;
    gh.state.checkRuns.push({
      ...before,
      id: 990_001,
      status: "queued",
      conclusion: null,
      completed_at: null,
      output: { title: "Queued: position 1 of 1", summary: "" },
    });
    gh.state.pulls.set(3, { ...gh.state.pulls.get(3)!, state: "closed" });
    expect(await h.send("pull_request", prEvent("closed", gh.state.pulls.get(3)!))).toBe(200);
    expect(namespaces()).toEqual([2]);
    const runs = gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === sha(3));
    expect(runs.map((r) => [r.id === 990_001, r.status, r.conclusion])).toEqual([
      [false, "completed", "success"],
      [true, "completed", "cancelled"],
    ]);
  }, 120_000);

  it("a deploy started from the line concludes its queued check run when it deploys another commit, or nothing", async () => {
    // SOAK_SEED=777001 at 50 lifecycles: a deploy leaves the line for its seat, and its job then runs at another head
    // (the push that moved it was lost: no webhook replaced its place in line) or at none (a fork's reviewed commit is
    // no longer the head: a fork's push does not deploy). Its queued check run is at the commit it waited with; no
    // withdrawal (it left the line) or teardown (it concludes the head's only) would ever conclude it.
    gh.state.roles.set("mo-maintain", "maintain");
    const [s5, s6, s6b, s7, s7b] = ["5", "6", "b6", "7", "a7"].map((c) => c.repeat(40 / c.length)) as [
      string,
      string,
      string,
      string,
      string,
    ];
    const tar = (s: string) =>
      h.tarball(s, {
        "k8s/cm.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: app }\ndata: { sha: "${s}" }\n`,
      });
    gh.state.pulls.set(5, pull({ number: 5, sha: s5 }));
    gh.state.pulls.set(6, pull({ number: 6, sha: s6 }));
    gh.state.pulls.set(7, pull({ number: 7, sha: s7, fork: true, author: "forker" }));
    for (const s of [s5, s6, s6b, s7, s7b]) gh.state.tarballs.set(s, await tar(s));
    const runsAt = (s: string) =>
      gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === s).map((r) => [r.status, r.conclusion]);

    // PR 2 and PR 5 hold the seats; PR 6 and the fork's reviewed commit wait.
    expect(await h.send("pull_request", prEvent("opened", gh.state.pulls.get(5)!))).toBe(200);
    expect(await h.send("pull_request", prEvent("opened", gh.state.pulls.get(6)!))).toBe(200);
    expect(await h.send("issue_comment", commentEvent(`/preview deploy ${s7}`, "mo-maintain", { number: 7 }))).toBe(
      200,
    );
    expect(runsAt(s6)).toEqual([["queued", null]]);
    expect(runsAt(s7)).toEqual([["queued", null]]);
    // Both heads move on; GitHub's push to PR 6 never reaches the bot, the fork's is not a deploy.
    gh.state.pulls.set(6, { ...gh.state.pulls.get(6)!, sha: s6b });
    gh.state.pulls.set(7, { ...gh.state.pulls.get(7)!, sha: s7b });
    expect(await h.send("pull_request", prEvent("synchronize", gh.state.pulls.get(7)!))).toBe(200);

    gh.state.pulls.set(5, { ...gh.state.pulls.get(5)!, state: "closed" });
    expect(await h.send("pull_request", prEvent("closed", gh.state.pulls.get(5)!))).toBe(200);
    expect(runsAt(s6b)).toEqual([["completed", "success"]]);
    expect(runsAt(s6)).toEqual([["completed", "cancelled"]]);

    gh.state.pulls.set(2, { ...gh.state.pulls.get(2)!, state: "closed" });
    expect(await h.send("pull_request", prEvent("closed", gh.state.pulls.get(2)!))).toBe(200);
    expect(runsAt(s7)).toEqual([["completed", "cancelled"]]);
    expect(runsAt(s7b)).toEqual([]);
    expect(h.fake.get("v1", "Namespace", undefined, "cap-7")).toBeUndefined();
  }, 180_000);
});
