/**
 * For the repos-* end-to-end tests: a fixture repository as the files of its tarball, its `.github/preview.yml`,
 * the preview app's stand-in (a local HTTP server that answers every path), and a fetch that sends the preview's
 * https URL to that server, the way DNS and the Gateway would.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures");

/** Every file of a fixture repository, by path, for `Harness.tarball`. */
export function fixtureFiles(name: string): Record<string, string> {
  const root = path.join(FIXTURES, name);
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else out[path.relative(root, full)] = readFileSync(full, "utf8");
    }
  };
  walk(root);
  return out;
}

export function fixtureConfig(name: string): string {
  return readFileSync(path.join(FIXTURES, name, ".github/preview.yml"), "utf8");
}

export interface AppServer {
  /** Host headers of the requests served, in order (the preview host each health check asked for). */
  hosts: string[];
  fetchImpl: typeof fetch;
  close(): Promise<void>;
}

/** The stand-in app; `fetchImpl` rewrites any URL's origin to it and records which host was asked for. */
export async function startApp(): Promise<AppServer> {
  const hosts: string[] = [];
  const server: Server = createServer((req, res) => {
    hosts.push(String(req.headers["x-preview-host"] ?? ""));
    res.writeHead(200, { "content-type": "text/plain" }).end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const fetchImpl: typeof fetch = async (input, init) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    const headers = new Headers(init?.headers);
    headers.set("x-preview-host", `${url.protocol}//${url.host}`);
    return fetch(`http://127.0.0.1:${port}${url.pathname}${url.search}`, { ...init, headers });
  };
  return { hosts, fetchImpl, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** The shared Gateway of a cluster set up as docs/operations.md says: an HTTPS listener for *.previews.example.test. */
export function sharedGateway(listeners: Array<Record<string, unknown>>): Record<string, any> {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: { name: "previews", namespace: "gateway-system" },
    spec: { gatewayClassName: "example", listeners },
  };
}

export const GATEWAY_KIND = {
  group: "gateway.networking.k8s.io",
  version: "v1",
  kind: "Gateway",
  plural: "gateways",
  namespaced: true,
  statusSubresource: true,
};
export const INGRESS_KIND = {
  group: "networking.k8s.io",
  version: "v1",
  kind: "Ingress",
  plural: "ingresses",
  namespaced: true,
  statusSubresource: true,
};
