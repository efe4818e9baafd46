/**
 * The contract suite's view of an API server: raw HTTP through a client-node `KubeConfig` (its server, CA and
 * token), so a case sees exactly the status code and body the server sent — the same for the fake (plain http) and
 * the real kube-apiserver (TLS, bearer token). Cases get a fresh namespace each (`Target.namespace`), because the
 * real control plane is shared by the whole run.
 */
import { request as httpRequest, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import { until } from "../support/wait.js";

/** A decoded JSON body: cases read fields off it freely (it is what the server sent, not a typed object). */
export type Body = Record<string, any>;

export interface Answer {
  code: number;
  body: Body;
  /** The body as sent, for non-JSON answers. */
  text: string;
}

const APPLY = "application/apply-patch+yaml";
const MERGE = "application/merge-patch+json";

export class Api {
  constructor(private readonly kc: KubeConfig) {}

  async call(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<Answer> {
    const server = this.kc.getCurrentCluster()?.server;
    if (!server) throw new Error("contract client: the KubeConfig has no current cluster");
    const url = new URL(path, server);
    const opts: RequestOptions & { ca?: string | Buffer } = { method, headers: { accept: "application/json" } };
    await this.kc.applyToHTTPSOptions(opts);
    if (url.protocol === "http:") delete opts.agent; // client-node makes an https agent; the fake speaks plain http
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    if (payload !== undefined) (opts.headers as Record<string, string>)["content-type"] = contentType;
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: Body = {};
          try {
            parsed = JSON.parse(text) as Body;
          } catch {
            // not JSON (e.g. a plain-text 404 page): cases look at `text`
          }
          resolve({ code: res.statusCode ?? 0, body: parsed, text });
        });
      });
      req.on("error", reject);
      req.end(payload);
    });
  }

  get(path: string): Promise<Answer> {
    return this.call("GET", path);
  }

  post(path: string, obj: unknown): Promise<Answer> {
    return this.call("POST", path, obj);
  }

  put(path: string, obj: unknown): Promise<Answer> {
    return this.call("PUT", path, obj);
  }

  /** Server-side apply of `obj` at `path` (the object's own URL). */
  apply(path: string, obj: unknown, manager: string | undefined, force = false): Promise<Answer> {
    const q = new URLSearchParams();
    if (manager !== undefined) q.set("fieldManager", manager);
    if (force) q.set("force", "true");
    return this.call("PATCH", `${path}${q.size ? `?${q.toString()}` : ""}`, obj, APPLY);
  }

  /** A JSON merge patch, recorded as an `Update` by `manager`. */
  merge(path: string, patch: unknown, manager?: string): Promise<Answer> {
    return this.call("PATCH", manager ? `${path}?fieldManager=${encodeURIComponent(manager)}` : path, patch, MERGE);
  }

  delete(path: string, body?: unknown): Promise<Answer> {
    return this.call("DELETE", path, body);
  }
}

/** What a case runs against: which server, a client for it, and a fresh namespace for the case. */
export interface Target {
  name: "fake" | "real";
  kubeConfig(): KubeConfig;
}

export interface CaseContext {
  api: Api;
  /** A namespace made for this case (deleted afterwards, not waited for). */
  ns: string;
  target: Target["name"];
  kubeConfig: KubeConfig;
}

export interface ContractCase {
  name: string;
  /** Set when the fake cannot or should not answer like the real server: the case runs on the real one only. */
  realOnly?: string;
  /** Longer than the default test timeout (real controllers at work). */
  timeoutMs?: number;
  run(ctx: CaseContext): Promise<void>;
}

export { until };

/** `/api/v1/namespaces/<ns>/configmaps/<name>` and friends. */
export const paths = {
  cm: (ns: string, name = ""): string => `/api/v1/namespaces/${ns}/configmaps${name ? `/${name}` : ""}`,
  secret: (ns: string, name = ""): string => `/api/v1/namespaces/${ns}/secrets${name ? `/${name}` : ""}`,
  svc: (ns: string, name = ""): string => `/api/v1/namespaces/${ns}/services${name ? `/${name}` : ""}`,
  pvc: (ns: string, name = ""): string => `/api/v1/namespaces/${ns}/persistentvolumeclaims${name ? `/${name}` : ""}`,
  ns: (name = ""): string => `/api/v1/namespaces${name ? `/${name}` : ""}`,
  deploy: (ns: string, name = ""): string => `/apis/apps/v1/namespaces/${ns}/deployments${name ? `/${name}` : ""}`,
  sts: (ns: string, name = ""): string => `/apis/apps/v1/namespaces/${ns}/statefulsets${name ? `/${name}` : ""}`,
  job: (ns: string, name = ""): string => `/apis/batch/v1/namespaces/${ns}/jobs${name ? `/${name}` : ""}`,
};

export const configMap = (name: string, data: Record<string, string> | undefined, meta: Body = {}): Body => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, ...meta },
  ...(data !== undefined ? { data } : {}),
});

export const deployment = (name: string, image: string, extra: { replicas?: number; app?: string } = {}): Body => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name },
  spec: {
    ...(extra.replicas !== undefined ? { replicas: extra.replicas } : {}),
    selector: { matchLabels: { app: extra.app ?? name } },
    template: { metadata: { labels: { app: extra.app ?? name } }, spec: { containers: [{ name: "main", image }] } },
  },
});

export const job = (name: string, image: string): Body => ({
  apiVersion: "batch/v1",
  kind: "Job",
  metadata: { name },
  spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "main", image }] } } },
});

/** The managedFields entry of `manager` (and `operation`), or undefined. */
export function managerEntry(obj: Body, manager: string, operation = "Apply"): Body | undefined {
  return (obj.metadata?.managedFields as Body[] | undefined)?.find(
    (m) => m.manager === manager && m.operation === operation,
  );
}

/** Causes of a Status body as sorted `field: message` lines (the real server's order within one error is a map's). */
export function causes(body: Body): string[] {
  return ((body.details?.causes ?? []) as Body[]).map((c) => `${String(c.field ?? "")}: ${String(c.message)}`).sort();
}
