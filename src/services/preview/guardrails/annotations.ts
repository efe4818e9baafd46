/**
 * Annotations on routes, Ingresses and Services are instructions to shared controllers: ExternalDNS makes a DNS
 * record for any name in the zone pointing anywhere (`hostname`, `target`), ingress-nginx claims other hosts
 * (`server-alias`), calls any URL (`auth-url`, `mirror-target`), cert-manager issues from any issuer, cloud load
 * balancers and meshes act on Service annotations. A pull request keeps only the annotations the operator allows
 * (PREVIEW_ALLOWED_ANNOTATIONS, plus bookkeeping no controller acts on: BUILTIN_ANNOTATIONS); the bot then writes its
 * own (route.*: cert-manager, ExternalDNS, route.annotations) after this filter, in the routes step.
 * - Anything else is stripped, with a note naming each key.
 * - Refused instead, where stripping would change what the route protects: authentication (`auth-*`,
 *   `*.middlewares`) and who may reach it (`*-source-range`). Removing those would silently open the route.
 * - Snippet annotations on Ingresses stay refused by their own rule (object-rules.ts).
 */
import type { KubeObject } from "../../shared/preview.js";
import { describeObject } from "../render/cluster-scoped.js";

/** The kinds whose annotations are filtered. */
export function filtersAnnotations(obj: KubeObject): boolean {
  if (obj.kind === "Service" && obj.apiVersion === "v1") return true;
  if (obj.kind === "Ingress" && obj.apiVersion.startsWith("networking.k8s.io/")) return true;
  return obj.apiVersion.startsWith("gateway.networking.k8s.io/") && obj.kind.endsWith("Route");
}

/** `key` or `prefix/*`. */
function allowedBy(key: string, allowed: readonly string[]): boolean {
  return allowed.some((a) => (a.endsWith("/*") ? key.startsWith(a.slice(0, -1)) : a === key));
}

/** The name part of a key (after its `prefix/`). */
const nameOf = (key: string): string => key.slice(key.lastIndexOf("/") + 1);
/** Stripping these would open the route: authentication and source-address restrictions. */
const PROTECTS = /^(auth[-.]|.*source-range$|.*middlewares$)/i;
const SNIPPET = /snippets?$/i;

/** Filter `obj`'s annotations in place; refusals to `problems`, one note per object with stripped keys. */
export function filterAnnotations(
  obj: KubeObject,
  allowed: readonly string[],
  problems: string[],
  rewrites: string[],
): void {
  const annotations = obj.metadata.annotations;
  if (!annotations) return;
  const what = describeObject(obj);
  const stripped: string[] = [];
  for (const key of Object.keys(annotations)) {
    if (allowedBy(key, allowed) && !key.startsWith("preview-bot.dev/")) continue;
    if (obj.kind === "Ingress" && SNIPPET.test(key)) continue; // refused by the Ingress rule
    if (PROTECTS.test(nameOf(key))) {
      problems.push(
        `${what}: annotation ${key} is refused: it tells a shared controller who may reach the route, and stripping it would open the route instead; remove it (previews are protected by the bot), or ask the operator to allow it (PREVIEW_ALLOWED_ANNOTATIONS)`,
      );
      continue;
    }
    stripped.push(key);
    delete annotations[key];
  }
  if (stripped.length > 0)
    rewrites.push(
      `${what}: annotations stripped (shared controllers act on them; a preview keeps only the bot's own and those the operator allows, PREVIEW_ALLOWED_ANNOTATIONS): ${stripped.join(", ")}`,
    );
}
