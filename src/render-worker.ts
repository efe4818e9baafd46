#!/usr/bin/env node
/**
 * The renderer's worker process: one render per process, run inside preview-sandbox (locally) or by the renderer
 * workload (in a cluster). It reads one request (JSON) on stdin, renders the pull request's tree
 * (services/preview/render/sandboxed/render-tree.ts) and writes one answer (JSON) on stdout. It holds nothing: no
 * settings, no logger, no credentials; its environment is what the sandbox gave it (a PATH of tools, a scratch HOME).
 */
import { renderTree } from "./services/preview/render/sandboxed/render-tree.js";
import type { WorkerRequest } from "./services/preview/render/protocol.js";
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

async function main(): Promise<void> {
  let answer: unknown;
  try {
    answer = await renderTree(await readRequest());
  } catch (err) {
    answer = {
      ok: false,
      error: `the renderer could not read its request: ${describeError(err)}`,
    };
  }
  process.stdout.write(JSON.stringify(answer));
}

await main();
