#!/usr/bin/env node
/**
 * Source fetch: peak RSS of a deploy's "Fetch source" step for a 20 MB and a 500 MB repository. A local HTTP server
 * answers GitHub's tarball endpoint the way GitHub does (302 to a codeload URL that streams the .tar.gz); a fresh
 * child process runs the real fetchSource (dist/) with a real Octokit against it and reports its peak RSS over
 * its baseline. Streamed extraction should keep that flat: independent of the repository's size.
 *
 *   npm run bench -- source [--sizes 20,500]
 */
import { execFileSync, spawn } from "node:child_process";
import { createReadStream, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync, closeSync } from "node:fs";
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { c as tarCreate } from "tar";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const argv = process.argv.slice(2);
if (!argv.includes("--no-build")) execFileSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
const sizesArg = argv[argv.indexOf("--sizes") + 1];
const sizes = argv.includes("--sizes") && sizesArg ? sizesArg.split(",").map(Number) : [20, 500];
const SHA = "b".repeat(40);

if (argv[0] === "--child") {
  // Child: fetch once and print {baseline, peak} in MB.
  const [, port, dest] = argv;
  const { fetchSource } = await import(path.join(root, "dist/services/preview/render/source.js"));
  const { Octokit } = await import("@octokit/core");
  const octokit = new Octokit({ baseUrl: `http://127.0.0.1:${port}`, auth: "bench-token" });
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  const t0 = performance.now();
  const r = await fetchSource({ octokit, owner: "acme", repo: "big", sha: SHA, dest, maxBytes: 2 * 1024 ** 3 });
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(timer);
  const maxRss = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ baseline: baseline / 1e6, peak: Math.max(peak, maxRss) / 1e6, seconds, files: r.files, bytes: r.bytes }));
  process.exit(0);
}

/** A repository of `mb` MB: manifests plus incompressible files (a repository's assets), as GitHub's tar.gz. */
async function makeTarball(dir, mb) {
  const top = path.join(dir, "repo", `acme-big-${SHA.slice(0, 7)}`);
  mkdirSync(path.join(top, "deploy"), { recursive: true });
  mkdirSync(path.join(top, "assets"), { recursive: true });
  for (let i = 0; i < 20; i++) {
    const fd = openSync(path.join(top, "deploy", `app-${i}.yaml`), "w");
    writeSync(fd, `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c${i} }\ndata: { i: "${i}" }\n`);
    closeSync(fd);
  }
  const fileMb = 4;
  for (let i = 0; i < Math.ceil(mb / fileMb); i++) {
    const fd = openSync(path.join(top, "assets", `blob-${i}.bin`), "w");
    for (let j = 0; j < fileMb; j++) writeSync(fd, randomBytes(1024 * 1024));
    closeSync(fd);
  }
  const file = path.join(dir, "repo.tar.gz");
  await tarCreate({ gzip: { level: 1 }, file, cwd: path.join(dir, "repo"), portable: true }, [path.basename(top)]);
  rmSync(path.join(dir, "repo"), { recursive: true, force: true });
  return file;
}

function serve(file) {
  const server = createServer((req, res) => {
    if (req.url?.startsWith("/repos/acme/big/tarball/")) return void res.writeHead(302, { location: `http://127.0.0.1:${server.address().port}/codeload/acme/big/legacy.tar.gz/${SHA}` }).end();
    if (req.url?.startsWith("/codeload/")) {
      res.writeHead(200, { "content-type": "application/x-gzip", "content-length": statSync(file).size });
      return void createReadStream(file).pipe(res);
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const rows = [];
for (const mb of sizes) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-source-"));
  try {
    const tarball = await makeTarball(dir, mb);
    const server = await serve(tarball);
    // The server lives in this process, so the child runs asynchronously (a sync spawn would block the server).
    const child = await new Promise((resolve) => {
      const p = spawn(process.execPath, [fileURLToPath(import.meta.url), "--child", String(server.address().port), path.join(dir, "checkout"), "--no-build"]);
      let stdout = "";
      let stderr = "";
      p.stdout.on("data", (d) => (stdout += d));
      p.stderr.on("data", (d) => (stderr += d));
      p.on("close", (status) => resolve({ status, stdout, stderr }));
    });
    server.close();
    if (child.status !== 0) throw new Error(`child failed: ${child.stderr}`);
    const m = JSON.parse(child.stdout.trim().split("\n").at(-1));
    rows.push({ name: `source fetch peak RSS, ${mb} MB repository`, ...m, archive: statSync(tarball).size / 1e6 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log("| benchmark | measured |\n|---|---|");
for (const r of rows) {
  console.log(`| ${r.name} | peak ${r.peak.toFixed(0)} MB RSS, +${(r.peak - r.baseline).toFixed(0)} MB over the process's baseline; ${r.archive.toFixed(0)} MB archive, ${(r.bytes / 1e6).toFixed(0)} MB unpacked in ${r.seconds.toFixed(1)} s |`);
}
