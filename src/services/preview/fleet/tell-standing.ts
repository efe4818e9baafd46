/**
 * Telling a waiting deploy where it stands: the `preview` check run of its head commit in state queued, the sticky
 * comment ("Preview queued — position N of M: why"), and the PR's Slack thread (its summary edited; one reply when it
 * joins the line). The same RunReport the deploy would write, in state `queued`, so every surface reads one vocabulary.
 */
import type { Notifier } from "../../chat/notifier.js";
import type { GitHubClients } from "../../github/app-clients.js";
import type { RunReport } from "../../shared/run-report.js";
import type { Standing } from "./fleet.js";
import type { WaitingEntry } from "./seat-store.js";

export function queuedReport(entry: WaitingEntry, standing: Standing): RunReport {
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

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
