#!/usr/bin/env node
/**
 * The renderer's worker process: one render per process, run inside preview-sandbox (locally) or by the renderer
 * workload (in a cluster). It reads one request (JSON) on stdin, renders the pull request's tree
 * (services/preview/render/sandboxed/render-tree.ts) and writes one answer (JSON) on stdout. It holds nothing: no
 * settings, no logger, no credentials; its environment is what the sandbox gave it (a PATH of tools, a scratch HOME).
 *
 * `--warm-up` (a worker started ahead of its request, render/warm-worker.ts): while it waits for its request it runs the
 * render path on a small repository of its own (packed, extracted, walked, its 24 objects parsed, a kustomization
 * checked, a chart found, a child process run and read as tools are, Helm-style output parsed), so the request meets
 * code that has already run instead of code compiled on first use: measured, that first use was most of what a render
 * in a warm worker cost over the same render in-process (docs/benchmarks.md). It runs no render tool (kustomize,
 * helm): only a render does. A request that arrives meanwhile ends the warm-up between two of its steps.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { c as packTar } from "tar";
import { parseManifestDocuments } from "./services/preview/render/manifests.js";
import { renderTree } from "./services/preview/render/sandboxed/render-tree.js";
import { runTool } from "./services/preview/render/sandboxed/tool-run.js";
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

/** A few kinds of objects, as a small application's manifests: what the YAML parser and the walk warm up on. */
const warmUpYaml = (n: number) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: warm-up-${n}
  labels: { app: warm-up-${n} }
data:
  key: value
  config.yaml: |
    level: info
    items: [a, b, c]
---
apiVersion: v1
kind: Service
metadata:
  name: warm-up-${n}
spec:
  selector: { app: warm-up-${n} }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: warm-up-${n}
  annotations: { example.com/note: "warm up" }
spec:
  replicas: 1
  selector: { matchLabels: { app: warm-up-${n} } }
  template:
    metadata: { labels: { app: warm-up-${n} } }
    spec:
      containers:
        - name: app
          image: example.com/app:1
          env: [{ name: A, value: "1" }, { name: B, valueFrom: { configMapKeyRef: { name: warm-up-${n}, key: key } } }]
          ports: [{ containerPort: 8080 }]
          readinessProbe: { httpGet: { path: /healthz, port: 8080 } }
          resources: { requests: { cpu: 10m, memory: 16Mi }, limits: { memory: 64Mi } }
`;

/** The warm-up repository: the same objects as plain YAML, a kustomization and a chart. */
function warmUpFiles(): Record<string, string> {
  const docs = Array.from({ length: 8 }, (_, i) => warmUpYaml(i));
  return {
    "k8s/app.yaml": docs.join("---\n"),
    "kustomize/kustomization.yaml": `resources:\n${docs.map((_, i) => `- app-${i}.yaml\n`).join("")}labels:\n- pairs:\n    tier: warm-up\n`,
    ...Object.fromEntries(docs.map((d, i) => [`kustomize/app-${i}.yaml`, d])),
    "chart/Chart.yaml": "apiVersion: v2\nname: warm-up\nversion: 0.1.0\n",
    "chart/values.yaml": "replicas: 1\n",
    "chart/templates/app.yaml": docs.join("---\n").replaceAll("replicas: 1", "replicas: {{ .Values.replicas }}"),
  };
}

/**
 * Render the warm-up repository in the scratch directory (TMPDIR) with each renderer whose tool is on PATH, then
 * remove every trace of it.
 */
async function warmUp(requested: () => boolean): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "warm-up-"));
  try {
    for (const [rel, text] of Object.entries(warmUpFiles())) {
      await mkdir(path.dirname(path.join(dir, "tree", rel)), { recursive: true });
      await writeFile(path.join(dir, "tree", rel), text);
    }
    const file = path.join(dir, "tree.tar.gz");
    await packTar({ gzip: true, cwd: dir, file, portable: true }, ["tree"]);
    // No tool runs here: only a render runs tools. Without them the kustomization is still checked and the chart
    // found, before each render stops for want of its tool.
    for (const manifests of ["k8s", "kustomize", "chart"]) {
      if (requested()) return; // the request came early (a burst, a loaded machine): it goes first
      const answer = await renderTree({
        version: PROTOCOL_VERSION,
        source: { kind: "tarball", file },
        scratch: await mkdtemp(path.join(dir, "scratch-")),
        label: "warm-up",
        manifests: { path: manifests, include: [], exclude: [], values: [], set: {}, namespace: "warm-up" },
        tools: { path: "" },
        limits: { sourceBytes: 1024 * 1024, sourceEntries: 100, toolTimeoutMs: 10_000, toolOutputBytes: 1024 * 1024 },
      });
      JSON.stringify(answer);
    }
    if (requested()) return;
    // What a tool's render runs in JS besides the tool: a child process run as tools are (node itself, which this
    // sandbox already runs), and Helm's output read with its `# Source:` comments.
    await runTool(process.execPath, ["--version"], { what: "warm-up", root: dir, cwd: dir, home: dir, path: "" });
    const docs = Array.from({ length: 8 }, (_, i) => warmUpYaml(i));
    parseManifestDocuments(
      docs.map((d, i) => `---\n# Source: warm-up/templates/app-${i}.yaml\n${d}`).join(""),
      "warm-up",
    );
  } catch {
    // Only a head start: the real render does not depend on it.
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const request = readRequest();
  let requested = false;
  request.then(
    () => (requested = true),
    () => (requested = true),
  );
  if (process.argv.includes("--warm-up")) await warmUp(() => requested);
  let answer: unknown;
  try {
    answer = await renderTree(await request);
  } catch (err) {
    answer = { ok: false, error: `the renderer could not read its request: ${describeError(err)}` };
  }
  process.stdout.write(JSON.stringify(answer));
}

await main();
