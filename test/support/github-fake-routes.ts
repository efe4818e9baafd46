/**
 * The routes of the fake GitHub REST API (github-fake.ts): each is a method, a path pattern (written for
 * api.github.com; GHE prefixes are stripped before matching) and a handler over the fake's state. What the bot writes
 * is recorded and reflected on later reads, with the fields the bot relies on (`app` on check runs,
 * `performed_via_github_app` on its comments, `created_at` times). Payload shapes come from @octokit/webhooks-examples
 * where one exists.
 */
import type { FakeGitHubState, FakePull } from "./github-fake.js";

export type Reply = [number, string | Buffer, Record<string, string>?];

export interface Route {
  method: string;
  path: RegExp;
  /** `uri` is the path (without a GHE prefix) with its query; `body` the parsed JSON body. */
  handle(uri: string, body: any): Reply;
}

export interface RouteContext {
  state: FakeGitHubState;
  appId: number;
  installationId: number;
  nextId(): number;
  pullJson(p: FakePull): Record<string, any>;
  now(): string;
}

const json = (status: number, body: unknown): Reply => [
  status,
  JSON.stringify(body),
  { "content-type": "application/json" },
];
const notFound = () => json(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
const query = (uri: string) => new URL(uri, "https://api.github.com").searchParams;
const seg = (uri: string, i: number) =>
  decodeURIComponent(new URL(uri, "https://api.github.com").pathname.split("/")[i] ?? "");
const page = <T>(uri: string, items: T[]): T[] => {
  const perPage = Number(query(uri).get("per_page") ?? 30);
  const n = Number(query(uri).get("page") ?? 1);
  return items.slice((n - 1) * perPage, n * perPage);
};

export function githubRoutes(ctx: RouteContext): Route[] {
  const { state } = ctx;
  const full = `${state.owner}/${state.repo}`;
  const bot = { login: "preview-bot[bot]", type: "Bot", id: 99 };
  const ours = { id: ctx.appId, slug: "preview-bot" };
  const R = (method: string, path: RegExp, handle: Route["handle"]): Route => ({ method, path, handle });
  return [
    R("POST", /^\/app\/installations\/\d+\/access_tokens$/, () =>
      json(201, {
        token: "ghs_fakeinstallationtoken0000000000000000",
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        permissions: {},
        repository_selection: "all",
      }),
    ),
    R("GET", /^\/app$/, () => json(200, { ...ours, name: "preview-bot", owner: { login: state.owner } })),
    R("GET", /^\/app\/installations(\?.*)?$/, () =>
      json(200, [{ id: ctx.installationId, account: { login: state.owner } }]),
    ),
    R("GET", /^\/installation\/repositories/, () =>
      json(200, {
        total_count: 1,
        repositories: [{ name: state.repo, full_name: full, owner: { login: state.owner }, archived: false }],
      }),
    ),
    R("GET", /^\/repos\/[^/]+\/[^/]+\/installation$/, () => json(200, { id: ctx.installationId })),
    R("GET", /^\/repos\/[^/]+\/[^/]+\/pulls(\?.*)?$/, (uri) =>
      json(
        200,
        page(
          uri,
          [...state.pulls.values()]
            .filter((p) => p.state === (query(uri).get("state") ?? "open"))
            .map((p) => ctx.pullJson(p)),
        ),
      ),
    ),
    R("GET", /^\/repos\/[^/]+\/[^/]+\/pulls\/\d+$/, (uri) => {
      const p = state.pulls.get(Number(seg(uri, 5)));
      return p ? json(200, ctx.pullJson(p)) : notFound();
    }),
    R("GET", /^\/repos\/[^/]+\/[^/]+\/pulls\/\d+\/files/, (uri) =>
      json(
        200,
        (state.pulls.get(Number(seg(uri, 5)))?.files ?? []).map((filename) => ({ filename, status: "modified" })),
      ),
    ),
    R("GET", /^\/repos\/[^/]+\/[^/]+\/contents\/\.github(%2F|\/)preview\.yml/, (uri) => {
      if (state.configError) return json(state.configError, { message: "Server Error" });
      const ref = query(uri).get("ref");
      const text = ref ? (state.configAt.get(ref) ?? state.config) : state.config;
      return text === undefined ? notFound() : [200, text, { "content-type": "application/vnd.github.raw" }];
    }),
    R("GET", /^\/repos\/[^/]+\/[^/]+\/tarball\/[0-9a-f]+$/, (uri) => {
      const tar = state.tarballs.get(seg(uri, 5));
      return tar ? [200, tar, { "content-type": "application/x-gzip" }] : notFound();
    }),
    R("GET", /^\/repos\/[^/]+\/[^/]+\/collaborators\/[^/]+\/permission$/, (uri) => {
      const login = seg(uri, 5);
      const role = state.roles.get(login);
      return role
        ? json(200, {
            permission: role === "maintain" ? "write" : role === "triage" ? "read" : role,
            role_name: role,
            user: { login },
          })
        : notFound();
    }),
    // checks
    R("GET", /^\/repos\/[^/]+\/[^/]+\/commits\/[0-9a-f]+\/check-runs/, (uri) => {
      const sha = seg(uri, 5);
      const name = query(uri).get("check_name");
      let runs = state.checkRuns.filter((r) => r.head_sha === sha && (!name || r.name === name)).reverse();
      // `filter=latest` (the default): only the most recent run per name and app.
      if (query(uri).get("filter") !== "all")
        runs = runs.filter((r, i) => runs.findIndex((x) => x.name === r.name && x.app?.id === r.app?.id) === i);
      return json(200, { total_count: runs.length, check_runs: runs });
    }),
    R("GET", /^\/repos\/[^/]+\/[^/]+\/commits\/[0-9a-f]+\/check-suites/, (uri) => {
      const suites = state.checkSuites.filter((s) => s.head_sha === seg(uri, 5));
      return json(200, { total_count: suites.length, check_suites: suites });
    }),
    R("POST", /^\/repos\/[^/]+\/[^/]+\/check-runs$/, (_uri, b) => {
      const id = ctx.nextId();
      const run = {
        id,
        name: b.name,
        head_sha: b.head_sha,
        status: b.status ?? "queued",
        conclusion: b.conclusion ?? null,
        output: b.output,
        details_url: b.details_url,
        external_id: b.external_id,
        html_url: `https://github.com/${full}/runs/${id}`,
        app: ours,
        started_at: b.started_at ?? ctx.now(),
        completed_at: b.completed_at ?? null,
      };
      state.checkRuns.push(run);
      return json(201, run);
    }),
    R("PATCH", /^\/repos\/[^/]+\/[^/]+\/check-runs\/\d+$/, (uri, b) => {
      const run = state.checkRuns.find((r) => r.id === Number(seg(uri, 5)));
      if (!run) return notFound();
      Object.assign(run, b);
      return json(200, run);
    }),
    // actions
    R("POST", /^\/repos\/[^/]+\/[^/]+\/actions\/workflows\/[^/]+\/dispatches$/, (uri, b) => {
      const pullForRef = [...state.pulls.values()].find((p) => p.branch === b.ref);
      if (!pullForRef) return json(422, { message: `No ref found for: ${b.ref}` });
      const id = ctx.nextId();
      state.workflowRuns.push({
        id,
        workflow: seg(uri, 6),
        head_branch: b.ref,
        head_sha: pullForRef.sha,
        status: "queued",
        conclusion: null,
        html_url: `https://github.com/${full}/actions/runs/${id}`,
        inputs: b.inputs ?? {},
        polls: 0,
      });
      return [204, ""];
    }),
    R("GET", /^\/repos\/[^/]+\/[^/]+\/actions\/workflows\/[^/]+\/runs/, (uri) => {
      const branch = query(uri).get("branch");
      const runs = state.workflowRuns.filter(
        (r) => r.workflow === seg(uri, 6) && (!branch || r.head_branch === branch),
      );
      for (const r of runs) {
        if (r.status === "completed") continue;
        r.polls++;
        r.status = r.polls >= state.e2ePolls ? "completed" : "in_progress";
        if (r.status === "completed") r.conclusion = state.e2eConclusion;
      }
      return json(200, { total_count: runs.length, workflow_runs: runs.map(({ polls, inputs, ...r }) => r) });
    }),
    R("GET", /^\/repos\/[^/]+\/[^/]+\/actions\/runs(\?.*)?$/, (uri) => {
      const sha = query(uri).get("head_sha");
      // Newest first, as GitHub lists them.
      const runs = state.actionRuns
        .filter((r) => !sha || r.head_sha === sha)
        .sort((a, b) => b.created_at.localeCompare(a.created_at));
      return json(200, { total_count: runs.length, workflow_runs: runs });
    }),
    ...deploymentRoutes(ctx, R),
    ...commentRoutes(ctx, R, bot, ours),
  ];
}

function deploymentRoutes(ctx: RouteContext, R: (m: string, p: RegExp, h: Route["handle"]) => Route): Route[] {
  const { state } = ctx;
  return [
    R("GET", /^\/repos\/[^/]+\/[^/]+\/deployments(\?.*)?$/, (uri) => {
      const env = query(uri).get("environment");
      const sha = query(uri).get("sha");
      const list = state.deployments
        .filter((d) => (!env || d.environment === env) && (!sha || d.sha === sha))
        .map(({ statuses, ...d }) => d)
        .reverse();
      return json(200, page(uri, list));
    }),
    R("POST", /^\/repos\/[^/]+\/[^/]+\/deployments$/, (_uri, b) => {
      const d = {
        id: ctx.nextId(),
        environment: b.environment,
        sha: b.ref,
        ref: b.ref,
        payload: b.payload ?? {},
        transient_environment: b.transient_environment,
        production_environment: b.production_environment,
        created_at: ctx.now(),
        statuses: [],
      };
      state.deployments.push(d);
      return json(201, d);
    }),
    R("GET", /^\/repos\/[^/]+\/[^/]+\/deployments\/\d+\/statuses/, (uri) => {
      const d = state.deployments.find((x) => x.id === Number(seg(uri, 5)));
      return d ? json(200, page(uri, [...d.statuses].reverse())) : notFound();
    }),
    R("POST", /^\/repos\/[^/]+\/[^/]+\/deployments\/\d+\/statuses$/, (uri, b) => {
      const d = state.deployments.find((x) => x.id === Number(seg(uri, 5)));
      if (!d) return notFound();
      const status = { id: ctx.nextId(), created_at: ctx.now(), ...(b as object) };
      d.statuses.push(status);
      return json(201, status);
    }),
  ];
}

function commentRoutes(
  ctx: RouteContext,
  R: (m: string, p: RegExp, h: Route["handle"]) => Route,
  bot: Record<string, unknown>,
  app: Record<string, unknown>,
): Route[] {
  const { state } = ctx;
  const full = `${state.owner}/${state.repo}`;
  return [
    R("GET", /^\/repos\/[^/]+\/[^/]+\/issues\/\d+\/comments/, (uri) => {
      const issue = Number(seg(uri, 5));
      return json(
        200,
        page(
          uri,
          state.comments
            .filter((c) => c.issue === issue)
            .map((c) => ({ ...c, html_url: `https://github.com/${full}/pull/${issue}#issuecomment-${c.id}` })),
        ),
      );
    }),
    R("POST", /^\/repos\/[^/]+\/[^/]+\/issues\/\d+\/comments$/, (uri, b) => {
      const c = {
        id: ctx.nextId(),
        issue: Number(seg(uri, 5)),
        body: b.body,
        user: bot,
        performed_via_github_app: app,
        created_at: ctx.now(),
      } as FakeGitHubState["comments"][number];
      state.comments.push(c);
      return json(201, c);
    }),
    R("PATCH", /^\/repos\/[^/]+\/[^/]+\/issues\/comments\/\d+$/, (uri, b) => {
      const c = state.comments.find((x) => x.id === Number(seg(uri, 6)));
      if (!c) return notFound();
      c.body = b.body;
      return json(200, c);
    }),
    R("POST", /^\/repos\/[^/]+\/[^/]+\/issues\/comments\/\d+\/reactions$/, (uri, b) => {
      state.reactions.push({ commentId: Number(seg(uri, 6)), content: b.content });
      return json(201, { id: ctx.nextId(), content: b.content });
    }),
  ];
}

/** A pull request as `pulls.get` returns it, built on the example payload's `pull_request`. */
export function pullJson(state: FakeGitHubState, p: FakePull, example: Record<string, any>): Record<string, any> {
  const full = `${state.owner}/${state.repo}`;
  const repo = {
    ...example.base.repo,
    name: state.repo,
    full_name: full,
    owner: { ...example.base.repo.owner, login: state.owner },
    ...(state.private !== undefined
      ? { private: state.private, visibility: state.private ? "private" : "public" }
      : {}),
  };
  return {
    ...example,
    number: p.number,
    title: p.title,
    state: p.state,
    draft: p.draft,
    html_url: `https://github.com/${full}/pull/${p.number}`,
    labels: p.labels.map((name, i) => ({ id: i + 1, name })),
    user: { ...example.user, login: p.author },
    head: {
      ...example.head,
      ref: p.branch,
      sha: p.sha,
      repo: p.fork
        ? { ...repo, full_name: `${p.author}/${state.repo}`, owner: { ...repo.owner, login: p.author } }
        : repo,
    },
    base: { ...example.base, ref: state.defaultBranch, repo },
  };
}
