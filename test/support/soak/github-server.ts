/**
 * The fake GitHub REST API (the routes of github-fake-routes.ts) served over HTTP on loopback, for a bot that runs in
 * another process (the soak's child bot reaches it as GitHub Enterprise Server: GHE_HOST + GHE_PROTOCOL=http). One
 * installation with several repositories, each with its own state; faults on demand: 5xx answers and secondary rate
 * limits (403 with `retry-after`), drawn from the soak's seeded random source.
 */
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { githubRoutes, pullJson, type Reply, type Route } from "../github-fake-routes.js";
import type { FakeGitHubState } from "../github-fake.js";

const require = createRequire(import.meta.url);
const EXAMPLES = require("@octokit/webhooks-examples") as Array<{
  name: string;
  examples: Array<Record<string, unknown> & { action?: string }>;
}>;

/** A real example payload of `event` with `action`, deep-copied. */
export function example(event: string, action: string): Record<string, any> {
  const found = EXAMPLES.find((g) => g.name === event)?.examples.find(
    (e) => e.action === action && "installation" in e,
  );
  if (!found) throw new Error(`no @octokit/webhooks-examples payload for ${event}.${action}`);
  return structuredClone(found) as Record<string, any>;
}

export interface GitHubFaults {
  /** Probability of a 502 for any request. */
  serverError: number;
  /** Probability of a secondary rate limit (403, retry-after: 1). */
  secondaryRateLimit: number;
}

export interface SoakGitHub {
  /** `127.0.0.1:port` (GHE_HOST). */
  host: string;
  repos: Map<string, FakeGitHubState>;
  faults: GitHubFaults;
  /** Requests answered with an injected fault, by kind. */
  injected: { serverError: number; secondaryRateLimit: number };
  close(): Promise<void>;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => [
  status,
  JSON.stringify(body),
  { "content-type": "application/json", ...headers },
];

function emptyState(owner: string, repo: string, config: string): FakeGitHubState {
  return {
    owner,
    repo,
    defaultBranch: "main",
    config,
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
    e2ePolls: 1,
    writes: [],
  };
}

export async function startSoakGitHub(o: {
  owner: string;
  repos: string[];
  config: string;
  installationId: number;
  appId: number;
  random: () => number;
}): Promise<SoakGitHub> {
  let id = 10_000;
  const repos = new Map<string, FakeGitHubState>();
  const routes = new Map<string, Route[]>();
  const basePull = example("pull_request", "opened").pull_request;
  for (const name of o.repos) {
    const state = emptyState(o.owner, name, o.config);
    repos.set(name, state);
    routes.set(
      name,
      githubRoutes({
        state,
        appId: o.appId,
        installationId: o.installationId,
        nextId: () => ++id,
        pullJson: (p) => pullJson(state, p, basePull),
        now: () => new Date().toISOString(),
      }),
    );
  }
  const faults: GitHubFaults = { serverError: 0, secondaryRateLimit: 0 };
  const injected = { serverError: 0, secondaryRateLimit: 0 };

  function answer(method: string, uri: string, body: unknown): Reply {
    if (o.random() < faults.serverError) {
      injected.serverError++;
      return json(502, { message: "Server Error (injected)" });
    }
    if (o.random() < faults.secondaryRateLimit) {
      injected.secondaryRateLimit++;
      return json(
        403,
        { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." },
        { "retry-after": "1" },
      );
    }
    const path = uri.split("?")[0]!;
    if (method === "GET" && /^\/app\/installations$/.test(path))
      return json(200, [{ id: o.installationId, account: { login: o.owner }, app_id: o.appId }]);
    if (method === "GET" && path === "/installation/repositories")
      return json(200, {
        total_count: o.repos.length,
        repositories: o.repos.map((r, i) => ({
          id: i + 1,
          name: r,
          full_name: `${o.owner}/${r}`,
          owner: { login: o.owner },
          archived: false,
        })),
      });
    const repo = /^\/repos\/[^/]+\/([^/]+)/.exec(path)?.[1];
    const set = routes.get(repo ?? o.repos[0]!)!;
    const route = set.find((r) => r.method === method && r.path.test(uri));
    return route ? route.handle(uri, body) : json(404, { message: `Not Found (unknown to the fake GitHub): ${uri}` });
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const uri = (req.url ?? "/").replace(/^\/api\/v3/, "");
      const text = Buffer.concat(chunks).toString("utf8");
      let reply: Reply;
      try {
        reply = answer(req.method ?? "GET", uri, text ? JSON.parse(text) : undefined);
      } catch (err) {
        reply = json(500, { message: `the fake GitHub failed: ${String(err)}` });
      }
      const [status, payload, headers] = reply;
      res.writeHead(status, headers ?? {});
      res.end(payload);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    repos,
    faults,
    injected,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
