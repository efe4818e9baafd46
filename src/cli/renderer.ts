/**
 * `preview-bot renderer`: the renderer workload (deploy/base/renderer.yaml). It holds nothing worth stealing — no
 * GitHub key, no database URL, no Slack token, no ServiceAccount token (automountServiceAccountToken: false), no
 * network but the bot's requests — and runs each render in the same sandboxed worker the bot would run locally
 * (RENDER_ISOLATION; Landlock in a pod). One POST per render (protocol: render/remote.ts); `GET /v1/isolation` says
 * which isolation a render gets here; `GET /healthz`. A fixed number of renders run at once; more are refused with
 * 503 (the bot's job is retried).
 */
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { AddressInfo } from "node:net";
import { loadEnv, type Env } from "../env.js";
import { createLogger, type Logger } from "../logger.js";
import { findRenderTools } from "../services/preview/render/index.js";
import { PROTOCOL_VERSION, type WorkerRequest } from "../services/preview/render/protocol.js";
import { renderWorkerFrom } from "../services/preview/render/settings.js";
import { describeError } from "../services/shared/format.js";
import type { CliIo } from "./backup.js";

const RENDERER_HELP = `Usage: preview-bot renderer [--port N]

Serve renders for the bot (RENDERER_URL), each in the sandboxed worker. Holds no secret: run it as its own workload
(deploy/base/renderer.yaml). Settings: PORT (default 8080), RENDER_ISOLATION, RENDER_SANDBOX, RENDER_* limits,
RENDER_CONCURRENCY (default 2). A request (its checkout) is at most 200 MB.`;

/** Keep serving; returns only when the server cannot start (exit code 1) or for --help (0). */
export async function runRendererCli(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { port: { type: "string" }, help: { type: "boolean" } } });
  if (values.help) {
    io.stdout.write(`${RENDERER_HELP}\n`);
    return 0;
  }
  const env = loadEnv(io.env);
  const logger = createLogger({ level: env.LOG_LEVEL });
  const port = values.port !== undefined ? Number(values.port) : env.PORT === 3000 ? 8080 : env.PORT;
  await startRenderer(env, logger, port);
  return -1;
}

/** The renderer's server, listening on `port` (0: any free port); its base URL and a way to stop it. */
export async function startRenderer(
  env: Env,
  logger: Logger,
  port: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const worker = renderWorkerFrom({ ...env, RENDERER_URL: undefined }, logger);
  const concurrency = env.RENDER_CONCURRENCY;
  const maxSource = 200 * 1024 * 1024;
  let running = 0;

  const probeDir = await mkdtemp(path.join(tmpdir(), "renderer-probe-"));
  const isolation = await worker.probe(probeDir).finally(() => rm(probeDir, { recursive: true, force: true }));
  if (isolation.isolation === "none") logger.error(`renderer: ${isolation.detail}`);
  else logger.info(`renderer: renders run isolated: ${isolation.detail}`);

  async function render(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (running >= concurrency) return void res.writeHead(503, { "retry-after": "5" }).end("busy");
    running++;
    const runDir = await mkdtemp(path.join(env.WORK_DIR ?? tmpdir(), "render-"));
    await chmod(runDir, 0o711); // the worker (uid 65534 under a root renderer) reads the tarball in it
    try {
      const { header, tarball } = await readRequest(req, maxSource);
      const file = path.join(runDir, "source.tar.gz");
      await writeFile(file, tarball, { mode: 0o644 });
      const tools = await findRenderTools(env.PATH, {
        ...(env.KUSTOMIZE_COMMAND ? { kustomizeCommand: env.KUSTOMIZE_COMMAND.split(/\s+/) } : {}),
      });
      // Only what to build comes from the request; where and with what is this renderer's own.
      const request: WorkerRequest = {
        ...header,
        version: PROTOCOL_VERSION,
        source: { kind: "tarball", file },
        scratch: path.join(runDir, "render"),
        tools: {
          ...(tools.kustomize ? { kustomize: tools.kustomize } : {}),
          ...(tools.helm ? { helm: tools.helm } : {}),
          path: tools.dirs.join(":"),
        },
      };
      await mkdir(request.scratch, { recursive: true });
      if (process.getuid?.() === 0) await chown(request.scratch, 65534, 65534);
      const answer = await worker.run(request, { runDir });
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
    } catch (err) {
      res.writeHead(400, { "content-type": "text/plain" }).end(describeError(err).slice(0, 1000));
    } finally {
      running--;
      await rm(runDir, { recursive: true, force: true });
    }
  }

  const server = createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && url === "/healthz") return void res.writeHead(200).end("ok");
    if (req.method === "GET" && url === "/v1/isolation")
      return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(isolation));
    if (req.method === "POST" && url === "/v1/render")
      return void render(req, res).catch((err: unknown) => logger.error({ err }, "render request failed"));
    res.writeHead(404).end("not found");
  });
  await new Promise<void>((ok, fail) => server.once("error", fail).listen(port, env.HOST, ok));
  const bound = (server.address() as AddressInfo).port;
  logger.info(`renderer listening on ${env.HOST}:${bound}`);
  const host = env.HOST === "0.0.0.0" || env.HOST === "::" ? "127.0.0.1" : env.HOST;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${bound}`,
    close: async () => {
      worker.close?.();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

/** The length-prefixed request and the tarball after it, each capped. */
async function readRequest(
  req: IncomingMessage,
  maxSource: number,
): Promise<{ header: WorkerRequest; tarball: Buffer }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxSource + 1024 * 1024) throw new Error(`the request is over ${maxSource} bytes`);
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  if (body.length < 4) throw new Error("the request has no header");
  const length = body.readUInt32BE(0);
  if (length > 1024 * 1024 || 4 + length > body.length) throw new Error("the request's header is malformed");
  const header = JSON.parse(body.subarray(4, 4 + length).toString("utf8")) as WorkerRequest;
  const version: unknown = header.version;
  if (version !== PROTOCOL_VERSION)
    throw new Error(`protocol version ${JSON.stringify(version)} is not ${PROTOCOL_VERSION}`);
  return { header, tarball: body.subarray(4 + length) };
}
