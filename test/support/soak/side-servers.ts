/**
 * Loopback stand-ins the soak's child bot talks to, each with faults on demand (drawn from the soak's seeded random
 * source):
 * - Slack's Web API (`chat.postMessage`, `chat.update`; SLACK_API_URL): 429 with `retry-after`.
 * - A proxy in front of the real kube-apiserver (plain HTTP to the bot, TLS with the admin token to the server):
 *   5xx answers and requests that hang and then lose their connection. Watches pass through untouched.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

export interface SoakSlack {
  /** SLACK_API_URL */
  url: string;
  faults: { rateLimited: number };
  injected: { rateLimited: number };
  /** Messages posted (thread parents and replies) and edits, in order. */
  calls: Array<{ method: string; channel?: string; thread_ts?: string; text?: string }>;
  close(): Promise<void>;
}

export async function startSoakSlack(random: () => number): Promise<SoakSlack> {
  const faults = { rateLimited: 0 };
  const injected = { rateLimited: 0 };
  const calls: SoakSlack["calls"] = [];
  let ts = 1_700_000_000;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const method = (req.url ?? "").replace(/^\/api\//, "").split("?")[0]!;
      const raw = Buffer.concat(chunks).toString("utf8");
      const body = (
        req.headers["content-type"]?.includes("json")
          ? JSON.parse(raw || "{}")
          : Object.fromEntries(new URLSearchParams(raw))
      ) as Record<string, string>;
      if (random() < faults.rateLimited) {
        injected.rateLimited++;
        res.writeHead(429, { "retry-after": "1", "content-type": "application/json" });
        return res.end(JSON.stringify({ ok: false, error: "ratelimited" }));
      }
      calls.push({ method, channel: body.channel, thread_ts: body.thread_ts, text: body.text });
      res.writeHead(200, { "content-type": "application/json" });
      const stamp = method === "chat.update" ? body.ts : `${++ts}.000100`;
      res.end(JSON.stringify({ ok: true, channel: body.channel ?? "C1", ts: stamp }));
    });
  });
  const url = `${await listen(server)}/api/`;
  return { url, faults, injected, calls, close: () => close(server) };
}

export interface KubeProxy {
  /** The URL the bot's kubeconfig names. */
  url: string;
  faults: { serverError: number; timeout: number };
  injected: { serverError: number; timeout: number };
  close(): Promise<void>;
}

/** Forward to `server` (https, trusting `caData`) as the admin; inject faults into non-watch requests. */
export async function startKubeProxy(o: {
  server: string;
  caData: string;
  token: string;
  random: () => number;
}): Promise<KubeProxy> {
  const faults = { serverError: 0, timeout: 0 };
  const injected = { serverError: 0, timeout: 0 };
  const target = new URL(o.server);
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const upstream = httpsRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        ca: o.caData,
        headers: { ...req.headers, host: target.host, authorization: `Bearer ${o.token}` },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy()); // the API server went away (a restart): the client sees a reset
    req.pipe(upstream);
  };
  const server = createServer((req, res) => {
    const watch = /[?&]watch=(1|true)/.test(req.url ?? "");
    if (!watch && o.random() < faults.serverError) {
      injected.serverError++;
      req.resume();
      res.writeHead(503, { "content-type": "application/json" });
      return res.end(
        JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", message: "injected", code: 503 }),
      );
    }
    if (!watch && o.random() < faults.timeout) {
      injected.timeout++;
      req.resume();
      setTimeout(() => res.destroy(), 1_500).unref(); // hangs, then the connection is lost
      return;
    }
    forward(req, res);
  });
  const url = await listen(server);
  return { url, faults, injected, close: () => close(server) };
}
