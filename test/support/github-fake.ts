/**
 * A stateful GitHub REST API on nock, for end-to-end tests of the bot: what the runner reads (pull request, config,
 * tarball at a SHA, permissions, check suites) comes from `state`; what the bot writes (check runs, deployments and
 * their statuses, comments, reactions) is recorded and also reflected back on later reads. The routes are in
 * github-fake-routes.ts.
 *
 * Scoped per test, and nothing goes unnoticed: under Jest, the fake's interceptors are installed before each test and
 * removed after it (its state stays, for files that tell one story across tests), and after each test it fails the
 * test when the bot made a GitHub request the fake does not know, got an error answer to a write the test did not
 * ask for (`failNext`), or left an `expect`ed request unmade (`scope.isDone()`). A newer fake for the same API
 * replaces the older one.
 */
import { EventEmitter } from "node:events";
import { createHmac } from "node:crypto";
import { createRequire } from "node:module";
import nock from "nock";
import { ProbotOctokit } from "probot";
import { githubRoutes, pullJson, type Reply, type Route } from "./github-fake-routes.js";

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
export async function deliver(
  baseUrl: string,
  secret: string,
  event: string,
  payload: unknown,
  id = crypto.randomUUID(),
  signature?: string,
): Promise<Response> {
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
  status?: number;
}

export interface FakeCheckRun {
  id: number;
  name: string;
  head_sha: string;
  status: string;
  conclusion?: string | null;
  output?: any;
  details_url?: string;
  external_id?: string;
  html_url?: string;
  app?: { id: number; slug: string };
  started_at?: string;
  completed_at?: string | null;
}

export interface FakeGitHubState {
  owner: string;
  repo: string;
  /** The repository is private (undefined: as the example payloads have it, public). */
  private?: boolean;
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
  /** Check runs of every app (ours carry `app.id` = the fake's appId). */
  checkRuns: FakeCheckRun[];
  /** Check suites by commit: `created_at` is when GitHub saw the commit arrive. */
  checkSuites: Array<{ id: number; head_sha: string; created_at: string; app?: { id: number; slug: string } }>;
  /** Workflow runs of the repository's CI (`GET /actions/runs`), for `trigger.afterChecks`. */
  actionRuns: Array<{
    id: number;
    name: string;
    head_sha: string;
    status: string;
    conclusion: string | null;
    created_at: string;
  }>;
  deployments: Array<{ id: number; environment: string; sha: string; ref: string; payload: any; statuses: any[] }>;
  comments: Array<{
    id: number;
    issue: number;
    body: string;
    user: { login: string; type: string };
    performed_via_github_app?: { id: number; slug: string };
    created_at?: string;
  }>;
  reactions: Array<{ commentId: number; content: string }>;
  /** Workflow runs created by dispatches; each completes with `e2eConclusion` after `e2ePolls` listings. */
  workflowRuns: Array<{
    id: number;
    workflow: string;
    head_branch: string;
    head_sha: string;
    status: string;
    conclusion: string | null;
    html_url: string;
    inputs: Record<string, string>;
    polls: number;
  }>;
  e2eConclusion: string;
  e2ePolls: number;
  writes: Recorded[];
}

export interface FakeGitHubInit {
  owner: string;
  repo: string;
  installationId: number;
  config?: string;
  /** GitHub Enterprise Server: `https://ghe.example.com/api/v3` */
  api?: string;
  /** The GitHub App's id, as the bot's APP_ID (default 123, what the e2e harness uses). */
  appId?: number;
  /** Answer each request after this long (benchmarks: GitHub's latency). */
  latencyMs?: number;
}

/** Live fakes by API origin+prefix: the hooks below install them for each test. */
const LIVE = new Map<string, FakeGitHub>();

export type FakeGitHub = ReturnType<typeof fakeGitHub>;

export function fakeGitHub(init: FakeGitHubInit) {
  const api = new URL(init.api ?? GITHUB_API);
  const prefix = api.pathname.replace(/\/+$/, "");
  const appId = init.appId ?? 123;
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
    checkSuites: [],
    actionRuns: [],
    deployments: [],
    comments: [],
    reactions: [],
    workflowRuns: [],
    e2eConclusion: "success",
    e2ePolls: 2,
    writes: [],
  };
  let nextId = 1000;
  const routes: Route[] = githubRoutes({
    state,
    appId,
    installationId: init.installationId,
    nextId: () => ++nextId,
    pullJson: (p) => pullJson(state, p, examplePayload("pull_request", "opened").pull_request),
    now: () => new Date().toISOString(),
  });
  const problems: string[] = [];
  const faults: Array<{ method: string; path: RegExp; status: number }> = [];
  const holds: Array<{
    method: string;
    path: RegExp;
    skip: number;
    gate: Promise<void>;
    seen: () => void;
    release: () => void;
  }> = [];
  const expectations: Array<{ method: string; path: RegExp; times: number }> = [];
  const events = new EventEmitter();
  let interceptors: nock.Interceptor[] = [];
  let expectScope: nock.Scope | undefined;

  async function dispatch(req: Request): Promise<Reply> {
    events.emit("request", req);
    const url = new URL(req.url);
    const uri = `${url.pathname.slice(prefix.length)}${url.search}`;
    const text = req.method === "GET" || req.method === "HEAD" ? "" : await req.text();
    const body = text ? JSON.parse(text) : undefined;
    if (init.latencyMs) await new Promise((r) => setTimeout(r, init.latencyMs));
    for (const h of holds.filter((x) => x.method === req.method && x.path.test(url.pathname.slice(prefix.length)))) {
      if (h.skip-- > 0) continue;
      h.seen();
      await h.gate;
    }
    // Token requests are authentication (Probot's throttling treats them so too), not writes to the repository.
    const write = req.method !== "GET" && req.method !== "HEAD" && !/\/access_tokens$/.test(url.pathname);
    const fault = faults.findIndex((f) => f.method === req.method && f.path.test(url.pathname.slice(prefix.length)));
    if (fault >= 0) {
      const { status } = faults.splice(fault, 1)[0]!;
      if (write) state.writes.push({ method: req.method, path: url.pathname.slice(prefix.length), body, status });
      return [status, JSON.stringify({ message: `injected ${status}` }), { "content-type": "application/json" }];
    }
    const route = routes.find((r) => r.method === req.method && r.path.test(uri));
    if (!route) {
      problems.push(`the bot called ${req.method} ${uri}, which the fake GitHub does not know`);
      return [
        404,
        JSON.stringify({ message: "Not Found (unknown to the fake GitHub)" }),
        { "content-type": "application/json" },
      ];
    }
    const reply = route.handle(uri, body);
    if (write) {
      state.writes.push({ method: req.method, path: url.pathname.slice(prefix.length), body, status: reply[0] });
      if (reply[0] >= 400)
        problems.push(`the bot's ${req.method} ${uri} got ${reply[0]}: ${String(reply[1]).slice(0, 200)}`);
    }
    return reply;
  }

  function install(): void {
    uninstall(); // also after a nock.cleanAll(), which drops them behind our back
    const under = (path: string) => path.startsWith(`${prefix}/`);
    expectScope = nock(api.origin);
    for (const e of expectations)
      interceptors.push(
        expectScope
          .intercept((p) => under(p) && e.path.test(p.slice(prefix.length).split("?")[0]!), e.method)
          .times(e.times),
      );
    const routeScope = nock(api.origin).persist();
    for (const method of ["GET", "POST", "PATCH", "PUT", "DELETE"])
      interceptors.push(routeScope.intercept(under, method));
    for (const i of interceptors) i.reply(dispatch);
  }

  function uninstall(): void {
    for (const i of interceptors) nock.removeInterceptor(i);
    interceptors = [];
  }

  const fake = {
    state,
    /** Emits "request" (the fetch Request) for every call; `isDone()` is true when every `expect`ed call was made. */
    scope: Object.assign(events, {
      isDone: () => expectScope?.isDone() ?? true,
      pendingMocks: () => expectScope?.pendingMocks() ?? [],
    }),
    /** Writes of one kind, e.g. `writes("POST", /\/issues\/\d+\/comments$/)`. */
    writes(method: string, path: RegExp): Recorded[] {
      return state.writes.filter((w) => w.method === method && path.test(w.path));
    },
    /** The bot's sticky comment on a PR, if any. */
    sticky(issue: number) {
      return state.comments.filter(
        (c) => c.issue === issue && c.user.type === "Bot" && c.body.includes("preview-bot:sticky"),
      );
    },
    /** The bot must make this call (`times` times) in the current test; checked after it. */
    expect(method: string, path: RegExp, times = 1): void {
      expectations.push({ method, path, times });
      uninstall();
      install();
    },
    /** The next matching request gets this status (a GitHub outage, on purpose: not a problem). */
    failNext(method: string, path: RegExp, status: number): void {
      faults.push({ method, path, status });
    },
    /**
     * Hold matching requests (after the first `skip`) until `release()` — GitHub being slow, on purpose; `reached`
     * resolves when the first held one arrives; the answer is computed after the release. Released when the test ends.
     */
    hold(method: string, path: RegExp, skip = 0): { reached: Promise<void>; release(): void } {
      let release!: () => void;
      let seen!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const reached = new Promise<void>((r) => (seen = r));
      holds.push({ method, path, skip, gate, seen, release });
      return { reached, release };
    },
    /** What went wrong with GitHub so far (unknown calls, failed writes); emptied by the call. */
    takeProblems(): string[] {
      return problems.splice(0);
    },
    install,
    /** After a test: remove the interceptors and say what went wrong, if anything. */
    finish(): string[] {
      const out = fake.takeProblems();
      if (expectScope && !expectScope.isDone())
        out.push(`expected GitHub calls not made: ${expectScope.pendingMocks().join(", ")}`);
      uninstall();
      expectations.length = 0;
      faults.length = 0;
      for (const h of holds.splice(0)) h.release();
      return out;
    },
  };
  const key = `${api.origin}${prefix}`;
  problems.push(...(LIVE.get(key)?.finish() ?? [])); // the fake it replaces: what went wrong there still counts
  LIVE.set(key, fake);
  install();
  return fake;
}

// Under Jest: interceptors per test, and every test ends with GitHub's problems checked.
const jest = globalThis as { beforeEach?: (fn: () => void) => void; afterEach?: (fn: () => void) => void };
if (typeof jest.beforeEach === "function" && typeof jest.afterEach === "function") {
  jest.beforeEach(() => {
    for (const f of LIVE.values()) f.install();
  });
  jest.afterEach(() => {
    const problems = [...LIVE.values()].flatMap((f) => f.finish());
    if (problems.length > 0) throw new Error(`GitHub problems in this test:\n- ${problems.join("\n- ")}`);
  });
}
