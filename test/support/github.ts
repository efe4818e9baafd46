/**
 * GitHub in tests: Probot and its Octokit pointed at nock, with retries and throttling off (the throttling plugin
 * spaces writes ~1 s apart and the retry plugin would re-send a 500 three times). Shared by the reporter and the
 * handler tests.
 *
 *   useNock();                                             // in the describe/file: no network, cleanup, restore
 *   const octokit = testOctokit();                         // installation-scoped, token auth
 *   const scope = nock(GITHUB_API).post("/repos/acme/web/check-runs").reply(201, { id: 1 });
 *   ...
 *   expect(scope.isDone()).toBe(true);
 *
 * For a full Probot (webhook handler tests): `createTestProbot()` plus `nockInstallationToken(installationId)`.
 */
import { afterAll, afterEach, beforeAll } from "@jest/globals";
import { generateKeyPairSync } from "node:crypto";
import nock from "nock";
import { ProbotOctokit } from "probot";
import { pino } from "pino";

export const GITHUB_API = "https://api.github.com";

/**
 * nock for one test file: no real network (loopback allowed, for local servers), interceptors cleared after each
 * test, and nock *restored* after the file. The restore matters: Jest runs several test files in one worker
 * process, each with its own copy of the nock module, and every copy activates its interception on import. A copy
 * left active by an earlier file intercepts the same sockets again, and responses get mixed up (a body from one
 * request arriving on another) — seen here as failures only when files shared a worker.
 */
export function useNock(): void {
  beforeAll(() => {
    if (!nock.isActive()) nock.activate();
    nock.disableNetConnect();
    nock.enableNetConnect((host) => host.startsWith("127.0.0.1") || host.startsWith("localhost"));
  });
  afterEach(() => {
    nock.cleanAll();
  });
  afterAll(() => {
    nock.cleanAll();
    nock.enableNetConnect();
    nock.restore();
  });
}

/** ProbotOctokit with the retry and throttling plugins disabled. */
const TestOctokit = ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } });

let cachedKey: string | undefined;

/** A fresh RSA private key (PEM, PKCS#1) for the GitHub App; generated once per test file, never a real key. */
export function testPrivateKey(): string {
  cachedKey ??= generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  }).privateKey;
  return cachedKey;
}

/** A pino logger that writes nothing (Probot and Octokit log every request otherwise). */
const silentLogger = pino({ level: "silent" });

/** An installation-scoped Octokit (token auth), as `context.octokit` would be inside a handler. */
export function testOctokit(token = "ghs_testinstallationtoken000000000000000"): ProbotOctokit {
  return new TestOctokit({ auth: { token }, log: silentLogger });
}

/**
 * A comment as `issues.listComments` returns it, written by `login` (a `[bot]` login makes it a Bot; `appId` is the
 * GitHub App that made it, `performed_via_github_app`).
 */
export function issueComment(id: number, body: string, login: string, appId?: number): Record<string, unknown> {
  const bot = login.endsWith("[bot]");
  return {
    id,
    body,
    user: { login, id: id + 1000, type: bot ? "Bot" : "User" },
    ...(appId !== undefined ? { performed_via_github_app: { id: appId, slug: login.replace(/\[bot\]$/, "") } } : {}),
    html_url: `https://github.com/acme/web/pull/42#issuecomment-${id}`,
    created_at: "2026-11-01T10:00:00Z",
    updated_at: "2026-11-01T10:00:00Z",
  };
}
