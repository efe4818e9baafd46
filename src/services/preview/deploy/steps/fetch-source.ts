/** Fetch source: the repository at the PR's head SHA, streamed into the run's checkout directory. */
import { fetchSource } from "../../render/index.js";
import type { DeployStep } from "../context.js";

export const fetchSourceStep: DeployStep = {
  name: "Fetch source",
  async run({ octokit, job, pull, dir, signal, deps, names }, detail) {
    const result = await fetchSource({
      octokit,
      owner: job.owner,
      repo: job.repo,
      sha: pull.sha,
      dest: dir,
      ...(signal ? { signal } : {}),
    });
    for (const s of result.skipped) deps.logger.warn({ key: names.key }, `source: not extracted: ${s}`);
    const skipped = result.skipped.length
      ? `; ${result.skipped.length} entr${result.skipped.length > 1 ? "ies" : "y"} not extracted: ${result.skipped.slice(0, 3).join("; ")}${result.skipped.length > 3 ? "; …" : ""}`
      : "";
    detail(
      `${job.owner}/${job.repo}@${pull.sha.slice(0, 7)} (${result.files} files, ${(result.bytes / 1e6).toFixed(1)} MB)${skipped}`,
    );
  },
};
