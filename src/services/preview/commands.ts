/**
 * The commands that are not deploys: `/preview status`, `extend`, `backup`, `restore`. They read what exists from
 * the cluster (the record of truth) and answer the asker: a reply on the pull request, or in Slack when Slack asked.
 * A fork PR's `restore` never reads a backup target (`latest` of `database.seedFrom`) unless SEED_FORK_PREVIEWS.
 */
import { describeError } from "../shared/format.js";

import { formatBytes, formatDuration, formatTtl } from "../shared/format.js";

import { getPull, loadRepoConfig } from "../github/reads.js";
import { EXPIRES_ANNOTATION, EXTRA_URLS_ANNOTATION, STATE_ANNOTATION, URL_ANNOTATION } from "../shared/labels.js";
import { ownershipLabels } from "./naming.js";
import { previewKey } from "../shared/preview.js";
import type { PreviewJob } from "../shared/dispatch.js";
import { replyOnPull as reply, type RunnerDeps } from "./context.js";

export function createPreviewCommands(deps: RunnerDeps) {
  return {
    status: (job: PreviewJob) => status(deps, job),
    extend: (job: PreviewJob) => extend(deps, job),
    backup: (job: PreviewJob) => backup(deps, job),
    restore: (job: PreviewJob) => restore(deps, job),
  };
}

/** The namespaces of a preview, found by ownership labels (never by recomputed names). */
export async function previewNamespaces(deps: RunnerDeps, job: PreviewJob) {
  return (await deps.cluster.listNamespaces(ownershipLabels(job.owner, job.repo, job.number))).filter(
    (ns) => ns.annotations["preview-bot.dev/repository"] === `${job.owner}/${job.repo}`,
  );
}

/** `/preview status`: what exists right now, from the cluster (the record of truth), as a short reply. */
async function status(deps: RunnerDeps, job: PreviewJob): Promise<void> {
  const namespaces = await previewNamespaces(deps, job);
  if (namespaces.length === 0) {
    const standing = await deps.fleet?.standing(previewKey(job));
    if (standing)
      return reply(
        deps,
        job,
        `**queued** — position ${standing.position} of ${standing.of}: ${standing.reason}. It deploys as soon as a seat frees; this comment's thread and the check run keep its place current.`,
      );
    return reply(deps, job, "No preview exists for this pull request. Comment `/preview deploy` to create one.");
  }
  const lines: string[] = [];
  for (const ns of namespaces) {
    const workloads = await deps.cluster.waitForRollout(ns.name, 0);
    const state = ns.phase === "Terminating" ? "being removed" : (ns.annotations[STATE_ANNOTATION] ?? "unknown");
    lines.push(
      `**${state}** — namespace \`${ns.name}\`${ns.annotations[URL_ANNOTATION] ? ` — ${ns.annotations[URL_ANNOTATION]}` : ""}`,
    );
    for (const pair of (ns.annotations[EXTRA_URLS_ANNOTATION] ?? "").split(",").filter(Boolean))
      lines.push(`- ${pair.replace("=", ": ")}`);
    const sha = ns.annotations["preview-bot.dev/head-sha"];
    if (sha) lines.push(`- commit \`${sha.slice(0, 7)}\``);
    if (ns.annotations[EXPIRES_ANNOTATION]) lines.push(`- expires ${ns.annotations[EXPIRES_ANNOTATION]}`);
    for (const w of workloads) lines.push(`- ${w.ready ? "✅" : "❌"} ${w.kind} \`${w.name}\`: ${w.summary}`);
  }
  await reply(deps, job, lines.join("\n"));
}

/** `/preview extend <duration>`: move the expiry of the preview's namespaces. */
async function extend(deps: RunnerDeps, job: PreviewJob): Promise<void> {
  const namespaces = await previewNamespaces(deps, job);
  if (namespaces.length === 0)
    return reply(deps, job, "No preview exists for this pull request, so there is nothing to extend.");
  const asked = job.ttlMs ?? 0;
  const ttl = Math.min(asked, deps.ttl?.maxMs ?? asked);
  const expiresAt = new Date(Date.now() + ttl).toISOString();
  for (const ns of namespaces) await deps.cluster.annotateNamespace(ns.name, { [EXPIRES_ANNOTATION]: expiresAt });
  const capped = ttl < asked ? ` (preview-bot keeps a preview at most ${formatTtl(ttl)} from now)` : "";
  await reply(deps, job, `The preview now expires at ${expiresAt}.${capped}`);
}

/** `/preview backup`: back the preview's database up now and say where it went. */
async function backup(deps: RunnerDeps, job: PreviewJob): Promise<void> {
  if (!deps.backups || !deps.databases)
    return reply(
      deps,
      job,
      "Backups of preview databases are not configured on this installation (see the README, Backups).",
    );
  const key = previewKey(job);
  const dbs = (await deps.databases.list()).filter((d) => d.key === key);
  if (dbs.length === 0) return reply(deps, job, "This preview has no database to back up.");
  const lines: string[] = [];
  for (const db of dbs) {
    try {
      const r = await deps.backups.backup(db);
      lines.push(
        `✅ Backed up \`${db.database}\`: \`${r.blobName}\` (${formatBytes(r.sizeBytes)} in ${formatDuration(r.durationMs)}, sha256 \`${r.sha256.slice(0, 12)}…\`)`,
      );
    } catch (err) {
      deps.logger.warn({ key, err }, `backup of ${db.database} failed`);
      lines.push(`❌ Backup of \`${db.database}\` failed: ${describeError(err).slice(0, 300)}`);
    }
  }
  await reply(deps, job, lines.join("\n"));
}

/**
 * `/preview restore <backup|latest>`: replace the preview's database with a backup — drop it (sessions
 * terminated), create it again with the same role and password (the Secret stays valid), restore into it.
 */
async function restore(deps: RunnerDeps, job: PreviewJob): Promise<void> {
  if (!deps.backups || !deps.databases)
    return reply(
      deps,
      job,
      "Restoring preview databases is not configured on this installation (see the README, Backups).",
    );
  const key = previewKey(job);
  const db = (await deps.databases.list()).find((d) => d.key === key);
  if (!db?.role) return reply(deps, job, "This preview has no database to restore into. Deploy it first.");
  const octokit = await deps.github.octokitFor(job.installationId);
  const config = await loadRepoConfig(octokit, job.owner, job.repo);
  const which = job.backup ?? "latest";
  const fork = (await getPull(octokit, job.owner, job.repo, job.number)).fork && !deps.seedForkPreviews;
  const seedFrom = config?.ok && !fork ? config.config.database.seedFrom : undefined;
  if (fork && !/^previews\//.test(which))
    return reply(
      deps,
      job,
      "❌ Nothing was changed: a pull request from a fork can only restore its own preview backups (`previews/…`); backup targets are not given to forks (SEED_FORK_PREVIEWS).",
    );
  const names = { key, database: db.database, role: db.role };
  const scope = {
    key,
    database: db.database,
    repository: `${job.owner}/${job.repo}`,
    ...(seedFrom ? { seedFrom } : {}),
  };
  // Nothing is dropped until the backup is known to exist, and the current data is backed up first.
  let entry: { name: string };
  try {
    entry = await deps.backups.resolve(which, scope);
  } catch (err) {
    return reply(deps, job, `❌ Nothing was changed: ${describeError(err).slice(0, 300)}`);
  }
  let safety: string;
  try {
    safety = (await deps.backups.backup(db)).blobName;
  } catch (err) {
    return reply(
      deps,
      job,
      `❌ Nothing was changed: backing up the current \`${db.database}\` before replacing it failed: ${describeError(err).slice(0, 300)}`,
    );
  }
  try {
    await deps.databases.drop(names);
    const creds = await deps.databases.provision(
      names,
      config?.ok
        ? { extensions: config.config.database.extensions, connectionLimit: config.config.database.connectionLimit }
        : {},
    );
    const r = await deps.backups.restore(which, scope, creds.url);
    await reply(
      deps,
      job,
      `✅ Restored \`${r.entry.name}\` into \`${db.database}\` (${formatBytes(r.bytes)} in ${formatDuration(r.durationMs)}); the data it replaced is in \`${safety}\`. Restart the preview's pods if they cache connections.`,
    );
  } catch (err) {
    deps.logger.warn({ key, err }, `restore of ${db.database} failed`);
    await reply(
      deps,
      job,
      `❌ Restoring \`${entry.name}\` into \`${db.database}\` failed: ${describeError(err).slice(0, 300)}. The previous data is in \`${safety}\` (\`/preview restore ${safety}\`).`,
    );
  }
}
