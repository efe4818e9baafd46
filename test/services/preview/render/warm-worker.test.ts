/**
 * Warm workers (render/warm-worker.ts) with the real sandbox and the pinned kustomize: a render takes the worker that
 * waits for it when that worker sees the render's tools (their directories below the ones it was given, as the tools'
 * own `kustomize-<version>/` directories are below `.tools/bin`), each worker serves one render and is gone after it,
 * and a render whose tools the waiting worker cannot see is not given to it.
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { realpathSync } from "node:fs";
import { chmod, mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { c as createTar } from "tar";
import { createLogger } from "../../../../src/logger.js";
import { DEFAULT_RENDER_LIMITS } from "../../../../src/services/preview/render/isolation.js";
import { readWorkerResponse, type WorkerRequest } from "../../../../src/services/preview/render/protocol.js";
import { createSandboxLauncher } from "../../../../src/services/preview/render/sandbox-process.js";
import { createWarmWorkers, type WarmWorkers } from "../../../../src/services/preview/render/warm-worker.js";
import { TOOLS_BIN } from "../../../support/paths.js";
import { useTrees } from "../../../support/render.js";
import { describeWithTools } from "../../../support/tools.js";
import { until } from "../../../support/wait.js";

const { tree, tmp } = useTrees("warm-worker-");
let kustomize = "";
let warmDir = "";
let warm: WarmWorkers;

/** A kustomize render of a one-ConfigMap tree, from a tarball laid out as GitHub's (`owner-repo-sha/` on top). */
async function request(name: string, toolDir = path.dirname(kustomize)): Promise<WorkerRequest> {
  const root = await tree({
    "k8s/kustomization.yaml": "resources:\n- cm.yaml\n",
    "k8s/cm.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  a: b\n`,
  });
  const file = path.join(tmp(), `${name}.tar.gz`);
  await createTar({ gzip: true, cwd: path.dirname(root), file, portable: true }, [path.basename(root)]);
  await chmod(file, 0o644);
  return {
    version: 1,
    source: { kind: "tarball", file },
    scratch: path.join(tmp(), `${name}-unused-scratch`),
    label: `acme/shop@${name}`,
    manifests: { path: "k8s", include: [], exclude: [], values: [], set: {}, namespace: "ns" },
    tools: { kustomize: [kustomize, "build"], path: toolDir },
    limits: { sourceBytes: 1 << 20, sourceEntries: 100, toolTimeoutMs: 60_000, toolOutputBytes: 1 << 20 },
  };
}

const pidOf = (reports: Array<Record<string, unknown>>) => reports.find((r) => r.event === "start")?.pid;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describeWithTools(["preview-sandbox", "kustomize"], "warm workers", () => {
  beforeAll(async () => {
    kustomize = realpathSync(path.join(TOOLS_BIN, "kustomize"));
    warmDir = await mkdtemp(path.join(os.tmpdir(), "warm-slots-"));
    await chmod(warmDir, 0o755);
    const launcher = createSandboxLauncher({
      sandbox: [path.join(TOOLS_BIN, "preview-sandbox")],
      path: process.env.PATH!,
      isolation: "auto",
      limits: DEFAULT_RENDER_LIMITS,
      toolDirs: Promise.resolve([TOOLS_BIN]),
    });
    warm = createWarmWorkers(launcher, warmDir, createLogger({ level: "silent" }));
    warm.rewarm();
  });

  afterAll(async () => {
    warm.close();
    await rm(warmDir, { recursive: true, force: true });
  });

  it("a render takes the waiting worker, which runs a tool below its tool directories; the next render gets a fresh one", async () => {
    const first = await warm.tryRun(await request("first"));
    expect(first).toBeDefined();
    const answer = readWorkerResponse(first!.stdout);
    expect(answer.ok && answer.objects.map((o) => o.metadata.name)).toEqual(["first"]);
    const firstPid = pidOf(first!.reports);
    expect(typeof firstPid).toBe("number");

    const second = await warm.tryRun(await request("second"));
    expect(second).toBeDefined();
    const again = readWorkerResponse(second!.stdout);
    expect(again.ok && again.objects.map((o) => o.metadata.name)).toEqual(["second"]);
    // Used once: another process, the first one gone, and no slot of a finished render left behind.
    expect(pidOf(second!.reports)).not.toBe(firstPid);
    expect(alive(firstPid as number)).toBe(false);
    // Their slots are removed in the background; what stays is at most the next worker's.
    await until("the used slots to be removed", async () => ((await readdir(warmDir)).length <= 1 ? true : undefined));
  }, 120_000);

  it("a render whose tools the waiting worker cannot see is not given to it", async () => {
    expect(await warm.tryRun(await request("elsewhere", "/usr/bin"))).toBeUndefined();
  }, 120_000);
});
