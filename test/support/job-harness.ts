/**
 * The bot's job path without the HTTP doors, wired the way src/deps.ts wires it: the real runner (real
 * @kubernetes/client-node against the fake API server, real PostgreSQL databases, GitHub on nock via fakeGitHub)
 * behind a queue and the real dispatcher. For tests that need the wiring before the lead's deps.ts has it.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "../../src/logger.js";
import { createCluster } from "../../src/services/cluster/cluster.js";
import { createDatabases } from "../../src/services/data/databases.js";
import { createDispatcher, PREVIEW_JOB } from "../../src/services/jobs/dispatcher.js";
import type { Octokit } from "../../src/services/github/reads.js";
import type { Queue } from "../../src/services/jobs/queue.js";
import { createRenderer } from "../../src/services/preview/render/index.js";
import { createReporter } from "../../src/services/github/reporter.js";
import { createRunner } from "../../src/services/preview/runner.js";
import { guardrailSettings } from "../../src/services/preview/guardrails.js";
import { loadEnv } from "../../src/env.js";
import type { PreviewJob } from "../../src/services/shared/dispatch.js";
import { silentLogger, TestOctokit } from "./github.js";

export function buildJobHarness(opts: { kubeConfig: KubeConfig; adminUrl: string; queue: Queue; logger: Logger; workDir: string; installationId: number }) {
  const cluster = createCluster({ kubeConfig: opts.kubeConfig, pollMs: 20, logger: opts.logger });
  const databases = createDatabases({ adminUrl: opts.adminUrl, logger: opts.logger });
  const runner = createRunner({
    cluster,
    renderer: createRenderer({ workDir: opts.workDir, logger: opts.logger }),
    databases,
    octokitFor: async () => new TestOctokit({ auth: { token: "ghs_fakeinstallationtoken0000000000000000" }, log: silentLogger }) as unknown as Octokit,
    reporterFor: (octokit, owner, repo) => createReporter({ octokit, owner, repo, logger: opts.logger }),
    logger: opts.logger,
    workDir: opts.workDir,
    namespaceDeleteTimeoutMs: 5_000,
    healthIntervalMs: 50,
    guardrails: guardrailSettings(loadEnv({})),
  });
  opts.queue.register<PreviewJob>(PREVIEW_JOB, (job, signal) => runner.run(job.payload, signal));
  const dispatcher = createDispatcher({ queue: opts.queue, installationFor: async () => opts.installationId });
  return { cluster, databases, runner, dispatcher };
}
