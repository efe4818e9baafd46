#!/usr/bin/env node
/**
 * `npm run bench -- page`: the preview page's list of 200 previews (8 repositories), served by the real listener from
 * dist/ (createPageListener, as the server will mount it) to a signed-in reader, with the loopback GitHub of the tests
 * answering the sign-in and the read-access checks. Server time is measured inside the server, from the request to the
 * end of the response; the first request asks GitHub about each repository (cold), the rest use the two-minute access
 * cache, as a visitor reloading the page does.
 *
 * Row: `page: list of 200 previews` — server time p95 over 200 requests (target ≤ 100 ms).
 *
 * Options: `--previews N` (default 200), `--requests N` (default 200).
 */
import { createServer } from "node:http";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { rerunWithTypeScript } from "./support/typescript.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const argv = process.argv.slice(2);
rerunWithTypeScript(import.meta.url, argv, root);

const { values: opts } = parseArgs({
  args: argv,
  options: {
    previews: { type: "string", default: "200" },
    requests: { type: "string", default: "200" },
    "no-build": { type: "boolean" },
  },
});
const distDir = resolve(process.env.BENCH_DIST ?? join(root, "dist"));
const dist = (p) => pathToFileURL(join(distDir, p)).href;
const support = (p) => pathToFileURL(join(root, "test", "support", p)).href;

const { createPageListener } = await import(dist("handlers/page/router.js"));
const { loadPageSettings } = await import(dist("handlers/page/settings.js"));
const { pino } = await import("pino");
const { GitHubOAuthFake } = await import(support("github-oauth-fake.ts"));
const { MemoryPageData, SAMPLE_REPOS, sampleBackups, sampleHosts, samplePreviews } = await import(
  support("page-sample.ts")
);

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const now = Date.now();
const previews = samplePreviews(now, Number(opts.previews));
const data = new MemoryPageData(previews, sampleBackups(now));

const github = await new GitHubOAuthFake().start();
for (const r of SAMPLE_REPOS) github.repo(r.full, r.private, ["rita"]);
const server = createServer();
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const port = server.address().port;
const botUrl = `http://127.0.0.1:${port}`;
github.callbackUrls = [`${botUrl}/auth/callback`];
const settings = loadPageSettings({
  PREVIEW_BOT_URL: botUrl,
  GITHUB_CLIENT_ID: github.clientId,
  GITHUB_CLIENT_SECRET: github.clientSecret,
  PREVIEW_AUTH_SECRET: "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz",
  PREVIEW_AUTH_INSECURE_COOKIES: "true",
  GHE_HOST: github.host,
  GHE_PROTOCOL: "http",
});
const listener = createPageListener({
  settings,
  data,
  previewForHost: sampleHosts(previews),
  logger: pino({ level: "silent" }),
});
const serverMs = [];
server.on("request", (req, res) => {
  const t0 = performance.now();
  res.on("finish", () => {
    if (req.url === "/previews") serverMs.push(performance.now() - t0);
  });
  listener(req, res).then(
    (handled) => void (handled || res.writeHead(404).end()),
    (err) => void res.writeHead(500).end(String(err)),
  );
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
    `| page: list of ${previews.length} previews | server time p95 **${pct(warm, 95).toFixed(1)} ms** (p50 ${pct(warm, 50).toFixed(1)} ms, max ${Math.max(...warm).toFixed(1)} ms over ${warm.length} requests; the first, with ${checks} GitHub access checks on loopback: ${cold.toFixed(1)} ms); ${rows} rows, ${(bytes / 1024).toFixed(0)} KB of HTML | ≤ 100 ms |`,
  );
  if (rows !== previews.length) throw new Error(`expected ${previews.length} rows, got ${rows}`);
} finally {
  server.closeAllConnections();
  server.close();
  await github.stop();
}
