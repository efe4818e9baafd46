/**
 * Step 5: point routes at the preview. For HTTPRoutes (all, or those named in `route.httpRoutes`): hostnames set
 * to the preview host, parentRefs replaced when configured, PathPrefix/Exact matches prefixed in path-prefix mode,
 * and annotations (route.annotations, external-dns hostname, cert-manager issuer) merged. Ingresses get the same
 * host, path and annotation treatment (`spec.rules[].host`, `spec.tls[].hosts`) for teams not on Gateway API.
 */
import type { KubeObject } from "../../shared/preview.js";

export interface RouteSettings {
  /** Hostname to serve on: the preview host, or the base URL's host in path-prefix mode. */
  hostname?: string;
  /** Path prefix in path-prefix mode, e.g. `/feature-login` (no trailing slash). */
  pathPrefix?: string;
  /** Only these HTTPRoutes (by name); all when undefined. */
  httpRoutes?: readonly string[];
  parentRefs?: ReadonlyArray<Record<string, unknown>>;
  annotations: Record<string, string>;
}

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined);

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

function rewriteHttpRoute(obj: KubeObject, s: RouteSettings, warnings: string[]): void {
  const spec = asRec(obj.spec) ?? {};
  obj.spec = spec;
  if (s.hostname) spec.hostnames = [s.hostname];
  if (s.parentRefs) spec.parentRefs = s.parentRefs.map((r) => ({ ...r }));
  if (s.pathPrefix && Array.isArray(spec.rules)) {
    for (const r of spec.rules) {
      const rule = asRec(r);
      if (!rule) continue;
      const matches = Array.isArray(rule.matches) ? rule.matches : [];
      if (matches.length === 0) {
        rule.matches = [{ path: { type: "PathPrefix", value: s.pathPrefix } }];
        continue;
      }
      for (const m of matches) {
        const match = asRec(m);
        if (!match) continue;
        const path = asRec(match.path) ?? { type: "PathPrefix", value: "/" };
        const type = typeof path.type === "string" ? path.type : "PathPrefix";
        if (type === "PathPrefix" || type === "Exact") {
          match.path = { ...path, type, value: prefixPath(s.pathPrefix, typeof path.value === "string" ? path.value : "/") };
        } else {
          warnings.push(`HTTPRoute "${obj.metadata.name}": a ${type} path match is not prefixed with ${s.pathPrefix}; adjust it by hand`);
        }
      }
    }
  }
  mergeAnnotations(obj, s.annotations);
}

function rewriteIngress(obj: KubeObject, s: RouteSettings): void {
  const spec = asRec(obj.spec);
  if (!spec) return;
  if (Array.isArray(spec.rules)) {
    for (const r of spec.rules) {
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
  }
  if (s.hostname && Array.isArray(spec.tls)) {
    for (const t of spec.tls) {
      const tls = asRec(t);
      if (tls) tls.hosts = [s.hostname];
    }
  }
  mergeAnnotations(obj, s.annotations);
}

/** Rewrite routes in place. HTTPRoutes named in `httpRoutes` but absent from the render are reported. */
export function rewriteRoutes(objects: KubeObject[], s: RouteSettings, warnings: string[]): KubeObject[] {
  const seen = new Set<string>();
  for (const obj of objects) {
    if (obj.kind === "HTTPRoute" && obj.apiVersion.startsWith("gateway.networking.k8s.io/")) {
      const name = obj.metadata.name ?? "";
      if (s.httpRoutes && !s.httpRoutes.includes(name)) continue;
      seen.add(name);
      rewriteHttpRoute(obj, s, warnings);
    } else if (obj.kind === "Ingress" && obj.apiVersion.startsWith("networking.k8s.io/")) {
      rewriteIngress(obj, s);
    }
  }
  for (const name of s.httpRoutes ?? []) {
    if (!seen.has(name)) warnings.push(`route.httpRoutes: no HTTPRoute "${name}" in the render`);
  }
  return objects;
}
