/**
 * Starting the renderer's worker (src/render-worker.ts) inside preview-sandbox (tools/sandbox): what it may read and
 * write, its limits and its environment as the launcher's argv, the worker's code (built, or the TypeScript source
 * when the bot runs from source, as in tests), and what came back (its answer, stderr, exit status and the sandbox's
 * report lines). One process per render: isolation.ts decides what to run; warm-worker.ts keeps one started ahead.
 */
import { spawn } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { chmod, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { WorkerRequest } from "./protocol.js";
import { RenderError } from "./render-error.js";

export type IsolationMode = "auto" | "namespaces" | "landlock" | "none";

export interface RenderLimits {
  cpuSeconds: number;
  memoryBytes: number;
  wallSeconds: number;
  /** The worker's answer (stdout) at most. */
  outputBytes: number;
}

export interface SandboxLaunchOptions {
  /** argv of the sandbox launcher: `["preview-sandbox"]`, or through a wrapper; looked up on `path` when bare. */
  sandbox: readonly string[];
  /** The PATH the launcher is looked up on (the settings' PATH). */
  path: string;
  isolation: IsolationMode;
  limits: RenderLimits;
  /** Node's compile cache for the worker's code (written by the start-up probe, read-only for renders). */
  cacheDir?: string;
  /** The directories of the tools renders may use (known before a request names them: for warm workers). */
  toolDirs?: Promise<readonly string[]>;
}

export interface SandboxLauncher {
  /** Resolves once the launcher is ready (the source hook written, the tools' directories resolved). */
  ready: Promise<void>;
  /** The tools' directories known at start-up, resolved (after `ready`). */
  toolDirs: ReadonlySet<string>;
  /**
   * Start a worker seeing `reads` and writing `scratch`, waiting for its request on stdin. `cache`: whether it may
   * write the compile cache (the probe) or only read it. `warm`: a worker started ahead of its request, which may
   * wait `waitSeconds` for it and renders a tiny tree of its own meanwhile (warm-worker.ts).
   */
  spawn(
    reads: string[],
    scratch: string,
    toolPath: string,
    cache: "read" | "write",
    warm?: { waitSeconds: number },
  ): Launched;
}

export interface Launched {
  /** Hand the worker its one request; resolves with what it answered, once it exits. */
  send(request: WorkerRequest, signal?: AbortSignal): Promise<Outcome>;
  /** Resolves once the worker exited (a waiting warm worker that exits early is not used). */
  exited: Promise<void>;
  kill(): void;
}
export interface Outcome {
  stdout: string;
  stderr: string;
  status: number | null;
  reports: Array<Record<string, unknown>>;
}

/** The worker's code: dist/render-worker.js, or the TypeScript source when the bot itself runs from source (tests). */
function workerCode(): { entry: string; root: string; fromSource: boolean } {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith(".ts");
  const codeRoot = path.resolve(path.dirname(here), "..", "..", "..");
  const root = path.dirname(codeRoot);
  return { entry: path.join(codeRoot, fromSource ? "render-worker.ts" : "render-worker.js"), root, fromSource };
}

/** What node needs to start under Landlock: its own directory and the C libraries (the loader included). */
function nodePaths(node: string): string[] {
  const arch = process.arch === "arm64" ? "aarch64" : "x86_64";
  const candidates = [
    path.dirname(node),
    `/lib/${arch}-linux-gnu`,
    `/usr/lib/${arch}-linux-gnu`,
    arch === "x86_64" ? "/lib64/ld-linux-x86-64.so.2" : "/lib/ld-linux-aarch64.so.1",
  ];
  // As written, not resolved: the sandbox recreates the links on the way (`/lib64 -> usr/lib64`), and the loader's
  // path in node's ELF header is the unresolved one.
  return [...new Set(candidates.filter((p) => existsSync(p)))];
}

/** Maps `./x.js` imports to `./x.ts` when the worker runs from source (as the bench does; see bench/support). */
const SOURCE_HOOK = `import { registerHooks } from "node:module";
registerHooks({ resolve(s, c, next) { try { return next(s, c); } catch (e) { if (/^\\.{1,2}\\//.test(s) && s.endsWith(".js")) return next(s.slice(0, -3) + ".ts", c); throw e; } } });\n`;

export function createSandboxLauncher(o: SandboxLaunchOptions): SandboxLauncher {
  const node = realpathSync(process.execPath);
  const code = workerCode();
  const [launcher = "preview-sandbox", ...launcherArgs] = o.sandbox;
  let sourceHook: string | undefined;
  const toolDirSet = new Set<string>();
  // Once per process: the hook that lets the worker run from source (tests), and the tools' directories.
  const ready = (async () => {
    if (code.fromSource) {
      const dir = await mkdtemp(path.join(tmpdir(), "preview-render-hook-"));
      await chmod(dir, 0o755);
      sourceHook = path.join(dir, "source-hook.mjs");
      await writeFile(sourceHook, SOURCE_HOOK, { mode: 0o644 });
    }
    for (const d of (await o.toolDirs) ?? []) if (existsSync(d)) toolDirSet.add(realpathSync(d));
  })();
  const command = launcher.includes("/")
    ? launcher
    : (o.path
        .split(":")
        .map((d) => path.join(d, launcher))
        .find((p) => path.isAbsolute(p) && existsSync(p)) ?? launcher);

  /**
   * Start a worker in the sandbox, seeing `reads` and writing `scratch`, and leave it waiting for its request on
   * stdin (it has loaded its code by then). `warm`: started ahead, it may wait for its request and warms up meanwhile.
   */
  function spawnWorker(
    reads: string[],
    scratch: string,
    toolPath: string,
    cache: "read" | "write",
    warm?: { waitSeconds: number },
  ): Launched {
    const nodeArgs: string[] = [];
    const all = [
      ...nodePaths(node),
      path.join(code.root, "node_modules"),
      path.join(code.root, "package.json"),
      path.dirname(code.entry),
      ...reads,
    ];
    if (code.fromSource && sourceHook) {
      all.push(sourceHook);
      nodeArgs.push("--no-warnings", "--experimental-transform-types", "--import", pathToFileURL(sourceHook).href);
    }
    const cacheDir = o.cacheDir && existsSync(o.cacheDir) ? o.cacheDir : undefined;
    const env = {
      PATH: toolPath,
      HOME: scratch,
      TMPDIR: scratch,
      OPENSSL_CONF: "/dev/null",
      ...(cacheDir ? { NODE_COMPILE_CACHE: cacheDir } : {}),
    };
    const argv = [
      ...launcherArgs,
      "--isolation",
      o.isolation,
      "--report-fd",
      "3",
      "--cwd",
      scratch,
      "--cpu-seconds",
      String(o.limits.cpuSeconds),
      "--memory-bytes",
      String(o.limits.memoryBytes),
      "--wall-seconds",
      String(o.limits.wallSeconds + (warm?.waitSeconds ?? 0)),
      "--max-output",
      String(o.limits.outputBytes),
      ...[...new Set(all)].flatMap((p) => ["--read", p]),
      "--write",
      scratch,
      ...(cacheDir ? [cache === "write" ? "--write" : "--read", cacheDir] : []),
      ...Object.entries(env).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
      "--",
      node,
      ...nodeArgs,
      code.entry,
      ...(warm ? ["--warm-up"] : []),
    ];
    const child = spawn(command, argv, { stdio: ["pipe", "pipe", "pipe", "pipe"], env: {} });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let errBytes = 0;
    let reportText = "";
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => {
      errBytes += c.length;
      if (errBytes <= 64 * 1024) err.push(c);
    });
    (child.stdio[3] as NodeJS.ReadableStream).on("data", (c: Buffer) => {
      if (reportText.length < 64 * 1024) reportText += c.toString("utf8");
    });
    child.stdin.on("error", () => undefined); // a worker that died before its request: reported by `close`
    const done = new Promise<Outcome>((resolve, reject) => {
      child.on("error", (e) =>
        reject(
          new RenderError(
            `the renderer's sandbox (${launcher}) could not be started: ${e.message}. Renders run through it in every RENDER_ISOLATION mode, none included (it applies the render limits). It ships in preview-bot's image; elsewhere build it with \`bash tools/build.sh sandbox\` and put .tools/bin on PATH, or point RENDER_SANDBOX at it`,
            { cause: e },
          ),
        ),
      );
      child.on("close", (status) => {
        const reports = reportText
          .split("\n")
          .filter((l) => l.trim())
          .flatMap((l) => {
            try {
              return [JSON.parse(l) as Record<string, unknown>];
            } catch {
              return [];
            }
          });
        resolve({
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
          status,
          reports,
        });
      });
    });
    done.catch(() => undefined);
    return {
      exited: done.then(
        () => undefined,
        () => undefined,
      ),
      kill: () => child.kill("SIGTERM"),
      async send(request, signal) {
        const abort = () => child.kill("SIGTERM");
        signal?.addEventListener("abort", abort, { once: true });
        // The render's own wall time, from when it got its request (a warm worker's sandbox allows for its wait).
        const timer = setTimeout(() => child.kill("SIGTERM"), o.limits.wallSeconds * 1000);
        try {
          child.stdin.end(JSON.stringify(request));
          return await done;
        } finally {
          clearTimeout(timer);
          signal?.removeEventListener("abort", abort);
        }
      },
    };
  }

  return { ready, toolDirs: toolDirSet, spawn: spawnWorker };
}

/** The tools' directories of a request (its tool PATH), resolved: made visible read-only. */
export function toolDirs(request: WorkerRequest): string[] {
  return request.tools.path
    .split(":")
    .filter((d) => d && path.isAbsolute(d) && existsSync(d))
    .map((d) => realpathSync(d));
}
