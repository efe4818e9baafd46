/**
 * Telling a waiting deploy where it stands: the `preview` check run of its head commit in state queued, the sticky
 * comment ("Preview queued — position N of M: why"), and the PR's Slack thread (its summary edited; one reply when it
 * joins the line). The same RunReport the deploy would write, in state `queued`, so every surface reads one vocabulary.
 */
import type { Notifier } from "../../chat/notifier.js";
import type { GitHubClients } from "../../github/app-clients.js";
import { CHECK_RUN_NAME } from "../../github/check-run-sync.js";
import type { Octokit } from "../../github/reads.js";
import { renderCheckRunOutput } from "../../github/report-markdown.js";
import { webUrlOf } from "../../github/reporter.js";
import { isTransientError } from "../../shared/errors.js";
import type { RunReport } from "../../shared/run-report.js";
import type { Standing } from "./fleet.js";
import type { WaitingEntry } from "./seat-store.js";

function queuedReport(entry: WaitingEntry, standing: Standing): RunReport {
  const { ref, names, trigger, slackChannel } = entry.facts;
  return {
    kind: "deploy",
    ref,
    names,
    state: "queued",
    steps: [],
    summary: `Queued: position ${standing.position} of ${standing.of}. ${capitalize(standing.reason)}; it deploys as soon as a seat frees.`,
    startedAt: entry.since,
    trigger,
    queue: standing,
    ...(slackChannel ? { slackChannel } : {}),
  };
}

export function createStandingTeller(deps: {
  github: Pick<GitHubClients, "octokitFor" | "reporterFor">;
  notifier?: Pick<Notifier, "queued">;
}): (entry: WaitingEntry, standing: Standing, first: boolean) => Promise<void> {
  return async (entry, standing, first) => {
    const report = queuedReport(entry, standing);
    const { owner, repo } = entry.facts.ref;
    const octokit = await deps.github.octokitFor(entry.job.installationId);
    await deps.github.reporterFor(octokit, owner, repo).queued(report);
    await deps.notifier?.queued?.(report, first);
  };
}

/**
 * Concluding the queued check run(s) of a deploy that left the line without a seat: `superseded` when a deploy of a
 * newer commit took its place, `cancelled` when it was given up (the PR closed, the preview destroyed). Every
 * unfinished `preview` run of this preview at that commit is concluded (a queued run written twice, after a failed
 * listing, included). The sticky comment is left to whoever comes next (the newer deploy's standing, the teardown).
 * Transient GitHub failures (5xx, secondary rate limits) are retried a few times: nothing else will conclude it.
 */
export function createWithdrawer(deps: {
  github: Pick<GitHubClients, "octokitFor">;
  /** Waits between attempts (tests pass short ones). */
  backoffMs?: readonly number[];
}): (entry: WaitingEntry, why: "superseded" | "released") => Promise<void> {
  return async (entry, why) => {
    const octokit = await deps.github.octokitFor(entry.job.installationId);
    await concludeOpenCheckRuns(octokit, entry.facts, why, entry.since, deps.backoffMs);
  };
}

/**
 * Conclude every unfinished `preview` check run of this preview at its commit: `superseded` (a newer commit took its
 * place in line) or `released` (given up: the PR closed, the preview destroyed). The withdrawal of a waiting deploy
 * uses it, and so does a teardown: a deploy that had left the line for its seat and then found its PR closed leaves
 * its queued check run to the teardown. So does a deploy started from the line that runs another commit than the one
 * it was queued at (`superseded`: the head moved while it waited, and the push that said so was lost or refused), or
 * nothing (`nothing to deploy`: a fork's reviewed commit is no longer the head, the PR closed).
 */
export async function concludeOpenCheckRuns(
  octokit: Octokit,
  facts: Pick<WaitingEntry["facts"], "ref" | "names" | "trigger">,
  why: "superseded" | "released" | "nothing to deploy",
  since: string,
  backoffMs: readonly number[] = [1_000, 3_000, 10_000],
): Promise<void> {
  const { ref, names, trigger } = facts;
  const report: RunReport = {
    kind: "deploy",
    ref,
    names,
    state: why === "superseded" ? "superseded" : "cancelled",
    steps: [],
    summary:
      why === "superseded"
        ? "Superseded while queued: a deploy of a newer commit took its place in line."
        : why === "nothing to deploy"
          ? "Cancelled: when a seat freed, this commit was no longer one to deploy (the pull request moved on or closed)."
          : "Cancelled while queued: the preview was closed or destroyed before a seat freed.",
    startedAt: since,
    trigger,
  };
  const { owner, repo } = ref;
  const output = renderCheckRunOutput(report, { serverUrl: webUrlOf(octokit) });
  for (let i = 0; ; i++) {
    try {
      const { data } = await octokit.rest.checks.listForRef({
        owner,
        repo,
        ref: ref.sha,
        check_name: CHECK_RUN_NAME,
        filter: "all",
        per_page: 100,
      });
      for (const run of data.check_runs)
        if (run.external_id === names.key && run.status !== "completed")
          await octokit.rest.checks.update({
            owner,
            repo,
            check_run_id: run.id,
            status: "completed",
            conclusion: "cancelled",
            completed_at: new Date().toISOString(),
            output: { ...output, title: output.title.slice(0, 200) },
          });
      return;
    } catch (err) {
      if (i >= backoffMs.length || !isTransientError(err))
        throw new Error(`concluding the queued check run of ${names.key} at ${ref.sha.slice(0, 7)}`, {
          cause: err,
        });
      await new Promise((r) => setTimeout(r, backoffMs[i]));
    }
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
