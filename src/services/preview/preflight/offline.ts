/**
 * The preflight's offline half: the rules a deploy can be judged by without asking a cluster, run in every deploy
 * (the Preflight step, before anything is written) and by `preview-bot render`. Every refusal is listed at once, each
 * naming the object and the file and document it came from:
 * - the preview namespace may not be a protected one (default, kube-*, the bot's PROTECTED_NAMESPACES, the
 *   repository's protectedNamespaces);
 * - the whole namespace must fit its quotas (quota-fit.ts), read from the guardrail objects and the PR's own;
 * - pods must pass Pod Security at the level the namespace will enforce (a repository may tighten it to
 *   `restricted`, which the render's own check, at the bot's level, does not know);
 * - no object may use an API version Kubernetes has removed (removed-apis.ts): it names the one to write;
 * - containers' env values must be strings and their ports numbers (pod-fields.ts): the API server's answer to
 *   those is a 500 or a bare 422;
 * - with the bot's RBAC rules at hand (offline `render`: deploy/base/rbac.yaml), every kind must be one the bot may
 *   apply and prune. In a deploy the cluster answers that instead (the dry run): an operator may grant more.
 */
import type { KubeObject } from "../../shared/preview.js";
import { isProtectedNamespace } from "../../shared/labels.js";
import { GUARDRAIL_NAME, type GuardrailSettings } from "../guardrails/namespace-guardrails.js";
import { podSecurityProblems } from "../guardrails/pod-security.js";
import { describeObject } from "../render/cluster-scoped.js";
import { podSpecOf } from "../render/images.js";
import { groupOfApiVersion, guessResource, knownKind, PREVIEW_VERBS } from "./kinds.js";
import { fitQuotas } from "./quota-fit.js";
import { podFieldProblems } from "./pod-fields.js";
import { missingVerbs, type RbacRules } from "./rbac-rules.js";
import { removedApiAdvice } from "./removed-apis.js";

/** Where each object came from, by identity that survives copies: `group/kind/namespace/name` → "deploy/web.yaml, document 2". */
export type Origins = ReadonlyMap<string, string>;

const originKey = (o: Pick<KubeObject, "apiVersion" | "kind" | "metadata">): string =>
  `${groupOfApiVersion(o.apiVersion)}/${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name ?? ""}`;

/** Origins of a render's objects (its `sources`, parallel to its objects). */
export function originsOf(
  objects: readonly KubeObject[],
  sources: ReadonlyArray<string | undefined>,
): Map<string, string> {
  const out = new Map<string, string>();
  objects.forEach((o, i) => sources[i] && out.set(originKey(o), sources[i]));
  return out;
}

/** `Deployment "web" (deploy/web.yaml, document 2)`, or just the kind and name when the origin is not known. */
export const describeWith =
  (origins: Origins) =>
  (o: KubeObject): string => {
    const from = origins.get(originKey(o));
    return from ? `${describeObject(o)} (${from})` : describeObject(o);
  };

export interface OfflineInput {
  namespace: string;
  /** The bot's own objects in the namespace (RoleBinding, ResourceQuota, LimitRange, NetworkPolicy). */
  guardrails: readonly KubeObject[];
  /** The PR's objects as they will be applied (held inside the guardrails), and the database Secret. */
  objects: readonly KubeObject[];
  origins: Origins;
  /** The guardrails this repository gets, and the bot's bounds (to say who can raise a quota). */
  settings: GuardrailSettings;
  bounds: GuardrailSettings;
  /** Namespaces never used: the bot's PROTECTED_NAMESPACES and the repository's protectedNamespaces. */
  protectedNamespaces: readonly string[];
  /** The bot's RBAC inside a preview namespace; absent in a deploy, where the dry run asks the cluster. */
  rbac?: RbacRules;
}

export interface OfflineResult {
  problems: string[];
  warnings: string[];
  /** How full each quota will be ("ResourceQuota "…": requests.cpu 1.5 CPU of 4 CPU, pods 6 of 20"). */
  usage: string[];
  notes: string[];
}

/** The setting (bot) or config field (repository) behind a key of the guardrail quota. */
function quotaField(key: string): { setting: string; field?: "pods" | "cpu" | "memory" | "storage" } {
  if (key === "pods" || key === "count/pods") return { setting: "PREVIEW_QUOTA_PODS", field: "pods" };
  if (key === "requests.cpu" || key === "cpu") return { setting: "PREVIEW_QUOTA_CPU", field: "cpu" };
  if (key === "requests.memory" || key === "memory") return { setting: "PREVIEW_QUOTA_MEMORY", field: "memory" };
  if (key === "limits.memory") return { setting: "PREVIEW_QUOTA_MEMORY_LIMIT" };
  if (key === "requests.storage") return { setting: "PREVIEW_QUOTA_STORAGE", field: "storage" };
  if (/ephemeral-storage$/.test(key)) return { setting: "PREVIEW_QUOTA_EPHEMERAL_STORAGE" };
  if (key.startsWith("count/")) return { setting: "PREVIEW_QUOTA_OBJECTS" };
  return { setting: "the PREVIEW_QUOTA_* settings" };
}

export function preflightOffline(input: OfflineInput): OfflineResult {
  const describe = describeWith(input.origins);
  const problems: string[] = [];
  const warnings: string[] = [];
  if (isProtectedNamespace(input.namespace, input.protectedNamespaces))
    problems.push(
      `namespace "${input.namespace}" is protected (default, kube-*, PROTECTED_NAMESPACES or protectedNamespaces): preview-bot never deploys into it; choose a names.namespace pattern in .github/preview.yml that does not produce it`,
    );

  const raise = (quota: KubeObject, key: string): string => {
    if (quota.metadata.name !== GUARDRAIL_NAME || !input.guardrails.includes(quota))
      return `raise ${describe(quota)} in the manifests`;
    const { setting, field } = quotaField(key);
    const repo = field ? input.settings.quota[field] : undefined;
    const bound = field ? input.bounds.quota[field] : undefined;
    if (field && repo !== bound)
      return `raise guardrails.quota.${field} in .github/preview.yml (now ${String(repo)}; preview-bot allows up to ${String(bound)})`;
    return `ask preview-bot's operator to raise ${setting}`;
  };
  const fit = fitQuotas({ objects: [...input.guardrails, ...input.objects], describe, raise });
  problems.push(...fit.problems);
  warnings.push(...fit.warnings);

  for (const obj of input.objects) {
    const removed = removedApiAdvice(obj.apiVersion, obj.kind);
    if (removed) problems.push(`${describe(obj)}: ${removed}`);
    const pod = podSpecOf(obj);
    if (pod) for (const p of podFieldProblems(pod)) problems.push(`${describe(obj)}: ${p}`);
    if (pod)
      for (const p of podSecurityProblems(pod, input.settings.podSecurity))
        problems.push(
          `${describe(obj)}: ${p} (the namespace enforces Pod Security "${input.settings.podSecurity}", so its pods would be refused)`,
        );
    if (!input.rbac) continue;
    const group = groupOfApiVersion(obj.apiVersion);
    const known = knownKind(obj.apiVersion, obj.kind);
    const resource = known?.resource ?? guessResource(obj.kind);
    const missing = missingVerbs(input.rbac, group, resource, PREVIEW_VERBS);
    if (missing.length > 0)
      problems.push(
        `${describe(obj)}: the bot's RBAC, ${input.rbac.source}, does not grant ${missing.join(", ")} on ${resource}${group ? `.${group}` : ""}${known?.refused ? `: ${known.refused}` : ": ask preview-bot's operator to grant it in ClusterRole preview-bot-previews, or leave the object out (manifests.exclude)"}`,
      );
  }
  return { problems: [...new Set(problems)], warnings, usage: fit.usage, notes: fit.notes };
}
