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
import { chmod, chown, mkdir } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../../../logger.js";
import { RenderError } from "./render-error.js";
import { readWorkerResponse, WorkerAnswerError, type WorkerRequest, type WorkerResponse } from "./protocol.js";
import {
  createSandboxLauncher,
  toolDirs,
  type IsolationMode,
  type Outcome,
  type RenderLimits,
} from "./sandbox-process.js";

export type { IsolationMode, RenderLimits } from "./sandbox-process.js";
import { createWarmWorkers } from "./warm-worker.js";

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
  const launcher = createSandboxLauncher(o);
  const warm = createWarmWorkers(launcher, o.warmDir, log);

  async function launch(
    request: WorkerRequest,
    cache: "read" | "write" = "read",
    signal?: AbortSignal,
  ): Promise<Outcome> {
    await launcher.ready;
    const reads = [
      ...toolDirs(request),
      ...(request.source.kind === "tarball" ? [request.source.file] : [request.source.dir]),
    ];
    return launcher.spawn(reads, request.scratch, request.tools.path, cache).send(request, signal);
  }

  async function run(
    request: WorkerRequest,
    _files: { runDir: string },
    signal?: AbortSignal,
  ): Promise<{ response: WorkerResponse; isolation: IsolationReport }> {
    const { stdout, stderr, status, reports } =
      (await warm.tryRun(request, signal)) ?? (await launch(request, "read", signal));
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
    warm.rewarm();
    return describeIsolation(start);
  }

  return {
    run,
    probe,
    close: () => warm.close(),
  };
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
