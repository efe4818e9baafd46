/**
 * preview-bot's transforms, on parsed objects and in this order:
 *   1. exclude    — drop `manifests.exclude` objects (by kind and optional name)
 *   2. substitute — `replacements` and `${VAR}` `variables` in string values (see substitute.ts)
 *   3. namespace  — every namespaced object into the preview namespace; Namespace objects dropped; other
 *                   cluster-scoped kinds refused unless in `allowClusterScoped`; ServiceAccount subjects of
 *                   (Cluster)RoleBindings moved too
 *   4. images     — pin `images[]` to the PR's tag (see images.ts)
 *   5. routes     — HTTPRoute / Ingress hostnames, parentRefs, path prefix, annotations (see routes.ts)
 *   6. ownership  — bot labels and annotations on every object's metadata (bot values win). Pod template labels
 *                   and selectors are left alone: a Deployment's selector is immutable, so changing it would break
 *                   every later update.
 * Then a final check: every object has a name (server-side apply needs one) and no object appears twice.
 */
import type { PreviewConfig } from "../../../config.js";
import { expandTemplate, templateValues } from "../naming.js";
import type { KubeObject, PreviewNames, PreviewRef } from "../../shared/preview.js";
import { describeObject, isClusterScoped } from "./cluster-scoped.js";
import { TAG_PATTERN, pinImages, type ImagePin } from "./images.js";
import { RenderError } from "./render-error.js";
import { rewriteRoutes, type RouteSettings } from "./routes.js";
import { substituteValues, type Substitution } from "./substitute.js";

export interface TransformInput {
  config: PreviewConfig;
  ref: PreviewRef;
  names: PreviewNames;
}

/** Step 1. */
export function excludeObjects(objects: KubeObject[], exclude: ReadonlyArray<{ kind: string; name?: string | undefined }>, warnings: string[]): KubeObject[] {
  const hits = new Array<number>(exclude.length).fill(0);
  const kept = objects.filter((obj) => {
    const i = exclude.findIndex((e) => e.kind === obj.kind && (e.name === undefined || e.name === obj.metadata.name));
    if (i >= 0) hits[i]! += 1;
    return i < 0;
  });
  exclude.forEach((e, i) => {
    if (hits[i] === 0) warnings.push(`manifests.exclude: no ${e.kind}${e.name ? ` "${e.name}"` : ""} in the render`);
  });
  return kept;
}

function expandAll(what: string, templates: Record<string, string>, values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, template] of Object.entries(templates)) {
    try {
      out[key] = expandTemplate(template, values);
    } catch (err) {
      throw new RenderError(`expanding ${what}["${key}"]: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
  return out;
}

/** Step 3. */
export function applyPreviewNamespace(objects: KubeObject[], namespace: string, allowClusterScoped: readonly string[], warnings: string[]): KubeObject[] {
  const out: KubeObject[] = [];
  for (const obj of objects) {
    if (obj.kind === "Namespace") {
      warnings.push(`dropped ${describeObject(obj)}: preview-bot creates the preview namespace "${namespace}" itself`);
      continue;
    }
    if (isClusterScoped(obj.kind) || allowClusterScoped.includes(obj.kind)) {
      if (!allowClusterScoped.includes(obj.kind)) {
        throw new RenderError(`${describeObject(obj)} is cluster-scoped and not allowed in a preview (allowClusterScoped)`);
      }
      delete obj.metadata.namespace;
    } else {
      obj.metadata.namespace = namespace;
    }
    if ((obj.kind === "RoleBinding" || obj.kind === "ClusterRoleBinding") && Array.isArray(obj.subjects)) {
      for (const subject of obj.subjects as Array<Record<string, unknown>>) {
        if (subject && subject.kind === "ServiceAccount") subject.namespace = namespace;
      }
    }
    out.push(obj);
  }
  return out;
}

/** Step 6. */
export function addOwnership(objects: KubeObject[], labels: Record<string, string>, annotations: Record<string, string>): KubeObject[] {
  for (const obj of objects) {
    obj.metadata.labels = { ...(obj.metadata.labels ?? {}), ...labels };
    obj.metadata.annotations = { ...(obj.metadata.annotations ?? {}), ...annotations };
  }
  return objects;
}

export function imagePins(input: TransformInput, values: Record<string, string>): ImagePin[] {
  return input.config.images.map((img) => {
    let tag: string;
    try {
      tag = expandTemplate(img.tag, values);
    } catch (err) {
      throw new RenderError(`images: expanding the tag template "${img.tag}" for ${img.name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (!TAG_PATTERN.test(tag)) {
      throw new RenderError(
        `images: the tag "${tag}" for ${img.name} (from template "${img.tag}") is not a valid image tag: at most 128 characters of A-Z a-z 0-9 _ . -, not starting with . or -`,
      );
    }
    return { name: img.name, ...(img.newName ? { newName: img.newName } : {}), tag };
  });
}

export function routeSettings(input: TransformInput, warnings: string[]): RouteSettings | undefined {
  const route = input.config.route;
  if (!route) return undefined;
  const { names } = input;
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
    else warnings.push("route.externalDns is set but the preview has no host of its own (route.host); no external-dns annotation added");
  }
  if (route.tls?.clusterIssuer) annotations["cert-manager.io/cluster-issuer"] = route.tls.clusterIssuer;
  if (route.tls?.issuer) annotations["cert-manager.io/issuer"] = route.tls.issuer;
  return {
    ...(hostname ? { hostname } : {}),
    ...(pathPrefix ? { pathPrefix } : {}),
    ...(route.httpRoutes ? { httpRoutes: route.httpRoutes } : {}),
    ...(route.parentRefs ? { parentRefs: route.parentRefs } : {}),
    annotations,
  };
}

function finalChecks(objects: KubeObject[], input: TransformInput, warnings: string[]): void {
  const seen = new Set<string>();
  for (const obj of objects) {
    if (!obj.metadata.name) {
      throw new RenderError(`${describeObject(obj)} has no metadata.name; server-side apply needs one (generateName is not supported)`);
    }
    const group = obj.apiVersion.includes("/") ? obj.apiVersion.split("/")[0] : "";
    const key = `${group}/${obj.kind}/${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
    if (seen.has(key)) throw new RenderError(`${describeObject(obj)} appears twice in the render`);
    seen.add(key);
  }
  const db = input.config.database;
  if (!db.enabled) return;
  const secret = input.names.secret;
  for (const obj of objects) {
    if (obj.kind === "Secret" && obj.metadata.name === secret) {
      warnings.push(`Secret "${secret}" is in the manifests and is also the database Secret preview-bot writes (database.secret.name); the two will overwrite each other`);
    }
    const spec = obj.spec as { secretObjects?: Array<{ secretName?: unknown }> } | undefined;
    if (obj.kind === "SecretProviderClass" && Array.isArray(spec?.secretObjects) && spec.secretObjects.some((s) => s?.secretName === secret)) {
      warnings.push(
        `${describeObject(obj)} syncs a Secret named "${secret}" (secretObjects), which is also the database Secret preview-bot writes (database.secret.name); the CSI driver and preview-bot would both write it when a pod mounts this class`,
      );
    }
  }
}

/** All six steps on a deep copy of `objects`. Throws RenderError; returns the objects to apply and warnings. */
export function transformObjects(objects: readonly KubeObject[], input: TransformInput): { objects: KubeObject[]; warnings: string[] } {
  const { config, ref, names } = input;
  const warnings: string[] = [];
  const values = templateValues(ref, names);
  const substitution: Substitution = {
    replacements: expandAll("replacements", config.replacements, values),
    variables: expandAll("variables", config.variables, values),
  };
  const pins = imagePins(input, values);
  const routes = routeSettings(input, warnings);

  let out = structuredClone(objects) as KubeObject[];
  out = excludeObjects(out, config.manifests.exclude, warnings);
  out = substituteValues(out, substitution, warnings);
  out = applyPreviewNamespace(out, names.namespace, config.allowClusterScoped, warnings);
  out = pinImages(out, pins, warnings);
  if (routes) out = rewriteRoutes(out, routes, warnings);
  out = addOwnership(out, names.labels, names.annotations);
  finalChecks(out, input, warnings);
  return { objects: out, warnings };
}
