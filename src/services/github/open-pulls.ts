/**
 * The sweeper's desired set, from GitHub: the open pull requests of every repository the App's installations can
 * see and that is enrolled (has `.github/preview.yml` on its default branch), and which repositories those are —
 * so that a preview left in an archived or no longer enrolled repository is told apart from one of a closed PR.
 */
import { loadRepoConfig, type Octokit } from "./reads.js";

/** One open pull request of an enrolled repository (`.github/preview.yml` on its default branch). */
export interface OpenPull {
  installationId: number;
  owner: string;
  repo: string;
  number: number;
  /** Head commit SHA. */
  sha: string;
  /** The repository's configured TTL, when it has one (sizes the expiry heads-up). */
  ttlMs?: number;
  /** The repository's `slack.channel`, when it has one (the expiry heads-up goes to the PR's thread there). */
  slackChannel?: string;
}

export interface DesiredSet {
  pulls: OpenPull[];
  /**
   * Lower-case `owner/repo` of each enrolled, unarchived repository seen; absent: every repository counts as enrolled.
   */
  enrolled?: ReadonlySet<string>;
  /** Why a repository that was seen is not enrolled ("is archived", …), by lower-case `owner/repo`. */
  held?: ReadonlyMap<string, string>;
}

/** Must list every open PR of every enrolled repository, or throw: a partial list would prune live previews. */
export type ListOpenPulls = () => Promise<DesiredSet>;

/**
 * `listOpenPulls` from the GitHub App: every installation, every repository it can see that has
 * `.github/preview.yml` on its default branch (valid or not: a broken config must not get live previews pruned),
 * and each one's open pull requests. Any error rejects the whole listing.
 */
export function githubOpenPulls(opts: {
  app(): Promise<Octokit>;
  octokitFor(installationId: number): Promise<Octokit>;
}): ListOpenPulls {
  return async () => {
    const app = await opts.app();
    const out: OpenPull[] = [];
    const enrolled = new Set<string>();
    const held = new Map<string, string>();
    for (const inst of await app.paginate(app.rest.apps.listInstallations, { per_page: 100 })) {
      const octokit = await opts.octokitFor(inst.id);
      for (const r of await octokit.paginate(octokit.rest.apps.listReposAccessibleToInstallation, { per_page: 100 })) {
        const repository = `${r.owner.login}/${r.name}`.toLowerCase();
        if (r.archived) {
          held.set(repository, "is archived");
          continue;
        }
        const config = await loadRepoConfig(octokit, r.owner.login, r.name);
        if (!config) {
          held.set(repository, "has no .github/preview.yml (not enrolled)");
          continue;
        }
        enrolled.add(repository);
        const ttlMs = config.ok ? config.config.ttl : undefined;
        const slackChannel = config.ok ? config.config.slack?.channel : undefined;
        for (const p of await octokit.paginate(octokit.rest.pulls.list, {
          owner: r.owner.login,
          repo: r.name,
          state: "open",
          per_page: 100,
        })) {
          out.push({
            installationId: inst.id,
            owner: r.owner.login,
            repo: r.name,
            number: p.number,
            sha: p.head.sha,
            ...(ttlMs ? { ttlMs } : {}),
            ...(slackChannel ? { slackChannel } : {}),
          });
        }
      }
    }
    return { pulls: out, enrolled, held };
  };
}
