/**
 * How the preview is reached, decided before the transforms run: which hostname and path prefix, which parents,
 * whether a route is generated (`route.expose`), and whether anything serves TLS for the host — which decides the
 * URL's scheme (`https` only when TLS is served, unless `route.scheme` says otherwise):
 * - Ingress: TLS is served when `route.tls` is set (the Ingress gets `spec.tls` and the issuer annotation) or the
 *   manifests' Ingress already has `spec.tls`.
 * - Gateway API: the parent Gateway is read from the cluster; an HTTPS listener whose hostname covers the preview
 *   host serves it (a wildcard listener with a wildcard certificate, see docs/operations.md). Offline (no cluster),
 *   https is assumed and the summary says so.
 */
import type { PreviewConfig } from "../../../config.js";
import type { Cluster, KubeObject, PreviewNames } from "../../shared/preview.js";
import { capLabel, expandTemplate, templateValues } from "../naming.js";
import type { PreviewRef } from "../../shared/preview.js";
import { isHttpRoute, isIngress, type RouteSettings } from "./routes.js";

export type GatewayReader = Pick<Cluster, "readObject">;

export interface RouteDefaults {
  /** The bot's default Gateway parent (PREVIEW_GATEWAY), for routes when the repository names none. */
  parentRefs?: ReadonlyArray<Record<string, unknown>>;
  ingressClassName?: string;
}

export interface RoutePlan {
  settings?: RouteSettings;
  /** The URL with its scheme decided (undefined when the preview has none). */
  url?: string;
  /** The further URLs (`route.expose` after the first), their schemes decided as the primary's. */
  extraUrls?: Array<{ name: string; url: string }>;
  warnings: string[];
  notes: string[];
}

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;

/** Gateway API hostname matching: exact, or `*.suffix` matching any name under the suffix; no hostname matches all. */
function hostCovered(listenerHost: unknown, host: string): boolean {
  if (typeof listenerHost !== "string" || listenerHost === "") return true;
  if (listenerHost.startsWith("*."))
    return host.endsWith(listenerHost.slice(1)) && host.length > listenerHost.length - 1;
  return listenerHost.toLowerCase() === host.toLowerCase();
}

/** Whether a parent Gateway serves HTTPS for `host`: true, false, or undefined when it could not be read. */
async function gatewayServesTls(
  cluster: GatewayReader,
  parents: ReadonlyArray<Rec>,
  routeNamespace: string,
  host: string,
  warnings: string[],
): Promise<boolean | undefined> {
  let unknown = false;
  for (const ref of parents) {
    if (
      (ref.kind ?? "Gateway") !== "Gateway" ||
      (ref.group ?? "gateway.networking.k8s.io") !== "gateway.networking.k8s.io"
    )
      continue;
    const ns = typeof ref.namespace === "string" ? ref.namespace : routeNamespace;
    const name = String(ref.name);
    let gw: KubeObject | undefined;
    try {
      gw = await cluster.readObject("gateway.networking.k8s.io/v1", "Gateway", ns, name);
    } catch (err) {
      warnings.push(
        `could not read Gateway ${ns}/${name} to check TLS for ${host} (${err instanceof Error ? err.message.split("\n")[0] : String(err)}); the URL assumes https`,
      );
      unknown = true;
      continue;
    }
    if (!gw) {
      warnings.push(
        `the parent Gateway ${ns}/${name} does not exist; nothing serves ${host} yet (route.parentRefs or the bot's PREVIEW_GATEWAY)`,
      );
      continue;
    }
    const listeners = (Array.isArray(asRec(gw.spec)?.listeners) ? (asRec(gw.spec)!.listeners as unknown[]) : [])
      .map(asRec)
      .filter((l): l is Rec => l !== undefined);
    const eligible = listeners.filter(
      (l) =>
        (ref.sectionName === undefined || l.name === ref.sectionName) &&
        (ref.port === undefined || l.port === ref.port),
    );
    if (eligible.some((l) => l.protocol === "HTTPS" && hostCovered(l.hostname, host))) return true;
    const shown =
      eligible
        .map((l) => `${String(l.name)} ${String(l.protocol)}${l.hostname ? ` ${String(l.hostname)}` : ""}`)
        .join(", ") || "none";
    warnings.push(
      `Gateway ${ns}/${name} has no HTTPS listener whose hostname covers ${host} (listeners: ${shown}); the URL is http. ` +
        `Serve previews over TLS with an HTTPS listener for *.${host.split(".").slice(1).join(".")} and a wildcard certificate (docs/operations.md)`,
    );
  }
  return unknown ? undefined : false;
}

/** The settings for rewriting and generating routes, from the config, the bot's defaults and the preview's names. */
export function routeSettings(
  config: PreviewConfig,
  ref: PreviewRef,
  names: PreviewNames,
  defaults: RouteDefaults,
  warnings: string[],
): RouteSettings | undefined {
  const route = config.route;
  if (!route) return undefined;
  let hostname = names.host;
  let pathPrefix: string | undefined;
  if (!hostname && route.baseUrl) {
    hostname = new URL(route.baseUrl).hostname;
    pathPrefix = (route.pathPrefix ?? "/{name}").replace(/\{name\}/g, names.hostLabel).replace(/\/+$/, "");
    if (!pathPrefix.startsWith("/")) pathPrefix = `/${pathPrefix}`;
  }
  const annotations: Record<string, string> = { ...route.annotations };
  if (route.externalDns) {
    if (names.host) annotations["external-dns.alpha.kubernetes.io/hostname"] = names.host;
    else
      warnings.push(
        "route.externalDns is set but the preview has no host of its own (route.host); no external-dns annotation added",
      );
  }
  const ingressAnnotations: Record<string, string> = {};
  if (route.tls?.clusterIssuer) ingressAnnotations["cert-manager.io/cluster-issuer"] = route.tls.clusterIssuer;
  if (route.tls?.issuer) ingressAnnotations["cert-manager.io/issuer"] = route.tls.issuer;
  const values = templateValues(ref, names);
  const tlsSecret = route.tls
    ? route.tls.secretName
      ? expandTemplate(route.tls.secretName, values)
      : capLabel(`${names.hostLabel}-tls`, names.key, true, 63)
    : undefined;
  // The further URLs of route.expose: each on its own host label, with its own TLS Secret when route.tls is set.
  const targets = (names.extraUrls ?? []).map((x) => ({
    ...(x.host ? { hostname: x.host } : {}),
    ...(x.pathPrefix ? { pathPrefix: x.pathPrefix } : {}),
    routeName: x.hostLabel,
    ...(route.tls
      ? {
          tlsSecret: route.tls.secretName
            ? capLabel(`${expandTemplate(route.tls.secretName, values)}-${x.name}`, `${names.key}/${x.name}`, true, 63)
            : capLabel(`${x.hostLabel}-tls`, `${names.key}/${x.name}`, true, 63),
        }
      : {}),
  }));
  const parentRefs = route.parentRefs ?? defaults.parentRefs;
  const ingressClassName = route.ingressClassName ?? defaults.ingressClassName;
  if (route.httpRoutes)
    warnings.push("route.httpRoutes is no longer needed and is ignored: every HTTPRoute gets the preview's hostnames");
  return {
    kind: route.kind,
    ...(hostname ? { hostname } : {}),
    ...(pathPrefix ? { pathPrefix } : {}),
    ...(parentRefs ? { parentRefs } : {}),
    annotations,
    ingressAnnotations,
    ...(ingressClassName ? { ingressClassName } : {}),
    ...(tlsSecret ? { tlsSecret, tlsSecretExplicit: route.tls?.secretName !== undefined } : {}),
    ...(route.expose ? { expose: route.expose } : {}),
    routeName: capLabel(names.hostLabel, names.key, true, 63),
    ...(targets.length ? { targets } : {}),
  };
}

/** Decide settings and the URL's scheme. `cluster` is absent offline (`preview-bot render`). */
export async function planRoute(
  input: { config: PreviewConfig; ref: PreviewRef; names: PreviewNames },
  objects: readonly KubeObject[],
  defaults: RouteDefaults,
  cluster?: GatewayReader,
): Promise<RoutePlan> {
  const { config, names } = input;
  const warnings: string[] = [];
  const notes: string[] = [];
  const settings = routeSettings(config, input.ref, names, defaults, warnings);
  const plan: RoutePlan = {
    ...(settings ? { settings } : {}),
    ...(names.url ? { url: names.url } : {}),
    warnings,
    notes,
  };
  if (!settings || !names.host || !names.url) {
    // No route, or path-prefix mode: the base URL says the scheme of every URL.
    if (names.extraUrls?.length) plan.extraUrls = names.extraUrls.map((x) => ({ name: x.name, url: x.url }));
    return plan;
  }
  const routes = objects.filter((o) => isHttpRoute(o) || isIngress(o));
  const ingressMode = settings.expose
    ? settings.kind === "ingress"
    : routes.length > 0
      ? routes.every(isIngress)
      : settings.kind === "ingress";
  const tlsOnGateway = config.route?.tls?.clusterIssuer ?? config.route?.tls?.issuer;
  if (!ingressMode && tlsOnGateway) {
    warnings.push(
      "route.tls: cert-manager reads issuer annotations on Gateways and Ingresses, not on HTTPRoutes; a preview behind a Gateway gets TLS from the Gateway's wildcard listener (docs/operations.md)",
    );
  }
  let tls: boolean | undefined;
  if (config.route?.scheme) tls = config.route.scheme === "https";
  else if (ingressMode) {
    tls =
      settings.tlsSecret !== undefined ||
      routes.some((o) => Array.isArray(asRec(o.spec)?.tls) && (asRec(o.spec)!.tls as unknown[]).length > 0);
    if (!tls)
      warnings.push(
        `nothing serves TLS for ${names.host} (no route.tls and no spec.tls on the Ingress); the URL is http. Set route.tls.clusterIssuer to have cert-manager issue a certificate`,
      );
  } else {
    const parents =
      settings.parentRefs ??
      routes.flatMap((o) => (Array.isArray(asRec(o.spec)?.parentRefs) ? (asRec(o.spec)!.parentRefs as Rec[]) : []));
    if (!cluster)
      notes.push("the parent Gateway was not read (no cluster): the URL assumes its HTTPS listener covers the host");
    else if (parents.length > 0) tls = await gatewayServesTls(cluster, parents, names.namespace, names.host, warnings);
  }
  if (tls === false) plan.url = names.url.replace(/^https?:/, "http:");
  else if (tls === true) plan.url = names.url.replace(/^https?:/, "https:");
  if (names.extraUrls?.length) plan.extraUrls = extraUrlsOf(names, settings, ingressMode && !config.route?.scheme, tls);
  return plan;
}

/**
 * The further URLs with their schemes: behind a Gateway the same as the primary's (the same wildcard listener covers
 * their hosts); on an Ingress https only when route.tls gives them a certificate (they are generated, with no
 * spec.tls of their own); `route.scheme` decides for all.
 */
function extraUrlsOf(
  names: PreviewNames,
  settings: RouteSettings,
  /** Ingress, with no route.scheme: each URL's own certificate decides. */
  ownCertificate: boolean,
  tls: boolean | undefined,
): Array<{ name: string; url: string }> {
  return (names.extraUrls ?? []).map((x, i) => {
    const own = ownCertificate ? settings.targets?.[i]?.tlsSecret !== undefined : tls;
    const url =
      own === false ? x.url.replace(/^https?:/, "http:") : own === true ? x.url.replace(/^https?:/, "https:") : x.url;
    return { name: x.name, url };
  });
}
