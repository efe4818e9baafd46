/**
 * Running preview-sandbox (tools/sandbox, built into .tools/bin by `bash tools/build.sh`) in tests: its two modes
 * as they happen for real, a workspace laid out like the bot's (a checkout, a scratch directory, a fake
 * ServiceAccount token outside both), and a runner that collects stdout, stderr and the JSON report (fd 3).
 *
 * The landlock mode is not a flag: deny-unshare (tools/sandbox/cmd/deny-unshare) refuses unshare and clone with
 * namespace flags as a pod's RuntimeDefault seccomp profile does, drops to uid 65534 as runAsUser would, and runs
 * the sandbox in `auto` mode, which must find namespaces refused and fall back by itself.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  chmodSync,
  chownSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, TOOLS_BIN } from "./paths.js";

export const SANDBOX = path.join(TOOLS_BIN, "preview-sandbox");
export const DENY_UNSHARE = path.join(TOOLS_BIN, "deny-unshare");
/** The uid the landlock mode's launcher runs as (a pod's runAsUser), and the namespaces mode's program outside. */
export const NOBODY = 65534;

export interface SandboxMode {
  name: string;
  isolation: "namespaces" | "landlock" | "none";
  command: readonly string[];
}

export const MODES: readonly SandboxMode[] = [
  { name: "namespaces", isolation: "namespaces", command: [SANDBOX, "--isolation", "namespaces"] },
  {
    name: "landlock (unshare refused, launcher uid 65534: as in a pod)",
    isolation: "landlock",
    command: [DENY_UNSHARE, "--uid", String(NOBODY), "--", SANDBOX, "--isolation", "auto"],
  },
];

/** Runs a program as uid 65534 with no sandbox at all: the control that shows what a sandboxed run is denied. */
export const UNCONFINED: SandboxMode = {
  name: "unconfined",
  isolation: "none",
  command: [DENY_UNSHARE, "--uid", String(NOBODY), "--allow-unshare", "--"],
};

/** The node running the tests (the project's Node 24) and what it needs to start in a sandbox. */
export const NODE = realpathSync(process.execPath);
const gnuArch = process.arch === "arm64" ? "aarch64" : "x86_64";
export const NODE_READ = [
  path.dirname(NODE),
  `/lib/${gnuArch}-linux-gnu`,
  gnuArch === "x86_64" ? "/lib64/ld-linux-x86-64.so.2" : "/lib/ld-linux-aarch64.so.1",
];
/** Node reads OpenSSL's configuration at start; Landlock refuses /etc/ssl/openssl.cnf (EACCES, fatal to node). */
export const NODE_ENV = ["OPENSSL_CONF=/dev/null"];

export interface Workspace {
  root: string;
  checkout: string;
  scratch: string;
  /** A fake ServiceAccount token outside the checkout, holding `canary`. */
  token: string;
  canary: string;
  cleanup(): void;
}

/**
 * A workspace every path of which uid 65534 may read (so that only the sandbox stands between the program and
 * the token), with the test fixtures helm-chart-app and kustomize-shop in the checkout, two links out of it
 * (`leak`, absolute; `chain`, relative, climbing out) and `hostile-chart`, which renders its linked `token`.
 */
export function makeWorkspace(): Workspace {
  const root = mkdtempSync(path.join(os.tmpdir(), "sandbox-test-"));
  chmodSync(root, 0o755);
  const checkout = path.join(root, "checkout");
  const scratch = path.join(root, "scratch");
  const tokenDir = path.join(root, "secrets/var/run/secrets/kubernetes.io/serviceaccount");
  for (const d of [checkout, scratch, tokenDir]) mkdirSync(d, { recursive: true, mode: 0o755 });
  const token = path.join(tokenDir, "token");
  const canary = `canary-${randomUUID()}`;
  writeFileSync(token, canary, { mode: 0o644 });
  symlinkSync(token, path.join(checkout, "leak"));
  symlinkSync("../secrets/var/run/secrets/kubernetes.io/serviceaccount/token", path.join(checkout, "chain"));
  // a chart whose template puts a linked file into a ConfigMap (.Files.Get follows links): issue 20's leak
  const hostile = path.join(checkout, "hostile-chart");
  mkdirSync(path.join(hostile, "templates"), { recursive: true, mode: 0o755 });
  writeFileSync(path.join(hostile, "Chart.yaml"), "apiVersion: v2\nname: hostile\nversion: 0.1.0\n");
  writeFileSync(
    path.join(hostile, "templates/leak.yaml"),
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  token: {{ .Files.Get "token" | quote }}\n',
  );
  symlinkSync(token, path.join(hostile, "token"));
  for (const f of ["helm-chart-app", "kustomize-shop"])
    cpSync(path.join(ROOT, "test/fixtures", f), path.join(checkout, f), { recursive: true });
  if (process.getuid?.() === 0) chownSync(scratch, NOBODY, NOBODY);
  else chmodSync(scratch, 0o777);
  return { root, checkout, scratch, token, canary, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export interface StartReport {
  event: "start";
  isolation: string;
  requested: string;
  fallback?: string;
  warning?: string;
  namespaces: Record<string, boolean | string> | null;
  landlock: { abi: number; fs: boolean; tcp: boolean; udp: boolean; scope: boolean; unixPath: boolean } | null;
  seccomp: { enforced: boolean; refuses: string[] };
  noNewPrivs: boolean;
  uid: number;
  groups: number[];
  launcherPid: number;
}
export interface ExitReport {
  event: "exit";
  reason: string;
  status: number;
  message?: string;
  survivors: number;
}
export interface RefusedReport {
  event: "refused";
  status: number;
  reason: string;
}

export interface SandboxRun {
  status: number | null;
  stdout: string;
  stderr: string;
  start?: StartReport;
  exit?: ExitReport;
  refused?: RefusedReport;
}

export interface Started {
  child: ChildProcess;
  /** stdout so far */
  stdout(): string;
  done: Promise<SandboxRun>;
}

/**
 * Starts `mode`'s command with `flags` (plus --report-fd 3) and `argv`, with `env` as the launcher's whole
 * environment. stdin stays open until the caller ends it (`child.stdin.end()`).
 */
export function startSandbox(
  mode: SandboxMode,
  flags: readonly string[],
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Started {
  const args =
    mode === UNCONFINED
      ? [...mode.command.slice(1), ...argv]
      : [...mode.command.slice(1), "--report-fd", "3", ...flags, "--", ...argv];
  const child = spawn(mode.command[0]!, args, { stdio: ["pipe", "pipe", "pipe", "pipe"], env });
  let stdout = "";
  let stderr = "";
  let report = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  (child.stdio[3] as NodeJS.ReadableStream).setEncoding("utf8").on("data", (d: string) => (report += d));
  const done = new Promise<SandboxRun>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (status) => {
      const lines = report
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as StartReport | ExitReport | RefusedReport);
      resolve({
        status,
        stdout,
        stderr,
        start: lines.find((l): l is StartReport => l.event === "start"),
        exit: lines.find((l): l is ExitReport => l.event === "exit"),
        refused: lines.find((l): l is RefusedReport => l.event === "refused"),
      });
    });
  });
  return { child, stdout: () => stdout, done };
}

/** Runs to the end, with `stdin` written and closed. */
export function runSandbox(
  mode: SandboxMode,
  flags: readonly string[],
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  stdin = "",
): Promise<SandboxRun> {
  const s = startSandbox(mode, flags, argv, env);
  s.child.stdin!.end(stdin);
  return s.done;
}
