/**
 * A queue worker in a child process (test/support/queue-worker-child.ts), for the tests that kill one mid-job:
 * spawned with Node's type stripping and the `.js` → `.ts` resolve hook, its stdout lines awaited by name.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { writeTsImportHook } from "./azurite.js";
import { ROOT } from "./paths.js";

export interface QueueWorker {
  child: ChildProcess;
  /** Resolves when the worker has printed `line`; rejects (with its stderr) when it exits first. */
  saw(line: string): Promise<void>;
  /** Send `signal` and wait for the process to exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** `dir` holds the resolve hook; `env` is the child's whole environment besides PATH (see the child's header). */
export function spawnQueueWorker(dir: string, env: Record<string, string | undefined>): QueueWorker {
  const child = spawn(
    process.execPath,
    [
      "--no-warnings",
      "--experimental-transform-types",
      "--import",
      pathToFileURL(writeTsImportHook(dir)).href,
      join(ROOT, "test/support/queue-worker-child.ts"),
    ],
    { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const waiters: Array<() => void> = [];
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    saw: (line) =>
      new Promise<void>((ok, fail) => {
        const check = () => (out.split("\n").includes(line) ? ok() : waiters.push(check));
        child.once("exit", (code) =>
          fail(new Error(`worker exited (${code}) before printing "${line}": ${err.slice(-2000)}`)),
        );
        check();
      }),
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
