/**
 * The runner: the queue's handler for `preview` jobs. Deploy and redeploy go through the deploy pipeline (deploy/),
 * destroy through the teardown pipeline (destroy/), the other actions to commands.ts; it is given its parts
 * (RunnerDeps) by the composition root.
 */
import type { JobAction } from "../../actions.js";
import type { JobControl } from "../jobs/queue.js";
import { withLogContext } from "../../logger.js";
import type { PreviewJob } from "../shared/dispatch.js";
import type { RunReport } from "../shared/run-report.js";
import { createPreviewCommands } from "./commands.js";
import { replyOnPull, type RunnerDeps } from "./context.js";
import { deployPreview } from "./deploy/index.js";
import { destroyPreview } from "./destroy/index.js";
import { createSleepCommands, touchActivity } from "./sleep/sleep-commands.js";

export type { RunnerDeps } from "./context.js";

export interface Runner {
  /** Run one job of any action (`control`: the queue's, so a long wait can give its slot up). */
  run(job: PreviewJob, signal?: AbortSignal, control?: JobControl): Promise<void>;
  /** The queue's handler for `preview` jobs: `run`, with the job's delivery, id and key on every log line. */
  handle(
    job: { id: string; key: string; payload: PreviewJob },
    signal: AbortSignal,
    control?: JobControl,
  ): Promise<void>;
  deploy(job: PreviewJob, signal?: AbortSignal, control?: JobControl): Promise<RunReport | undefined>;
  destroy(job: PreviewJob, signal?: AbortSignal): Promise<RunReport>;
}

type Handler = (job: PreviewJob, signal?: AbortSignal, control?: JobControl) => Promise<unknown>;

export function createRunner(deps: RunnerDeps): Runner {
  const commands = createPreviewCommands(deps);
  const sleeps = createSleepCommands(deps);
  const deploy = (job: PreviewJob, signal?: AbortSignal, control?: JobControl) =>
    deployPreview(deps, job, signal, control);
  const destroy = (job: PreviewJob, signal?: AbortSignal) => destroyPreview(deps, job, signal);

  /** One handler per job action of the table (src/actions.ts): a new job action without one does not compile. */
  const handlers: { [A in JobAction]: Handler } = {
    deploy,
    redeploy: deploy,
    destroy: async (job, signal) => {
      const report = await destroy(job, signal);
      if (job.dryRun) await replyOnPull(deps, job, `${report.summary}. Nothing was changed.`);
    },
    status: commands.status,
    extend: commands.extend,
    sleep: sleeps.sleep,
    wake: sleeps.wake,
    backup: commands.backup,
    restore: commands.restore,
  };

  async function run(job: PreviewJob, signal?: AbortSignal, control?: JobControl): Promise<void> {
    // People's commands and buttons are activity (a deploy records its own); sleep itself and the bot's are not.
    if (
      (job.source === "comment" || job.source === "slack") &&
      !["deploy", "redeploy", "destroy", "sleep"].includes(job.action)
    )
      await touchActivity(deps, job);
    await handlers[job.action](job, signal, control);
  }

  const handle: Runner["handle"] = (job, signal, control) =>
    withLogContext({ delivery: job.payload.deliveryId, job: job.id, key: job.key, action: job.payload.action }, () =>
      run(job.payload, signal, control),
    );

  return { run, handle, deploy, destroy };
}
