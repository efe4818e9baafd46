/**
 * The GitHub reads the intake and the runner need: the repository's config, the pull request's current state, the
 * head commit's checks and when it arrived. Writes (check runs, deployments, comments) live in the Reporter.
 */
import type { ProbotOctokit } from "probot";
import { CONFIG_PATH, parseConfig, type ConfigResult } from "../../config.js";

export type Octokit = InstanceType<typeof ProbotOctokit>;

function status(err: unknown): number | undefined {
  return typeof err === "object" && err !== null && "status" in err && typeof err.status === "number"
    ? err.status
    : undefined;
}

/** `.github/preview.yml` at `ref`: undefined when absent (the repository is not enrolled). */
export async function loadRepoConfig(
  octokit: Octokit,
  owner: string,
  repo: string,
  ref?: string,
): Promise<(ConfigResult & { text: string }) | undefined> {
  let text: string;
  try {
    const res = await octokit.rest.repos.getContent({
      owner,
      repo,
      path: CONFIG_PATH,
      ...(ref ? { ref } : {}),
      mediaType: { format: "raw" },
    });
    text = typeof res.data === "string" ? res.data : Buffer.from(res.data as unknown as ArrayBuffer).toString("utf8");
  } catch (err) {
    if (status(err) === 404) return undefined;
    const answered = status(err) === undefined ? "" : ` (GitHub answered ${status(err)})`;
    throw new Error(`reading ${CONFIG_PATH} of ${owner}/${repo}${ref ? ` at ${ref}` : ""}${answered}`, { cause: err });
  }
  return { ...parseConfig(text), text };
}

export interface PullFacts {
  number: number;
  state: "open" | "closed";
  title: string;
  branch: string;
  sha: string;
  fork: boolean;
  draft: boolean;
  labels: string[];
  htmlUrl: string;
  baseBranch: string;
  /** The base branch's commit GitHub compares the PR with. */
  baseSha: string;
  author: string;
  /** The repository is private (or GitHub did not say it is public): its previews default to `access: github`. */
  private: boolean;
}

export async function getPull(octokit: Octokit, owner: string, repo: string, number: number): Promise<PullFacts> {
  try {
    const { data } = await octokit.rest.pulls.get({ owner, repo, pull_number: number });
    return {
      number,
      state: data.state === "open" ? "open" : "closed",
      title: data.title,
      branch: data.head.ref,
      sha: data.head.sha,
      fork: (data.head.repo?.full_name ?? "") !== data.base.repo.full_name,
      draft: Boolean(data.draft),
      labels: data.labels.map((l) => l.name ?? "").filter(Boolean),
      htmlUrl: data.html_url,
      baseBranch: data.base.ref,
      baseSha: data.base.sha,
      author: data.user?.login ?? "",
      private: data.base.repo.private !== false,
    };
  } catch (err) {
    throw new Error(`reading pull request ${owner}/${repo}#${number}`, { cause: err });
  }
}

/**
 * Conclusions by name of the commit's check runs and workflow runs (`pending` while not completed). When several runs
 * share a name (a re-run, a second workflow run for the same commit), the newest decides.
 */
export async function headChecks(
  octokit: Octokit,
  owner: string,
  repo: string,
  sha: string,
  names: string[],
): Promise<Record<string, string>> {
  if (names.length === 0) return {};
  const latest = new Map<string, { at: string; conclusion: string }>();
  const keep = (name: string, at: string, conclusion: string) => {
    const seen = latest.get(name);
    if (!seen || at > seen.at) latest.set(name, { at, conclusion });
  };
  const runs = await octokit.paginate(octokit.rest.checks.listForRef, { owner, repo, ref: sha, per_page: 100 });
  for (const run of runs) {
    if (run.name === "preview" || !names.includes(run.name)) continue;
    keep(run.name, run.started_at ?? "", run.status === "completed" ? (run.conclusion ?? "neutral") : "pending");
  }
  const missing = names.filter((n) => !latest.has(n));
  if (missing.length > 0) {
    const { data } = await octokit.rest.actions.listWorkflowRunsForRepo({ owner, repo, head_sha: sha, per_page: 100 });
    for (const run of data.workflow_runs) {
      if (!run.name || !missing.includes(run.name)) continue;
      keep(run.name, run.created_at, run.status === "completed" ? (run.conclusion ?? "neutral") : "pending");
    }
  }
  return Object.fromEntries([...latest].map(([name, v]) => [name, v.conclusion]));
}

/**
 * When GitHub first saw `sha` in this repository: the creation of its earliest check suite (GitHub creates one per
 * app and CI for a pushed commit, a fork PR's commits included when the base repository runs checks on PRs), by
 * GitHub's clock. Undefined when the commit has none.
 */
export async function headArrivedAt(
  octokit: Octokit,
  owner: string,
  repo: string,
  sha: string,
): Promise<string | undefined> {
  try {
    const { data } = await octokit.rest.checks.listSuitesForRef({ owner, repo, ref: sha, per_page: 100 });
    const times = data.check_suites
      .map((s) => s.created_at)
      .filter((t): t is string => typeof t === "string" && t !== "");
    return times.sort()[0];
  } catch (err) {
    if (status(err) === 404 || status(err) === 422) return undefined;
    throw new Error(`reading the check suites of ${owner}/${repo}@${sha.slice(0, 7)}`, { cause: err });
  }
}

/** Paths changed by the PR (to notice edits of .github/preview.yml). */
export async function pullTouches(
  octokit: Octokit,
  owner: string,
  repo: string,
  number: number,
  path: string,
): Promise<boolean> {
  const files = await octokit.paginate(octokit.rest.pulls.listFiles, {
    owner,
    repo,
    pull_number: number,
    per_page: 100,
  });
  return files.some((f) => f.filename === path || f.previous_filename === path);
}

/** GitHub lists at most this many files of a pull request. */
const PULL_FILES_LIMIT = 3000;

/**
 * The paths a PR changes (a rename by both its names), and whether the list is complete: GitHub lists at most 3000
 * files, so a longer list cannot prove that a path is untouched.
 */
export async function pullFiles(
  octokit: Octokit,
  owner: string,
  repo: string,
  number: number,
): Promise<{ paths: string[]; complete: boolean }> {
  let files: Array<{ filename: string; previous_filename?: string }>;
  try {
    files = await octokit.paginate(octokit.rest.pulls.listFiles, { owner, repo, pull_number: number, per_page: 100 });
  } catch (err) {
    throw new Error(`listing the files changed by ${owner}/${repo}#${number}`, { cause: err });
  }
  const paths = files.flatMap((f) => (f.previous_filename ? [f.filename, f.previous_filename] : [f.filename]));
  return { paths, complete: files.length < PULL_FILES_LIMIT };
}
