/**
 * The state one deploy carries from step to step, and the shape of a step. Each step reads what earlier steps left
 * in the context (the checkout, the rendered objects, what was applied) and adds its own part.
 */
import type { PreviewConfig } from "../../../config.js";
import type { Octokit, PullFacts } from "../../github/reads.js";
import type { PreviewJob } from "../../shared/dispatch.js";
import type { KubeObject, ObjectRef, PreviewNames, PreviewRef, WorkloadHealth } from "../../shared/preview.js";
import type { RunReport } from "../../shared/run-report.js";
import type { JobControl } from "../../jobs/queue.js";
import type { RunnerDeps } from "../context.js";
import type { PinnedImage } from "../render/index.js";

export interface DeployContext {
  deps: RunnerDeps;
  job: PreviewJob;
  octokit: Octokit;
  /** The pull request as read when the job ran (its head SHA is what deploys). */
  pull: PullFacts;
  /** The repository's config, from its default branch. */
  config: PreviewConfig;
  ref: PreviewRef;
  names: PreviewNames;
  report: RunReport;
  signal?: AbortSignal;
  /** Run a long wait without holding a job slot (the queue's JobControl.park; a plain call outside a queue). */
  park: JobControl["park"];
  /** This run's own directory (the downloaded tarball, the renderer's scratch space), removed after the run. */
  dir: string;
  /** The PR's tree as downloaded (Fetch source), for the renderer. */
  source?: { kind: "tarball"; file: string };
  /** `database.seed`'s text, as the renderer read it. */
  seed?: string;
  /** What will be applied: the render, plus the database Secret (and the image pull Secret). */
  objects: KubeObject[];
  /** Of those, the bot's own (the database Secret, copied Secrets): applied before any hook, which may need them. */
  ownObjects: KubeObject[];
  /** The images images[] pinned by tag in the render (the Images step resolves them to digests). */
  pinned: PinnedImage[];
  /** What the Apply step applied (Prune keeps these). */
  applied: ObjectRef[];
  /** Roll-out results. */
  workloads: WorkloadHealth[];
  /**
   * Who may open the preview (`config.access`, else `github` for a private repository), this deploy's nonce for its
   * bypass token (rotated per deploy), and what the render decided: the hosts its routes serve, and the objects a
   * protected preview needs in the bot's own namespace.
   */
  access: { mode: "public" | "github"; nonce: string; hosts: string[]; grants: KubeObject[] };
}

export interface DeployStep {
  /** The name the check run shows. */
  name: string;
  /** Why this step does not apply to this deploy (shown as "skipped: <reason>"), or undefined to run it. */
  skip?(ctx: DeployContext): string | undefined;
  /** Long-running: update the check run when it starts. */
  progress?: boolean;
  /** Do the step; `detail` sets the one line shown beside it. Throw to fail the deploy. */
  run(ctx: DeployContext, detail: (text: string) => void): Promise<void>;
}
