/**
 * The GitHub App's clients, built once from Probot: installation-scoped Octokits for jobs (they run off the request,
 * so they authenticate themselves), the App-authenticated one, the installation of a repository (Slack requests do
 * not carry one), and a Reporter per run that writes through the process's write lanes.
 *
 * Installation tokens come from the App-authenticated client (`apps.createInstallationAccessToken` through
 * `probot.auth(id)`), so GitHub Enterprise Server works (see DEPENDENCIES.md).
 */
import type { Probot } from "probot";
import type { Logger } from "../../logger.js";
import type { Metrics } from "../metrics.js";
import type { Reporter } from "../shared/run-report.js";
import type { Octokit } from "./reads.js";
import { createReporter } from "./reporter.js";
import type { WriteLanes } from "./write-lanes.js";

export interface GitHubClients {
  /** The App itself (JWT): installations, deliveries, its own slug. */
  app(): Promise<Octokit>;
  octokitFor(installationId: number): Promise<Octokit>;
  /** The App's installation on a repository. */
  installationOf(owner: string, repo: string): Promise<number>;
  /** A run's Reporter (check run, deployment, sticky comment) for one repository. */
  reporterFor(octokit: Octokit, owner: string, repo: string): Reporter;
}

export interface GitHubClientOptions {
  probot: Probot;
  appId: number;
  /** GitHub writes of every run, one lane per installation; check runs go first. */
  lanes: WriteLanes;
  /** Seconds between check-run updates while a run goes on. */
  progressIntervalMs: number;
  metrics: Metrics;
  logger: Logger;
}

export function createGitHubClients(o: GitHubClientOptions): GitHubClients {
  const app = async () => o.probot.auth();
  const appSlug = memoizedSlug(app);
  return {
    app,
    octokitFor: async (installationId) => o.probot.auth(installationId),
    async installationOf(owner, repo) {
      const { data } = await (await app()).rest.apps.getRepoInstallation({ owner, repo });
      return data.id;
    },
    reporterFor: (octokit, owner, repo) =>
      createReporter({
        octokit,
        owner,
        repo,
        logger: o.logger,
        lanes: o.lanes,
        tail: "background",
        app: { id: o.appId, slug: appSlug },
        progressIntervalMs: o.progressIntervalMs,
        onFailure: (surface) => o.metrics.githubWriteFailed(surface),
      }),
  };
}

/** The App's slug (for finding its own comments), asked once; asked again after a failure. */
function memoizedSlug(app: () => Promise<Octokit>): () => Promise<string | undefined> {
  let slug: Promise<string | undefined> | undefined;
  return () =>
    (slug ??= app()
      .then(async (octokit) => (await octokit.rest.apps.getAuthenticated()).data?.slug)
      .catch((err: unknown) => {
        slug = undefined; // ask again next time
        throw err;
      }));
}
