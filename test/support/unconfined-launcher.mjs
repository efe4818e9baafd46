#!/usr/bin/env node
/**
 * The control for the canary suite: takes preview-sandbox's flags and runs the program with NO sandbox at all —
 * only as uid 65534 (the uid a sandboxed render gets when the bot is root), in the given environment. It writes the
 * `start` and `exit` report lines the sandbox would, saying `none`. test/e2e/canary.test.ts uses it to show that its
 * checks do catch a leak when nothing confines the renderer; it is never a way to run the bot.
 */
import { spawn } from "node:child_process";
import { writeSync } from "node:fs";

const args = process.argv.slice(2);
const env = {};
let cwd = "/";
let i = 0;
for (; i < args.length && args[i] !== "--"; i++) {
  const flag = args[i];
  const value = args[++i];
  if (flag === "--env") {
    const eq = value.indexOf("=");
    env[value.slice(0, eq)] = value.slice(eq + 1);
  } else if (flag === "--cwd") cwd = value;
}
const [program, ...rest] = args.slice(i + 1);
const report = (line) => {
  try {
    writeSync(3, `${JSON.stringify(line)}\n`);
  } catch {
    // no report fd
  }
};
report({ event: "start", isolation: "none", requested: "none", warning: "NO ISOLATION (test control)" });
if (process.getuid() === 0) {
  process.setgroups([]);
  process.setgid(65534);
  process.setuid(65534);
}
const child = spawn(program, rest, { env, cwd, stdio: ["inherit", "inherit", "inherit"] });
child.on("exit", (code, signal) => {
  report({ event: "exit", reason: "exited", status: code ?? 128, exitCode: code, signal });
  process.exit(code ?? 1);
});
