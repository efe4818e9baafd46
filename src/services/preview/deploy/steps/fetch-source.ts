/**
 * Fetch source: GitHub's tarball of the repository at the PR's head SHA, downloaded into the run's directory. The bot
 * holds the GitHub token, so it downloads; it never opens the archive: the renderer extracts it, isolated (Render
 * manifests).
 */
import path from "node:path";
import { fetchSource } from "../../render/index.js";
import type { DeployStep } from "../context.js";

export const fetchSourceStep: DeployStep = {
  name: "Fetch source",
  async run(ctx, detail) {
    const { octokit, job, pull, dir, signal } = ctx;
    const result = await fetchSource({
      octokit,
      owner: job.owner,
      repo: job.repo,
      sha: pull.sha,
      file: path.join(dir, "source.tar.gz"),
      ...(signal ? { signal } : {}),
    });
    ctx.source = { kind: "tarball", file: result.file };
    detail(`${job.owner}/${job.repo}@${pull.sha.slice(0, 7)} (${(result.bytes / 1e6).toFixed(1)} MB downloaded)`);
  },
};
