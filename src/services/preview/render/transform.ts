/**
 * preview-bot's transforms, on parsed objects and in this order:
 *   1. exclude    — drop `manifests.exclude` objects by kind and optional name (path globs act when files are read)
 *   2. substitute — `replacements` and `${VAR}` `variables` in string values (see substitute.ts)
 *   3. namespace  — every namespaced object into the preview namespace; Namespace objects dropped; other
 *                   cluster-scoped kinds (scope from API discovery, else the built-in list) refused unless in
 *                   `allowClusterScoped`; ServiceAccount subjects of RoleBindings moved too
 *   4. images     — pin `images[]` to the PR's tag (see images.ts)
 *   5. guardrails — rewrite or refuse what a shared cluster must not run (see guardrails/object-rules.ts)
 *   6. routes     — generate the `route.expose` routes (one per URL); every HTTPRoute / Ingress gets the preview's
 *                   host (a generated one its own URL's), parents, path prefix, TLS and annotations (see attach-routes.ts);
 *                   a URL with no route is refused, suggesting the Service most likely meant, so is an HTTPRoute
 *                   with no configured Gateway and a route.parentRefs outside the operator's gateways
 *   6b. secrets   — ExternalSecrets for `secrets` store entries (added before step 3); every ExternalSecret may name
 *                   only ClusterSecretStores the bot allows, copies only allowed sources (see app-secrets.ts)
 *   6c. env       — the pull request's details (PREVIEW_*) in every container (see preview-env.ts)
 *   7. ownership  — bot labels and annotations on every object's metadata (bot values win). Pod template labels
 *                   and selectors are left alone: a Deployment's selector is immutable, so changing it would break
 *                   every later update.
 * Then a final check: every object has a name (server-side apply needs one) and no object appears twice (naming
 * both files). Every refusal is collected, and the render fails once listing them all.
 */
import { describeError } from "../../shared/format.js";
import type { PreviewConfig } from "../../../config.js";
import { expandTemplate, templateValues } from "../naming.js";
import type { KubeObject, PreviewNames, PreviewRef } from "../../shared/preview.js";
import { describeObject, scopeKey, scopeOf, type Scopes } from "./cluster-scoped.js";
import { applyGuardrails, DEFAULT_GUARDRAILS, type GuardrailPolicy } from "../guardrails/object-rules.js";
import { DEFAULT_NEIGHBOURS } from "../guardrails/settings.js";
import { TAG_PATTERN, pinImages, type ImagePin, type PinnedImage } from "./images.js";
import { RenderError } from "./render-error.js";
import { routeSettings, type RouteDefaults } from "./route-plan.js";
import { substituteValues, type Substitution } from "./substitute.js";
import { attachRoutes } from "./attach-routes.js";
import { checkAppSecrets, externalSecretsFromConfig, type SecretAllowlists } from "./app-secrets.js";
import { injectPreviewEnv, previewEnv } from "./preview-env.js";

export interface TransformInput {
  config: PreviewConfig;
  ref: PreviewRef;
  names: PreviewNames;
  /** Bot-level rules; default DEFAULT_GUARDRAILS. */
  policy?: GuardrailPolicy & RouteDefaults;
  /** Kind scopes from API discovery (`apiVersion/kind` → scope); the built-in list answers for the rest. */
  scopes?: Scopes;
  /** Where each input object came from (a file), parallel to the objects; for messages. */
  sources?: ReadonlyArray<string | undefined>;
  /** The secret sources and ClusterSecretStores the bot allows (default none). */
  secrets?: SecretAllowlists;
  /** Every URL of the preview by name (the primary's when route.expose names it, then the further ones). */
  urls?: ReadonlyArray<{ name: string; url: string }>;
}

export interface TransformResult {
  objects: KubeObject[];
  warnings: string[];
  /** What was changed for safety, and why. */
  rewrites: string[];
  /** What happens at deploy that the render cannot show (a Secret copied then, its values never shown). */
  notes: string[];
  /** The images `images[]` pinned (by tag), and where: the deploy resolves them to digests. */
  pinned: PinnedImage[];
}

/** Step 1. */
export function excludeObjects(
  objects: KubeObject[],
  exclude: ReadonlyArray<{ kind?: string | undefined; name?: string | undefined }>,
  warnings: string[],
): KubeObject[] {
  const byKind = exclude.filter((e): e is { kind: string; name?: string } => e.kind !== undefined);
  const hits = new Array<number>(byKind.length).fill(0);
  const kept = objects.filter((obj) => {
    const i = byKind.findIndex((e) => e.kind === obj.kind && (e.name === undefined || e.name === obj.metadata.name));
    if (i >= 0) hits[i]! += 1;
    return i < 0;
  });
  byKind.forEach((e, i) => {
    if (hits[i] === 0) warnings.push(`manifests.exclude: no ${e.kind}${e.name ? ` "${e.name}"` : ""} in the render`);
  });
  return kept;
}

function expandAll(
  what: string,
  templates: Record<string, string>,
  values: Record<string, string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, template] of Object.entries(templates)) {
    try {
      out[key] = expandTemplate(template, values);
    } catch (err) {
      throw new RenderError(`expanding ${what}["${key}"]: ${describeError(err)}`, {
        cause: err,
      });
    }
  }
  return out;
}

/** Step 3. Refusals go to `problems`. */
export function applyPreviewNamespace(
  objects: KubeObject[],
  namespace: string,
  allowClusterScoped: readonly string[],
  warnings: string[],
  problems: string[] = [],
  scopes?: Scopes,
): KubeObject[] {
  const out: KubeObject[] = [];
  for (const obj of objects) {
    if (obj.kind === "Namespace") {
      warnings.push(`dropped ${describeObject(obj)}: preview-bot creates the preview namespace "${namespace}" itself`);
      continue;
    }
    // A kind the repository allows as cluster-scoped is taken at its word when discovery has no answer.
    const scope =
      scopes?.has(scopeKey(obj.apiVersion, obj.kind)) || !allowClusterScoped.includes(obj.kind)
        ? scopeOf(obj, scopes)
        : "Cluster";
    if (scope === "Cluster") {
      if (!allowClusterScoped.includes(obj.kind)) {
        problems.push(`${describeObject(obj)} is cluster-scoped and not allowed in a preview (allowClusterScoped)`);
        continue;
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

/** Step 7. */
export function addOwnership(
  objects: KubeObject[],
  labels: Record<string, string>,
  annotations: Record<string, string>,
): KubeObject[] {
  for (const obj of objects) {
    obj.metadata.labels = { ...(obj.metadata.labels ?? {}), ...labels };
    obj.metadata.annotations = { ...(obj.metadata.annotations ?? {}), ...annotations };
  }
  return objects;
}

function imagePins(input: TransformInput, values: Record<string, string>): ImagePin[] {
  return input.config.images.map((img) => {
    let tag: string;
    try {
      tag = expandTemplate(img.tag, values);
    } catch (err) {
      throw new RenderError(`images: expanding the tag template "${img.tag}" for ${img.name}: ${describeError(err)}`, {
        cause: err,
      });
    }
    if (!TAG_PATTERN.test(tag)) {
      throw new RenderError(
        `images: the tag "${tag}" for ${img.name} (from template "${img.tag}") is not a valid image tag: at most 128 characters of A-Z a-z 0-9 _ . -, not starting with . or -`,
      );
    }
    return { name: img.name, ...(img.newName ? { newName: img.newName } : {}), tag };
  });
}

function finalChecks(
  objects: KubeObject[],
  input: TransformInput,
  origin: Map<KubeObject, string>,
  warnings: string[],
  problems: string[],
): void {
  const seen = new Map<string, KubeObject>();
  for (const obj of objects) {
    if (!obj.metadata.name) {
      problems.push(
        `${describeObject(obj)}${origin.has(obj) ? ` (in ${origin.get(obj)})` : ""} has no metadata.name; server-side apply needs one (generateName is not supported)`,
      );
      continue;
    }
    const group = obj.apiVersion.includes("/") ? obj.apiVersion.split("/")[0] : "";
    const key = `${group}/${obj.kind}/${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
    const first = seen.get(key);
    if (first) {
      const where = [origin.get(first), origin.get(obj)].filter(Boolean);
      problems.push(
        `${describeObject(obj)} appears twice in the render${where.length === 2 ? `: in ${where[0]} and in ${where[1]} (leave one out with manifests.exclude or manifests.include)` : ""}`,
      );
    } else seen.set(key, obj);
  }
  const db = input.config.database;
  if (!db.enabled) return;
  const secret = input.names.secret;
  for (const obj of objects) {
    if (obj.kind === "Secret" && obj.metadata.name === secret) {
      warnings.push(
        `Secret "${secret}" is in the manifests and is also the database Secret preview-bot writes (database.secret.name); the two will overwrite each other`,
      );
    }
    const spec = obj.spec as { secretObjects?: Array<{ secretName?: unknown }> } | undefined;
    if (
      obj.kind === "SecretProviderClass" &&
      Array.isArray(spec?.secretObjects) &&
      spec.secretObjects.some((s) => s?.secretName === secret)
    ) {
      warnings.push(
        `${describeObject(obj)} syncs a Secret named "${secret}" (secretObjects), which is also the database Secret preview-bot writes (database.secret.name); the CSI driver and preview-bot would both write it when a pod mounts this class`,
      );
    }
  }
}

/** Every step on a deep copy of `objects`. Throws RenderError listing every refusal; returns what to apply. */
export function transformObjects(objects: readonly KubeObject[], input: TransformInput): TransformResult {
  const { config, ref, names } = input;
  const policy = { ...DEFAULT_GUARDRAILS, ...input.policy };
  const warnings: string[] = [];
  const problems: string[] = [];
  const values = templateValues(ref, names);
  const substitution: Substitution = {
    replacements: expandAll("replacements", config.replacements, values),
    variables: expandAll("variables", config.variables, values),
  };
  const pins = imagePins(input, values);
  const settings = routeSettings(config, ref, names, policy, warnings);

  let out = structuredClone(objects) as KubeObject[];
  const origin = new Map<KubeObject, string>();
  out.forEach((o, i) => input.sources?.[i] && origin.set(o, input.sources[i]));
  out = excludeObjects(out, config.manifests.exclude, warnings);
  out = substituteValues(out, substitution, warnings);
  // The ExternalSecrets `secrets` asks for (store entries): judged and namespaced like the manifests' own.
  for (const es of externalSecretsFromConfig(config)) {
    origin.set(es, "secrets (.github/preview.yml)");
    out.push(es);
  }
  out = applyPreviewNamespace(out, names.namespace, config.allowClusterScoped, warnings, problems, input.scopes);
  const pinned: PinnedImage[] = [];
  out = pinImages(out, pins, warnings, pinned);
  // Service types as the manifests wrote them (the guardrails turn LoadBalancers into ClusterIPs), for a suggestion.
  const typeBefore = new Map(
    out
      .filter((o) => o.kind === "Service" && o.metadata.name)
      .map((o) => [o.metadata.name!, String((o.spec as { type?: unknown } | undefined)?.type ?? "ClusterIP")]),
  );
  const guard = applyGuardrails(out, policy);
  problems.push(...guard.problems);
  const secrets = checkAppSecrets(
    out,
    config,
    { repository: `${ref.owner}/${ref.repo}`, ...(ref.fork !== undefined ? { fork: ref.fork } : {}) },
    input.secrets ?? { sources: [], stores: [] },
    (o) => origin.get(o),
    problems,
  );
  out = secrets.objects;
  warnings.push(...secrets.warnings);
  out = attachRoutes(
    out,
    config,
    names.namespace,
    settings,
    typeBefore,
    policy.neighbours ?? DEFAULT_NEIGHBOURS,
    warnings,
    problems,
  );
  if (config.previewEnv) injectPreviewEnv(out, previewEnv(ref, names, input.urls ?? []));
  out = addOwnership(out, names.labels, names.annotations);
  finalChecks(out, input, origin, warnings, problems);
  if (problems.length > 0)
    throw new RenderError(
      problems.length === 1
        ? problems[0]!
        : `${problems.length} problems:\n${problems.map((p) => `- ${p}`).join("\n")}`,
      { problems },
    );
  return { objects: out, warnings, rewrites: guard.rewrites, notes: secrets.notes, pinned };
}
