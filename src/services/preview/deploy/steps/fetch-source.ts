/** Fetch source: the repository at the PR's head SHA, into the run's checkout directory. */
import { fetchSource } from "../../render/index.js";
import type { DeployStep } from "../context.js";

export const fetchSourceStep: DeployStep = {
  name: "Fetch source",
  async run({ octokit, job, pull, dir }, detail) {
    await fetchSource({ octokit, owner: job.owner, repo: job.repo, sha: pull.sha, dest: dir });
    detail(`${job.owner}/${job.repo}@${pull.sha.slice(0, 7)}`);
  },
};
