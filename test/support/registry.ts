/**
 * A real OCI registry for tests and benchmarks: `preview-registry` (tools/registry, built by `bash tools/build.sh`
 * into .tools/bin): go-containerregistry's in-memory registry behind a Docker token-auth front, on a free loopback
 * port. Tests push and retag images with the same binary (no Docker) and read its request log (one JSON line per
 * request) to see what a client did.
 *
 * The jest global setup starts one per run (public prefix `lib/`, private prefix `team/`, one user) and hands it to
 * workers through TEST_REGISTRY; `sharedRegistry()` gives it back. Tests share it, so each uses its own repository
 * names. No Jest imports here: the global setup loads this file.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { TOOLS_BIN } from "./paths.ts";

const run = promisify(execFile);

export const REGISTRY_BINARY = path.join(TOOLS_BIN, "preview-registry");
const REGISTRY_ENV = "TEST_REGISTRY";
export const REGISTRY_ERROR_ENV = "TEST_REGISTRY_ERROR";

export interface RegistryOptions {
  /** user → password; these may pull and push anything. */
  users?: Record<string, string>;
  /** Repository prefixes anyone may pull (`lib/`). */
  publicPrefixes?: string[];
  /** Repository prefixes only users may pull (`team/`). */
  privatePrefixes?: string[];
  /** Lifetime of issued tokens, in seconds (default 300). */
  tokenTtlSeconds?: number;
  /** Anonymous requests for a private scope get a token granting nothing (Docker Hub's way) instead of a 401. */
  denyWithEmptyToken?: boolean;
  /** `basic`: Basic credentials on every request instead of tokens (a registry with htpasswd). Default `token`. */
  auth?: "token" | "basic";
}

/** What workers get through TEST_REGISTRY. */
export interface RegistryInfo {
  /** `127.0.0.1:PORT`: use it as the registry part of an image reference. */
  host: string;
  port: number;
  /** go-containerregistry's version in the binary. */
  version: string;
  logFile: string;
  users: Record<string, string>;
}

export interface PushResult {
  digest: string;
  mediaType: string;
  /** For an index: the per-platform manifests' digests. */
  manifests?: string[];
}

export interface RegistryLogEntry {
  time: string;
  method: string;
  path: string;
  status: number;
  /** Whether the request carried a bearer token. */
  token: boolean;
  /** `bearer`, `basic`, `none` or another scheme as sent. */
  auth: string;
  ua?: string;
  accept?: string;
  scope?: string[];
  user?: string;
  digest?: string;
}

export interface TestRegistry extends RegistryInfo {
  /** Push a small random image (the same seed, the same digest) or, with `index`, a linux/amd64+arm64 index. */
  push(
    repo: string,
    tag: string,
    opts?: { user?: string; seed?: number; index?: boolean; format?: "docker" | "oci" },
  ): Promise<PushResult>;
  /** Retag by manifest (`from` a tag or a digest); no layers move. */
  tag(repo: string, from: string, to: string, opts?: { user?: string }): Promise<PushResult>;
  /** Every request the registry logged so far. */
  log(): RegistryLogEntry[];
  /** Stop it (and remove its log); only the process that started it can. */
  stop(): Promise<void>;
}

/** The client commands, for any registry (the shared one or a private one). */
function registryClient(info: RegistryInfo): Omit<TestRegistry, "stop"> {
  const userArgs = (user: string | undefined): string[] => {
    const u = user ?? Object.keys(info.users)[0];
    return u === undefined || u === "" ? [] : ["--user", `${u}:${info.users[u] ?? ""}`];
  };
  const cli = async (args: string[]): Promise<PushResult> => {
    try {
      const { stdout } = await run(REGISTRY_BINARY, args, { timeout: 60_000 });
      return JSON.parse(stdout.trim().split("\n").pop()!) as PushResult;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`preview-registry ${args[0]} ${args.slice(1, 5).join(" ")}: ${e.stderr?.trim() || e.message}`, {
        cause: err,
      });
    }
  };
  return {
    ...info,
    push: (repo, tag, opts = {}) =>
      cli([
        "push",
        "--registry",
        info.host,
        "--repo",
        repo,
        "--tag",
        tag,
        ...userArgs(opts.user),
        ...(opts.seed !== undefined ? ["--seed", String(opts.seed)] : []),
        ...(opts.index ? ["--index"] : []),
        ...(opts.format ? ["--format", opts.format] : []),
      ]),
    tag: (repo, from, to, opts = {}) =>
      cli(["tag", "--registry", info.host, "--repo", repo, "--from", from, "--to", to, ...userArgs(opts.user)]),
    log: () =>
      readFileSync(info.logFile, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as RegistryLogEntry),
  };
}

/** Start a registry on a free loopback port; resolves once it listens. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<TestRegistry> {
  if (!existsSync(REGISTRY_BINARY)) throw new Error(`${REGISTRY_BINARY} is missing: run \`bash tools/build.sh\``);
  const dir = mkdtempSync(path.join(tmpdir(), "preview-registry-"));
  const logFile = path.join(dir, "requests.jsonl");
  const users = opts.users ?? {};
  const args = ["serve", "--listen", "127.0.0.1:0", "--log", logFile];
  const userList = Object.entries(users).map(([u, p]) => `${u}:${p}`);
  if (userList.length) args.push("--users", userList.join(","));
  if (opts.publicPrefixes?.length) args.push("--public-prefix", opts.publicPrefixes.join(","));
  if (opts.privatePrefixes?.length) args.push("--private-prefix", opts.privatePrefixes.join(","));
  if (opts.tokenTtlSeconds !== undefined) args.push("--token-ttl", `${opts.tokenTtlSeconds}s`);
  if (opts.denyWithEmptyToken) args.push("--deny-with-empty-token");
  if (opts.auth) args.push("--auth", opts.auth);
  const child = spawn(REGISTRY_BINARY, args, { stdio: ["ignore", "pipe", "pipe"] });
  const started = await new Promise<{ port: number; version: string }>((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`preview-registry did not listen within 30 s: ${err}`)), 30_000);
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line && out.includes("\n")) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { port: number; version: string });
      }
    });
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`preview-registry exited (${code}) before listening: ${err}`));
    });
  });
  child.stdout.resume();
  child.stderr.resume();
  const info: RegistryInfo = { host: `127.0.0.1:${started.port}`, ...started, logFile, users };
  return {
    ...registryClient(info),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 5000)))]);
        clearTimeout(timer);
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The settings of the run's shared registry (global setup). */
export function sharedRegistryOptions(): RegistryOptions {
  return {
    users: { ci: `ci-${randomBytes(12).toString("hex")}` },
    publicPrefixes: ["lib/"],
    privatePrefixes: ["team/"],
  };
}

/** The run's shared registry (client side), or undefined when the global setup could not start one. */
export function sharedRegistry(): Omit<TestRegistry, "stop"> | undefined {
  const raw = process.env[REGISTRY_ENV];
  return raw ? registryClient(JSON.parse(raw) as RegistryInfo) : undefined;
}
