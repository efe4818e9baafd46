/**
 * The Probot app function: which GitHub events go to which door. Wiring only — the doors are in src/handlers/, the
 * work in the runner behind the queue (src/deps.ts wires those).
 */
import type { ApplicationFunction, Probot } from "probot";
import { onIssueComment, type EnqueueComment } from "./handlers/issue-comment.js";
import { onCheckCompleted, onPullRequest, type Enqueue } from "./handlers/pull-request.js";
import type { HeadLog } from "./services/github/head-log.js";

export interface AppDoors {
  /** Automatic events (pull_request, check completions) → keyed jobs. */
  enqueue: Enqueue;
  /** PR comments → a `comment` job (authorized, answered and dispatched there). */
  enqueueComment: EnqueueComment;
  /** Where fork PR heads are recorded with their time (the reviewed-commit check). */
  heads: HeadLog;
  /** The GitHub App's id: its own check runs are not a trigger. */
  appId?: number;
}

export function previewBot(doors: AppDoors): ApplicationFunction {
  return (app: Probot) => {
    app.on(
      [
        "pull_request.opened",
        "pull_request.reopened",
        "pull_request.synchronize",
        "pull_request.ready_for_review",
        "pull_request.labeled",
        "pull_request.closed",
      ],
      onPullRequest(doors.enqueue, doors.heads),
    );
    app.on("issue_comment.created", onIssueComment(doors.enqueueComment));
    app.on(["check_run.completed", "workflow_run.completed"], onCheckCompleted(doors.enqueue, doors.appId));
  };
}
