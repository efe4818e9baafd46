#!/usr/bin/env node
/**
 * Source fetch: the deploy's "Fetch source" step for a 20 MB and a 500 MB repository whose manifests sit under one
 * small directory (a kustomize overlay plus the in-repo base it references), everything else incompressible assets.
 * Two ways, from one git repository, in one run, both over loopback:
 *
 *   tarball        what the bot does: the real fetchSource (dist/) with a real Octokit against a local server that
 *                  answers GitHub's tarball endpoint like GitHub (302 to a codeload URL streaming `git archive`'s .tar.gz)
 *   partial clone  `git clone --filter=blob:none --sparse --depth 1` + `git sparse-checkout set <overlay>` from
 *                  `git http-backend` behind a tiny Node HTTP server (token as a Basic auth header, as for GitHub),
 *                  then a second round, `git sparse-checkout add <base>`, for the base the overlay's
 *                  kustomization.yaml names outside manifests.path
 *
 * Each runs in a fresh child process. Reported: wall time, the bot process's peak RSS over its baseline and, for the
 * clone, the peak RSS of the git processes (GNU time's %M, the largest process in each git command's tree).
 *
 *   npm run bench -- source [--sizes 20,500]
 */
import { execFileSync, spawn } from "node:child_process";
import {
  createReadStream,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
  closeSync,
} from "node:fs";
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const argv = process.argv.slice(2);
if (!argv.includes("--no-build")) execFileSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
const sizesArg = argv[argv.indexOf("--sizes") + 1];
const sizes = argv.includes("--sizes") && sizesArg ? sizesArg.split(",").map(Number) : [20, 500];
const TOKEN = "ghs_benchinstallationtoken000000000000";
const BASIC = `Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString("base64")}`;
const OVERLAY = "deploy/overlays/preview";
const GIT_ENV = {
  PATH: process.env.PATH,
  HOME: os.tmpdir(),
  GIT_TERMINAL_PROMPT: "0",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

const peakSampler = () => {
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  return () => {
    clearInterval(timer);
    return { baseline: baseline / 1e6, peak: Math.max(peak, process.resourceUsage().maxRSS * 1024) / 1e6 };
  };
};

if (argv[0] === "--child-tarball") {
  const [, port, dest, sha] = argv;
  const { fetchSource } = await import(path.join(root, "dist/services/preview/render/source.js"));
  const { Octokit } = await import("@octokit/core");
  const octokit = new Octokit({ baseUrl: `http://127.0.0.1:${port}`, auth: TOKEN });
  const stop = peakSampler();
  const t0 = performance.now();
  const r = await fetchSource({ octokit, owner: "acme", repo: "big", sha, dest, maxBytes: 2 * 1024 ** 3 });
  const seconds = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ ...stop(), seconds, files: r.files, bytes: r.bytes }));
  process.exit(0);
}

if (argv[0] === "--child-clone") {
  const [, port, dest] = argv;
  // The token travels as a header set through the environment (never in argv, the URL or .git/config).
  const env = {
    ...GIT_ENV,
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: "http.extraHeader",
    GIT_CONFIG_VALUE_0: `Authorization: ${BASIC}`,
  };
  const gitRss = [];
  const git = (args, cwd) =>
    new Promise((resolve, reject) => {
      const rssFile = path.join(os.tmpdir(), `bench-git-rss-${process.pid}`);
      const p = spawn("/usr/bin/time", ["-f", "%M", "-o", rssFile, "git", ...args], {
        cwd,
        env,
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      p.stderr.on("data", (d) => (stderr += d));
      p.on("close", (code) => {
        gitRss.push(Number(readFileSync(rssFile, "utf8").trim().split("\n").at(-1)) / 1024);
        rmSync(rssFile, { force: true });
        code === 0 ? resolve() : reject(new Error(`git ${args.join(" ")} exited ${code}: ${stderr}`));
      });
    });
  const stop = peakSampler();
  const t0 = performance.now();
  await git([
    "clone",
    "--quiet",
    "--filter=blob:none",
    "--sparse",
    "--depth",
    "1",
    "--no-tags",
    `http://127.0.0.1:${port}/git/acme/big.git`,
    dest,
  ]);
  await git(["sparse-checkout", "set", "--no-cone", `/${OVERLAY}/`], dest);
  const round1 = (performance.now() - t0) / 1000;
  // Round two: what the overlay references outside manifests.path (in-repo bases), read from the checkout.
  const kustomization = parseYaml(readFileSync(path.join(dest, OVERLAY, "kustomization.yaml"), "utf8"));
  const outside = (kustomization.resources ?? [])
    .map((r) => path.posix.normalize(path.posix.join(OVERLAY, r)))
    .filter((p) => !p.startsWith(`${OVERLAY}/`));
  if (outside.length) await git(["sparse-checkout", "add", ...outside.map((p) => `/${p}/`)], dest);
  const seconds = (performance.now() - t0) / 1000;
  const files = execFileSync("find", [dest, "-path", path.join(dest, ".git"), "-prune", "-o", "-type", "f", "-print"], {
    encoding: "utf8",
  })
    .trim()
    .split("\n").length;
  const gitDir =
    Number(execFileSync("du", ["-sk", path.join(dest, ".git")], { encoding: "utf8" }).split("\t")[0]) / 1024;
  console.log(
    JSON.stringify({
      ...stop(),
      seconds,
      round1,
      files,
      gitPeak: Math.max(...gitRss),
      gitDirMb: gitDir,
      rounds: outside.length ? 2 : 1,
    }),
  );
  process.exit(0);
}

/** A git repository of `mb` MB: a kustomize overlay and its base under deploy/, plus incompressible assets. */
function makeRepo(dir, mb) {
  const work = path.join(dir, "work");
  const write = (rel, text) => {
    mkdirSync(path.dirname(path.join(work, rel)), { recursive: true });
    writeFileSync(path.join(work, rel), text);
  };
  const names = Array.from({ length: 20 }, (_, i) => `app-${i}.yaml`);
  for (const [i, n] of names.entries())
    write(`deploy/base/${n}`, `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c${i} }\ndata: { i: "${i}" }\n`);
  write("deploy/base/kustomization.yaml", `resources:\n${names.map((n) => `  - ${n}`).join("\n")}\n`);
  write(`${OVERLAY}/kustomization.yaml`, "resources:\n  - ../../base\nnamePrefix: preview-\n");
  mkdirSync(path.join(work, "assets"), { recursive: true });
  for (let i = 0; i < Math.ceil(mb / 4); i++) {
    const fd = openSync(path.join(work, "assets", `blob-${i}.bin`), "w");
    for (let j = 0; j < 4; j++) writeSync(fd, randomBytes(1024 * 1024));
    closeSync(fd);
  }
  const git = (...args) =>
    execFileSync("git", args, {
      cwd: work,
      env: {
        ...GIT_ENV,
        GIT_AUTHOR_NAME: "b",
        GIT_AUTHOR_EMAIL: "b@example.com",
        GIT_COMMITTER_NAME: "b",
        GIT_COMMITTER_EMAIL: "b@example.com",
      },
      encoding: "utf8",
      maxBuffer: 1 << 26,
    });
  git("init", "--quiet", "--initial-branch=main");
  git("-c", "core.compression=1", "add", ".");
  git("commit", "--quiet", "-m", "bench");
  const sha = git("rev-parse", "HEAD").trim();
  const bare = path.join(dir, "git", "acme", "big.git");
  execFileSync("git", ["clone", "--quiet", "--bare", work, bare], { env: GIT_ENV });
  execFileSync("git", ["-C", bare, "config", "uploadpack.allowFilter", "true"], { env: GIT_ENV });
  execFileSync("git", ["-C", bare, "config", "uploadpack.allowAnySHA1InWant", "true"], { env: GIT_ENV });
  // GitHub's tarball is `git archive` of the commit under an `owner-repo-sha7/` directory.
  const tarball = path.join(dir, "repo.tar.gz");
  git(
    "-c",
    "tar.tar.gz.command=gzip -1",
    "archive",
    "--format=tar.gz",
    `--prefix=acme-big-${sha.slice(0, 7)}/`,
    "-o",
    tarball,
    "HEAD",
  );
  rmSync(work, { recursive: true, force: true });
  return { sha, tarball, gitRoot: path.join(dir, "git") };
}

/** `git http-backend` as CGI: request line and headers in the environment, body on stdin, CGI headers back. */
function gitBackend(req, res, gitRoot) {
  if (req.headers.authorization !== BASIC)
    return void res.writeHead(401, { "www-authenticate": 'Basic realm="bench"' }).end();
  const url = new URL(req.url, "http://x");
  const env = {
    ...GIT_ENV,
    GIT_PROJECT_ROOT: gitRoot,
    GIT_HTTP_EXPORT_ALL: "1",
    PATH_INFO: url.pathname.replace(/^\/git/, ""),
    QUERY_STRING: url.search.slice(1),
    REQUEST_METHOD: req.method,
    CONTENT_TYPE: req.headers["content-type"] ?? "",
    REMOTE_ADDR: "127.0.0.1",
    REMOTE_USER: "x-access-token",
    ...(req.headers["git-protocol"] ? { GIT_PROTOCOL: req.headers["git-protocol"] } : {}),
    ...(req.headers["content-encoding"] ? { HTTP_CONTENT_ENCODING: req.headers["content-encoding"] } : {}),
    ...(req.headers["content-length"] ? { CONTENT_LENGTH: req.headers["content-length"] } : {}),
  };
  const cgi = spawn(
    path.join(execFileSync("git", ["--exec-path"], { encoding: "utf8" }).trim(), "git-http-backend"),
    [],
    { env },
  );
  req.pipe(cgi.stdin);
  let head = Buffer.alloc(0);
  let sent = false;
  cgi.stdout.on("data", (chunk) => {
    if (sent) return void res.write(chunk);
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    if (end < 0) return;
    const headers = {};
    let status = 200;
    for (const line of head.subarray(0, end).toString().split("\r\n")) {
      const [k, ...v] = line.split(":");
      if (k.toLowerCase() === "status") status = Number.parseInt(v.join(":"), 10);
      else headers[k] = v.join(":").trim();
    }
    res.writeHead(status, headers);
    sent = true;
    res.write(head.subarray(end + 4));
  });
  cgi.on("close", () => (sent ? res.end() : res.writeHead(500).end("git http-backend wrote no headers")));
}

function serve({ sha, tarball, gitRoot }) {
  const server = createServer((req, res) => {
    if (req.url?.startsWith("/git/")) return gitBackend(req, res, gitRoot);
    if (req.url === `/repos/acme/big/tarball/${sha}`)
      return void res
        .writeHead(302, {
          location: `http://127.0.0.1:${server.address().port}/codeload/acme/big/legacy.tar.gz/${sha}`,
        })
        .end();
    if (req.url?.startsWith("/codeload/")) {
      res.writeHead(200, { "content-type": "application/x-gzip", "content-length": statSync(tarball).size });
      return void createReadStream(tarball).pipe(res);
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

/** Run this file as a child (the server lives in this process, so the child runs asynchronously). */
function child(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args, "--no-build"]);
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("close", (status) =>
      status === 0
        ? resolve(JSON.parse(stdout.trim().split("\n").at(-1)))
        : reject(new Error(`${args[0]} failed: ${stderr}`)),
    );
  });
}

const rows = [];
for (const mb of sizes) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-source-"));
  try {
    const repo = makeRepo(dir, mb);
    const server = await serve(repo);
    const port = String(server.address().port);
    const tar = await child(["--child-tarball", port, path.join(dir, "tarball"), repo.sha]);
    const clone = await child(["--child-clone", port, path.join(dir, "clone")]);
    server.close();
    rows.push({ mb, archive: statSync(repo.tarball).size / 1e6, tar, clone });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log("| benchmark | tarball (streamed) | partial clone + sparse checkout | ratio |\n|---|---|---|---|");
for (const { mb, archive, tar, clone } of rows) {
  console.log(
    `| source fetch, ${mb} MB repository | ${tar.seconds.toFixed(2)} s; bot peak ${tar.peak.toFixed(0)} MB RSS (+${(tar.peak - tar.baseline).toFixed(0)} MB); ${archive.toFixed(0)} MB archive, ${tar.files} files, ${(tar.bytes / 1e6).toFixed(0)} MB unpacked ` +
      `| ${clone.seconds.toFixed(2)} s (${clone.round1.toFixed(2)} s for the overlay, then the base: ${clone.rounds} rounds); bot +${(clone.peak - clone.baseline).toFixed(0)} MB, git peak ${clone.gitPeak.toFixed(0)} MB RSS; ${clone.files} files, .git ${clone.gitDirMb.toFixed(1)} MB ` +
      `| ${(tar.seconds / clone.seconds).toFixed(1)}× faster |`,
  );
}
