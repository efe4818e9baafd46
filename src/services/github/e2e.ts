/**
 * End-to-end checks against the live preview: dispatch the repository's E2E workflow (e.g. Playwright) on the PR's
 * branch with the preview URL as input, wait for its run, and return its conclusion so the runner can fold it into
 * the check run and the sticky comment.
 */
import type { Octokit } from "./reads.js";

export interface E2eResult {
  conclusion: string;
  url?: string;
  runId?: number;
}

export interface E2eRequest {
  octokit: Octokit;
  owner: string;
  repo: string;
  workflow: string;
  /** The branch to run the workflow from (the PR's head branch; fork branches do not exist in the base repo). */
  ref: string;
  sha: string;
  inputs: Record<string, string>;
  timeoutMs: number;
  pollMs?: number;
  signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });

export async function runE2e(req: E2eRequest): Promise<E2eResult> {
  const { octokit, owner, repo, workflow } = req;
  const since = new Date(Date.now() - 5_000).toISOString();
  try {
    await octokit.rest.actions.createWorkflowDispatch({
      owner,
      repo,
      workflow_id: workflow,
      ref: req.ref,
      inputs: req.inputs,
    });
  } catch (err) {
    throw new Error(`dispatching workflow "${workflow}" on ${req.ref}`, { cause: err });
  }
  const deadline = Date.now() + req.timeoutMs;
  const pollMs = req.pollMs ?? 15_000;
  for (;;) {
    await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())), req.signal);
    if (req.signal?.aborted) return { conclusion: "cancelled" };
    const { data } = await octokit.rest.actions.listWorkflowRuns({
      owner,
      repo,
      workflow_id: workflow,
      event: "workflow_dispatch",
      branch: req.ref,
      created: `>=${since}`,
      per_page: 20,
    });
    // The dispatch API returns no run id: take the newest dispatched run of this workflow for the commit.
    const run = data.workflow_runs.filter((r) => r.head_sha === req.sha).sort((a, b) => b.id - a.id)[0];
    if (run?.status === "completed")
      return { conclusion: run.conclusion ?? "neutral", url: run.html_url, runId: run.id };
    if (Date.now() >= deadline)
      return { conclusion: "timed_out", ...(run ? { url: run.html_url, runId: run.id } : {}) };
  }
}
