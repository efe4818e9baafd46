/**
 * `pull_request` events → one keyed job. Guard clauses only; the runner decides the rest with the PR's current
 * state (trigger policy, config, newest head commit). The head of a fork PR is recorded with the event's time (the
 * head log), so a maintainer's `/preview deploy` can be checked against a push that raced it.
 */
import type { Context } from "probot";
import type { HeadLog } from "../services/github/head-log.js";
import type { PreviewJob } from "../services/shared/dispatch.js";

export type Enqueue = (job: PreviewJob, deliveryId: string) => Promise<void>;

const DEPLOY_ACTIONS = new Set(["opened", "reopened", "synchronize", "ready_for_review", "labeled"]);
const HEAD_ACTIONS = new Set(["opened", "reopened", "synchronize"]);

export function onPullRequest(enqueue: Enqueue, heads?: HeadLog) {
  return async (context: Context<"pull_request">): Promise<void> => {
    const { action, pull_request: pr, repository } = context.payload;
    const installation = "installation" in context.payload ? context.payload.installation : undefined;
    const actor = context.payload.sender?.login ?? "unknown";
    const key = `${repository.full_name}#${pr.number}`;
    if (!installation) return context.log.debug(`${key}: event without installation, ignored`);
    const base = {
      installationId: installation.id,
      owner: repository.owner.login,
      repo: repository.name,
      number: pr.number,
    };
    if (action === "closed") {
      await enqueue(
        { ...base, action: "destroy", source: "webhook", trigger: `${pr.merged ? "merge" : "close"} by @${actor}` },
        context.id,
      );
      return;
    }
    if (!DEPLOY_ACTIONS.has(action)) return context.log.debug(`${key}: action ${action} ignored`);
    const fork = pr.head.repo?.full_name !== repository.full_name;
    if (fork && heads && HEAD_ACTIONS.has(action))
      await heads.record(`${repository.owner.login}/${repository.name}#${pr.number}`, pr.head.sha, pr.updated_at);
    if (fork && action !== "opened") {
      // Only the opening of a fork PR goes on (the runner tells the PR how a maintainer can deploy it).
      return context.log.info(`${key}: pull request from a fork; deploys only on a maintainer's /preview deploy`);
    }
    const labeled = action === "labeled" && "label" in context.payload ? context.payload.label?.name : undefined;
    await enqueue(
      {
        ...base,
        action: "deploy",
        source: "webhook",
        event: action,
        trigger: `${action === "synchronize" ? "push" : action} by @${actor}`,
        ...(labeled ? { labeled } : {}),
      },
      context.id,
    );
  };
}

/** A check run or workflow run finished: PRs waiting on `trigger.afterChecks` may deploy now. */
export function onCheckCompleted(enqueue: Enqueue, appId?: number) {
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
      await enqueue(
        {
          installationId: installation.id,
          owner: payload.repository.owner.login,
          repo: payload.repository.name,
          number: pr.number,
          action: "deploy",
          source: "webhook",
          trigger: `"${name}" succeeded`,
          checkName: name,
        },
        `${context.id}:${pr.number}`,
      );
    }
  };
}
