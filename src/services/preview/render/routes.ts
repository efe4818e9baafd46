/**
 * Step 5: point routes at the preview, and make one when the manifests have none.
 * - Every HTTPRoute gets the preview's hostname (a route in a preview never serves a host the preview does not own),
 *   the configured parentRefs (route.parentRefs, else the bot's default Gateway; never the manifests' own: the
 *   render refuses an HTTPRoute when none is configured, route-guards.ts),
 *   PathPrefix/Exact matches prefixed in path-prefix mode, and the route annotations.
 * - Every Ingress gets the same host and path treatment, `ingressClassName` when configured, and, when
 *   `route.tls` is set, `spec.tls` for the host with a per-preview Secret and the cert-manager issuer annotation
 *   (cert-manager's ingress-shim reads it there; on HTTPRoutes nothing reads it, so it is never put there).
 * - `route.expose` generates an HTTPRoute (or, with `route.kind: ingress`, an Ingress) to each Service and port it
 *   lists: the first on the preview's host, each other on its own (`targets`), with a TLS Secret of its own.
 */
import type { KubeObject } from "../../shared/preview.js";

export interface RouteSettings {
  kind: "gateway" | "ingress";
  /** Hostname to serve on: the preview host, or the base URL's host in path-prefix mode. */
  hostname?: string;
  /** Path prefix in path-prefix mode, e.g. `/feature-login` (no trailing slash). */
  pathPrefix?: string;
  parentRefs?: ReadonlyArray<Record<string, unknown>>;
  /** On every route (route.annotations, the external-dns hostname). */
  annotations: Record<string, string>;
  /** On Ingresses only (the cert-manager issuer). */
  ingressAnnotations: Record<string, string>;
  ingressClassName?: string;
  /** Ingress TLS Secret, when route.tls is set. */
  tlsSecret?: string;
  /** route.tls.secretName was given: it replaces the manifests' own secretName too. */
  tlsSecretExplicit?: boolean;
  expose?: ReadonlyArray<ExposeEntry>;
  /** Name of a generated route (the first). */
  routeName: string;
  /** Where each `expose` entry after the first is served: its own host (or path prefix), route name and TLS Secret. */
  targets?: ReadonlyArray<RouteTarget>;
}

export interface ExposeEntry {
  service: string;
  port: number | string;
  name?: string | undefined;
}

export interface RouteTarget {
  hostname?: string;
  pathPrefix?: string;
  routeName: string;
  tlsSecret?: string;
}

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;

export const isHttpRoute = (o: KubeObject): boolean =>
  o.kind === "HTTPRoute" && o.apiVersion.startsWith("gateway.networking.k8s.io/");
export const isIngress = (o: KubeObject): boolean =>
  o.kind === "Ingress" && o.apiVersion.startsWith("networking.k8s.io/");

/** `/feature-x` + `/` → `/feature-x`; `/feature-x` + `/api` → `/feature-x/api`. */
export function prefixPath(prefix: string, value: string): string {
  const p = prefix.replace(/\/+$/, "");
  if (value === "" || value === "/") return p || "/";
  return `${p}${value.startsWith("/") ? "" : "/"}${value}`;
}

function mergeAnnotations(obj: KubeObject, annotations: Record<string, string>): void {
  if (Object.keys(annotations).length === 0) return;
  obj.metadata.annotations = { ...(obj.metadata.annotations ?? {}), ...annotations };
}

function prefixMatches(obj: KubeObject, rule: Rec, prefix: string, warnings: string[]): void {
  const matches = Array.isArray(rule.matches) ? rule.matches : [];
  if (matches.length === 0) {
    rule.matches = [{ path: { type: "PathPrefix", value: prefix } }];
    return;
  }
  for (const m of matches) {
    const match = asRec(m);
    if (!match) continue;
    const path = asRec(match.path) ?? { type: "PathPrefix", value: "/" };
    const type = typeof path.type === "string" ? path.type : "PathPrefix";
    if (type === "PathPrefix" || type === "Exact")
      match.path = { ...path, type, value: prefixPath(prefix, typeof path.value === "string" ? path.value : "/") };
    else
      warnings.push(
        `HTTPRoute "${obj.metadata.name}": a ${type} path match is not prefixed with ${prefix}; adjust it by hand`,
      );
  }
}

function rewriteHttpRoute(obj: KubeObject, s: RouteSettings, warnings: string[]): void {
  const spec = asRec(obj.spec) ?? {};
  obj.spec = spec;
  if (s.hostname) spec.hostnames = [s.hostname];
  if (s.parentRefs) {
    const own = Array.isArray(spec.parentRefs)
      ? spec.parentRefs.map(asRec).filter((r): r is Rec => r !== undefined)
      : [];
    const text = (refs: readonly Rec[]) =>
      refs.map((r) => `${typeof r.namespace === "string" ? r.namespace : obj.metadata.namespace}/${String(r.name)}`);
    const before = text(own);
    const after = text(s.parentRefs);
    if (before.length > 0 && before.join(",") !== after.join(","))
      warnings.push(
        `HTTPRoute "${obj.metadata.name}": its own parentRefs (${before.join(", ")}) replaced by the configured gateway (${after.join(", ")}): a preview's routes attach only where the bot is told`,
      );
    spec.parentRefs = s.parentRefs.map((r) => ({ ...r }));
  }
  if (s.pathPrefix && Array.isArray(spec.rules))
    for (const r of spec.rules) if (asRec(r)) prefixMatches(obj, asRec(r)!, s.pathPrefix, warnings);
  mergeAnnotations(obj, s.annotations);
}

function rewriteIngress(obj: KubeObject, s: RouteSettings): void {
  const spec = asRec(obj.spec) ?? {};
  obj.spec = spec;
  for (const r of Array.isArray(spec.rules) ? spec.rules : []) {
    const rule = asRec(r);
    if (!rule) continue;
    if (s.hostname) rule.host = s.hostname;
    const paths = asRec(rule.http)?.paths;
    if (s.pathPrefix && Array.isArray(paths)) {
      for (const p of paths) {
        const entry = asRec(p);
        if (entry) entry.path = prefixPath(s.pathPrefix, typeof entry.path === "string" ? entry.path : "/");
      }
    }
  }
  if (s.ingressClassName) spec.ingressClassName = s.ingressClassName;
  if (s.hostname && Array.isArray(spec.tls) && spec.tls.length > 0) {
    spec.tls = spec.tls.slice(0, 1).map((t) => {
      const own = asRec(t)?.secretName;
      const secretName = s.tlsSecretExplicit || typeof own !== "string" ? s.tlsSecret : own;
      return { ...asRec(t), hosts: [s.hostname], ...(secretName ? { secretName } : {}) };
    });
  } else if (s.hostname && s.tlsSecret) {
    spec.tls = [{ hosts: [s.hostname], secretName: s.tlsSecret }];
  }
  mergeAnnotations(obj, { ...s.annotations, ...s.ingressAnnotations });
}

/** The Service port `expose.port` names (by number or name), or an error message. */
function resolvePort(services: KubeObject[], expose: ExposeEntry): { port: number; name?: string } | string {
  const svc = services.find((o) => o.kind === "Service" && o.metadata.name === expose.service);
  const known = services
    .filter((o) => o.kind === "Service")
    .map(
      (o) =>
        `${o.metadata.name} (${portsOf(o)
          .map((p) => (p.name ? `${p.port}/${p.name}` : String(p.port)))
          .join(", ")})`,
    );
  if (!svc)
    return `route.expose: no Service "${expose.service}" in the render (Services: ${known.join("; ") || "none"})`;
  const port = portsOf(svc).find((p) => p.port === expose.port || (p.name !== undefined && p.name === expose.port));
  if (!port)
    return `route.expose: Service "${expose.service}" has no port ${expose.port} (ports: ${
      portsOf(svc)
        .map((p) => (p.name ? `${p.port} "${p.name}"` : String(p.port)))
        .join(", ") || "none"
    })`;
  return port;
}

export function portsOf(svc: KubeObject): Array<{ port: number; name?: string }> {
  const ports = asRec(svc.spec)?.ports;
  return (Array.isArray(ports) ? ports : [])
    .map(asRec)
    .filter((p): p is Rec => typeof p?.port === "number")
    .map((p) => ({ port: p.port as number, ...(typeof p.name === "string" ? { name: p.name } : {}) }));
}

/** The settings a route for `route.expose[i]` is rewritten with: the first the preview's own, the others their target's. */
export function settingsFor(s: RouteSettings, i: number): RouteSettings {
  const t = i === 0 ? undefined : s.targets?.[i - 1];
  if (!t) return s;
  const { hostname: _h, pathPrefix: _p, tlsSecret: _t, tlsSecretExplicit: _e, ...rest } = s;
  return {
    ...rest,
    ...(t.hostname ? { hostname: t.hostname } : {}),
    ...(t.pathPrefix ? { pathPrefix: t.pathPrefix } : {}),
    ...(t.tlsSecret ? { tlsSecret: t.tlsSecret, tlsSecretExplicit: true } : {}),
    routeName: t.routeName,
  };
}

/** The route `route.expose[i]` asks for, before rewriting (rewriteRoutes then sets hosts, parents, TLS). */
export function generateRoute(objects: readonly KubeObject[], s: RouteSettings, i = 0): KubeObject | string {
  const expose = s.expose![i]!;
  const where = s.expose!.length > 1 ? `route.expose[${i}]` : "route.expose";
  const port = resolvePort([...objects], expose);
  if (typeof port === "string") return port.replace(/^route\.expose/, where);
  const metadata = { name: settingsFor(s, i).routeName, annotations: { "preview-bot.dev/generated": "route.expose" } };
  if (s.kind === "ingress") {
    return {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata,
      spec: {
        rules: [
          {
            http: {
              paths: [
                {
                  path: "/",
                  pathType: "Prefix",
                  backend: {
                    service: {
                      name: expose.service,
                      port: typeof expose.port === "string" ? { name: expose.port } : { number: port.port },
                    },
                  },
                },
              ],
            },
          },
        ],
      },
    };
  }
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata,
    spec: {
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: "/" } }],
          backendRefs: [{ name: expose.service, port: port.port }],
        },
      ],
    },
  };
}

/** Rewrite every route in place. */
export function rewriteRoutes(objects: KubeObject[], s: RouteSettings, warnings: string[]): KubeObject[] {
  for (const obj of objects) {
    if (isHttpRoute(obj)) rewriteHttpRoute(obj, s, warnings);
    else if (isIngress(obj)) rewriteIngress(obj, s);
  }
  return objects;
}
