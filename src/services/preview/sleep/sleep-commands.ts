/**
 * `/preview sleep` and `/preview wake` (and the same from Slack buttons, the sweeper's idle sleep and a visitor at the
 * wake door): the preview's side of sleep. The Kubernetes side is SleepControl (cluster/sleep.ts); this decides
 * what the namespace records (asleep since, the hosts the wake door answers, time asleep) and tells people: a reply
 * to whoever asked, and the sticky comment and Slack (the preview's state and cost). docs/sleep.md has the whole.
 *
 * Order matters for a crash at any point: a sleep records ASLEEP_SINCE before it scales anything (a half-done sleep
 * is finished by the next sleep or undone by a wake, both idempotent); a wake restores replicas, waits for
 * readiness, then routes, and clears ASLEEP_SINCE last.
 */
import type { Logger } from "../../../logger.js";
import { getPull, loadRepoConfig } from "../../github/reads.js";
import type { PreviewJob } from "../../shared/dispatch.js";
import { describeError, formatDuration } from "../../shared/format.js";
import {
  BRANCH_ANNOTATION,
  EXPIRES_ANNOTATION,
  MANAGED_BY,
  SHA_ANNOTATION,
  URL_ANNOTATION,
} from "../../shared/labels.js";
import type { NamespaceListing } from "../../shared/preview.js";
import type { RunReport } from "../../shared/run-report.js";
import {
  ASLEEP_SINCE_ANNOTATION,
  ASLEEP_TOTAL_ANNOTATION,
  LAST_ACTIVITY_ANNOTATION,
  readSleep,
  WAKE_HOSTS_ANNOTATION,
} from "../../shared/sleep.js";
import { previewNamespaces } from "../commands.js";
import { newReport, replyOnPull as reply, type PreviewSleepDeps, type RunnerDeps } from "../context.js";
import { previewNamesFor } from "../naming.js";
import { previewCost } from "./cost.js";

const NOT_AVAILABLE = "Sleep is not available on this installation (see docs/sleep.md in preview-bot).";

const isPerson = (job: PreviewJob) => job.source === "comment" || job.source === "slack";

export function createSleepCommands(deps: RunnerDeps) {
  return {
    sleep: (job: PreviewJob) => sleepPreview(deps, job),
    wake: (job: PreviewJob, signal?: AbortSignal) => wakePreview(deps, job, signal),
  };
}

async function live(deps: RunnerDeps, job: PreviewJob): Promise<NamespaceListing[]> {
  return (await previewNamespaces(deps, job)).filter((ns) => ns.phase !== "Terminating");
}

async function sleepPreview(deps: RunnerDeps, job: PreviewJob): Promise<void> {
  const s = deps.sleep;
  if (!s) return isPerson(job) ? reply(deps, job, NOT_AVAILABLE) : undefined;
  let namespaces = await live(deps, job);
  if (namespaces.length === 0)
    return isPerson(job)
      ? reply(deps, job, "No preview exists for this pull request, so there is nothing to put to sleep.")
      : undefined;
  if (job.source === "sweeper") {
    // Planned from an older look: someone may have used the preview since.
    const now = Date.now();
    namespaces = namespaces.filter((ns) => {
      const f = readSleep(ns.annotations);
      return f.asleepSince === undefined && f.afterMs !== undefined && (f.lastActivity ?? 0) + f.afterMs <= now;
    });
    if (namespaces.length === 0) return;
  }
  const lines: string[] = [];
  for (const ns of namespaces) {
    const since = readSleep(ns.annotations).asleepSince;
    if (since === undefined)
      await deps.cluster.annotateNamespace(ns.name, { [ASLEEP_SINCE_ANNOTATION]: new Date().toISOString() });
    const out = await s.control.sleep(ns.name);
    await deps.cluster.annotateNamespace(ns.name, { [WAKE_HOSTS_ANNOTATION]: out.hosts.join(",") });
    lines.push(
      since !== undefined
        ? `The preview in \`${ns.name}\` was already asleep (since ${new Date(since).toISOString()}).`
        : `😴 The preview in \`${ns.name}\` is asleep: ${count(out.workloads, "workload")} scaled to 0, ${count(out.cronJobs, "CronJob")} suspended, ${count(out.routes, "route")} pointed at the wake page.`,
    );
  }
  deps.logger.info({ key: `${job.owner}/${job.repo}#${job.number}`, by: job.source }, "preview put to sleep");
  await reportState(deps, job);
  if (isPerson(job))
    await reply(deps, job, `${lines.join("\n")}\nThe next visit to its URL, a deploy or \`/preview wake\` wakes it.`);
}

async function wakePreview(deps: RunnerDeps, job: PreviewJob, signal?: AbortSignal): Promise<void> {
  const s = deps.sleep;
  if (!s) return isPerson(job) ? reply(deps, job, NOT_AVAILABLE) : undefined;
  const namespaces = await live(deps, job);
  if (namespaces.length === 0)
    return isPerson(job)
      ? reply(deps, job, "No preview exists for this pull request, so there is nothing to wake.")
      : undefined;
  const lines: string[] = [];
  let woke = false;
  for (const ns of namespaces) {
    const r = await wakeNamespace(deps.cluster, s, ns, deps.logger, signal);
    if (!r) {
      lines.push(`The preview in \`${ns.name}\` is awake.`);
      continue;
    }
    woke = true;
    lines.push(
      r.ready
        ? `☀️ The preview in \`${ns.name}\` is awake (${count(r.workloads, "workload")} back, ready in ${formatDuration(r.ms)}).`
        : `⚠️ The preview in \`${ns.name}\` is back, but its workloads were not ready within ${formatDuration(s.wakeTimeoutMs)}: \`/preview status\` shows why.`,
    );
  }
  if (woke) await reportState(deps, job);
  if (isPerson(job)) await reply(deps, job, lines.join("\n"));
}

/** Wake one namespace; undefined when it was neither asleep nor carrying anything a sleep left. */
export async function wakeNamespace(
  cluster: RunnerDeps["cluster"],
  s: Pick<PreviewSleepDeps, "control" | "wakeTimeoutMs">,
  ns: Pick<NamespaceListing, "name" | "annotations">,
  logger: Logger,
  signal?: AbortSignal,
): Promise<{ ready: boolean; workloads: string[]; routes: string[]; ms: number } | undefined> {
  const started = Date.now();
  const facts = readSleep(ns.annotations);
  const w = await s.control.restoreWorkloads(ns.name);
  const ready = await s.control.waitAwake(ns.name, s.wakeTimeoutMs, signal);
  const r = await s.control.restoreRoutes(ns.name);
  if (facts.asleepSince === undefined && w.workloads.length === 0 && r.routes.length === 0) return undefined;
  const now = Date.now();
  await cluster.annotateNamespace(ns.name, {
    [ASLEEP_SINCE_ANNOTATION]: null,
    [WAKE_HOSTS_ANNOTATION]: null,
    [ASLEEP_TOTAL_ANNOTATION]: String(facts.asleepTotalMs + Math.max(0, now - (facts.asleepSince ?? now))),
    [LAST_ACTIVITY_ANNOTATION]: new Date(now).toISOString(),
  });
  logger.info({ namespace: ns.name, ready, ms: now - started, ...w, routes: r.routes }, "preview woken");
  return { ready, workloads: w.workloads, routes: r.routes, ms: now - started };
}

/** A command, a button or a visitor used the preview: its idle time starts again (best effort). */
export async function touchActivity(deps: RunnerDeps, job: PreviewJob): Promise<void> {
  try {
    const now = new Date().toISOString();
    for (const ns of await live(deps, job))
      if (ns.annotations[LAST_ACTIVITY_ANNOTATION] !== undefined || readSleep(ns.annotations).afterMs !== undefined)
        await deps.cluster.annotateNamespace(ns.name, { [LAST_ACTIVITY_ANNOTATION]: now });
  } catch (err) {
    deps.logger.warn({ err }, `could not record activity on the preview: ${describeError(err)}`);
  }
}

/**
 * The sticky comment and Slack after a sleep or a wake: the preview as its namespace records it (the deployed
 * commit, URL, expiry), with its sleep and cost. Best effort: a failure is logged, never the job's.
 */
async function reportState(deps: RunnerDeps, job: PreviewJob): Promise<void> {
  try {
    const [ns] = await live(deps, job);
    if (!ns) return;
    const octokit = await deps.github.octokitFor(job.installationId);
    const config = await loadRepoConfig(octokit, job.owner, job.repo);
    if (!config?.ok) return;
    const pull = await getPull(octokit, job.owner, job.repo, job.number);
    const ref = {
      owner: job.owner,
      repo: job.repo,
      number: job.number,
      branch: ns.annotations[BRANCH_ANNOTATION] ?? pull.branch,
      sha: ns.annotations[SHA_ANNOTATION] ?? pull.sha,
      fork: pull.fork,
    };
    const report = await stateReport(deps, ref, previewNamesFor(ref, config.config), ns, job.trigger);
    report.slackChannel = config.config.slack?.channel;
    if (report.slackChannel === undefined) delete report.slackChannel;
    const reporter = deps.github.reporterFor(octokit, job.owner, job.repo);
    await reporter.stateChanged(report);
    await deps.notifier?.notifyRun(report);
  } catch (err) {
    deps.logger.warn({ err }, `could not show the preview's sleep on the pull request: ${describeError(err)}`);
  }
}

/** A finished deploy's report as the namespace has it now, with its sleep and cost. */
async function stateReport(
  deps: RunnerDeps,
  ref: RunReport["ref"],
  names: RunReport["names"],
  ns: NamespaceListing,
  trigger: string,
): Promise<RunReport> {
  const report = newReport("deploy", ref, { ...names, namespace: ns.name }, trigger);
  const facts = readSleep(ns.annotations);
  report.state = "success";
  report.finishedAt = new Date().toISOString();
  const url = ns.annotations[URL_ANNOTATION] ?? names.url;
  if (url) report.url = url;
  if (ns.annotations[EXPIRES_ANNOTATION]) report.expiresAt = ns.annotations[EXPIRES_ANNOTATION];
  report.sleep = {
    ...(facts.afterMs !== undefined ? { afterMs: facts.afterMs } : {}),
    ...(facts.asleepSince !== undefined ? { asleepSince: new Date(facts.asleepSince).toISOString() } : {}),
  };
  report.summary =
    facts.asleepSince !== undefined
      ? `Preview asleep${url ? ` (${url} wakes it)` : ""}`
      : `Preview ready${url ? ` at ${url}` : ""}`;
  const db = deps.databases ? (await deps.databases.list()).find((d) => d.key === names.key) : undefined;
  if (db) report.database = { name: db.database, status: "kept" };
  const cost = deps.sleep
    ? await previewCost({ settings: deps.sleep.cost, control: deps.sleep.control, logger: deps.logger }, ns)
    : undefined;
  if (cost) report.cost = cost;
  return report;
}

/** Sleep and cost of a deploy that just finished (deploy/index.ts), best effort. */
export async function deployedSleepFacts(
  deps: RunnerDeps,
  namespace: string,
): Promise<Pick<RunReport, "sleep" | "cost">> {
  if (!deps.sleep) return {};
  try {
    const ns = (await deps.cluster.listNamespaces({ ...MANAGED_BY })).find((n) => n.name === namespace);
    if (!ns) return {};
    const facts = readSleep(ns.annotations);
    const cost = await previewCost({ settings: deps.sleep.cost, control: deps.sleep.control, logger: deps.logger }, ns);
    return { sleep: facts.afterMs !== undefined ? { afterMs: facts.afterMs } : {}, ...(cost ? { cost } : {}) };
  } catch (err) {
    deps.logger.warn({ err, namespace }, "could not read the preview's sleep and cost");
    return {};
  }
}

const count = (items: readonly string[], noun: string) => `${items.length} ${noun}${items.length === 1 ? "" : "s"}`;

/** The idle period of a preview: the repository's `sleep.after` within the bot's PREVIEW_SLEEP_AFTER; undefined: never. */
export function sleepAfterMs(repo: number | "never" | undefined, bot: number | undefined): number | undefined {
  if (repo === undefined) return bot;
  // A repository may shorten the bot's idle period, not lift it (0 would read as "never" on the namespace).
  if (repo === "never" || !(repo > 0)) return bot;
  return bot === undefined ? repo : Math.min(repo, bot);
}
