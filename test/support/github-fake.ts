/**
 * A stateful GitHub REST API on nock, for end-to-end tests of the bot: what the runner reads (pull request, config,
 * tarball at a SHA, permissions) comes from `state`; what the bot writes (check runs, deployments and their
 * statuses, comments, reactions) is recorded and also reflected back on later reads (a comment created by the bot is
 * listed on the next run, so the sticky comment can be found and edited). Payload shapes come from
 * @octokit/webhooks-examples where one exists.
 */
import { createHmac } from "node:crypto";
import { createRequire } from "node:module";
import nock from "nock";
import { ProbotOctokit } from "probot";

export const GITHUB_API = "https://api.github.com";
const require = createRequire(import.meta.url);

interface ExampleGroup {
  name: string;
  examples: Array<Record<string, unknown> & { action?: string }>;
}
const EXAMPLES = require("@octokit/webhooks-examples") as ExampleGroup[];

/** A real example payload of `event` with `action` (first one carrying an installation), deep-copied. */
export function examplePayload(event: string, action: string): Record<string, any> {
  const group = EXAMPLES.find((g) => g.name === event);
  const candidates = group?.examples.filter((e) => e.action === action) ?? [];
  const found = candidates.find((e) => "installation" in e) ?? candidates[0];
  if (!found) throw new Error(`no @octokit/webhooks-examples payload for ${event}.${action}`);
  return structuredClone(found) as Record<string, any>;
}

/**
 * The Octokit class to hand a Probot instance (`startServer({ Octokit })`) in tests: retries and throttling off.
 * An object default (`ProbotOctokit.defaults({ throttle: { enabled: false } })`) is not enough there: Probot layers
 * its own throttle options over it (shallow), the throttling plugin falls back to enabled, and every write waits
 * ~1 s (comments ~3 s). A function default sees Probot's options and switches throttling off after them.
 */
export const ProbotTestOctokit = ProbotOctokit.defaults((options: Record<string, any> = {}) => ({
  ...options,
  retry: { ...options.retry, enabled: false },
  throttle: { ...options.throttle, enabled: false },
}));

export function signPayload(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** POST a signed delivery to the bot's webhook endpoint, as GitHub does. */
export async function deliver(baseUrl: string, secret: string, event: string, payload: unknown, id = crypto.randomUUID(), signature?: string): Promise<Response> {
  const body = JSON.stringify(payload);
  return fetch(`${baseUrl}/api/github/webhooks`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": id,
      "x-hub-signature-256": signature ?? signPayload(secret, body),
      "user-agent": "GitHub-Hookshot/test",
    },
    body,
  });
}

export interface FakePull {
  number: number;
  title: string;
  branch: string;
  sha: string;
  state: "open" | "closed";
  fork: boolean;
  draft: boolean;
  labels: string[];
  author: string;
  files: string[];
}

export interface Recorded {
  method: string;
  path: string;
  body: any;
}

export interface FakeGitHubState {
  owner: string;
  repo: string;
  defaultBranch: string;
  /** `.github/preview.yml` on the default branch (undefined → 404, not enrolled). */
  config?: string;
  /** When set, reads of `.github/preview.yml` fail with this HTTP status (e.g. 500): a failure that is not "absent". */
  configError?: number;
  /** The config as a PR's head commit has it, by SHA (PRs that edit the file). */
  configAt: Map<string, string>;
  pulls: Map<number, FakePull>;
  /** tar.gz of the repository at a SHA. */
  tarballs: Map<string, Buffer>;
  /** Collaborator role by login. */
  roles: Map<string, string>;
  checkRuns: Array<{ id: number; name: string; head_sha: string; status: string; conclusion?: string | null; output?: any; details_url?: string; external_id?: string }>;
  deployments: Array<{ id: number; environment: string; sha: string; ref: string; payload: any; statuses: any[] }>;
  comments: Array<{ id: number; issue: number; body: string; user: { login: string; type: string } }>;
  reactions: Array<{ commentId: number; content: string }>;
  /** Workflow runs created by dispatches; each completes with `e2eConclusion` after `e2ePolls` listings. */
  workflowRuns: Array<{ id: number; workflow: string; head_branch: string; head_sha: string; status: string; conclusion: string | null; html_url: string; inputs: Record<string, string>; polls: number }>;
  e2eConclusion: string;
  e2ePolls: number;
  writes: Recorded[];
}

const BOT = { login: "preview-bot[bot]", type: "Bot", id: 99 };

type Reply = [number, string | Buffer, Record<string, string>?];

/** nock 15 hands reply functions the (fetch) Request; give ours the path with query and the parsed JSON body. */
function handleAt(prefix: string, fn: (uri: string, body: any) => Reply): (req: Request) => Promise<Reply> {
  return async (req: Request) => {
    const url = new URL(req.url);
    const text = req.method === "GET" || req.method === "HEAD" ? "" : await req.text();
    return fn(`${url.pathname.slice(prefix.length)}${url.search}`, text ? JSON.parse(text) : undefined);
  };
}

export function fakeGitHub(init: { owner: string; repo: string; installationId: number; config?: string; /** GitHub Enterprise Server: `https://ghe.example.com/api/v3` */ api?: string }) {
  const api = new URL(init.api ?? GITHUB_API);
  const prefix = api.pathname.replace(/\/+$/, "");
  /** Route patterns are written for api.github.com; under GHE they sit below /api/v3. */
  const rx = (re: RegExp) => new RegExp(`^${prefix.replace(/\//g, "\\/")}${re.source.slice(1)}`);
  const handle = (fn: (uri: string, body: any) => Reply) => handleAt(prefix, fn);
  const state: FakeGitHubState = {
    owner: init.owner,
    repo: init.repo,
    defaultBranch: "main",
    ...(init.config !== undefined ? { config: init.config } : {}),
    configAt: new Map(),
    pulls: new Map(),
    tarballs: new Map(),
    roles: new Map(),
    checkRuns: [],
    deployments: [],
    comments: [],
    reactions: [],
    workflowRuns: [],
    e2eConclusion: "success",
    e2ePolls: 2,
    writes: [],
  };
  let nextId = 1000;
  const repoPath = `/repos/${state.owner}/${state.repo}`;
  const full = `${state.owner}/${state.repo}`;
  const record = (method: string, path: string, body: unknown) => state.writes.push({ method, path: path.split("?")[0]!, body });
  const json = (status: number, body: unknown): Reply => [status, JSON.stringify(body), { "content-type": "application/json" }];
  const notFound = () => json(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });

  function pullJson(p: FakePull) {
    const example = examplePayload("pull_request", "opened").pull_request;
    const repo = { ...example.base.repo, name: state.repo, full_name: full, owner: { ...example.base.repo.owner, login: state.owner } };
    return {
      ...example,
      number: p.number,
      title: p.title,
      state: p.state,
      draft: p.draft,
      html_url: `https://github.com/${full}/pull/${p.number}`,
      labels: p.labels.map((name, i) => ({ id: i + 1, name })),
      user: { ...example.user, login: p.author },
      head: { ...example.head, ref: p.branch, sha: p.sha, repo: p.fork ? { ...repo, full_name: `${p.author}/${state.repo}`, owner: { ...repo.owner, login: p.author } } : repo },
      base: { ...example.base, ref: state.defaultBranch, repo },
    };
  }

  const scope = nock(api.origin)
    .persist()
    .post(rx(/^\/app\/installations\/\d+\/access_tokens$/))
    .reply(handle(() => json(201, { token: "ghs_fakeinstallationtoken0000000000000000", expires_at: new Date(Date.now() + 3_600_000).toISOString(), permissions: {}, repository_selection: "all" })))
    .get(`${prefix}${repoPath}/installation`)
    .reply(200, { id: init.installationId })
    .get(rx(/^\/repos\/[^/]+\/[^/]+\/pulls\/\d+$/))
    .reply(handle((uri) => {
      const p = state.pulls.get(Number(uri.split("/").pop()));
      return p ? json(200, pullJson(p)) : notFound();
    }))
    .get(rx(/^\/repos\/[^/]+\/[^/]+\/pulls\/\d+\/files/))
    .reply(handle((uri) => {
      const p = state.pulls.get(Number(uri.split("/")[5]));
      return json(200, (p?.files ?? []).map((filename) => ({ filename, status: "modified" })));
    }))
    .get(rx(/^\/repos\/[^/]+\/[^/]+\/contents\/\.github(%2F|\/)preview\.yml/))
    .reply(handle((uri) => {
      if (state.configError) return json(state.configError, { message: "Server Error" });
      const ref = new URL(uri, GITHUB_API).searchParams.get("ref");
      const text = ref ? (state.configAt.get(ref) ?? state.config) : state.config;
      return text === undefined ? notFound() : [200, text, { "content-type": "application/vnd.github.raw" }];
    }))
    .get(rx(/^\/repos\/[^/]+\/[^/]+\/tarball\/[0-9a-f]+$/))
    .reply(handle((uri) => {
      const tar = state.tarballs.get(uri.split("/").pop()!);
      return tar ? [200, tar, { "content-type": "application/x-gzip" }] : notFound();
    }))
    .get(rx(/^\/repos\/[^/]+\/[^/]+\/collaborators\/[^/]+\/permission$/))
    .reply(handle((uri) => {
      const login = decodeURIComponent(uri.split("/")[5]!);
      const role = state.roles.get(login);
      return role ? json(200, { permission: role === "maintain" ? "write" : role, role_name: role, user: { login } }) : notFound();
    }))
    // check runs
    .get(rx(/^\/repos\/[^/]+\/[^/]+\/commits\/[0-9a-f]+\/check-runs/))
    .reply(handle((uri) => {
      const url = new URL(uri, GITHUB_API);
      const sha = url.pathname.split("/")[5];
      const name = url.searchParams.get("check_name");
      const runs = state.checkRuns.filter((r) => r.head_sha === sha && (!name || r.name === name));
      return json(200, { total_count: runs.length, check_runs: runs });
    }))
    .post(`${prefix}${repoPath}/check-runs`)
    .reply(handle((uri, body) => {
      record("POST", uri, body);
      const b = body as any;
      const run = { id: ++nextId, name: b.name, head_sha: b.head_sha, status: b.status ?? "queued", conclusion: b.conclusion ?? null, output: b.output, details_url: b.details_url, external_id: b.external_id, html_url: `https://github.com/${full}/runs/${nextId}` };
      state.checkRuns.push(run);
      return json(201, run);
    }))
    .patch(rx(/^\/repos\/[^/]+\/[^/]+\/check-runs\/\d+$/))
    .reply(handle((uri, body) => {
      record("PATCH", uri, body);
      const run = state.checkRuns.find((r) => r.id === Number(uri.split("/").pop()));
      if (!run) return notFound();
      Object.assign(run, body as object);
      return json(200, run);
    }))
    .post(rx(/^\/repos\/[^/]+\/[^/]+\/actions\/workflows\/[^/]+\/dispatches$/))
    .reply(handle((uri, body) => {
      record("POST", uri, body);
      const workflow = decodeURIComponent(uri.split("/")[6]!);
      const pullForRef = [...state.pulls.values()].find((p) => p.branch === body.ref);
      if (!pullForRef) return json(422, { message: `No ref found for: ${body.ref}` });
      const id = ++nextId;
      state.workflowRuns.push({ id, workflow, head_branch: body.ref, head_sha: pullForRef.sha, status: "queued", conclusion: null, html_url: `https://github.com/${full}/actions/runs/${id}`, inputs: body.inputs ?? {}, polls: 0 });
      return [204, ""];
    }))
    .get(rx(/^\/repos\/[^/]+\/[^/]+\/actions\/workflows\/[^/]+\/runs/))
    .reply(handle((uri) => {
      const url = new URL(uri, GITHUB_API);
      const workflow = decodeURIComponent(url.pathname.split("/")[6]!);
      const branch = url.searchParams.get("branch");
      const runs = state.workflowRuns.filter((r) => r.workflow === workflow && (!branch || r.head_branch === branch));
      for (const r of runs) {
        if (r.status === "completed") continue;
        r.polls++;
        r.status = r.polls >= state.e2ePolls ? "completed" : "in_progress";
        if (r.status === "completed") r.conclusion = state.e2eConclusion;
      }
      return json(200, { total_count: runs.length, workflow_runs: runs.map(({ polls, inputs, ...r }) => r) });
    }))
    .get(rx(/^\/repos\/[^/]+\/[^/]+\/actions\/runs/))
    .reply(200, { total_count: 0, workflow_runs: [] })
    // deployments
    .get(rx(/^\/repos\/[^/]+\/[^/]+\/deployments(\?.*)?$/))
    .reply(handle((uri) => {
      const url = new URL(uri, GITHUB_API);
      const env = url.searchParams.get("environment");
      const sha = url.searchParams.get("sha");
      return json(200, state.deployments.filter((d) => (!env || d.environment === env) && (!sha || d.sha === sha)).map(({ statuses, ...d }) => d).reverse());
    }))
    .post(`${prefix}${repoPath}/deployments`)
    .reply(handle((uri, body) => {
      record("POST", uri, body);
      const b = body as any;
      const d = { id: ++nextId, environment: b.environment, sha: b.ref, ref: b.ref, payload: b.payload ?? {}, transient_environment: b.transient_environment, production_environment: b.production_environment, statuses: [] };
      state.deployments.push(d);
      return json(201, d);
    }))
    .post(rx(/^\/repos\/[^/]+\/[^/]+\/deployments\/\d+\/statuses$/))
    .reply(handle((uri, body) => {
      record("POST", uri, body);
      const d = state.deployments.find((x) => x.id === Number(uri.split("/")[5]));
      if (!d) return notFound();
      const status = { id: ++nextId, ...(body as object) };
      d.statuses.push(status);
      return json(201, status);
    }))
    // comments
    .get(rx(/^\/repos\/[^/]+\/[^/]+\/issues\/\d+\/comments/))
    .reply(handle((uri) => {
      const issue = Number(new URL(uri, GITHUB_API).pathname.split("/")[5]);
      return json(200, state.comments.filter((c) => c.issue === issue).map((c) => ({ ...c, html_url: `https://github.com/${full}/pull/${issue}#issuecomment-${c.id}` })));
    }))
    .post(rx(/^\/repos\/[^/]+\/[^/]+\/issues\/\d+\/comments$/))
    .reply(handle((uri, body) => {
      record("POST", uri, body);
      const c = { id: ++nextId, issue: Number(uri.split("/")[5]), body: (body as any).body, user: BOT };
      state.comments.push(c);
      return json(201, c);
    }))
    .patch(rx(/^\/repos\/[^/]+\/[^/]+\/issues\/comments\/\d+$/))
    .reply(handle((uri, body) => {
      record("PATCH", uri, body);
      const c = state.comments.find((x) => x.id === Number(uri.split("/").pop()));
      if (!c) return notFound();
      c.body = (body as any).body;
      return json(200, c);
    }))
    .post(rx(/^\/repos\/[^/]+\/[^/]+\/issues\/comments\/\d+\/reactions$/))
    .reply(handle((uri, body) => {
      record("POST", uri, body);
      state.reactions.push({ commentId: Number(uri.split("/")[6]), content: (body as any).content });
      return json(201, { id: ++nextId, content: (body as any).content });
    }));

  return {
    state,
    scope,
    /** Writes of one kind, e.g. `writes("POST", /\/issues\/\d+\/comments$/)`. */
    writes(method: string, path: RegExp): Recorded[] {
      return state.writes.filter((w) => w.method === method && path.test(w.path));
    },
    /** The bot's sticky comment on a PR, if any. */
    sticky(issue: number) {
      return state.comments.filter((c) => c.issue === issue && c.user.type === "Bot" && c.body.includes("preview-bot:sticky"));
    },
  };
}
