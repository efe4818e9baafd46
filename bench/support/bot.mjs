/**
 * The whole bot for benchmarks, as production builds it (`startServer` → `buildApp`, from dist/ or BENCH_DIST), with
 * GitHub's REST API on the project's fake (test/support/github-fake.ts, on nock) and real example payloads, signed.
 * Shared by bench/github.mjs and bench/url.mjs. Call `benchBot` in the re-run child only (after
 * `rerunWithTypeScript`): it imports the TypeScript test support.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const SECRET = "bench-secret";
export const OWNER = "acme";
export const REPO = "web";

/** The p-th percentile (nearest rank above) of xs. */
export const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
/** Commit n as a 40-hex SHA. */
export const sha = (n) => n.toString(16).padStart(40, "0");

export async function benchBot() {
  const distDir = resolve(process.env.BENCH_DIST ?? join(ROOT, "dist"));
  const dist = (p) => pathToFileURL(join(distDir, p)).href;
  const support = (p) => pathToFileURL(join(ROOT, "test", "support", p)).href;
  const { ProbotOctokit } = await import("probot");
  const { c: tarCreate } = await import("tar");
  const { startServer } = await import(dist("server.js"));
  const { loadEnv } = await import(dist("env.js"));
  const { createLogger } = await import(dist("logger.js"));
  const { examplePayload, fakeGitHub } = await import(support("github-fake.ts"));

  const privateKey = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  }).privateKey;
  /** Probot's Octokit without retries and throttling (as the e2e suites run it): GitHub's pace is not measured. */
  const Unthrottled = ProbotOctokit.defaults((o = {}) => ({
    ...o,
    retry: { ...o.retry, enabled: false },
    throttle: { ...o.throttle, enabled: false },
  }));

  function repository(owner) {
    const base = examplePayload("pull_request", "opened").repository;
    return { ...base, name: REPO, full_name: `${owner}/${REPO}`, owner: { ...base.owner, login: owner } };
  }

  return {
    privateKey,
    Unthrottled,
    examplePayload,
    fakeGitHub,
    repository,

    /** A real `pull_request` payload of `action` for PR `number` of owner/web at commit sha(number), as JSON. */
    pullRequest(owner, installationId, number, action = "opened") {
      const p = examplePayload("pull_request", action);
      p.installation = { id: installationId, node_id: "x" };
      p.repository = repository(owner);
      p.number = p.pull_request.number = number;
      p.pull_request.head = { ...p.pull_request.head, sha: sha(number), ref: `b${number}`, repo: p.repository };
      p.pull_request.base = { ...p.pull_request.base, repo: p.repository };
      return JSON.stringify(p);
    },

    /** A gzipped tarball like GitHub's (top directory `acme-web-0000000/`) of these files. */
    async tarball(files) {
      const dir = mkdtempSync(join(tmpdir(), "bench-tar-"));
      try {
        const top = join(dir, "acme-web-0000000");
        for (const [path, text] of Object.entries(files)) {
          mkdirSync(dirname(join(top, path)), { recursive: true });
          writeFileSync(join(top, path), text);
        }
        const chunks = [];
        for await (const c of tarCreate({ gzip: true, cwd: dir, portable: true }, ["acme-web-0000000"])) chunks.push(c);
        return Buffer.concat(chunks);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },

    /**
     * The bot as production builds it: settings through loadEnv (these over the bench's), `parts` as PartOverrides
     * (kubeConfig, pace, Octokit: Probot's own unless given). BENCH_LOG_LEVEL=warn shows what it logs on stderr.
     */
    startBot({ workDir, env = {}, parts = {} }) {
      return startServer({
        env: loadEnv({
          PORT: "0",
          HOST: "127.0.0.1",
          APP_ID: "123",
          PRIVATE_KEY: privateKey,
          WEBHOOK_SECRET: SECRET,
          LOG_LEVEL: "silent",
          PATH: process.env.PATH,
          WORK_DIR: workDir,
          JOB_CONCURRENCY: "8",
          ...env,
        }),
        logger: createLogger({ level: process.env.BENCH_LOG_LEVEL ?? "silent" }),
        parts,
        schedules: false,
      });
    },
  };
}
