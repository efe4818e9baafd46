/**
 * Namespace: create or update the preview namespace with its ownership labels, its Pod Security Admission labels
 * (guardrails/namespace-guardrails.ts; set last, so neither the repository's namespace.labels nor anything else
 * overrides them) and state annotations, refusing a namespace that belongs to another preview (two PRs whose names map
 * to one namespace).
 */
import type { PreviewState } from "../../../shared/state.js";
import {
  ACCESS_ANNOTATION,
  ACCESS_HOSTS_ANNOTATION,
  ACCESS_NONCE_ANNOTATION,
  AUTHOR_ANNOTATION,
  EXPIRES_ANNOTATION,
  isProtectedNamespace,
  MANAGED_BY,
  PR_LABEL,
  REPO_LABEL,
  REPOSITORY_ANNOTATION,
  STATE_ANNOTATION,
  TITLE_ANNOTATION,
  URL_ANNOTATION,
  EXTRA_URLS_ANNOTATION,
} from "../../../shared/labels.js";
import type { Cluster, PreviewNames } from "../../../shared/preview.js";
import {
  formatSleepDuration,
  INSTALLATION_ANNOTATION,
  LAST_ACTIVITY_ANNOTATION,
  readSleep,
  SLEEP_AFTER_ANNOTATION,
  WAKE_HOSTS_ANNOTATION,
} from "../../../shared/sleep.js";
import { sleepAfterMs, wakeNamespace } from "../../sleep/sleep-commands.js";
import { previewNamespaceLabels, resolveGuardrails } from "../../guardrails/namespace-guardrails.js";
import type { DeployStep } from "../context.js";

export const namespaceStep: DeployStep = {
  name: "Namespace",
  async run({ deps, config, names, pull, report, job, access }, detail) {
    if (isProtectedNamespace(names.namespace, config.protectedNamespaces))
      throw new Error(
        `namespace "${names.namespace}" is protected (protectedNamespaces in .github/preview.yml); choose a names.namespace pattern that does not produce it`,
      );
    const existing = await assertNamespaceFree(deps.cluster, names);
    // A deploy sets the expiry from the TTL, but never earlier than one `/preview extend` set.
    const kept = existing?.annotations[EXPIRES_ANNOTATION];
    if (report.expiresAt && kept && Date.parse(kept) > Date.parse(report.expiresAt)) report.expiresAt = kept;
    // Only a bot that can sleep previews records when one sleeps (else the sweeper would ask for a sleep each sweep).
    const afterMs = deps.sleep ? sleepAfterMs(config.sleep?.after, deps.sleep.defaultAfterMs) : undefined;
    const { settings } = resolveGuardrails(deps.guardrails, config.guardrails);
    await deps.cluster.ensureNamespace(names.namespace, previewNamespaceLabels(config, names, settings), {
      ...config.namespace.annotations,
      ...names.annotations,
      [STATE_ANNOTATION]: "deploying" satisfies PreviewState,
      [TITLE_ANNOTATION]: pull.title.slice(0, 200),
      [AUTHOR_ANNOTATION]: pull.author,
      ...(names.url ? { [URL_ANNOTATION]: names.url } : {}),
      ...(report.extraUrls?.length
        ? { [EXTRA_URLS_ANNOTATION]: report.extraUrls.map((x) => `${x.name}=${x.url}`).join(",") }
        : {}),
      ...(report.expiresAt ? { [EXPIRES_ANNOTATION]: report.expiresAt } : {}),
      ...(afterMs !== undefined ? { [SLEEP_AFTER_ANNOTATION]: formatSleepDuration(afterMs) } : {}),
      [LAST_ACTIVITY_ANNOTATION]: new Date().toISOString(),
      [INSTALLATION_ANNOTATION]: String(job.installationId),
      // Who may open it, on which hosts, and this deploy's bypass-token nonce: what the sign-in answers from.
      [ACCESS_ANNOTATION]: access.mode,
      ...(access.hosts.length ? { [ACCESS_HOSTS_ANNOTATION]: access.hosts.join(",") } : {}),
      ...(access.mode === "github" ? { [ACCESS_NONCE_ANNOTATION]: access.nonce } : {}),
    });
    // A deploy wakes a sleeping preview: its recorded replicas come back before the apply (which keeps them unless
    // the manifests say otherwise), its routes go back to its own backends, the roll-out step waits for it.
    if (
      existing &&
      deps.sleep &&
      (readSleep(existing.annotations).asleepSince !== undefined ||
        existing.annotations[WAKE_HOSTS_ANNOTATION] !== undefined)
    )
      await wakeNamespace(
        deps.cluster,
        { ...deps.sleep, wakeTimeoutMs: 0 },
        { name: names.namespace, annotations: existing.annotations },
        deps.logger,
      );
    detail(`${names.namespace} (Pod Security: enforce ${settings.podSecurity}, warn and audit restricted)`);
  },
};

/** The preview's namespace as it is now (undefined when new); refuses one that belongs to another preview. */
async function assertNamespaceFree(
  cluster: Cluster,
  names: PreviewNames,
): Promise<{ annotations: Record<string, string> } | undefined> {
  const existing = (await cluster.listNamespaces({ ...MANAGED_BY })).find((ns) => ns.name === names.namespace);
  if (
    existing &&
    (existing.labels[REPO_LABEL] !== names.labels[REPO_LABEL] || existing.labels[PR_LABEL] !== names.labels[PR_LABEL])
  ) {
    throw new Error(
      `namespace "${names.namespace}" already belongs to another preview (${existing.annotations[REPOSITORY_ANNOTATION] ?? "?"}#${existing.labels[PR_LABEL] ?? "?"}); ` +
        `use a names.namespace pattern with {number} or {repo} so each pull request gets its own`,
    );
  }
  return existing;
}
