/**
 * The PR-comment door through the real one-port server: signed `issue_comment` deliveries (real payloads from
 * @octokit/webhooks-examples) → Probot → parse → the `comment` job (authorize with GitHub's collaborator-permission
 * endpoint on the fake GitHub, react, reply) → the intake → queue. The preview jobs are recorded instead of run, so
 * each cell of the matrix shows exactly what the door let through; test/e2e/commands.test.ts runs them for real.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { PREVIEW_JOB } from "../../src/services/shared/dispatch.js";
import type { PreviewJob } from "../../src/services/shared/dispatch.js";
import { commentEvent as realComment, prEvent, startHarness, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub, type FakePull } from "../support/github-fake.js";

const OWNER = "octo-door";
const REPO = "shop";
const INSTALLATION = 31;
const PR = 21;
const FORK_PR = 22;
const FORK_SHA = "f".repeat(40);
const DAY = 86_400_000;

let h: Harness;
let gh: ReturnType<typeof fakeGitHub>;
/** Jobs that reached the queue (recorded, not run). */
const jobs: PreviewJob[] = [];
/** Every GitHub API request the bot made, as `METHOD /path`. */
const calls: string[] = [];

interface Commenter {
  login: string;
  type?: "User" | "Bot";
}

function commentEvent(
  body: string,
  who: Commenter,
  opts: { number?: number; onIssue?: boolean } = {},
): Record<string, any> {
  const event = realComment(body, who.login, {
    owner: OWNER,
    repo: REPO,
    number: opts.number ?? PR,
    installationId: INSTALLATION,
    ...(who.type ? { type: who.type } : {}),
    ...(opts.onIssue ? { onIssue: true } : {}),
  });
  event.comment.created_at = new Date().toISOString(); // written now (the example payload's date is years old)
  return event;
}

const send = (payload: Record<string, any>, id?: ReturnType<typeof crypto.randomUUID>) =>
  h.send("issue_comment", payload, id);

function pull(overrides: Partial<FakePull> = {}): FakePull {
  return {
    number: PR,
    title: "Checkout flow",
    branch: "feature/checkout",
    sha: "a".repeat(40),
    state: "open",
    fork: false,
    draft: false,
    labels: [],
    author: "wes-write",
    files: ["src/app.ts"],
    ...overrides,
  };
}

/** What happened in GitHub and on the queue since `mark()`. */
function mark() {
  const writes = gh.state.writes.length;
  const jobCount = jobs.length;
  const callCount = calls.length;
  return {
    writes: () => gh.state.writes.slice(writes),
    replies: () =>
      gh.state.writes.slice(writes).filter((w) => w.method === "POST" && /\/issues\/\d+\/comments$/.test(w.path)),
    jobs: () => jobs.slice(jobCount),
    calls: () => calls.slice(callCount),
  };
}

beforeAll(async () => {
  h = await startHarness({ env: { PREVIEW_DATABASE_URL: "" } });
  gh = fakeGitHub({
    owner: OWNER,
    repo: REPO,
    installationId: INSTALLATION,
    config: "manifests:\n  path: deploy\ntrigger:\n  on: command\n",
  });
  gh.scope.on("request", (req: Request) => calls.push(`${req.method} ${new URL(req.url).pathname}`));
  gh.state.pulls.set(PR, pull());
  gh.state.pulls.set(FORK_PR, pull({ number: FORK_PR, fork: true, author: "forky", sha: FORK_SHA }));
  // The fork's head arrived long before any comment here: its check suite dates it, and the bot saw the PR open.
  gh.state.checkSuites.push({ id: 1, head_sha: FORK_SHA, created_at: "2026-01-01T00:00:00Z" });
  for (const [login, role] of Object.entries({
    "ada-admin": "admin",
    "mia-maintain": "maintain",
    "wes-write": "write",
    "rita-read": "read",
    forky: "write",
    "ci-helper": "admin",
    "renovate[bot]": "admin",
  })) {
    gh.state.roles.set(login, role);
  }
  h.bot.app!.queue.register<PreviewJob>(PREVIEW_JOB, async (job) => {
    jobs.push(job.payload);
  });
  const opened = prEvent("opened", gh.state.pulls.get(FORK_PR)!, { owner: OWNER, repo: REPO });
  opened.installation = { id: INSTALLATION, node_id: "x" };
  opened.pull_request.updated_at = "2026-01-01T00:00:05Z";
  expect(await h.send("pull_request", opened)).toBe(200);
});

afterAll(async () => h?.stop());

beforeEach(() => {
  delete gh.state.configError;
});

type Outcome = "job" | "refused" | "help" | "ignored";
const COMMANDS = ["deploy", "redeploy", "destroy", "status", "extend 3d", "backup", "help"] as const;

/** Who may do what, as a user of the bot would read it (J = runs, R = refused politely, H = help, - = ignored). */
const MATRIX: Array<{ who: string; commenter: Commenter; number: number; cells: string }> = [
  //                                                                          deploy redeploy destroy status extend backup help
  { who: "admin", commenter: { login: "ada-admin" }, number: PR, cells: "J J J J J J H" },
  { who: "maintainer", commenter: { login: "mia-maintain" }, number: PR, cells: "J J J J J J H" },
  { who: "writer", commenter: { login: "wes-write" }, number: PR, cells: "J J R J J J H" },
  { who: "reader", commenter: { login: "rita-read" }, number: PR, cells: "R R R J R R H" },
  { who: "non-collaborator (404)", commenter: { login: "nobody-here" }, number: PR, cells: "R R R R R R H" },
  { who: "fork PR's author with write", commenter: { login: "forky" }, number: FORK_PR, cells: "R R R J J J H" },
  { who: "maintainer on a fork PR", commenter: { login: "mia-maintain" }, number: FORK_PR, cells: "J J J J J J H" },
  { who: "bot (type Bot)", commenter: { login: "ci-helper", type: "Bot" }, number: PR, cells: "- - - - - - -" },
  { who: "bot ([bot] login)", commenter: { login: "renovate[bot]" }, number: PR, cells: "- - - - - - -" },
];
const CODE: Record<string, Outcome> = { J: "job", R: "refused", H: "help", "-": "ignored" };
const CELLS = MATRIX.flatMap((row) =>
  row.cells.split(" ").map((c, i) => ({ ...row, command: COMMANDS[i]!, outcome: CODE[c]! })),
);

describe("authorization matrix through the comment door", () => {
  it.each(CELLS)("$who · /preview $command → $outcome", async ({ commenter, number, command, outcome }) => {
    const since = mark();
    // What GitHub must see (checked after the test: scope.isDone()).
    if (outcome === "job" || outcome === "refused")
      gh.expect("GET", new RegExp(`/collaborators/${commenter.login}/permission$`));
    if (outcome === "job") gh.expect("POST", /\/issues\/comments\/\d+\/reactions$/);
    if (outcome === "job" || outcome === "refused") expect(gh.scope.isDone()).toBe(false);
    const event = commentEvent(`/preview ${command}`, commenter, { number });
    expect(await send(event)).toBe(200);
    const action = command.split(" ")[0]!;

    // Nothing in this file runs a job, so no check run, deployment or namespace may appear whatever the outcome.
    expect(since.writes().filter((w) => !/\/(issues\/\d+\/comments|reactions)$/.test(w.path))).toEqual([]);
    if (outcome === "job") {
      expect(since.jobs()).toHaveLength(1);
      expect(since.jobs()[0]).toMatchObject({
        action,
        owner: OWNER,
        repo: REPO,
        number,
        installationId: INSTALLATION,
        source: "comment",
        trigger: `/preview ${action} by @${commenter.login}`,
      });
      if (action === "extend") expect(since.jobs()[0]!.ttlMs).toBe(3 * DAY);
      // A deploy of a fork PR carries the reviewed commit; others deploy the newest head.
      if (number === FORK_PR && (action === "deploy" || action === "redeploy"))
        expect(since.jobs()[0]!.sha).toBe(FORK_SHA);
      else expect(since.jobs()[0]!.sha).toBeUndefined();
      expect(gh.state.reactions.filter((r) => r.commentId === event.comment.id)).toEqual([
        { commentId: event.comment.id, content: "eyes" },
      ]);
      expect(since.replies()).toEqual([]);
      expect(since.calls()).toContain(
        `GET /repos/${OWNER}/${REPO}/collaborators/${encodeURIComponent(commenter.login)}/permission`,
      );
      return;
    }
    expect(since.jobs()).toEqual([]);
    expect(gh.state.reactions.filter((r) => r.commentId === event.comment.id)).toEqual([]);
    if (outcome === "ignored") {
      expect(since.writes()).toEqual([]);
      expect(since.calls()).toEqual([]);
      return;
    }
    expect(since.replies()).toHaveLength(1);
    const reply = since.replies()[0]!;
    expect(reply.path).toBe(`/repos/${OWNER}/${REPO}/issues/${number}/comments`);
    expect(reply.body.body.startsWith(`@${commenter.login} `)).toBe(true);
    if (outcome === "help") {
      expect(reply.body.body).toContain("preview-bot commands");
    } else {
      expect(reply.body.body).toMatch(/Sorry/);
      expect(reply.body.body).toContain(`\`${action}\``);
      expect(reply.body.body.length).toBeLessThan(200);
    }
  });

  it("tells a fork PR's author that a maintainer has to ask for the deploy", async () => {
    const since = mark();
    await send(commentEvent("/preview deploy", { login: "forky" }, { number: FORK_PR }));
    expect(since.replies()[0]!.body.body).toMatch(/fork.*maintainer/);
  });
});

describe("what the parser decides, through the door", () => {
  it("ignores text not addressed to the bot: no API call at all", async () => {
    const since = mark();
    for (const body of [
      "LGTM, let's /preview deploy after lunch",
      "> /preview deploy\nquoting the above",
      "```\n/preview deploy\n```",
      "/previewdeploy",
    ]) {
      expect(await send(commentEvent(body, { login: "ada-admin" }))).toBe(200);
    }
    expect(since.calls()).toEqual([]);
    expect(since.jobs()).toEqual([]);
  });

  it("answers a bare /preview with the help", async () => {
    const since = mark();
    await send(commentEvent("/preview", { login: "nobody-here" }));
    expect(since.replies()).toHaveLength(1);
    expect(since.replies()[0]!.body.body).toContain("`/preview destroy [--dry-run]`");
    expect(since.jobs()).toEqual([]);
  });

  it('answers a near miss with "did you mean"', async () => {
    const since = mark();
    await send(commentEvent("/preview halp", { login: "wes-write" }));
    await send(commentEvent("/preview deplyo", { login: "wes-write" }));
    expect(since.replies().map((r) => r.body.body.split("\n")[0])).toEqual([
      '@wes-write Unknown command `halp`. Did you mean "/preview help"?',
      '@wes-write Unknown command `deplyo`. Did you mean "/preview deploy"?',
    ]);
    expect(since.jobs()).toEqual([]);
  });

  it("explains a bad duration instead of extending", async () => {
    const since = mark();
    await send(commentEvent("/preview extend forever", { login: "wes-write" }));
    expect(since.replies()[0]!.body.body).toContain("is not a duration");
    expect(since.jobs()).toEqual([]);
  });

  it("passes --dry-run on to the destroy job, and the note under a command does not matter", async () => {
    const since = mark();
    await send(commentEvent("/preview destroy --dry-run\nJust checking what would go.", { login: "mia-maintain" }));
    expect(since.jobs()).toEqual([expect.objectContaining({ action: "destroy", dryRun: true })]);
    expect(since.replies()).toEqual([]);
  });

  it("passes the backup name on to the restore job, and refuses a reader", async () => {
    const since = mark();
    await send(
      commentEvent("/preview restore previews/shop_pr_21/shop_pr_21-20261126T070000000Z.dump", { login: "wes-write" }),
    );
    expect(since.jobs()).toEqual([
      expect.objectContaining({ action: "restore", backup: "previews/shop_pr_21/shop_pr_21-20261126T070000000Z.dump" }),
    ]);
    expect(since.replies()).toEqual([]);
    const later = mark();
    await send(commentEvent("/preview restore latest", { login: "rita-read" }));
    expect(later.jobs()).toEqual([]);
    expect(later.replies()[0]!.body.body).toMatch(/Sorry/);
  });
});

describe("guards", () => {
  it("does nothing for a comment on a plain issue", async () => {
    const since = mark();
    expect(await send(commentEvent("/preview deploy", { login: "ada-admin" }, { onIssue: true }))).toBe(200);
    expect(since.calls()).toEqual([]);
    expect(since.jobs()).toEqual([]);
  });

  it("tells the commenter that a repository without .github/preview.yml is not enrolled", async () => {
    const config = gh.state.config;
    delete gh.state.config;
    try {
      const since = mark();
      await send(commentEvent("/preview deploy", { login: "ada-admin" }));
      expect(since.replies()).toHaveLength(1);
      expect(since.replies()[0]!.body.body).toMatch(
        /^@ada-admin octo-door\/shop is not enrolled: add `\.github\/preview\.yml`/,
      );
      expect(since.jobs()).toEqual([]);
    } finally {
      gh.state.config = config!;
    }
  });

  it("does not call a repository unenrolled when its config cannot be read (GitHub 500): acks, runs nothing, and says so", async () => {
    gh.state.configError = 500;
    const since = mark();
    const status = await send(commentEvent("/preview deploy", { login: "ada-admin" }));
    expect(status).toBe(200); // the door only parses and enqueues: GitHub's trouble is the job's
    expect(since.jobs()).toEqual([]);
    expect(since.writes().map((w) => `${w.method} ${w.path}`)).toEqual([
      `POST /repos/${OWNER}/${REPO}/issues/${PR}/comments`,
    ]);
    expect(since.replies()[0]!.body.body).toMatch(
      /^@ada-admin Sorry, I could not act on `\/preview deploy`: reading \.github\/preview\.yml of octo-door\/shop \(GitHub answered 500\): Server Error\. Please try again\.$/s,
    );
  });

  it("answers a redelivered comment once: one help reply for a redelivered /preview help", async () => {
    const since = mark();
    const event = commentEvent("/preview help", { login: "rita-read" });
    const id = crypto.randomUUID();
    expect(await send(event, id)).toBe(200);
    expect(await send(event, id)).toBe(200);
    expect(since.replies()).toHaveLength(1);
  });

  it("accepts the same delivery once: one job, one reaction", async () => {
    const since = mark();
    const event = commentEvent("/preview redeploy", { login: "wes-write" });
    const id = crypto.randomUUID();
    expect(await send(event, id)).toBe(200);
    expect(await send(event, id)).toBe(200);
    expect(since.jobs()).toHaveLength(1);
    expect(gh.state.reactions.filter((r) => r.commentId === event.comment.id)).toHaveLength(1);
    // A new delivery of a new comment is a new job.
    await send(commentEvent("/preview redeploy", { login: "wes-write" }));
    expect(since.jobs()).toHaveLength(2);
  });
});
