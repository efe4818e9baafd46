/**
 * The one runner every door hands work to (through the queue): deploy and destroy a preview, step by step, each
 * step recorded and reported. Deploy reads the PR's *current* head at run time (a queued event for an older commit
 * deploys the newest one), renders from that commit, applies, prunes, waits for the roll-out and checks health.
 * Destroy finds what to remove by ownership labels and marks — never by recomputing names from a config that may
 * have changed since the deploy — and keeps going when one part fails.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import type { PreviewConfig } from "../../config.js";
import { CONFIG_PATH } from "../../config.js";
import { redactText, type Logger } from "../../logger.js";
import { reportConfigErrors, reportConfigOk } from "../github/config-check.js";
import { secretData } from "../data/database-secret.js";
import { getPull, headChecks, loadRepoConfig, pullTouches, type Octokit, type PullFacts } from "../github/reads.js";
import { runHealthChecks } from "./health.js";
import { runE2e } from "../github/e2e.js";
import { EXPIRES_ANNOTATION, MANAGED_BY, PR_LABEL, REPO_LABEL, STATE_ANNOTATION, TITLE_ANNOTATION, URL_ANNOTATION } from "../shared/labels.js";
import { expandTemplate, ownershipLabels, previewNames, previewNamesFor, repoLabel, templateValues } from "./naming.js";
import type { Cluster, Databases, KubeObject, PreviewNames, PreviewRef } from "../shared/preview.js";
import { describeRef, previewKey } from "../shared/preview.js";
import { SupersededError } from "../jobs/queue.js";
import { describeError, isTransientError } from "../shared/errors.js";
import { createPreviewCommands } from "./commands.js";

export { describeError };
import { fetchSource, type Renderer } from "./render/index.js";
import type { Reporter, RunReport } from "../shared/run-report.js";
import { StepTracker } from "./steps.js";
import { decideTrigger } from "./triggers.js";
import type { PreviewAction } from "../shared/dispatch.js";
import type { PreviewBackups } from "../data/backups/previews.js";
import { formatBytes } from "../data/backups/report.js";



export interface RunnerDeps {
  cluster: Cluster;
  renderer: Renderer;
  /** Absent when the bot has no PREVIEW_DATABASE_URL. */
  databases?: Databases;
  /** Absent when backups (blob storage) are not configured. */
  backups?: PreviewBackups;
  /** Installation-scoped Octokit for a job (jobs run off the request, so they authenticate themselves). */
  octokitFor(installationId: number): Promise<Octokit>;
  reporterFor(octokit: Octokit, owner: string, repo: string): Reporter;
  /** Told about every error a step hit (metrics); must not throw. */
  onError?(err: unknown): void;
  /** Slack (or nothing): told about every finished run. Must never throw. */
  notify?(report: RunReport): Promise<void>;
  logger: Logger;
  workDir: string;
  namespaceDeleteTimeoutMs: number;
  protectedNamespaces?: string[];
  fetchImpl?: typeof fetch;
  healthIntervalMs?: number;
  e2ePollMs?: number;
}

export interface PreviewJob {
  installationId: number;
  owner: string;
  repo: string;
  number: number;
  /** What asked: "push by @octocat", "/preview deploy by @octocat". */
  trigger: string;
  /** The GitHub login that asked, for commands (replies mention them). */
  actor?: string;
  /** For `restore`: the backup to restore (`latest` or a blob name). */
  backup?: string;
  /** The webhook delivery that caused the job (X-GitHub-Delivery), for log correlation. */
  deliveryId?: string;
  source: "webhook" | "comment" | "slack" | "sweeper";
  action: PreviewAction;
  dryRun?: boolean;
  ttlMs?: number;
  /** The pull_request action that caused a webhook job (`opened`, `synchronize`, …). */
  event?: string;
  /** The label a `labeled` event added (deploys only when it is the trigger label). */
  labeled?: string;
  /** The check/workflow whose success caused this job (deploys only when it is in trigger.afterChecks). */
  checkName?: string;
}

export interface Runner {
  /** Run one job of any action. */
  run(job: PreviewJob, signal?: AbortSignal): Promise<void>;
  deploy(job: PreviewJob, signal?: AbortSignal): Promise<RunReport | undefined>;
  destroy(job: PreviewJob, signal?: AbortSignal): Promise<RunReport>;
}

const DEPLOY_STEPS = ["Fetch source", "Render manifests", "Database", "Namespace", "Apply", "Prune", "Roll out", "Health checks", "E2E tests"];

export function createRunner(deps: RunnerDeps): Runner {
  const log = deps.logger;

  function newReport(kind: RunReport["kind"], ref: PreviewRef, names: PreviewNames, trigger: string): RunReport {
    return { kind, ref, names, state: "in_progress", steps: [], summary: "", startedAt: new Date().toISOString(), trigger };
  }

  async function enrolledConfig(octokit: Octokit, job: PreviewJob, pull: PullFacts): Promise<PreviewConfig | undefined> {
    // Rules come from the default branch: a PR cannot change the rules it is judged by.
    const config = await loadRepoConfig(octokit, job.owner, job.repo);
    if (await pullTouches(octokit, job.owner, job.repo, job.number, CONFIG_PATH).catch(() => false)) {
      const proposed = await loadRepoConfig(octokit, job.owner, job.repo, pull.sha);
      if (proposed && !proposed.ok) await reportConfigErrors({ octokit, owner: job.owner, repo: job.repo, sha: pull.sha, errors: proposed.errors, path: CONFIG_PATH, text: proposed.text });
      else if (proposed) await reportConfigOk({ octokit, owner: job.owner, repo: job.repo, sha: pull.sha, path: CONFIG_PATH });
    }
    if (!config) {
      log.debug({ key: previewKey(job) }, `${job.owner}/${job.repo} has no ${CONFIG_PATH} on its default branch: not enrolled`);
      return undefined;
    }
    if (!config.ok) {
      await reportConfigErrors({ octokit, owner: job.owner, repo: job.repo, sha: pull.sha, errors: config.errors, path: CONFIG_PATH, text: config.text });
      return undefined;
    }
    return config.config;
  }

  /** Refuse to deploy into a namespace that belongs to another preview (two PRs mapping to one name). */
  async function assertNamespaceFree(names: PreviewNames): Promise<void> {
    const existing = (await deps.cluster.listNamespaces({ ...MANAGED_BY })).find((ns) => ns.name === names.namespace);
    if (existing && (existing.labels[REPO_LABEL] !== names.labels[REPO_LABEL] || existing.labels[PR_LABEL] !== names.labels[PR_LABEL])) {
      throw new Error(
        `namespace "${names.namespace}" already belongs to another preview (${existing.annotations["preview-bot.dev/repository"] ?? "?"}#${existing.labels[PR_LABEL] ?? "?"}); ` +
          `use a names.namespace pattern with {number} or {repo} so each pull request gets its own`,
      );
    }
  }

  async function deploy(job: PreviewJob, signal?: AbortSignal): Promise<RunReport | undefined> {
    const key = previewKey(job);
    const octokit = await deps.octokitFor(job.installationId);
    const pull = await getPull(octokit, job.owner, job.repo, job.number);
    if (pull.state !== "open") {
      log.info({ key }, `${key} is closed: nothing to deploy`);
      if (job.source === "comment") await replyOnPull(job, "This pull request is closed, so there is nothing to deploy.");
      return undefined;
    }
    const config = await enrolledConfig(octokit, job, pull);
    if (!config) return undefined;
    if (job.labeled !== undefined && (config.trigger.on !== "label" || job.labeled !== config.trigger.label)) {
      log.debug({ key }, `label "${job.labeled}" is not the trigger label: nothing to do`);
      return undefined;
    }
    if (job.checkName !== undefined && !config.trigger.afterChecks.includes(job.checkName)) {
      log.debug({ key }, `"${job.checkName}" is not in trigger.afterChecks: nothing to do`);
      return undefined;
    }
    const checks = await headChecks(octokit, job.owner, job.repo, pull.sha, job.source === "webhook" ? config.trigger.afterChecks : []);
    const decision = decideTrigger(config, { source: job.source, action: job.action === "redeploy" ? "redeploy" : "deploy", fork: pull.fork, draft: pull.draft, labels: pull.labels, checks });
    if (!decision.deploy) {
      log.info({ key, sha: pull.sha }, `not deploying ${key}: ${decision.reason}`);
      // Say so once, when a fork PR opens, so its author is not left wondering.
      if (pull.fork && job.event === "opened") {
        await replyOnPull(job, `No preview was deployed automatically: ${decision.reason}. A maintainer can comment \`/preview deploy\` after reviewing the changes.`);
      }
      return undefined;
    }

    const ref: PreviewRef = { owner: job.owner, repo: job.repo, number: job.number, branch: pull.branch, sha: pull.sha, fork: pull.fork };
    const names = previewNamesFor(ref, config);
    const reporter = deps.reporterFor(octokit, job.owner, job.repo);
    const report = newReport("deploy", ref, names, job.trigger);
    const steps = new StepTracker(report, signal, (r) => reporter.progress(r));
    steps.plan(DEPLOY_STEPS);
    report.url = names.url;
    if (config.slack) report.slackChannel = config.slack.channel;
    report.links = names.url ? config.links.map((l) => ({ title: l.title, url: new URL(l.path.replace(/^\//, ""), names.url).toString() })) : [];
    const ttlMs = job.ttlMs ?? config.ttl;
    if (ttlMs) report.expiresAt = new Date(Date.now() + ttlMs).toISOString();
    await reporter.started(report);

    const dir = await mkdtemp(join(deps.workDir, "src-"));
    let retry: unknown;
    try {
      await steps.run("Fetch source", async (detail) => {
        await fetchSource({ octokit, owner: job.owner, repo: job.repo, sha: pull.sha, dest: dir });
        detail(`${job.owner}/${job.repo}@${pull.sha.slice(0, 7)}`);
      });
      const objects = await steps.run("Render manifests", async (detail) => {
        const result = await deps.renderer.render({ dir, config, ref, names });
        for (const w of result.warnings) log.warn({ key }, `render: ${w}`);
        // Warnings (an undefined ${VAR}, an exclude that matched nothing, a Secret name clash) are shown, not just logged.
        const shown = result.warnings.slice(0, 3).map((w) => w.slice(0, 160)).join("; ");
        detail(`${result.objects.length} objects${result.warnings.length ? `; ${result.warnings.length} warning(s): ${shown}${result.warnings.length > 3 ? "; …" : ""}` : ""}`);
        return result.objects;
      });

      if (config.database.enabled) {
        await steps.run("Database", async (detail) => {
          if (!deps.databases) throw new Error("database.enabled is true, but preview-bot has no PREVIEW_DATABASE_URL to create databases with");
          const seedSql = config.database.seed ? await readInside(dir, config.database.seed) : undefined;
          const seedFrom = config.database.seedFrom;
          if (seedFrom && !deps.backups) throw new Error(`database.seedFrom is "${seedFrom}", but preview-bot has no backup storage configured (AZURE_STORAGE_ACCOUNT_URL)`);
          const existed = (await deps.databases.list()).some((d) => d.database === names.database);
          const creds = await deps.databases.provision(names, {
            extensions: config.database.extensions,
            connectionLimit: config.database.connectionLimit,
            ...(config.database.template ? { template: config.database.template } : {}),
            ...(seedSql ? { seedSql } : {}),
          });
          let seeded = "";
          if (seedFrom && !existed) {
            try {
              const restored = await deps.backups!.seed(seedFrom, creds.url);
              seeded = `, seeded from ${restored.entry.name}`;
            } catch (err) {
              // Leave nothing half-seeded: the next deploy creates and seeds it again.
              await deps.databases.drop(names).catch(() => undefined);
              throw new Error(`seeding ${names.database} from the latest backup of "${seedFrom}"`, { cause: err });
            }
          }
          objects.unshift(credentialsSecret(names, config, creds));
          report.database = { name: names.database, status: existed ? "ready (kept)" : seeded ? "created and seeded" : "created" };
          detail(`${names.database} (role ${names.role}), credentials in Secret "${config.database.secret.name}"${seeded}`);
        });
      } else {
        steps.skip("Database", "database.enabled is false");
      }

      await steps.run("Namespace", async (detail) => {
        await assertNamespaceFree(names);
        await deps.cluster.ensureNamespace(names.namespace, { ...config.namespace.labels, ...names.labels }, {
          ...config.namespace.annotations,
          ...names.annotations,
          [STATE_ANNOTATION]: "deploying",
          [TITLE_ANNOTATION]: pull.title.slice(0, 200),
          ...(names.url ? { [URL_ANNOTATION]: names.url } : {}),
          ...(report.expiresAt ? { [EXPIRES_ANNOTATION]: report.expiresAt } : {}),
        });
        detail(names.namespace);
      });

      const applied = await steps.run("Apply", async (detail) => {
        const refs = await deps.cluster.apply(objects);
        report.applied = refs.map(describeRef);
        detail(`${refs.length} objects applied (server-side apply)`);
        return refs;
      }, { progress: true });

      await steps.run("Prune", async (detail) => {
        const pruned = await deps.cluster.prune(names.namespace, names.labels, applied);
        report.pruned = pruned.map(describeRef);
        detail(pruned.length ? `${pruned.length} removed: ${report.pruned.slice(0, 5).join(", ")}${pruned.length > 5 ? ", …" : ""}` : "nothing to remove");
      });

      const workloads = await steps.run("Roll out", async (detail) => {
        const health = await deps.cluster.waitForRollout(names.namespace, config.health.timeout, signal);
        report.workloads = health;
        const bad = health.filter((w) => !w.ready);
        detail(bad.length ? bad.map((w) => `${w.kind} ${w.name}: ${w.summary}`).join("; ") : `${health.length} workload(s) ready`);
        if (bad.length) throw new Error(`roll-out failed: ${bad.map((w) => `${w.name} ${w.summary}`).join("; ")}`);
        return health;
      }, { progress: true });

      if (config.health.checks.length === 0) {
        steps.skip("Health checks", "none configured (health.checks)");
      } else if (!names.url) {
        steps.skip("Health checks", "no preview URL (set route.host or route.baseUrl)");
      } else {
        await steps.run("Health checks", async (detail) => {
          const results = await runHealthChecks(names.url!, config.health.checks, {
            deadlineMs: Math.max(2_000, Math.min(config.health.timeout, 120_000)),
            ...(deps.healthIntervalMs ? { intervalMs: deps.healthIntervalMs } : {}),
            ...(signal ? { signal } : {}),
            ...(deps.fetchImpl ? { fetchImpl: deps.fetchImpl } : {}),
          });
          detail(results.map((r) => `${r.path} ${r.ok ? "✓" : "✗"} ${r.detail}`).join("; "));
          const failed = results.filter((r) => !r.ok);
          if (failed.length) throw new Error(`health check failed: ${failed.map((r) => `GET ${r.url} → ${r.detail}`).join("; ")}`);
        });
      }

      const e2e = config.e2e;
      if (!e2e) {
        steps.skip("E2E tests", "none configured (e2e.workflow)");
      } else if (pull.fork) {
        steps.skip("E2E tests", "not dispatched for a pull request from a fork (its branch is not in this repository)");
      } else {
        await steps.run("E2E tests", async (detail) => {
          const values = templateValues(ref, names);
          const result = await runE2e({
            octokit,
            owner: job.owner,
            repo: job.repo,
            workflow: e2e.workflow,
            ref: pull.branch,
            sha: pull.sha,
            inputs: Object.fromEntries(Object.entries(e2e.inputs).map(([k, v]) => [k, expandTemplate(v, values)])),
            timeoutMs: e2e.timeout,
            ...(deps.e2ePollMs ? { pollMs: deps.e2ePollMs } : {}),
            ...(signal ? { signal } : {}),
          });
          if (result.url) report.links = [...(report.links ?? []), { title: `E2E run (${result.conclusion})`, url: result.url }];
          detail(`${e2e.workflow}: ${result.conclusion}${result.url ? ` — ${result.url}` : ""}`);
          if (result.conclusion !== "success" && e2e.required) throw new Error(`E2E workflow "${e2e.workflow}" concluded ${result.conclusion}`);
        }, { progress: true });
      }

      report.state = "success";
      report.summary = names.url ? `Preview ready at ${names.url}` : `Preview deployed to namespace ${names.namespace} (${workloads.length} workloads ready)`;
    } catch (err) {
      steps.skipRemaining();
      if (err instanceof SupersededError || signal?.aborted) {
        // Whatever step noticed it (a roll-out wait cut short, a step boundary), a newer job took over.
        report.state = "superseded";
        report.summary = `Superseded: ${signal?.reason instanceof Error ? signal.reason.message : err instanceof Error ? err.message : "a newer job took over"}`;
      } else {
        deps.onError?.(err);
        report.state = "failure";
        report.error = redactText(describeError(err));
        report.summary = `Deploy failed: ${report.error.split("\n")[0]!.slice(0, 200)}`;
        // A Kubernetes/GitHub 5xx, 429 or timeout: report it, then hand the job back so the queue retries it.
        if (isTransientError(err)) {
          retry = err;
          report.summary += " (a transient error: retrying)";
        }
        log.warn({ key, err }, `deploy of ${key} failed`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    report.finishedAt = new Date().toISOString();
    if (report.state !== "superseded") await markNamespace(names, report).catch((err: unknown) => log.warn({ key, err }, "could not record the preview state on its namespace"));
    await reporter.finished(report);
    await deps.notify?.(report);
    if (retry) throw retry;
    return report;
  }

  async function markNamespace(names: PreviewNames, report: RunReport): Promise<void> {
    const exists = (await deps.cluster.listNamespaces({ ...names.labels })).some((ns) => ns.name === names.namespace);
    if (!exists) return;
    await deps.cluster.annotateNamespace(names.namespace, { [STATE_ANNOTATION]: report.state === "success" ? "ready" : "failed" });
  }

  async function destroy(job: PreviewJob, signal?: AbortSignal): Promise<RunReport> {
    const key = previewKey(job);
    const octokit = await deps.octokitFor(job.installationId);
    const pull = await getPull(octokit, job.owner, job.repo, job.number).catch(() => undefined);
    const selector = ownershipLabels(job.owner, job.repo, job.number);
    const namespaces = (await deps.cluster.listNamespaces(selector)).filter((ns) => ns.annotations["preview-bot.dev/repository"] === `${job.owner}/${job.repo}` || ns.labels[REPO_LABEL] === repoLabel(job.owner, job.repo));
    const databases = deps.databases ? (await deps.databases.list()).filter((d) => d.key === key) : [];
    const ref: PreviewRef = { owner: job.owner, repo: job.repo, number: job.number, branch: pull?.branch ?? "", sha: pull?.sha ?? namespaces[0]?.annotations["preview-bot.dev/head-sha"] ?? "" };
    const config = await loadRepoConfig(octokit, job.owner, job.repo).catch(() => undefined);
    const names = config?.ok ? previewNamesFor(ref, config.config) : previewNames(ref, { namespace: "{repo}-pr-{number}" });
    const reporter = deps.reporterFor(octokit, job.owner, job.repo);
    const report = newReport("destroy", ref, names, job.trigger);
    if (config?.ok && config.config.slack) report.slackChannel = config.config.slack.channel;
    const steps = new StepTracker(report, undefined);
    const errors: string[] = [];
    const found = `${namespaces.length ? `namespace ${namespaces.map((n) => n.name).join(", ")}` : "no namespace"}; ${databases.length ? `database ${databases.map((d) => d.database).join(", ")}` : "no database"}`;

    if (job.dryRun) {
      report.state = "success";
      report.summary = `Dry run: would remove ${found}, and mark the GitHub deployment inactive`;
      report.finishedAt = new Date().toISOString();
      return report;
    }
    // Cleanup keeps going: every part is attempted, errors are collected and reported together.
    const causes: unknown[] = [];
    const attempt = async (name: string, fn: (detail: (d: string) => void) => Promise<void>) => {
      try {
        await steps.run(name, fn);
      } catch (err) {
        errors.push(`${name}: ${describeError(err)}`);
        causes.push(err);
        deps.onError?.(err);
      }
    };
    for (const ns of namespaces) {
      await attempt(`Suspend CronJobs in ${ns.name}`, async (detail) => {
        const suspended = await deps.cluster.suspendCronJobs(ns.name);
        detail(suspended.length ? suspended.join(", ") : "none");
      });
      await attempt(`Delete namespace ${ns.name}`, async (detail) => {
        const outcome = await deps.cluster.deleteNamespace(ns.name, { waitMs: deps.namespaceDeleteTimeoutMs, ...(signal ? { signal } : {}) });
        if (outcome === "stuck") throw new Error(`namespace ${ns.name} is still Terminating after ${Math.round(deps.namespaceDeleteTimeoutMs / 1000)} s (look for finalizers: kubectl get ns ${ns.name} -o yaml)`);
        detail(outcome);
      });
    }
    const finalBackup = config?.ok === true && config.config.database.finalBackup;
    for (const db of databases) {
      if (finalBackup) {
        let kept = false;
        await attempt(`Final backup of ${db.database}`, async (detail) => {
          if (!deps.backups) throw new Error("database.finalBackup is true, but preview-bot has no backup storage configured");
          try {
            const r = await deps.backups.backup(db.database);
            detail(`${r.blobName} (${formatBytes(r.sizeBytes)})`);
          } catch (err) {
            kept = true;
            throw new Error(`database ${db.database} was kept, not dropped, because its final backup failed`, { cause: err });
          }
        });
        if (kept) continue;
      }
      await attempt(`Drop database ${db.database}`, async (detail) => {
        const outcome = await deps.databases!.drop({ key, database: db.database, role: db.role ?? roleFor(db.database, names) });
        detail(`database ${outcome.database}, role ${outcome.role}`);
      });
    }
    report.database = databases[0] ? { name: databases[0].database, status: errors.some((e) => e.startsWith("Drop database")) ? "drop failed" : "dropped" } : undefined;
    report.state = errors.length ? "failure" : "success";
    report.error = errors.length ? redactText(errors.join("\n")) : undefined;
    report.summary = errors.length ? `Teardown incomplete: ${errors.length} problem(s)` : `Preview removed (${found})`;
    report.finishedAt = new Date().toISOString();
    await reporter.tornDown(report);
    await deps.notify?.(report);
    // Teardown is idempotent: a transient failure goes back to the queue for another try.
    const transient = causes.find((e) => isTransientError(e));
    if (transient) throw transient;
    return report;
  }

  const commands = createPreviewCommands(deps);
  const replyOnPull = commands.replyOnPull;

  async function run(job: PreviewJob, signal?: AbortSignal): Promise<void> {
    switch (job.action) {
      case "deploy":
      case "redeploy":
        await deploy(job, signal);
        return;
      case "destroy":
        if (job.dryRun) {
          const report = await destroy(job, signal);
          return replyOnPull(job, `${report.summary}. Nothing was changed.`);
        }
        await destroy(job, signal);
        return;
      case "status":
        return commands.status(job);
      case "extend":
        return commands.extend(job);
      case "backup":
        return commands.backup(job);
      case "restore":
        return commands.restore(job);
    }
  }

  return { run, deploy, destroy };
}

/** The role that goes with a database we created: the naming module's pairing, recomputed from the database name. */
function roleFor(database: string, names: PreviewNames): string {
  return database === names.database ? names.role : `${database}_app`.slice(0, 63);
}

function credentialsSecret(names: PreviewNames, config: PreviewConfig, creds: Parameters<typeof secretData>[0]): KubeObject {
  const data = secretData(creds, config.database.secret.keys);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: config.database.secret.name, namespace: names.namespace, labels: { ...names.labels }, annotations: { ...names.annotations } },
    type: "Opaque",
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")])),
  };
}

/** Read a file of the checkout, refusing paths that leave it. */
async function readInside(dir: string, path: string): Promise<string> {
  const full = resolve(dir, path);
  if (!full.startsWith(resolve(dir) + sep)) throw new Error(`database.seed "${path}" points outside the repository`);
  try {
    return await readFile(full, "utf8");
  } catch (err) {
    throw new Error(`reading database.seed "${path}" at the PR's commit`, { cause: err });
  }
}
