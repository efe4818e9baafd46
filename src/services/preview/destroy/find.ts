/**
 * What a teardown removes, found by ownership labels and database marks — never by recomputing names from a config
 * that may have changed since the deploy (the setup preview-bot replaces drifted exactly there).
 */
import { describeError } from "../../shared/format.js";
import type { PreviewConfig } from "../../../config.js";
import { getPull, loadRepoConfig, type Octokit } from "../../github/reads.js";
import type { PreviewJob } from "../../shared/dispatch.js";

import { REPO_LABEL, REPOSITORY_ANNOTATION, SHA_ANNOTATION } from "../../shared/labels.js";
import { previewKey, type Cluster, type Databases, type PreviewNames, type PreviewRef } from "../../shared/preview.js";
import type { RunnerDeps } from "../context.js";
import { ownershipLabels, previewNames, previewNamesFor, repoLabel } from "../naming.js";

export type FoundNamespace = Awaited<ReturnType<Cluster["listNamespaces"]>>[number];
export type FoundDatabase = Awaited<ReturnType<Databases["list"]>>[number];

export interface FoundPreview {
  octokit: Octokit;
  ref: PreviewRef;
  names: PreviewNames;
  /** The repository's config when it could be read and is valid (final backups, Slack channel). */
  config?: PreviewConfig;
  /** Why its databases are kept, not dropped: the sweeper said so (archived repository), or the config is unknown. */
  keepDatabases?: string;
  namespaces: FoundNamespace[];
  databases: FoundDatabase[];
  /** Its roles that own no database (a provision or drop cut short): dropped too. */
  strayRoles: Array<{ role: string; database?: string }>;
  /** "namespace x; database y", for summaries. */
  found: string;
}

export async function findPreview(deps: RunnerDeps, job: PreviewJob): Promise<FoundPreview> {
  const key = previewKey(job);
  const octokit = await deps.github.octokitFor(job.installationId);
  const pull = await getPull(octokit, job.owner, job.repo, job.number).catch(() => undefined);
  const namespaces = (await deps.cluster.listNamespaces(ownershipLabels(job.owner, job.repo, job.number))).filter(
    (ns) =>
      ns.annotations[REPOSITORY_ANNOTATION] === `${job.owner}/${job.repo}` ||
      ns.labels[REPO_LABEL] === repoLabel(job.owner, job.repo),
  );
  const databases = deps.databases ? (await deps.databases.list()).filter((d) => d.key === key) : [];
  const strayRoles = deps.databases
    ? (await deps.databases.strayRoles())
        .filter((r) => r.key === key)
        .map((r) => ({ role: r.role, ...(r.database !== undefined ? { database: r.database } : {}) }))
    : [];
  const ref: PreviewRef = {
    owner: job.owner,
    repo: job.repo,
    number: job.number,
    branch: pull?.branch ?? "",
    sha: pull?.sha ?? namespaces[0]?.annotations[SHA_ANNOTATION] ?? "",
  };
  let configProblem: string | undefined;
  const loaded = await loadRepoConfig(octokit, job.owner, job.repo).catch((err: unknown) => {
    configProblem = `its .github/preview.yml could not be read (${describeError(err).slice(0, 200)})`;
    return undefined;
  });
  if (!loaded) configProblem ??= "the repository has no .github/preview.yml on its default branch any more";
  else if (!loaded.ok) configProblem = "its .github/preview.yml is invalid";
  const config = loaded?.ok ? loaded.config : undefined;
  const computed = config ? previewNamesFor(ref, config) : previewNames(ref, { namespace: "{repo}-pr-{number}" });
  // What exists wins over what a (maybe changed, maybe unreadable) config would name: the report and the GitHub
  // deployment environment follow the namespace actually found.
  const ns = namespaces[0]?.name;
  const names = ns ? { ...computed, namespace: ns, environment: `preview/${ns}` } : computed;
  const found = `${namespaces.length ? `namespace ${namespaces.map((n) => n.name).join(", ")}` : "no namespace"}; ${databases.length ? `database ${databases.map((d) => d.database).join(", ")}` : "no database"}`;
  const keepDatabases =
    job.keepDatabases ??
    (configProblem
      ? `${configProblem}, so whether it wants a final backup (database.finalBackup) is unknown`
      : undefined);
  return {
    octokit,
    ref,
    names,
    ...(config ? { config } : {}),
    ...(keepDatabases ? { keepDatabases } : {}),
    namespaces,
    databases,
    strayRoles,
    found,
  };
}
