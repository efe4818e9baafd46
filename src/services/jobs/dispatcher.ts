/**
 * The Dispatcher the doors call: a PreviewRequest becomes one keyed job on the queue. Deploy, redeploy and destroy
 * supersede what is queued or running for the same preview; status and extend queue behind it.
 */
import type { Dispatcher, PreviewJob, PreviewRequest } from "../shared/dispatch.js";
import type { Queue } from "./queue.js";
import { previewKey } from "../shared/preview.js";

export const PREVIEW_JOB = "preview";

export function createDispatcher(opts: {
  queue: Queue;
  installationFor(owner: string, repo: string): Promise<number>;
}): Dispatcher {
  return {
    async dispatch(req: PreviewRequest) {
      const installationId = req.installationId ?? (await opts.installationFor(req.owner, req.repo));
      const door =
        req.source === "comment"
          ? `/preview ${req.action}`
          : req.source === "slack"
            ? `Slack /preview ${req.action}`
            : req.action;
      const job: PreviewJob = {
        installationId,
        owner: req.owner,
        repo: req.repo,
        number: req.number,
        action: req.action,
        source: req.source,
        trigger: `${door} by @${req.actor}`,
        actor: req.actor,
        ...(req.deliveryId ? { deliveryId: req.deliveryId } : {}),
        ...(req.dryRun ? { dryRun: true } : {}),
        ...(req.ttlMs ? { ttlMs: req.ttlMs } : {}),
        ...(req.backup ? { backup: req.backup } : {}),
        ...(req.keepDatabases ? { keepDatabases: req.keepDatabases } : {}),
        ...(req.sha ? { sha: req.sha } : {}),
        ...(req.slack ? { slack: req.slack } : {}),
      };
      // A sweeper deploy queues behind a running one (it only repairs); people's deploys and every destroy take over.
      const supersedes =
        (req.action === "deploy" || req.action === "redeploy" || req.action === "destroy") &&
        !req.dryRun &&
        !(req.source === "sweeper" && req.action !== "destroy");
      return opts.queue.enqueue({
        kind: PREVIEW_JOB,
        key: previewKey(req),
        payload: job,
        supersedes,
        ...(req.deliveryId ? { dedupeId: req.deliveryId } : {}),
      });
    },
  };
}
