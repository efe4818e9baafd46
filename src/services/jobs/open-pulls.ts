/**
 * The sweeper's desired set, from GitHub: the open pull requests of every repository the App's installations can
 * see and that is enrolled (has `.github/preview.yml` on its default branch).
 */
import { loadRepoConfig, type Octokit } from "../github/reads.js";

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
}

/** Must list every open PR of every enrolled repository, or throw: a partial list would prune live previews. */
export type ListOpenPulls = () => Promise<OpenPull[]>;

/**
 * `listOpenPulls` from the GitHub App: every installation, every repository it can see that has
 * `.github/preview.yml` on its default branch (valid or not: a broken config must not get live previews pruned),
 * and each one's open pull requests. Any error rejects the whole listing.
 */
export function githubOpenPulls(opts: { app(): Promise<Octokit>; octokitFor(installationId: number): Promise<Octokit> }): ListOpenPulls {
  return async () => {
    const app = await opts.app();
    const out: OpenPull[] = [];
    for (const inst of await app.paginate(app.rest.apps.listInstallations, { per_page: 100 })) {
      const octokit = await opts.octokitFor(inst.id);
      for (const r of await octokit.paginate(octokit.rest.apps.listReposAccessibleToInstallation, { per_page: 100 })) {
        if (r.archived) continue;
        const config = await loadRepoConfig(octokit, r.owner.login, r.name);
        if (!config) continue;
        const ttlMs = config.ok ? config.config.ttl : undefined;
        for (const p of await octokit.paginate(octokit.rest.pulls.list, { owner: r.owner.login, repo: r.name, state: "open", per_page: 100 })) {
          out.push({ installationId: inst.id, owner: r.owner.login, repo: r.name, number: p.number, sha: p.head.sha, ...(ttlMs ? { ttlMs } : {}) });
        }
      }
    }
    return out;
  };
}
