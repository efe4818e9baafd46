/**
 * The Probot app function: which GitHub events go to which door. Wiring only — the doors are in src/handlers/; they
 * hand requests to the intake (src/intake/), which puts jobs on the queue.
 */
import type { ApplicationFunction, Probot } from "probot";
import type { Intake } from "./intake/gate.js";
import { onIssueComment } from "./handlers/issue-comment.js";
import { onCheckCompleted, onPullRequest } from "./handlers/pull-request.js";
import type { Queue } from "./services/jobs/queue.js";

export interface AppDoors {
  /** Automatic events (pull_request, check completions) and the sweeper's requests. */
  intake: Intake;
  /** PR comments → a `comment` job (the gate runs there, off the request). */
  queue: Pick<Queue, "enqueue">;
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
      onPullRequest(doors.intake),
    );
    app.on("issue_comment.created", onIssueComment(doors.queue));
    app.on(["check_run.completed", "workflow_run.completed"], onCheckCompleted(doors.intake, doors.appId));
  };
}
