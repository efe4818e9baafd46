/**
 * `access: github`: the objects that put GitHub sign-in in front of a preview's routes, decided by what serves them
 * (PREVIEW_ACCESS_GATEWAY). Pure: the render calls it on the rendered objects (after the routes were pointed at the
 * preview's host) and applies what it returns, or fails with the reason — a protected preview is never left public.
 *
 * - `ingress-nginx`: every Ingress gets `auth-url` (the bot's /auth/check) and `auth-signin` (the bot's /auth/signin;
 *   ingress-nginx appends `rd=<original URL>`). Annotations a pull request could use to switch the check off or around
 *   it (other `auth-*`, `enable-global-auth`, `satisfy`, every `*-snippet`) are removed.
 * - `envoy-gateway`: one SecurityPolicy (gateway.envoyproxy.io/v1alpha1) with `extAuth.http` targeting every HTTPRoute,
 *   failing closed, forwarding the cookie, Accept, X-Forwarded-Proto and the bypass header; a pull request's own
 *   gateway.envoyproxy.io objects are refused (a route-level policy of theirs could replace ours).
 * - `gateway-api-external-auth`: the experimental HTTPRoute `ExternalAuth` filter (Gateway API v1.4) at the front of
 *   every rule, for Envoy-based implementations (a denial must reach the browser as the bot sent it: a redirect).
 *
 * The last two reach the bot's Service across namespaces, which Gateway API allows only through a ReferenceGrant in
 * the bot's namespace: returned separately (`botNamespaceObjects`), to be applied there and removed at teardown.
 * Path-prefix previews share one host, so one preview's cookie would open its neighbours: refused. So are route kinds
 * the check cannot see into (GRPCRoute, TLSRoute, TCPRoute, UDPRoute).
 */
import type { KubeObject } from "../../shared/preview.js";
import { RenderError } from "./render-error.js";
import { isHttpRoute, isIngress } from "./routes.js";

export type AccessGateway = "ingress-nginx" | "envoy-gateway" | "gateway-api-external-auth";

export interface AccessSettings {
  gateway?: AccessGateway;
  /** The bot's public origin: the sign-in is `<botUrl>/auth/signin`. */
  botUrl: string;
  /** What ingress-nginx calls for each request (the public `<botUrl>/auth/check`, or the Service's in-cluster URL). */
  authUrl: string;
  /** The bot's Service, for Gateway API backend references. */
  botService: { namespace: string; name: string; port: number };
}

export interface ProtectInput {
  objects: readonly KubeObject[];
  /** The preview's namespace. */
  namespace: string;
  /** The preview is served under a path on a shared host. */
  pathPrefix?: boolean;
  /** Ownership labels for the objects made here. */
  labels?: Record<string, string>;
}

export type ProtectResult =
  | { ok: true; objects: KubeObject[]; botNamespaceObjects: KubeObject[]; notes: string[] }
  | { ok: false; reason: string };

const NGINX = "nginx.ingress.kubernetes.io/";
const POLICY_NAME = "preview-bot-access";
const GATEWAY_GROUP = "gateway.networking.k8s.io";
const OTHER_ROUTES = new Set(["GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute"]);
/** Headers the check needs from the visitor's request when Envoy calls it. */
const EXT_AUTH_HEADERS = ["cookie", "accept", "x-forwarded-proto", "x-preview-bypass"] as const;

/** The annotations ingress-nginx needs to send every request of a preview through the bot's check. */
function ingressAuthAnnotations(s: Pick<AccessSettings, "botUrl" | "authUrl">): Record<string, string> {
  return { [`${NGINX}auth-url`]: s.authUrl, [`${NGINX}auth-signin`]: `${s.botUrl}/auth/signin` };
}

/** A pull request's annotation that could switch the check off or route around it. */
function unsafeIngressAnnotation(key: string): boolean {
  if (key.includes("snippet")) return true;
  if (!key.startsWith(NGINX)) return false;
  const name = key.slice(NGINX.length);
  return name.startsWith("auth-") || name === "enable-global-auth" || name === "satisfy";
}

/** The HTTPRoute filter (Gateway API ExternalAuth, experimental channel) that calls the bot's check. */
function externalAuthFilter(s: Pick<AccessSettings, "botService">): Record<string, unknown> {
  return {
    type: "ExternalAuth",
    externalAuth: {
      protocol: "HTTP",
      backendRef: { name: s.botService.name, namespace: s.botService.namespace, port: s.botService.port },
      http: { path: "/auth/check", allowedHeaders: [...EXT_AUTH_HEADERS] },
    },
  };
}

/** Envoy Gateway's SecurityPolicy calling the bot's check for these HTTPRoutes. */
function envoySecurityPolicy(
  s: Pick<AccessSettings, "botService">,
  namespace: string,
  routeNames: readonly string[],
  labels: Record<string, string> = {},
): KubeObject {
  return {
    apiVersion: "gateway.envoyproxy.io/v1alpha1",
    kind: "SecurityPolicy",
    metadata: { name: POLICY_NAME, namespace, labels: { ...labels } },
    spec: {
      targetRefs: routeNames.map((name) => ({ group: GATEWAY_GROUP, kind: "HTTPRoute", name })),
      extAuth: {
        failOpen: false,
        headersToExtAuth: [...EXT_AUTH_HEADERS],
        http: {
          backendRefs: [{ name: s.botService.name, namespace: s.botService.namespace, port: s.botService.port }],
          path: "/auth/check",
        },
      },
    },
  };
}

/** Lets `fromKind` objects in the preview's namespace reference the bot's Service (lives in the bot's namespace). */
export function botReferenceGrant(
  s: Pick<AccessSettings, "botService">,
  previewNamespace: string,
  from: { group: string; kind: string },
  labels: Record<string, string> = {},
): KubeObject {
  return {
    apiVersion: "gateway.networking.k8s.io/v1beta1",
    kind: "ReferenceGrant",
    metadata: {
      name: `preview-access-${previewNamespace}`.slice(0, 253),
      namespace: s.botService.namespace,
      labels: { ...labels },
    },
    spec: {
      from: [{ group: from.group, kind: from.kind, namespace: previewNamespace }],
      to: [{ group: "", kind: "Service", name: s.botService.name }],
    },
  };
}

const refuse = (reason: string): ProtectResult => ({ ok: false, reason: `access: github: ${reason}` });
const nameOf = (o: KubeObject) => `${o.kind} "${o.metadata.name ?? ""}"`;

export function protectPreview(input: ProtectInput, s: AccessSettings): ProtectResult {
  if (!s.gateway)
    return refuse(
      "the bot has no PREVIEW_ACCESS_GATEWAY (ingress-nginx, envoy-gateway or gateway-api-external-auth), so it cannot put sign-in in front of this preview; it is not deployed rather than left public",
    );
  if (input.pathPrefix)
    return refuse(
      "previews under a path of a shared host cannot be protected (they would share one sign-in cookie); give each preview its own host",
    );
  const objects = input.objects.map((o) => structuredClone(o));
  const labels = input.labels ?? {};
  const other = objects.find((o) => o.apiVersion.startsWith(`${GATEWAY_GROUP}/`) && OTHER_ROUTES.has(o.kind));
  if (other) return refuse(`${nameOf(other)} cannot be protected by sign-in (only HTTP routes can)`);
  const ingresses = objects.filter(isIngress);
  const routes = objects.filter(isHttpRoute);
  const notes: string[] = [];

  if (s.gateway === "ingress-nginx") {
    if (routes.length)
      return refuse(
        `${nameOf(routes[0]!)}: this bot protects previews through ingress-nginx, which does not serve HTTPRoutes`,
      );
    for (const ing of ingresses) {
      const before = ing.metadata.annotations ?? {};
      const removed = Object.keys(before).filter(unsafeIngressAnnotation);
      if (removed.length)
        notes.push(`${nameOf(ing)}: removed ${removed.join(", ")} (a protected preview's check is the bot's)`);
      ing.metadata.annotations = {
        ...Object.fromEntries(Object.entries(before).filter(([k]) => !unsafeIngressAnnotation(k))),
        ...ingressAuthAnnotations(s),
      };
    }
    return { ok: true, objects, botNamespaceObjects: [], notes };
  }

  if (ingresses.length)
    return refuse(
      `${nameOf(ingresses[0]!)}: this bot protects previews through ${s.gateway}, which does not serve Ingresses`,
    );
  if (routes.length === 0) return { ok: true, objects, botNamespaceObjects: [], notes };

  if (s.gateway === "envoy-gateway") {
    const theirs = objects.find((o) => o.apiVersion.startsWith("gateway.envoyproxy.io/"));
    if (theirs) return refuse(`${nameOf(theirs)}: a protected preview cannot bring its own Envoy Gateway policies`);
    const names = routes.map((r) => r.metadata.name ?? "");
    return {
      ok: true,
      objects: [...objects, envoySecurityPolicy(s, input.namespace, names, labels)],
      botNamespaceObjects: [
        botReferenceGrant(s, input.namespace, { group: "gateway.envoyproxy.io", kind: "SecurityPolicy" }, labels),
      ],
      notes,
    };
  }

  for (const route of routes) {
    const spec = (route.spec ?? {}) as { rules?: Array<Record<string, unknown>> };
    route.spec = spec;
    if (!Array.isArray(spec.rules) || spec.rules.length === 0) spec.rules = [{}];
    for (const rule of spec.rules) {
      const filters = Array.isArray(rule.filters) ? (rule.filters as Array<Record<string, unknown>>) : [];
      if (filters.some((f) => f.type === "ExternalAuth"))
        notes.push(`${nameOf(route)}: its own ExternalAuth filter was replaced`);
      rule.filters = [externalAuthFilter(s), ...filters.filter((f) => f.type !== "ExternalAuth")];
    }
  }
  return {
    ok: true,
    objects,
    botNamespaceObjects: [botReferenceGrant(s, input.namespace, { group: GATEWAY_GROUP, kind: "HTTPRoute" }, labels)],
    notes,
  };
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : {});
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

/** Every host the preview's routes serve (Ingress rules and TLS hosts, HTTPRoute hostnames), lowercase, once each. */
export function routeHosts(objects: readonly KubeObject[]): string[] {
  const out = new Set<string>();
  for (const o of objects) {
    const spec = rec(o.spec);
    if (isIngress(o)) {
      for (const rule of Array.isArray(spec.rules) ? spec.rules : []) {
        const host = rec(rule).host;
        if (typeof host === "string") out.add(host);
      }
      for (const tls of Array.isArray(spec.tls) ? spec.tls : []) for (const h of strings(rec(tls).hosts)) out.add(h);
    } else if (isHttpRoute(o)) for (const h of strings(spec.hostnames)) out.add(h);
  }
  return [...new Set([...out].map((h) => h.toLowerCase()))].filter((h) => h !== "" && !h.includes("*"));
}

export interface AccessStep {
  /** `github`: put the sign-in in front of every route; `public`: leave the routes as they are. */
  mode: "public" | "github";
  namespace: string;
  pathPrefix?: boolean;
  labels?: Record<string, string>;
}

export interface AccessOutcome {
  objects: KubeObject[];
  /** The hosts the preview serves (the sign-in answers for these); none for a path under a shared host. */
  hosts: string[];
  /** Objects for the bot's own namespace (ReferenceGrants), applied there and removed at teardown. */
  grants: KubeObject[];
  notes: string[];
}

/**
 * The render's last step: for `access: github`, protect every route (`protectPreview`) or fail the render with the
 * reason, never leaving it public; for `access: public`, nothing changes. `settings` is what the bot can do, or why it
 * cannot protect anything (its sign-in is not configured).
 */
export function protectAccess(
  objects: KubeObject[],
  step: AccessStep,
  settings: AccessSettings | { unavailable: string } | undefined,
): AccessOutcome {
  const hosts = step.pathPrefix ? [] : routeHosts(objects);
  if (step.mode === "public") return { objects, hosts, grants: [], notes: [] };
  if (!settings || "unavailable" in settings)
    throw new RenderError(
      `access: github: ${settings?.unavailable ?? "the bot has no GitHub sign-in configured"}; the preview is not deployed rather than left public`,
    );
  const r = protectPreview(
    {
      objects,
      namespace: step.namespace,
      ...(step.pathPrefix ? { pathPrefix: true } : {}),
      ...(step.labels ? { labels: step.labels } : {}),
    },
    settings,
  );
  if (!r.ok) throw new RenderError(r.reason);
  return { objects: r.objects, hosts, grants: r.botNamespaceObjects, notes: r.notes };
}
