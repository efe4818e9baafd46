/**
 * Rendering in the renderer workload (RENDERER_URL; deploy/base/renderer.yaml): the bot sends the request and the
 * tarball it downloaded, the renderer runs the same sandboxed worker and answers. The protocol is one POST to
 * `/v1/render`: the body is a 4-byte big-endian length, the request (JSON), then the tarball; the answer is JSON
 * `{ response, isolation }`, read with a size cap and checked like a local worker's. The renderer holds no secret and
 * has no network but this port (its NetworkPolicy lets only the bot in), so there is nothing to authenticate.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import type { Logger } from "../../../logger.js";
import { describeError } from "../../shared/format.js";
import type { IsolationReport, RenderLimits, RenderWorker } from "./isolation.js";
import { readWorkerResponse, type WorkerRequest, type WorkerResponse } from "./protocol.js";
import { RenderError } from "./render-error.js";

export interface RemoteWorkerOptions {
  /** The renderer's base URL, e.g. http://preview-bot-renderer:8080. */
  url: string;
  limits: RenderLimits;
  logger: Logger;
  fetch?: typeof fetch;
}

/** The body of a render request: length-prefixed JSON, then the tarball. */
function encodeHeader(request: WorkerRequest): Buffer {
  const json = Buffer.from(JSON.stringify(request), "utf8");
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([length, json]);
}

export function createRemoteWorker(o: RemoteWorkerOptions): RenderWorker {
  const http = o.fetch ?? fetch;
  const base = o.url.replace(/\/+$/, "");

  async function post(
    request: WorkerRequest,
    signal?: AbortSignal,
  ): Promise<{ response: WorkerResponse; isolation: IsolationReport }> {
    if (request.source.kind !== "tarball")
      throw new RenderError("the renderer workload renders tarballs only (use a local renderer for --dir)");
    const size = (await stat(request.source.file)).size;
    const header = encodeHeader(request);
    const tarball = Readable.toWeb(createReadStream(request.source.file)) as ReadableStream<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(header);
        const reader = tarball.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          controller.enqueue(value);
        }
        controller.close();
      },
    });
    const timeout = AbortSignal.timeout((o.limits.wallSeconds + 30) * 1000);
    let res: Response;
    try {
      res = await http(`${base}/v1/render`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream", "content-length": String(header.length + size) },
        body,
        duplex: "half",
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      throw new RenderError(`the renderer at ${base} could not be reached: ${describeError(err)}`, { cause: err });
    }
    const text = await readCapped(res, o.limits.outputBytes + 1024 * 1024);
    if (!res.ok) throw new RenderError(`the renderer at ${base} answered ${res.status}: ${text.slice(0, 300)}`);
    let parsed: { response?: unknown; isolation?: IsolationReport };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new RenderError(`the renderer at ${base} answered something that is not JSON`);
    }
    const isolation = parsed.isolation;
    if (
      !isolation ||
      typeof isolation.detail !== "string" ||
      !["namespaces", "landlock", "none"].includes(isolation.isolation)
    )
      throw new RenderError(`the renderer at ${base} did not say which isolation it used`);
    return {
      response: readWorkerResponse(JSON.stringify(parsed.response ?? null)),
      isolation: {
        isolation: isolation.isolation,
        detail: `${isolation.detail} (renderer workload)`.slice(0, 300),
        workload: true,
      },
    };
  }

  return {
    run: (request, _files, signal) => post(request, signal),
    async probe() {
      const res = await http(`${base}/v1/isolation`, { signal: AbortSignal.timeout(30_000) }).catch((err: unknown) => {
        throw new RenderError(`the renderer at ${base} could not be reached: ${describeError(err)}`, { cause: err });
      });
      const report = JSON.parse(await readCapped(res, 64 * 1024)) as IsolationReport;
      return { isolation: report.isolation, detail: `${String(report.detail).slice(0, 200)} (renderer workload)` };
    },
  };
}

async function readCapped(res: Response, max: number): Promise<string> {
  const reader = (res.body as ReadableStream<Uint8Array> | null)?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new RenderError(`the renderer's answer is over ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
