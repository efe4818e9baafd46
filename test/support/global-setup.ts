/**
 * Jest global setup: one real PostgreSQL server, one real OCI registry and one real Kubernetes control plane for the
 * whole run. Their addresses reach every test worker through the environment (TEST_PG_URL, TEST_REGISTRY,
 * TEST_KUBE_REAL; workers inherit this process's environment). Tests create their own databases, repositories and
 * namespaces inside them. The pinned Go-built tools (.tools/bin, from `bash tools/build.sh`) go first on PATH, so
 * kustomize and helm are those.
 *
 * Without the control-plane binaries the run goes on (suites that need them skip, or fail under CI=true, with the
 * reason in TEST_KUBE_REAL_ERROR).
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { startControlPlane, type ControlPlane } from "./kube-real/control-plane.ts";
import { runCrdFiles } from "./kube-real/crd-files.ts";
import { startPostgres, type TestPostgres } from "./postgres.ts";
import { TOOLS_BIN } from "./paths.ts";
import { REGISTRY_BINARY, sharedRegistryOptions, startRegistry, type TestRegistry } from "./registry.ts";

declare global {
  var __TEST_PG__: TestPostgres | undefined;
  var __TEST_KUBE__: ControlPlane | undefined;
  var __TEST_REGISTRY__: TestRegistry | undefined;
}

const CONTROL_PLANE = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"];

export default async function globalSetup(): Promise<void> {
  if (existsSync(TOOLS_BIN)) process.env.PATH = `${TOOLS_BIN}${path.delimiter}${process.env.PATH ?? ""}`;
  const pg = await startPostgres();
  globalThis.__TEST_PG__ = pg;
  process.env.TEST_PG_URL = pg.url;
  // A canary in every test worker's own environment (the bot's process in the end-to-end suites): what a renderer
  // that could read the bot's /proc/<pid>/environ would find (test/e2e/canary.test.ts looks for it everywhere).
  process.env.PREVIEW_BOT_ENV_CANARY = `env-canary-${randomUUID()}`;
  process.env.TEST_PG_BIN_DIR = pg.binDir;

  if (!existsSync(REGISTRY_BINARY)) process.env.TEST_REGISTRY_ERROR = "preview-registry not built";
  else {
    try {
      const registry = await startRegistry(sharedRegistryOptions());
      globalThis.__TEST_REGISTRY__ = registry;
      const { host, port, version, logFile, users } = registry;
      process.env.TEST_REGISTRY = JSON.stringify({ host, port, version, logFile, users });
      console.log(`\nreal OCI registry for this run: preview-registry (go-containerregistry ${version}) at ${host}`);
    } catch (err) {
      process.env.TEST_REGISTRY_ERROR = err instanceof Error ? err.message.split("\n")[0]! : String(err);
      console.warn(`\nthe OCI registry did not start: ${process.env.TEST_REGISTRY_ERROR}`);
    }
  }

  const missing = CONTROL_PLANE.filter((b) => !existsSync(path.join(TOOLS_BIN, b)));
  if (missing.length > 0) {
    process.env.TEST_KUBE_REAL_ERROR = `${missing.join(", ")} not built`;
    return;
  }
  try {
    const started = Date.now();
    const kube = await startControlPlane({ crdFiles: runCrdFiles() });
    globalThis.__TEST_KUBE__ = kube;
    const { stop: _stop, ...info } = kube;
    process.env.TEST_KUBE_REAL = JSON.stringify(info);
    console.log(
      `\nreal control plane for this run: kube-apiserver ${kube.version} at ${kube.server} (etcd, controller-manager, scheduler, kwok; up in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
  } catch (err) {
    process.env.TEST_KUBE_REAL_ERROR = err instanceof Error ? err.message.split("\n")[0]! : String(err);
    console.warn(`\nthe real control plane did not start: ${process.env.TEST_KUBE_REAL_ERROR}`);
  }
}
