#!/usr/bin/env node
/**
 * `npm run bench -- page`: the preview page's list of 200 previews (8 repositories), served by the whole bot from
 * dist/ (startServer → buildApp, as production builds it) to a signed-in reader: the previews are namespaces in the
 * fake API server of the tests, written as the deploy writes them (test/support/page-cluster.ts), read by the page
 * through the real Kubernetes client (the listing is reused for a second, then read again), and the loopback GitHub
 * of the tests answers the sign-in and the read-access checks. Server time is measured inside the server, from the
 * request to the end of the response; the first request asks GitHub about each repository (cold), the rest use the
 * two-minute access cache, as a visitor reloading the page does. The fake API server runs in a child process (this
 * script with `--fake-cluster`), as a real one runs outside the bot: its work is not counted in the bot's time.
 *
 * Row: `page: list of 200 previews` — server time p95 over 200 requests (target ≤ 100 ms).
 *
 * Options: `--previews N` (default 200), `--requests N` (default 200).
 */
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { benchScript } from "./support/script.mjs";

const { opts, dist, support } = benchScript(import.meta.url, {
  previews: { type: "string", default: "200" },
  requests: { type: "string", default: "200" },
  "fake-cluster": { type: "boolean" },
});

if (opts["fake-cluster"]) {
  // The child: the fake API server with the previews' namespaces; prints its URL, stops when stdin closes.
  const { startFakeKube } = await import(support("fake-kube/index.ts"));
  const { seedPreview } = await import(support("page-cluster.ts"));
  const { samplePreviews } = await import(support("page-sample.ts"));
  const fake = await startFakeKube();
  for (const p of samplePreviews(Date.now(), Number(opts.previews))) seedPreview(fake, p);
  process.stdout.write(`${fake.url}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => void fake.stop().then(() => process.exit(0)));
  await new Promise(() => {});
}

const { KubeConfig } = await import("@kubernetes/client-node");
const { startServer } = await import(dist("server.js"));
const { loadEnv } = await import(dist("env.js"));
const { createLogger } = await import(dist("logger.js"));
const { GitHubOAuthFake } = await import(support("github-oauth-fake.ts"));
const { SAMPLE_REPOS } = await import(support("page-sample.ts"));

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const previewCount = Number(opts.previews);

async function freePort() {
  const s = createServer();
  await new Promise((ok) => s.listen(0, "127.0.0.1", ok));
  const { port } = s.address();
  await new Promise((ok) => s.close(ok));
  return port;
}

const github = await new GitHubOAuthFake().start();
for (const r of SAMPLE_REPOS) github.repo(r.full, r.private, ["rita"]);
const cluster = spawn(
  process.execPath,
  [...process.execArgv, fileURLToPath(import.meta.url), "--fake-cluster", "--previews", String(previewCount)],
  { stdio: ["pipe", "pipe", "inherit"] },
);
const clusterUrl = await new Promise((ok, fail) => {
  let out = "";
  cluster.stdout.on("data", (d) => {
    out += d;
    if (out.includes("\n")) ok(out.trim());
  });
  cluster.on("exit", (code) => fail(new Error(`the fake API server exited (${code}) before listening`)));
});
const kubeConfig = new KubeConfig();
kubeConfig.loadFromOptions({
  clusters: [{ name: "fake", server: clusterUrl, skipTLSVerify: true }],
  users: [{ name: "fake" }],
  contexts: [{ name: "fake", cluster: "fake", user: "fake" }],
  currentContext: "fake",
});
const port = await freePort();
const botUrl = `http://127.0.0.1:${port}`;
github.callbackUrls = [`${botUrl}/auth/callback`];
const workDir = mkdtempSync(join(tmpdir(), "bench-page-"));
const bot = await startServer({
  env: loadEnv({
    PORT: String(port),
    HOST: "127.0.0.1",
    APP_ID: "123",
    PRIVATE_KEY: generateKeyPairSync("rsa", {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs1", format: "pem" },
    }).privateKey,
    WEBHOOK_SECRET: "bench-secret",
    LOG_LEVEL: "silent",
    WORK_DIR: workDir,
    PATH: process.env.PATH,
    PREVIEW_BOT_URL: botUrl,
    GITHUB_CLIENT_ID: github.clientId,
    GITHUB_CLIENT_SECRET: github.clientSecret,
    PREVIEW_AUTH_SECRET: "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz",
    PREVIEW_AUTH_INSECURE_COOKIES: "true",
  }),
  logger: createLogger({ level: "silent" }),
  parts: { kubeConfig, signInGitHub: { web: github.url, api: `${github.url}/api/v3` } },
  schedules: false,
});
if (bot.app?.page.off) throw new Error(`the page is off: ${bot.app.page.off}`);
const serverMs = [];
bot.server.on("request", (req, res) => {
  const t0 = performance.now();
  res.on("finish", () => {
    if (req.url === "/previews") serverMs.push(performance.now() - t0);
  });
});

/** Sign in as `login` through the fake GitHub's authorize form; returns the session cookie. */
async function signIn(login) {
  const start = await fetch(`${botUrl}/auth/signin`, { redirect: "manual" });
  const state = start.headers.getSetCookie()[0].split(";")[0];
  const form = await (await fetch(start.headers.get("location"))).text();
  const fields = new URLSearchParams();
  for (const m of form.matchAll(/name="([^"]+)" value="([^"]*)"/g))
    if (m[1] !== "deny")
      fields.set(
        m[1],
        m[2].replace(/&#(\d+);/g, (_, c) => String.fromCharCode(Number(c))),
      );
  fields.set("login", login);
  const back = await fetch(`${github.url}/login/oauth/authorize`, { method: "POST", body: fields, redirect: "manual" });
  const done = await fetch(back.headers.get("location"), { headers: { cookie: state }, redirect: "manual" });
  const session = done.headers.getSetCookie().find((c) => c.startsWith("preview-bot-session="));
  if (!session) throw new Error(`sign-in failed: ${done.status}`);
  return session.split(";")[0];
}

try {
  const cookie = await signIn("rita");
  let bytes = 0;
  let rows = 0;
  const before = github.count("GET /api/v3/repos/");
  for (let i = 0; i < Number(opts.requests) + 1; i++) {
    const r = await fetch(`${botUrl}/previews`, { headers: { cookie } });
    const body = await r.text();
    if (r.status !== 200) throw new Error(`/previews answered ${r.status}`);
    bytes = body.length;
    rows = (body.match(/<th scope="row">\s*<a href="\/previews\//g) ?? []).length;
  }
  const checks = github.count("GET /api/v3/repos/") - before;
  const [cold, ...warm] = serverMs;
  console.log("| benchmark | measured | target |\n|---|---|---|");
  console.log(
    `| page: list of ${previewCount} previews | server time p95 **${pct(warm, 95).toFixed(1)} ms** (p50 ${pct(warm, 50).toFixed(1)} ms, max ${Math.max(...warm).toFixed(1)} ms over ${warm.length} requests; the first, with ${checks} GitHub access checks on loopback: ${cold.toFixed(1)} ms); ${rows} rows, ${(bytes / 1024).toFixed(0)} KB of HTML | ≤ 100 ms |`,
  );
  if (rows !== previewCount) throw new Error(`expected ${previewCount} rows, got ${rows}`);
} finally {
  await bot.close();
  cluster.stdin.end();
  await new Promise((ok) => (cluster.exitCode === null ? cluster.on("exit", ok) : ok()));
  await github.stop();
  rmSync(workDir, { recursive: true, force: true });
}
