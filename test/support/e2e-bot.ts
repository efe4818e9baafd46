/**
 * The whole bot for end-to-end tests: the real one-port server (`startServer`) with the fake Kubernetes API server,
 * the real PostgreSQL from the global setup, and GitHub on nock (`fakeGitHub`). Deliveries are signed like GitHub's;
 * `send` waits until the queue is idle so a test can assert on the outcome.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import nock from "nock";
import { c as tarCreate } from "tar";
import { loadEnv } from "../../src/env.js";
import { createLogger } from "../../src/logger.js";
import type { PartOverrides } from "../../src/deps.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { startFakeKube, type FakeKube, type FakeKubeOptions } from "./fake-kube/index.js";
import { deliver, examplePayload, GITHUB_API, ProbotTestOctokit, type FakePull } from "./github-fake.js";
import { testPrivateKey } from "./github.js";

import { waitFor } from "./wait.js";

export { waitFor };

export const SECRET = "e2e-webhook-secret";
export const OWNER = "Codertocat";
export const REPO = "Hello-World";
export const INSTALLATION = 2;
const LEASE_KIND = { group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true };

export interface Harness {
  bot: RunningServer;
  fake: FakeKube;
  workDir: string;
  /** Deliver a signed event and wait for the queue to drain; returns the HTTP status. */
  send(event: string, payload: unknown, deliveryId?: ReturnType<typeof crypto.randomUUID>): Promise<number>;
  /** A gzipped tarball like GitHub's (`owner-repo-sha/` top directory) of these files (and symbolic links: path, target). */
  tarball(
    sha: string,
    files: Record<string, string>,
    links?: ReadonlyArray<readonly [string, string]>,
  ): Promise<Buffer>;
  stop(): Promise<void>;
}

export async function startHarness(
  opts: {
    env?: Record<string, string>;
    fake?: FakeKubeOptions;
    cluster?: FakeKube;
    rolloutFailFastMs?: number;
    logLines?: string[];
    fetchImpl?: typeof fetch;
    /** Point the bot at this cluster instead (the real control plane, e.g. with the bot's own ServiceAccount token); the fake still starts, unused. */ kubeConfig?: KubeConfig;
    /** The webhook secret the bot is given and deliveries are signed with (default SECRET). */
    secret?: string;
    /** More parts in place of the real ones (e.g. the loopback GitHub for the page's sign-in). */
    parts?: PartOverrides;
  } = {},
): Promise<Harness> {
  const workDir = mkdtempSync(join(tmpdir(), "e2e-"));
  // A shared fake cluster (several replicas) is the caller's to stop.
  const fake = opts.cluster ?? (await startFakeKube({ namespaceFinalizeMs: 30, ...opts.fake }));
  fake.registerKind(LEASE_KIND); // the job Lease (one queue per fleet without DATABASE_URL)
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1") || host.startsWith("localhost"));
  const env = loadEnv({
    PORT: "0",
    HOST: "127.0.0.1",
    APP_ID: "123",
    PRIVATE_KEY: testPrivateKey(),
    WEBHOOK_SECRET: opts.secret ?? SECRET,
    PREVIEW_DATABASE_URL: process.env.TEST_PG_URL!,
    NAMESPACE_DELETE_TIMEOUT: "120", // a success path waits only as long as it takes
    WORK_DIR: workDir,
    LOG_LEVEL: "silent",
    PATH: process.env.PATH!, // helm and kustomize: the pinned tools (the global setup puts them first)
    ...opts.env,
  });
  const bot = await startServer({
    env,
    logger: opts.logLines
      ? createLogger({
          level: "debug",
          destination: { write: (line: string) => void opts.logLines!.push(line) } as unknown as NodeJS.WritableStream,
        })
      : createLogger({ level: process.env.E2E_LOG ?? "silent" }),
    parts: {
      Octokit: ProbotTestOctokit,
      // A real API server's (e.g. with the bot's own ServiceAccount token), else the fake's.
      kubeConfig: opts.kubeConfig ?? fake.kubeConfig(),
      pace: {
        pollMs: 20,
        healthIntervalMs: 50,
        rolloutFailFastMs: opts.rolloutFailFastMs ?? 200,
        e2ePollMs: 20,
        imagePollMs: 50,
        imagePollMaxMs: 500,
      },
      ...(opts.fetchImpl ? { fetch: opts.fetchImpl } : {}),
      ...opts.parts,
    },
    schedules: false,
  });
  return {
    bot,
    fake,
    workDir,
    async send(event, payload, deliveryId) {
      const res = await deliver(`http://127.0.0.1:${bot.port}`, opts.secret ?? SECRET, event, payload, deliveryId);
      await res.arrayBuffer();
      await bot.app!.idle();
      return res.status;
    },
    async tarball(sha, files, links = []) {
      const root = mkdtempSync(join(workDir, "repo-"));
      const top = `${OWNER}-${REPO}-${sha.slice(0, 7)}`;
      for (const [path, text] of Object.entries(files)) {
        const full = join(root, top, path);
        mkdirSync(join(full, ".."), { recursive: true });
        writeFileSync(full, text);
      }
      for (const [path, target] of links) {
        const full = join(root, top, path);
        mkdirSync(join(full, ".."), { recursive: true });
        symlinkSync(target, full);
      }
      const chunks: Buffer[] = [];
      for await (const chunk of tarCreate({ gzip: true, cwd: root, portable: true }, [top]) as AsyncIterable<Buffer>)
        chunks.push(chunk);
      return Buffer.concat(chunks);
    },
    async stop() {
      await bot.close();
      if (!opts.cluster) await fake.stop();
      nock.cleanAll();
      nock.enableNetConnect();
      nock.restore();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

export function pull(overrides: Partial<FakePull> = {}): FakePull {
  return {
    number: 2,
    title: "Update the README",
    branch: "feature/Greeting_ÜBER",
    sha: "1".repeat(40),
    state: "open",
    fork: false,
    draft: false,
    labels: [],
    author: OWNER,
    files: ["README.md"],
    ...overrides,
  };
}

/**
 * End a roll-out the test kept waiting: what the Deployment controller writes once the pods are ready. Waits for the
 * fake's controller to have reconciled the Deployment first, so a reconcile still pending cannot overwrite it.
 */
export async function markReady(fake: FakeKube, namespace: string, name: string): Promise<void> {
  const reconciled = () => {
    const d = fake.get("apps/v1", "Deployment", namespace, name);
    return (
      d !== undefined &&
      (d.status as { observedGeneration?: number } | undefined)?.observedGeneration === (d.metadata.generation ?? 1)
    );
  };
  await waitFor(`the fake's controller to reconcile Deployment ${namespace}/${name}`, reconciled);
  const d = fake.get("apps/v1", "Deployment", namespace, name)!;
  fake.seed({
    ...d,
    status: {
      observedGeneration: d.metadata.generation ?? 1,
      replicas: 1,
      updatedReplicas: 1,
      readyReplicas: 1,
      availableReplicas: 1,
    },
  });
}

/** A real `pull_request` example payload, pointed at this PR (of OWNER/REPO unless `at` names another repository). */
export function prEvent(
  action: string,
  p: FakePull,
  at: { owner: string; repo: string } = { owner: OWNER, repo: REPO },
): Record<string, any> {
  const payload = examplePayload("pull_request", action);
  payload.installation = { id: INSTALLATION, node_id: "x" };
  if (at.owner !== OWNER || at.repo !== REPO) {
    const repository = {
      ...payload.repository,
      name: at.repo,
      full_name: `${at.owner}/${at.repo}`,
      owner: { ...payload.repository.owner, login: at.owner },
    };
    payload.repository = repository;
    payload.pull_request.base.repo = repository;
    payload.pull_request.head.repo = repository;
  }
  payload.number = p.number;
  payload.pull_request.number = p.number;
  payload.pull_request.head.sha = p.sha;
  payload.pull_request.head.ref = p.branch;
  if (p.fork) payload.pull_request.head.repo = { ...payload.pull_request.head.repo, full_name: `someone/${REPO}` };
  if (action === "labeled") payload.label = { ...(payload.label ?? {}), name: p.labels.at(-1) ?? "preview" };
  return payload;
}

/**
 * What the sweeper reads from GitHub besides the fake's routes: the App's installations, the repositories of the
 * installation, and a repository's open pull requests (from the fake's state). `archived` marks the repository so.
 */
export function nockInstallationListing(
  gh: { state: { owner: string; repo: string; pulls: Map<number, FakePull> } },
  opts: { archived?: () => boolean } = {},
): void {
  const { owner, repo } = gh.state;
  const json = (body: unknown): [number, string, Record<string, string>] => [
    200,
    JSON.stringify(body),
    { "content-type": "application/json" },
  ];
  nock(GITHUB_API)
    .persist()
    .get("/app/installations")
    .query(true)
    .reply(() => json([{ id: INSTALLATION, account: { login: owner }, app_id: 123, target_type: "Organization" }]))
    .get("/installation/repositories")
    .query(true)
    .reply(() =>
      json({
        total_count: 1,
        repositories: [
          {
            id: 1,
            name: repo,
            full_name: `${owner}/${repo}`,
            owner: { login: owner },
            archived: opts.archived?.() ?? false,
          },
        ],
      }),
    )
    .get(`/repos/${owner}/${repo}/pulls`)
    .query(true)
    .reply(() =>
      json(
        [...gh.state.pulls.values()]
          .filter((p) => p.state === "open")
          .map((p) => ({ number: p.number, state: "open", head: { sha: p.sha, ref: p.branch } })),
      ),
    );
}

let nextCommentId = 9000;

/** A real `issue_comment.created` example payload, made a comment on PR `number` of owner/repo by `login`. */
export function commentEvent(
  body: string,
  login: string,
  where: {
    owner?: string;
    repo?: string;
    number: number;
    installationId?: number;
    type?: "User" | "Bot";
    onIssue?: boolean;
  },
): Record<string, any> {
  const owner = where.owner ?? OWNER;
  const repo = where.repo ?? REPO;
  const p = examplePayload("issue_comment", "created");
  const html = `https://github.com/${owner}/${repo}/pull/${where.number}`;
  p.installation = { id: where.installationId ?? INSTALLATION, node_id: "x" };
  p.repository = {
    ...p.repository,
    name: repo,
    full_name: `${owner}/${repo}`,
    owner: { ...p.repository.owner, login: owner },
  };
  p.issue.number = where.number;
  if (where.onIssue) delete p.issue.pull_request;
  else
    p.issue.pull_request = {
      url: `https://api.github.com/repos/${owner}/${repo}/pulls/${where.number}`,
      html_url: html,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
    };
  p.comment = {
    ...p.comment,
    id: ++nextCommentId,
    body,
    user: { ...p.comment.user, login, type: where.type ?? "User" },
  };
  p.sender = { ...p.sender, login, type: where.type ?? "User" };
  return p;
}

/** A Deployment (and, with `service`, a Service) as YAML text, the app most e2e tests deploy. */
export function webApp(opts: { name?: string; image: string; service?: boolean; databaseSecret?: string }): string {
  const name = opts.name ?? "web";
  const env = opts.databaseSecret
    ? `\n          env:\n            - name: DATABASE_URL\n              valueFrom: { secretKeyRef: { name: ${opts.databaseSecret}, key: DATABASE_URL } }`
    : "";
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: 1
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
        - name: ${name}
          image: ${opts.image}${env}
`;
  if (!opts.service) return deployment;
  return `${deployment}---
apiVersion: v1
kind: Service
metadata: { name: ${name} }
spec:
  selector: { app: ${name} }
  ports: [{ port: 80, targetPort: 8080 }]
`;
}
