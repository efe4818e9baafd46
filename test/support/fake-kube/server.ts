/** HTTP routing for the fake: discovery, CRUD, patch, watch streams and pod logs, with Status bodies on errors. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FakeApi } from "./api.js";
import type { WorkloadController } from "./controllers.js";
import type { KindSpec } from "./kinds.js";
import { isObject } from "./merge.js";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "./selectors.js";
import { badRequest, pathNotFound, statusBody, StatusError } from "./status.js";
import type { KubeObj, StoreEvent } from "./store.js";

export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  contentType: string | undefined;
}

interface Route {
  kind: KindSpec;
  namespace: string | undefined;
  name: string | undefined;
  sub: string | undefined;
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch (e) {
    throw badRequest(`error decoding request body: ${(e as Error).message}`);
  }
}

export class Router {
  readonly requests: RequestRecord[] = [];
  private readonly streams = new Set<ServerResponse>();

  constructor(
    private readonly api: FakeApi,
    private readonly controller: WorkloadController,
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://fake");
    const contentType = req.headers["content-type"]?.split(";")[0]?.trim();
    this.requests.push({ method: req.method ?? "GET", path: url.pathname, query: url.search, contentType });
    this.route(req, res, url, contentType).catch((e: unknown) => {
      if (res.headersSent) return void res.end();
      if (e instanceof StatusError) send(res, e.code, statusBody(e.code, e.reason, e.message, e.details));
      else send(res, 500, statusBody(500, "InternalError", `fake API server: ${(e as Error).message}`));
    });
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    contentType: string | undefined,
  ): Promise<void> {
    const seg = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const reg = this.api.registry;
    let group: string;
    let version: string;
    let rest: string[];
    // GET /version, as the real server answers it (readiness probes use it).
    if (seg[0] === "version" && seg.length === 1) {
      return send(res, 200, { major: "1", minor: "37", gitVersion: "v1.37.2-fake", platform: "linux/amd64" });
    }
    if (seg[0] === "api") {
      if (seg.length === 1) return send(res, 200, reg.coreVersions());
      [group, version, rest] = ["", seg[1] ?? "", seg.slice(2)];
    } else if (seg[0] === "apis") {
      if (seg.length === 1) return send(res, 200, reg.groupList());
      if (seg.length === 2) {
        const g = reg.group(seg[1] ?? "");
        if (!g) throw pathNotFound();
        return send(res, 200, g);
      }
      [group, version, rest] = [seg[1] ?? "", seg[2] ?? "", seg.slice(3)];
    } else throw pathNotFound();
    if (!reg.hasGroupVersion(group, version)) throw pathNotFound();
    if (rest.length === 0) return send(res, 200, reg.resourceList(group, version));

    const namespaced = rest[0] === "namespaces" && rest.length >= 3;
    const [namespace, plural, name, sub] = namespaced
      ? [rest[1], rest[2], rest[3], rest[4]]
      : [undefined, rest[0], rest[1], rest[2]];
    const kind = reg.byPlural(group, version, plural ?? "");
    if (!kind || (namespace !== undefined && !kind.namespaced) || rest.length > (namespaced ? 5 : 3))
      throw pathNotFound();
    if (kind.namespaced && namespace === undefined && name !== undefined) throw pathNotFound();
    const r: Route = { kind, namespace, name, sub };
    if (sub === "scale") {
      const q = url.searchParams;
      const raw = req.method === "GET" ? "" : await readBody(req);
      return send(
        res,
        200,
        this.api.scale(kind, namespace, name ?? "", req.method ?? "GET", raw, {
          fieldManager: q.get("fieldManager") ?? undefined,
        }),
      );
    }
    if (sub !== undefined) return this.subresource(req, res, url, r);

    const q = url.searchParams;
    const write = {
      fieldManager: q.get("fieldManager") ?? undefined,
      force: q.get("force") ?? undefined,
      dryRun: q.get("dryRun") ?? undefined,
    };
    switch (req.method) {
      case "GET":
        if (name !== undefined) return send(res, 200, this.api.get(kind, namespace, name));
        if (q.get("watch") === "true" || q.get("watch") === "1") return this.watch(req, res, url, r);
        return send(res, 200, this.api.list(kind, namespace, q.get("labelSelector"), q.get("fieldSelector")));
      case "POST":
        if (name !== undefined) break;
        return send(res, 201, this.api.create(kind, namespace, parseJson(await readBody(req)), write));
      case "PUT":
        if (name === undefined) break;
        return send(res, 200, this.api.replace(kind, namespace, name, parseJson(await readBody(req)), write));
      case "PATCH": {
        if (name === undefined) break;
        const existed = this.api.store.get(kind, namespace, name) !== undefined;
        const out = this.api.patch(kind, namespace, name, contentType ?? "", await readBody(req), write);
        return send(res, existed ? 200 : 201, out);
      }
      case "DELETE": {
        if (name === undefined)
          return send(res, 200, this.api.deleteCollection(kind, namespace, q.get("labelSelector")));
        const raw = await readBody(req);
        const options = raw.trim() === "" ? {} : parseJson(raw);
        const policy =
          q.get("propagationPolicy") ??
          (isObject(options) && typeof options.propagationPolicy === "string"
            ? options.propagationPolicy
            : "Background");
        if (policy !== "Background" && policy !== "Foreground" && policy !== "Orphan")
          throw badRequest(`propagationPolicy: Unsupported value: "${policy}"`);
        return send(res, 200, this.api.delete(kind, namespace, name, policy));
      }
      default:
        break; // any other method: 405, below
    }
    throw new StatusError(
      405,
      "MethodNotAllowed",
      "the server does not allow this method on the requested resource",
      {},
    );
  }

  private subresource(req: IncomingMessage, res: ServerResponse, url: URL, r: Route): void {
    const obj = this.api.get(r.kind, r.namespace, r.name ?? "");
    if (r.sub === "status" && req.method === "GET") return send(res, 200, obj);
    if (r.kind.kind !== "Pod" || r.sub !== "log" || req.method !== "GET") throw pathNotFound();
    const spec = isObject(obj.spec) ? obj.spec : {};
    const names = (Array.isArray(spec.containers) ? spec.containers : []).filter(isObject).map((c) => String(c.name));
    let container = url.searchParams.get("container") ?? undefined;
    if (container === undefined) {
      if (names.length !== 1)
        throw badRequest(
          `a container name must be specified for pod ${obj.metadata.name}, choose one of: [${names.join(" ")}]`,
        );
      container = names[0];
    }
    if (!names.includes(container ?? ""))
      throw badRequest(`container ${container} is not valid for pod ${obj.metadata.name}`);
    const text = this.controller.logs.get(`${r.namespace}/${obj.metadata.name}/${container}`);
    if (text === undefined) {
      const status =
        isObject(obj.status) && Array.isArray(obj.status.containerStatuses)
          ? obj.status.containerStatuses.filter(isObject)
          : [];
      const cs = status.find((c) => c.name === container);
      const waiting = cs && isObject(cs.state) && isObject(cs.state.waiting) ? cs.state.waiting : undefined;
      if (waiting && !isObject(cs?.lastState)) {
        throw badRequest(
          `container "${container}" in pod "${obj.metadata.name}" is waiting to start: ${String(waiting.reason ?? "ContainerCreating")}`,
        );
      }
    }
    let lines = (text ?? "").split("\n");
    if (lines.at(-1) === "") lines.pop();
    const tail = url.searchParams.get("tailLines");
    if (tail !== null && Number.isInteger(Number(tail)) && Number(tail) >= 0)
      lines = Number(tail) === 0 ? [] : lines.slice(-Number(tail));
    let body = lines.map((l) => `${l}\n`).join("");
    // limitBytes: the first bytes of what would be sent (after tailLines), cut anywhere, as the kubelet does.
    const limit = Number(url.searchParams.get("limitBytes") ?? "");
    if (Number.isInteger(limit) && limit > 0) body = Buffer.from(body).subarray(0, limit).toString("utf8");
    res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  }

  /** Newline-delimited watch events, from `resourceVersion` on (or current objects as ADDED), until close/timeout. */
  private watch(req: IncomingMessage, res: ServerResponse, url: URL, r: Route): void {
    const q = url.searchParams;
    const labels = parseLabelSelector(q.get("labelSelector"));
    const fields = parseFieldSelector(q.get("fieldSelector"), r.kind.kind);
    const matches = (o: KubeObj | undefined): boolean =>
      o !== undefined &&
      (r.namespace === undefined || o.metadata.namespace === r.namespace) &&
      matchesLabels(labels, o.metadata.labels) &&
      matchesFields(fields, o);
    res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
    res.flushHeaders();
    this.streams.add(res);
    const write = (type: string, object: unknown): void => void res.write(`${JSON.stringify({ type, object })}\n`);
    const onEvent = (e: StoreEvent): void => {
      if (e.kind.group !== r.kind.group || e.kind.plural !== r.kind.plural) return;
      const now = matches(e.object);
      const before = e.type === "MODIFIED" && matches(e.old);
      if (e.type === "MODIFIED" && before && !now) write("DELETED", e.object);
      else if (e.type === "MODIFIED" && !before && now) write("ADDED", e.object);
      else if (now) write(e.type, e.object);
    };
    const rvParam = q.get("resourceVersion");
    if (rvParam && rvParam !== "0") {
      const rv = Number(rvParam);
      if (!Number.isFinite(rv) || rv < this.api.store.oldestResumable) {
        write(
          "ERROR",
          statusBody(410, "Expired", `too old resource version: ${rvParam} (${this.api.store.oldestResumable})`),
        );
        this.streams.delete(res);
        return void res.end();
      }
      for (const e of this.api.store.eventsSince(rv)) onEvent(e);
    } else {
      for (const o of this.api.select(r.kind, r.namespace)) if (matches(o)) write("ADDED", o);
    }
    const unsubscribe = this.api.store.subscribe(onEvent);
    const finish = (): void => {
      unsubscribe();
      clearTimeout(timer);
      this.streams.delete(res);
      if (!res.writableEnded) res.end();
    };
    const timeout = Number(q.get("timeoutSeconds") ?? "0");
    const timer = timeout > 0 ? setTimeout(finish, timeout * 1000) : undefined;
    req.on("close", finish);
    res.on("close", finish);
  }

  /** End open watch streams (server shutdown). */
  closeStreams(): void {
    for (const s of this.streams) s.end();
    this.streams.clear();
  }
}
