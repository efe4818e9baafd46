/**
 * The Probot app function: which GitHub events go to which door. Wiring only — the doors are in src/handlers/, the
 * work in the runner behind the queue (src/deps.ts wires those).
 */
import type { ApplicationFunction, Probot } from "probot";
import { onIssueComment } from "./handlers/issue-comment.js";
import { onCheckCompleted, onPullRequest, type Enqueue } from "./handlers/pull-request.js";
import type { Dispatcher } from "./services/shared/dispatch.js";

export interface AppDoors {
  /** Automatic events (pull_request, check completions) → keyed jobs. */
  enqueue: Enqueue;
  /** Commands (PR comments) → the same jobs, after parsing and authorization. */
  dispatcher: Dispatcher;
}

export function previewBot(doors: AppDoors): ApplicationFunction {
  return (app: Probot) => {
    app.on(
      ["pull_request.opened", "pull_request.reopened", "pull_request.synchronize", "pull_request.ready_for_review", "pull_request.labeled", "pull_request.closed"],
      onPullRequest(doors.enqueue),
    );
    app.on("issue_comment.created", onIssueComment(doors.dispatcher));
    app.on(["check_run.completed", "workflow_run.completed"], onCheckCompleted(doors.enqueue));
  };
}
