import type { PreviewConfig } from "../../../config.js";
import type { KubeObject } from "../../shared/preview.js";
import type { NeighbourPolicy } from "../guardrails/settings.js";
import { describeObject } from "./cluster-scoped.js";
import { checkParents, unconfiguredParents, unreachable } from "./route-guards.js";
import {
  generateRoute,
  isHttpRoute,
  isIngress,
  portsOf,
  rewriteRoutes,
  settingsFor,
  type RouteSettings,
} from "./routes.js";

/**
 * The Service a person most likely means the URL to lead to, for the "add route.expose" suggestion: one the
 * manifests made public (LoadBalancer or NodePort, before the guardrails made it ClusterIP), then one with an HTTP
 * port (80, or a port named http), else the first. Its HTTP port, else its first.
 */
function suggestExpose(
  services: readonly KubeObject[],
  typeBefore: ReadonlyMap<string, string>,
): { service: string; port: number } | undefined {
  const httpPort = (o: KubeObject) => portsOf(o).find((p) => p.port === 80 || p.name === "http");
  const score = (o: KubeObject) => {
    const type = typeBefore.get(o.metadata.name ?? "") ?? String((o.spec as { type?: unknown } | undefined)?.type);
    return (type === "LoadBalancer" || type === "NodePort" ? 2 : 0) + (httpPort(o) ? 1 : 0);
  };
  const best = services.reduce<KubeObject | undefined>((b, o) => (!b || score(o) > score(b) ? o : b), undefined);
  if (!best?.metadata.name) return undefined;
  return { service: best.metadata.name, port: (httpPort(best) ?? portsOf(best)[0])?.port ?? 80 };
}

/**
 * Step 6 of transform.ts: the routes `route.expose` asks for generated (one per URL, in `namespace`), every route
 * given its URL's host, parents, path prefix and TLS; a URL with no route to serve it is a problem, suggesting the
 * Service most likely meant; so is an HTTPRoute with no configured Gateway (its own parentRefs are never kept) and a
 * route.parentRefs outside the operator's gateways (route-guards.ts). An Ingress nothing may reach is warned about.
 */
export function attachRoutes(
  objects: KubeObject[],
  config: PreviewConfig,
  namespace: string,
  s: RouteSettings | undefined,
  typeBefore: ReadonlyMap<string, string>,
  neighbours: NeighbourPolicy,
  warnings: string[],
  problems: string[],
): KubeObject[] {
  problems.push(...checkParents(config.route?.parentRefs ?? [], namespace, neighbours.gateways));
  const own = objects.filter((o) => isHttpRoute(o) || isIngress(o));
  const generated: Array<{ route: KubeObject; settings: RouteSettings }> = [];
  if (s?.expose) {
    if (s.kind === "gateway" && !s.parentRefs)
      problems.push(
        "route.expose generates an HTTPRoute, which needs a Gateway to attach to: set route.parentRefs (or ask the bot's operator for PREVIEW_GATEWAY), or use route.kind: ingress",
      );
    else
      s.expose.forEach((_, i) => {
        const route = generateRoute(objects, s, i);
        if (typeof route === "string") problems.push(route);
        else {
          route.metadata.namespace = namespace;
          generated.push({ route, settings: settingsFor(s, i) });
        }
      });
  }
  const found = [...own, ...generated.map((g) => g.route)];
  if (found.length > 0 && !s?.hostname) {
    for (const o of found)
      problems.push(
        `${describeObject(o)}: the preview has no hostname of its own (route.host or route.baseUrl), so this route would serve the hostnames in the manifests`,
      );
  } else if (s && !s.parentRefs) problems.push(...unconfiguredParents(found, namespace));
  warnings.push(...unreachable([...objects, ...generated.map((g) => g.route)], neighbours));
  const wantsUrl = Boolean(config.route?.host ?? config.route?.baseUrl) || config.health.checks.length > 0;
  if (found.length === 0 && wantsUrl && !s?.expose) {
    const services = objects.filter((o) => o.kind === "Service");
    const pick = suggestExpose(services, typeBefore);
    const example = pick
      ? `route.expose: { service: ${pick.service}, port: ${pick.port} }`
      : "route.expose: { service: <Service name>, port: <port> }";
    const what = config.route?.host || config.route?.baseUrl ? "route.host is set" : "health.checks need a preview URL";
    problems.push(
      `${what}, but the render has no HTTPRoute or Ingress to serve it: add ${example}` +
        (services.length
          ? ` (Services in the render: ${services
              .map(
                (o) =>
                  `${o.metadata.name} (${portsOf(o)
                    .map((p) => p.port)
                    .join(", ")})`,
              )
              .join("; ")})`
          : "") +
        (config.route?.host || config.route?.baseUrl ? "" : ", with route.host"),
    );
  }
  if (!s) return objects;
  // The manifests' own routes serve the preview's host; each generated one its own URL's.
  rewriteRoutes(own, s, warnings);
  for (const g of generated) rewriteRoutes([g.route], g.settings, warnings);
  return [...objects, ...generated.map((g) => g.route)];
}
