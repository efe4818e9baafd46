/**
 * Where a render runs: never in the bot's process. Locally (and in the CLI and tests) the worker
 * (src/render-worker.ts) is a separate node process started through preview-sandbox (tools/sandbox): namespaces
 * where the kernel allows them, Landlock plus seccomp where it refuses them (a pod), with only the checkout, a
 * scratch directory, node, the worker's code and the tools visible, no network, a clean environment and limits on
 * the whole process tree. In a cluster the renderer is its own workload (RENDERER_URL; remote.ts), which runs the
 * same worker the same way. Which isolation was in force comes back with every render, so the check run can say it.
 *
 * `none` (RENDER_ISOLATION=none) is only ever chosen by name: the worker still runs as a separate process with a
 * clean environment and the limits, but sees the host; it is announced loudly at start-up and in every render.
 */
import { spawn } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { chmod, chown, copyFile, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Logger } from "../../../logger.js";
import { RenderError } from "./render-error.js";
import { readWorkerResponse, WorkerAnswerError, type WorkerRequest, type WorkerResponse } from "./protocol.js";

export type IsolationMode = "auto" | "namespaces" | "landlock" | "none";

/** What isolation a render ran under, as the sandbox reported it. */
export interface IsolationReport {
  isolation: "namespaces" | "landlock" | "none";
  /** One line for people: "landlock (ABI 7: files, TCP, signals; seccomp), uid 65534". */
  detail: string;
  /** Why the first choice was not used (auto falling back). */
  fallback?: string;
  /** Rendered in the renderer workload (RENDERER_URL), not beside the bot. */
  workload?: boolean;
}

export interface RenderLimits {
  cpuSeconds: number;
  memoryBytes: number;
  wallSeconds: number;
  /** The worker's answer (stdout) at most. */
  outputBytes: number;
}

export const DEFAULT_RENDER_LIMITS: RenderLimits = {
  cpuSeconds: 60,
  memoryBytes: 1024 * 1024 * 1024,
  wallSeconds: 120,
  outputBytes: 64 * 1024 * 1024,
};

export interface RenderWorker {
  /** Render one tree where nothing is worth stealing; the checked answer and the isolation in force. */
  run(
    request: WorkerRequest,
    files: { runDir: string },
    signal?: AbortSignal,
  ): Promise<{ response: WorkerResponse; isolation: IsolationReport }>;
  /** Which isolation this host gives a render (start-up: said at once, and loudly when there is none). */
  probe(runDir: string): Promise<IsolationReport>;
  /** Stop a waiting warm worker (shutdown). */
  close?(): void;
}

export interface SandboxWorkerOptions {
  /** argv of the sandbox launcher: `["preview-sandbox"]`, or through a wrapper; looked up on `path` when bare. */
  sandbox: readonly string[];
  /** The PATH the launcher is looked up on (the settings' PATH). */
  path: string;
  isolation: IsolationMode;
  limits: RenderLimits;
  logger: Logger;
  /**
   * Node's compile cache for the worker's code: written by the start-up probe (which reads no pull-request content),
   * then given read-only to every render, so a render starts without compiling its modules again.
   */
  cacheDir?: string;
  /**
   * Where warm workers wait (one, started after the probe and after each render): a render then hands its tarball to
   * a worker that has already started and loaded its code. Without it, each render starts its worker.
   */
  warmDir?: string;
  /** The directories of the tools renders may use (for warm workers, which start before a request names them). */
  toolDirs?: Promise<readonly string[]>;
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

const EXIT_REASONS: Record<number, string> = {
  120: "the render started too many processes",
  121: "the render used up its CPU time",
  122: "the render used more memory than allowed",
  123: "the render's output is over the size limit",
  124: "the render did not finish in time",
  126: "the renderer could not be started",
  127: "the renderer could not be started (node not found in the sandbox)",
};

export function createSandboxWorker(o: SandboxWorkerOptions): RenderWorker {
  const log = o.logger.child({ component: "render-isolation" });
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

  interface Launched {
    /** Hand the worker its one request; resolves with what it answered, once it exits. */
    send(request: WorkerRequest, signal?: AbortSignal): Promise<Outcome>;
    /** Resolves once the worker exited (a waiting warm worker that exits early is not used). */
    exited: Promise<void>;
    kill(): void;
  }
  interface Outcome {
    stdout: string;
    stderr: string;
    status: number | null;
    reports: Array<Record<string, unknown>>;
  }

  /**
   * Start a worker in the sandbox, seeing `reads` and writing `scratch`, and leave it waiting for its request on
   * stdin (it has loaded its code by then). `extraWallSeconds`: how long it may wait before the request comes.
   */
  function spawnWorker(
    reads: string[],
    scratch: string,
    toolPath: string,
    cache: "read" | "write",
    extraWallSeconds = 0,
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
      String(o.limits.wallSeconds + extraWallSeconds),
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
            `the renderer's sandbox (${launcher}) could not be started: ${e.message}. It ships in preview-bot's image; elsewhere build it with \`bash tools/build.sh\`, or set RENDER_ISOLATION=none to render without isolation (never for pull requests you do not trust)`,
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

  /** Paths a request's worker must read: its tools and its tree. */
  function readsFor(request: WorkerRequest): string[] {
    return [
      ...toolDirs(request),
      ...(request.source.kind === "tarball" ? [request.source.file] : [request.source.dir]),
    ];
  }

  async function launch(
    request: WorkerRequest,
    cache: "read" | "write" = "read",
    signal?: AbortSignal,
  ): Promise<Outcome> {
    await ready;
    return spawnWorker(readsFor(request), request.scratch, request.tools.path, cache).send(request, signal);
  }

  /**
   * A warm worker: started before any render asks for it (its code loaded, waiting on stdin), in a slot of its own —
   * an inbox the bot puts the tarball in (read-only inside), and a scratch directory. Used for one render only, then
   * a fresh one is started for the next: a render never starts a node process on its critical path.
   */
  interface Warm {
    dir: string;
    inbox: string;
    scratch: string;
    worker: Launched;
    expires: number;
    dead: boolean;
  }
  let warm: Warm | undefined;
  let warming: Promise<void> | undefined;
  const WARM_WAIT_SECONDS = 600;

  async function prepareWarm(): Promise<void> {
    if (!o.warmDir) return;
    await ready;
    const dir = await mkdtemp(path.join(o.warmDir, "warm-"));
    const inbox = path.join(dir, "inbox");
    const scratch = path.join(dir, "scratch");
    await mkdir(inbox, { recursive: true });
    await mkdir(scratch, { recursive: true });
    await chmod(dir, 0o755);
    await chmod(inbox, 0o755);
    if (process.getuid?.() === 0) await chown(scratch, 65534, 65534);
    const worker = spawnWorker([...toolDirSet, inbox], scratch, [...toolDirSet].join(":"), "read", WARM_WAIT_SECONDS);
    const slot: Warm = {
      dir,
      inbox,
      scratch,
      worker,
      expires: Date.now() + (WARM_WAIT_SECONDS - 30) * 1000,
      dead: false,
    };
    void worker.exited.then(() => {
      slot.dead = true;
    });
    warm = slot;
  }

  /** Start the next warm worker in the background (never fails a render). */
  function rewarm(): void {
    if (!o.warmDir) return;
    warming ??= prepareWarm()
      .catch((err: unknown) => log.warn({ err }, "could not start a warm renderer"))
      .finally(() => {
        warming = undefined;
      });
  }

  /** Take the warm worker for a tarball request whose tools it sees; undefined when there is none fit to use. */
  async function takeWarm(request: WorkerRequest): Promise<Warm | undefined> {
    if (warming) await warming;
    const slot = warm;
    warm = undefined;
    rewarm();
    if (!slot) return undefined;
    const fits =
      request.source.kind === "tarball" &&
      toolDirs(request).every((d) => toolDirSet.has(d)) &&
      !slot.dead &&
      Date.now() < slot.expires;
    if (fits) return slot;
    slot.worker.kill();
    void slot.worker.exited.then(() => rm(slot.dir, { recursive: true, force: true }));
    return undefined;
  }

  async function runWarm(slot: Warm, request: WorkerRequest, signal?: AbortSignal): Promise<Outcome> {
    try {
      if (request.source.kind !== "tarball") throw new Error("a warm renderer takes tarballs only");
      const file = path.join(slot.inbox, "source.tar.gz");
      await rename(request.source.file, file).catch(() =>
        copyFile(request.source.kind === "tarball" ? request.source.file : "", file),
      );
      await chmod(file, 0o644);
      return await slot.worker.send({ ...request, source: { kind: "tarball", file }, scratch: slot.scratch }, signal);
    } finally {
      await slot.worker.exited;
      await rm(slot.dir, { recursive: true, force: true });
    }
  }

  async function run(
    request: WorkerRequest,
    _files: { runDir: string },
    signal?: AbortSignal,
  ): Promise<{ response: WorkerResponse; isolation: IsolationReport }> {
    const slot = await takeWarm(request);
    const { stdout, stderr, status, reports } = slot
      ? await runWarm(slot, request, signal)
      : await launch(request, "read", signal);
    const start = reports.find((r) => r.event === "start");
    const refused = reports.find((r) => r.event === "refused");
    if (refused || !start) {
      const why = typeof refused?.reason === "string" ? refused.reason : (stderr.trim().split("\n").at(-1) ?? "");
      throw new RenderError(`the renderer's sandbox refused to run: ${why.slice(0, 500)}`);
    }
    const isolation = describeIsolation(start);
    if (signal?.aborted) throw new RenderError("the render was stopped");
    const exit = reports.find((r) => r.event === "exit");
    const reason = exit?.reason;
    if (status !== 0 && reason !== "exited") {
      const limit = EXIT_REASONS[status ?? -1] ?? `the renderer ended with status ${status}`;
      throw new RenderError(`${request.label}: ${limit} (${describeLimits(o.limits)})`);
    }
    try {
      return { response: readWorkerResponse(stdout), isolation };
    } catch (err) {
      if (err instanceof WorkerAnswerError) {
        log.warn({ stderr: stderr.slice(0, 2000) }, `the renderer's answer was refused: ${err.message}`);
        throw new RenderError(`${request.label}: ${err.message}`, { cause: err });
      }
      throw err;
    }
  }

  async function probe(runDir: string): Promise<IsolationReport> {
    const tree = path.join(runDir, "probe-tree");
    const scratch = path.join(runDir, "probe-scratch");
    await mkdir(tree, { recursive: true });
    await mkdir(scratch, { recursive: true });
    await chmod(runDir, 0o755);
    if (process.getuid?.() === 0) await chown(scratch, 65534, 65534);
    const request: WorkerRequest = {
      version: 1,
      source: { kind: "dir", dir: tree },
      scratch,
      label: "the start-up probe",
      manifests: { path: ".", include: [], exclude: [], values: [], set: {}, release: "probe", namespace: "probe" },
      tools: { path: "" },
      limits: { sourceBytes: 1, sourceEntries: 1, toolTimeoutMs: 1_000, toolOutputBytes: 1 },
    };
    if (o.cacheDir) {
      await mkdir(o.cacheDir, { recursive: true });
      if (process.getuid?.() === 0) await chown(o.cacheDir, 65534, 65534);
    }
    const { reports } = await launch(request, "write");
    const start = reports.find((r) => r.event === "start");
    if (!start) {
      const refused = reports.find((r) => r.event === "refused");
      throw new RenderError(
        `the renderer's sandbox refused to run: ${typeof refused?.reason === "string" ? refused.reason : "no report"}`,
      );
    }
    rewarm();
    return describeIsolation(start);
  }

  return {
    run,
    probe,
    close() {
      const slot = warm;
      warm = undefined;
      slot?.worker.kill();
    },
  };
}

/** The tools' directories (the request's tool PATH), made visible read-only. */
function toolDirs(request: WorkerRequest): string[] {
  return request.tools.path
    .split(":")
    .filter((d) => d && path.isAbsolute(d) && existsSync(d))
    .map((d) => realpathSync(d));
}

function describeLimits(l: RenderLimits): string {
  return `limits: ${l.cpuSeconds} s CPU, ${Math.round(l.memoryBytes / 1048576)} MiB, ${l.wallSeconds} s, ${Math.round(l.outputBytes / 1048576)} MiB of output`;
}

/** The sandbox's `start` report line, in one line for people. */
function describeIsolation(start: Record<string, unknown>): IsolationReport {
  const isolation = start.isolation === "namespaces" || start.isolation === "landlock" ? start.isolation : "none";
  const parts: string[] = [];
  if (isolation === "namespaces") parts.push("user, pid, mount and network namespaces");
  if (isolation === "landlock") {
    const l = (start.landlock ?? {}) as Record<string, unknown>;
    const what = [l.fs && "files", l.tcp && "TCP", l.scope && "signals"].filter(Boolean).join(", ");
    parts.push(`Landlock ABI ${String(l.abi ?? "?")} (${what || "nothing"})`);
  }
  if ((start.seccomp as { enforced?: boolean } | undefined)?.enforced) parts.push("seccomp");
  if (typeof start.uid === "number") parts.push(`uid ${start.uid}`);
  const detail =
    isolation === "none"
      ? "NO ISOLATION (RENDER_ISOLATION=none): the renderer sees this host's files"
      : `${isolation}: ${parts.join(", ")}`;
  return {
    isolation,
    detail,
    ...(typeof start.fallback === "string" ? { fallback: start.fallback } : {}),
  };
}
