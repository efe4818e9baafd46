/** Label and annotation keys preview-bot puts on what it owns. Only objects carrying MANAGED_BY are ever deleted. */
export const MANAGED_BY_KEY = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "preview-bot";
export const MANAGED_BY: Readonly<Record<string, string>> = { [MANAGED_BY_KEY]: MANAGED_BY_VALUE };

/** Label: owner/repo as a label-safe value (see naming.labelValue). */
export const REPO_LABEL = "preview-bot.dev/repo";
/** Label: the PR number. */
export const PR_LABEL = "preview-bot.dev/pr";

/** Annotation: full `owner/repo`, unabridged. */
export const REPOSITORY_ANNOTATION = "preview-bot.dev/repository";
export const BRANCH_ANNOTATION = "preview-bot.dev/branch";
export const SHA_ANNOTATION = "preview-bot.dev/head-sha";
/** Annotation: ISO-8601 expiry (TTL), absent when the preview does not expire. */
export const EXPIRES_ANNOTATION = "preview-bot.dev/expires-at";
/** Annotation on the namespace: the kinds applied last time (`apiVersion/Kind` list), so prune knows what to list. */
export const APPLIED_KINDS_ANNOTATION = "preview-bot.dev/applied-kinds";

/** Annotations the runner keeps on the preview namespace: the cluster is the record of what exists. */
export const STATE_ANNOTATION = "preview-bot.dev/state";
export const URL_ANNOTATION = "preview-bot.dev/url";
/** The preview's further URLs (route.expose after the first): `name=url` pairs, comma-separated. */
export const EXTRA_URLS_ANNOTATION = "preview-bot.dev/extra-urls";
export const TITLE_ANNOTATION = "preview-bot.dev/title";

/**
 * Annotations for the page and the sign-in in front of previews (docs/preview-access.md), written by the deploy: who
 * may open the preview (`public` | `github`), the hosts its routes serve (comma-separated; the sign-in answers for
 * these), and the per-deploy nonce its bypass token is derived from (not a secret: the token is an HMAC of it with
 * PREVIEW_AUTH_SECRET, so a new deploy is a new token).
 */
export const ACCESS_ANNOTATION = "preview-bot.dev/access";
export const ACCESS_HOSTS_ANNOTATION = "preview-bot.dev/access-hosts";
export const ACCESS_NONCE_ANNOTATION = "preview-bot.dev/access-nonce";
/** The last finished run (steps, timings, diagnosis; JSON, redacted and capped; shared/last-run.ts), for the page. */
export const LAST_RUN_ANNOTATION = "preview-bot.dev/last-run";

/** Namespaces never touched, whatever their labels say. */
const ALWAYS_PROTECTED_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];

export function isProtectedNamespace(name: string, extra: readonly string[] = []): boolean {
  return ALWAYS_PROTECTED_NAMESPACES.includes(name) || name.startsWith("kube-") || extra.includes(name);
}
