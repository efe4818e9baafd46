/** E2E tests: dispatch the repository's end-to-end workflow against the healthy preview and wait for its conclusion. */
import { runE2e } from "../../../github/e2e.js";
import { expandTemplate, templateValues } from "../../naming.js";
import { bypassToken } from "../bypass.js";
import type { DeployStep } from "../context.js";

export const e2eTestsStep: DeployStep = {
  name: "E2E tests",
  progress: true,
  skip: ({ config, pull }) =>
    !config.e2e
      ? "none configured (e2e.workflow)"
      : pull.fork
        ? "not dispatched for a pull request from a fork (its branch is not in this repository)"
        : undefined,
  async run(ctx, detail) {
    const { deps, config, octokit, job, pull, ref, names, report, signal } = ctx;
    const e2e = config.e2e!;
    const values = templateValues(ref, names);
    const inputs = Object.fromEntries(Object.entries(e2e.inputs).map(([k, v]) => [k, expandTemplate(v, values)]));
    // A protected preview: the workflow gets this deploy's bypass token in the input the repository names.
    const token = bypassToken(ctx);
    if (token && e2e.bypassInput) inputs[e2e.bypassInput] = token;
    const result = await runE2e({
      octokit,
      owner: job.owner,
      repo: job.repo,
      workflow: e2e.workflow,
      ref: pull.branch,
      sha: pull.sha,
      inputs,
      timeoutMs: e2e.timeout,
      ...(deps.e2ePollMs ? { pollMs: deps.e2ePollMs } : {}),
      ...(signal ? { signal } : {}),
    });
    if (result.url)
      report.links = [...(report.links ?? []), { title: `E2E run (${result.conclusion})`, url: result.url }];
    detail(`${e2e.workflow}: ${result.conclusion}${result.url ? ` — ${result.url}` : ""}`);
    if (result.conclusion !== "success" && e2e.required)
      throw new Error(`E2E workflow "${e2e.workflow}" concluded ${result.conclusion}`);
  },
};
