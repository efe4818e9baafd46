#!/usr/bin/env node
/**
 * `npm start` when the build is fresh: wall time from running `npm start` (prestart's incremental build, then
 * `node dist/server.js`) to the server's first log line with its URL, as a first-time user meets it (no
 * credentials, an empty env file, a free port). Three runs, median reported; for context, the time of the full
 * compile that prestart used to run every time (`tsc -p tsconfig.build.json`, into a scratch directory).
 *
 *   npm run bench -- start
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
if (!process.argv.includes("--no-build")) execFileSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
const tmp = mkdtempSync(path.join(os.tmpdir(), "bench-start-"));
writeFileSync(path.join(tmp, "empty.env"), "");

/** Seconds from `npm start` to the line announcing the server's URL; the server is then stopped. */
function timeStart() {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const env = {
      PATH: process.env.PATH,
      HOME: tmp,
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      NODE_ENV: "production",
      ENV_FILE: path.join(tmp, "empty.env"),
      WORK_DIR: path.join(tmp, "work"),
    };
    const p = spawn("npm", ["start", "--silent"], { cwd: root, env, detached: true });
    let out = "";
    const timer = setTimeout(() => {
      process.kill(-p.pid, "SIGKILL");
      reject(new Error(`npm start logged no URL within 120 s:\n${out}`));
    }, 120_000);
    p.stdout.on("data", (d) => {
      out += d;
      if (!/http:\/\/localhost:\d+/.test(out)) return;
      clearTimeout(timer);
      const seconds = (performance.now() - t0) / 1000;
      process.kill(-p.pid, "SIGTERM");
      p.on("close", () => resolve(seconds));
    });
    p.stderr.on("data", (d) => (out += d));
  });
}

try {
  const runs = [];
  for (let i = 0; i < 3; i++) runs.push(await timeStart());
  const median = [...runs].sort((a, b) => a - b)[1];
  const t0 = performance.now();
  execFileSync(
    path.join(root, "node_modules/.bin/tsc"),
    [
      "-p",
      "tsconfig.build.json",
      "--outDir",
      path.join(tmp, "dist"),
      "--tsBuildInfoFile",
      path.join(tmp, "dist/.tsbuildinfo"),
      "--incremental",
      "false",
    ],
    { cwd: root },
  );
  const full = (performance.now() - t0) / 1000;
  console.log("| benchmark | measured |\n|---|---|");
  console.log(
    `| \`npm start\` with a fresh build, to the server's URL in the log | median ${median.toFixed(1)} s of ${runs.map((r) => r.toFixed(1)).join(", ")} s (the full compile prestart used to run every time: ${full.toFixed(1)} s) |`,
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
