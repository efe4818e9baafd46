#!/usr/bin/env node
/**
 * The renderer's worker process: one render per process, run inside preview-sandbox (locally) or by the renderer
 * workload (in a cluster). It reads one request (JSON) on stdin, renders the pull request's tree
 * (services/preview/render/sandboxed/render-tree.ts) and writes one answer (JSON) on stdout. It holds nothing: no
 * settings, no logger, no credentials; its environment is what the sandbox gave it (a PATH of tools, a scratch HOME).
 *
 * `--warm-up` (a worker started ahead of its request, render/warm-worker.ts): before reading the request it renders a
 * tiny tree of its own (packed, extracted, walked, parsed, answered), so the request meets code that has already run
 * once instead of code compiled on first use.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { c as packTar } from "tar";
import { renderTree } from "./services/preview/render/sandboxed/render-tree.js";
import { PROTOCOL_VERSION, type WorkerRequest } from "./services/preview/render/protocol.js";
import { describeError } from "./services/shared/format.js";

/** The request is small (paths and settings); anything bigger is not a request. */
const MAX_REQUEST = 1024 * 1024;

async function readRequest(): Promise<WorkerRequest> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST) throw new Error(`the request is over ${MAX_REQUEST} bytes`);
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as WorkerRequest;
}

const WARM_UP_YAML = `apiVersion: v1
kind: ConfigMap
metadata:
  name: warm-up
  labels: { app: warm-up }
data:
  key: value
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: warm-up
spec:
  template:
    spec:
      containers:
        - name: app
          image: example.com/app:1
`;

/** Render a tiny tree of our own in the scratch directory (TMPDIR), then remove every trace of it. */
async function warmUp(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "warm-up-"));
  try {
    await mkdir(path.join(dir, "tree", "k8s"), { recursive: true });
    await writeFile(path.join(dir, "tree", "k8s", "app.yaml"), WARM_UP_YAML);
    const file = path.join(dir, "tree.tar.gz");
    await packTar({ gzip: true, cwd: dir, file, portable: true }, ["tree"]);
    const answer = await renderTree({
      version: PROTOCOL_VERSION,
      source: { kind: "tarball", file },
      scratch: path.join(dir, "scratch"),
      label: "warm-up",
      manifests: {
        path: "k8s",
        include: [],
        exclude: [],
        values: [],
        set: {},
        release: "warm-up",
        namespace: "warm-up",
      },
      tools: { path: "" },
      limits: { sourceBytes: 1024 * 1024, sourceEntries: 100, toolTimeoutMs: 1_000, toolOutputBytes: 1024 * 1024 },
    });
    JSON.stringify(answer);
  } catch {
    // Only a head start: the real render does not depend on it.
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.argv.includes("--warm-up")) await warmUp();
  let answer: unknown;
  try {
    answer = await renderTree(await readRequest());
  } catch (err) {
    answer = { ok: false, error: `the renderer could not read its request: ${describeError(err)}` };
  }
  process.stdout.write(JSON.stringify(answer));
}

await main();
