/**
 * Where a preview's routes may attach, and whether anything can reach them (issues 21 and 22):
 * - an HTTPRoute's own parentRefs are never kept (they could name any Gateway, production's included): with no
 *   Gateway configured (route.parentRefs, or the bot's PREVIEW_GATEWAY), a render with HTTPRoutes is refused, saying
 *   what to set;
 * - when the operator lists gateways (PREVIEW_GATEWAY, PREVIEW_ALLOWED_GATEWAYS), a repository's route.parentRefs
 *   must name one of them;
 * - an Ingress that nothing outside the namespace may reach (the guardrail NetworkPolicy lets in only the gateways'
 *   namespaces and PREVIEW_INGRESS_FROM_*) is warned about: the preview would deploy green and answer nobody.
 */
import type { PreviewConfig } from "../../../config.js";
import type { KubeObject } from "../../shared/preview.js";
import type { GatewayRef, NeighbourPolicy } from "../guardrails/settings.js";
import { describeObject } from "./cluster-scoped.js";
import { isHttpRoute, isIngress } from "./routes.js";

type ParentRef = NonNullable<NonNullable<PreviewConfig["route"]>["parentRefs"]>[number];

/** `namespace/name` of each parent a route names, for messages. */
function parentsOf(route: KubeObject, namespace: string): string {
  const refs = (route.spec as { parentRefs?: unknown } | undefined)?.parentRefs;
  const list = (Array.isArray(refs) ? refs : [])
    .map((r) => r as { name?: unknown; namespace?: unknown })
    .map((r) => `${typeof r.namespace === "string" ? r.namespace : namespace}/${String(r.name)}`);
  return list.join(", ") || "none";
}

/** Refusals for `refs` (route.parentRefs) outside the operator's `gateways`; none when the operator lists none. */
export function checkParents(refs: readonly ParentRef[], namespace: string, gateways: readonly GatewayRef[]): string[] {
  if (gateways.length === 0) return [];
  const listed = gateways.map((g) => `${g.namespace}/${g.name}`).join(", ");
  return refs.flatMap((r) => {
    const ns = r.namespace ?? namespace;
    const gateway =
      (r.kind ?? "Gateway") === "Gateway" && (r.group ?? "gateway.networking.k8s.io") === "gateway.networking.k8s.io";
    if (gateway && gateways.some((g) => g.name === r.name && g.namespace === ns)) return [];
    return [
      `route.parentRefs: ${gateway ? "Gateway" : (r.kind ?? "parent")} ${ns}/${r.name} is not a gateway the bot's operator lets previews attach to (${listed}); name one of those, or ask the operator to add it to PREVIEW_ALLOWED_GATEWAYS`,
    ];
  });
}

/** Refusals for HTTPRoutes when no Gateway is configured: their own parents would be used otherwise. */
export function unconfiguredParents(routes: readonly KubeObject[], namespace: string): string[] {
  return routes
    .filter(isHttpRoute)
    .map(
      (o) =>
        `${describeObject(o)}: no Gateway is configured for previews, and the parents in the manifests (${parentsOf(o, namespace)}) are never used: set route.parentRefs in .github/preview.yml, or ask the bot's operator for PREVIEW_GATEWAY`,
    );
}

/** A warning per Ingress when the guardrail NetworkPolicy lets nothing from outside the namespace in. */
export function unreachable(objects: readonly KubeObject[], neighbours: NeighbourPolicy): string[] {
  const from = neighbours.ingressFrom;
  if (from.namespaces.length > 0 || from.cidrs.length > 0) return [];
  return objects
    .filter(isIngress)
    .map(
      (o) =>
        `${describeObject(o)} is unreachable: nothing outside the preview's namespace may reach its pods (the guardrail NetworkPolicy; PREVIEW_INGRESS_FROM_NAMESPACES and PREVIEW_INGRESS_FROM_CIDRS are empty), so the ingress controller cannot serve it. Ask the bot's operator to set PREVIEW_INGRESS_FROM_NAMESPACES to the controller's namespace`,
    );
}
