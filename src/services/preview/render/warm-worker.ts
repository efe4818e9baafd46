/**
 * A warm worker: started before any render asks for it (its code loaded, waiting on stdin), in a slot of its own — an
 * inbox the bot puts the tarball in (read-only inside) and a scratch directory. Used for one render only, then a fresh
 * one is started for the next (once this render is done: on a small machine its start would otherwise take CPU from
 * the render), so a render does not start a node process on its critical path. A worker that waited too long, died,
 * or cannot see a request's tools is not used (the render starts its own).
 */
import { chmod, chown, copyFile, mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../../../logger.js";
import type { WorkerRequest } from "./protocol.js";
import { toolDirs, type Launched, type Outcome, type SandboxLauncher } from "./sandbox-process.js";

/** How long a warm worker may wait for its request (its sandbox's wall time is extended by this). */
const WARM_WAIT_SECONDS = 600;

interface Slot {
  dir: string;
  inbox: string;
  scratch: string;
  worker: Launched;
  expires: number;
  dead: boolean;
}

export interface WarmWorkers {
  /** Render `request` on the waiting worker when one fits; undefined when none does (start one instead). */
  tryRun(request: WorkerRequest, signal?: AbortSignal): Promise<Outcome | undefined>;
  /** Start the next warm worker in the background (never fails a render). */
  rewarm(): void;
  /** Stop the waiting worker (shutdown). */
  close(): void;
}

export function createWarmWorkers(launcher: SandboxLauncher, warmDir: string | undefined, log: Logger): WarmWorkers {
  let warm: Slot | undefined;
  let warming: Promise<void> | undefined;

  async function prepare(dir0: string): Promise<void> {
    await launcher.ready;
    const dir = await mkdtemp(path.join(dir0, "warm-"));
    const inbox = path.join(dir, "inbox");
    const scratch = path.join(dir, "scratch");
    await mkdir(inbox, { recursive: true });
    await mkdir(scratch, { recursive: true });
    await chmod(dir, 0o755);
    await chmod(inbox, 0o755);
    if (process.getuid?.() === 0) await chown(scratch, 65534, 65534);
    const dirs = [...launcher.toolDirs];
    const worker = launcher.spawn([...dirs, inbox], scratch, dirs.join(":"), "read", {
      waitSeconds: WARM_WAIT_SECONDS,
    });
    const slot: Slot = {
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

  function rewarm(): void {
    if (!warmDir || warm) return;
    warming ??= prepare(warmDir)
      .catch((err: unknown) => log.warn({ err }, "could not start a warm renderer"))
      .finally(() => {
        warming = undefined;
      });
  }

  /**
   * Take the warm worker for a tarball request whose tools it sees; undefined when there is none fit to use (the next
   * one is then started at once; after a taken worker's render otherwise, so that its start does not take CPU from
   * the render).
   */
  async function take(request: WorkerRequest): Promise<Slot | undefined> {
    if (warming) await warming;
    const slot = warm;
    warm = undefined;
    const fits =
      slot !== undefined &&
      request.source.kind === "tarball" &&
      toolDirs(request).every((d) => sees(launcher.toolDirs, d)) &&
      !slot.dead &&
      Date.now() < slot.expires;
    if (fits) return slot;
    if (slot) discard(slot);
    rewarm();
    return undefined;
  }

  /** End a worker and remove its slot (in the background: no render waits for it). */
  function discard(slot: Slot): void {
    slot.worker.kill();
    void slot.worker.exited
      .then(() => rm(slot.dir, { recursive: true, force: true }))
      .catch((err: unknown) => log.warn({ err }, "could not remove a renderer's slot"));
  }

  async function tryRun(request: WorkerRequest, signal?: AbortSignal): Promise<Outcome | undefined> {
    if (!warmDir || request.source.kind !== "tarball") return undefined;
    const slot = await take(request);
    if (!slot) return undefined;
    const source = request.source.file;
    try {
      const file = path.join(slot.inbox, "source.tar.gz");
      await rename(source, file).catch(() => copyFile(source, file));
      await chmod(file, 0o644);
      return await slot.worker.send({ ...request, source: { kind: "tarball", file }, scratch: slot.scratch }, signal);
    } finally {
      // Used once: the worker has exited (its answer comes once its whole sandbox is gone); its slot is removed and
      // the next worker started while the bot checks this answer.
      discard(slot);
      rewarm();
    }
  }

  return {
    tryRun,
    rewarm,
    close() {
      const slot = warm;
      warm = undefined;
      slot?.worker.kill();
    },
  };
}

/** Whether a worker given `dirs` read-only sees `dir` (the sandbox shows a directory with everything below it). */
function sees(dirs: ReadonlySet<string>, dir: string): boolean {
  for (const d of dirs) if (dir === d || dir.startsWith(d.endsWith("/") ? d : `${d}/`)) return true;
  return false;
}
