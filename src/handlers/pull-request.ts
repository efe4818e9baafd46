/**
 * `pull_request` and check-completion events → the intake. Guard clauses only; the gate records a fork PR's head
 * (the reviewed-commit rule) and enqueues; the runner decides the rest with the PR's current state when the job runs
 * (trigger policy, config from the default branch, newest head commit). Nothing here calls GitHub: the webhook is
 * answered as soon as the job is queued.
 */
import type { Context } from "probot";
import type { Intake } from "../intake/gate.js";

const DEPLOY_ACTIONS = new Set(["opened", "reopened", "synchronize", "ready_for_review", "labeled"]);

export function onPullRequest(intake: Intake) {
  return async (context: Context<"pull_request">): Promise<void> => {
    const { action, pull_request: pr, repository } = context.payload;
    const installation = "installation" in context.payload ? context.payload.installation : undefined;
    const actor = context.payload.sender?.login ?? "unknown";
    const key = `${repository.full_name}#${pr.number}`;
    if (!installation) return context.log.debug(`${key}: event without installation, ignored`);
    const subject = {
      kind: "pull" as const,
      owner: repository.owner.login,
      repo: repository.name,
      number: pr.number,
      installationId: installation.id,
    };
    if (action === "closed") {
      await intake.submit({
        door: "webhook",
        action: "destroy",
        subject,
        actor,
        args: {},
        trigger: `${pr.merged ? "merge" : "close"} by @${actor}`,
        deliveryId: context.id,
      });
      return;
    }
    if (!DEPLOY_ACTIONS.has(action)) return context.log.debug(`${key}: action ${action} ignored`);
    const fork = pr.head.repo?.full_name !== repository.full_name;
    const label = action === "labeled" && "label" in context.payload ? context.payload.label?.name : undefined;
    const outcome = await intake.submit({
      door: "webhook",
      action: "deploy",
      subject,
      actor,
      args: {},
      trigger: `${action === "synchronize" ? "push" : action} by @${actor}`,
      deliveryId: context.id,
      event: {
        action,
        ...(label !== undefined ? { label } : {}),
        head: { sha: pr.head.sha, at: pr.updated_at, fork },
      },
    });
    if (outcome.type === "refused") context.log.info(`${key}: ${outcome.reason}`);
  };
}

/** A check run or workflow run finished: PRs waiting on `trigger.afterChecks` may deploy now. */
export function onCheckCompleted(intake: Intake, appId?: number) {
  return async (context: Context<"check_run.completed"> | Context<"workflow_run.completed">): Promise<void> => {
    const payload = context.payload;
    const run = "check_run" in payload ? payload.check_run : payload.workflow_run;
    const installation = payload.installation;
    if (!installation || run.conclusion !== "success") return;
    // Our own check run finishing says nothing new (another app's check named "preview" still counts).
    if (
      "check_run" in payload &&
      payload.check_run.name === "preview" &&
      (appId === undefined || payload.check_run.app?.id === appId)
    )
      return;
    const name = run.name ?? "";
    for (const pr of run.pull_requests ?? []) {
      if (!pr) continue;
      await intake.submit({
        door: "webhook",
        action: "deploy",
        subject: {
          kind: "pull",
          owner: payload.repository.owner.login,
          repo: payload.repository.name,
          number: pr.number,
          installationId: installation.id,
        },
        actor: "github",
        args: {},
        trigger: `"${name}" succeeded`,
        deliveryId: `${context.id}:${pr.number}`,
        event: { checkName: name },
      });
    }
  };
}
