/**
 * When an automatic event should deploy, per `trigger` in .github/preview.yml. Pure: the runner gathers the facts.
 */
import type { PreviewConfig } from "../../config.js";

export interface TriggerFacts {
  source: "webhook" | "comment" | "slack" | "sweeper";
  action: "deploy" | "redeploy";
  fork: boolean;
  draft: boolean;
  labels: string[];
  /** Conclusions of the head commit's check runs and workflow runs by name (`success`, `failure`, `pending`, ...). */
  checks: Record<string, string>;
}

export type TriggerDecision = { deploy: true } | { deploy: false; reason: string; waiting?: boolean };

export function decideTrigger(config: PreviewConfig, facts: TriggerFacts): TriggerDecision {
  const manual = facts.source === "comment" || facts.source === "slack";
  // A person with the right permission asked (authorization happened at the door): run whatever the policy.
  if (manual) return { deploy: true };
  if (facts.fork)
    return {
      deploy: false,
      reason: "pull requests from forks deploy only when a maintainer comments `/preview deploy`",
    };
  const { trigger } = config;
  if (trigger.on === "command")
    return { deploy: false, reason: "this repository deploys previews only on `/preview deploy`" };
  if (trigger.on === "label" && !facts.labels.includes(trigger.label))
    return { deploy: false, reason: `waiting for the "${trigger.label}" label` };
  if (facts.draft && !trigger.drafts)
    return { deploy: false, reason: "draft pull requests are not deployed automatically (trigger.drafts: false)" };
  for (const name of trigger.afterChecks) {
    const conclusion = facts.checks[name];
    if (
      conclusion === undefined ||
      conclusion === "pending" ||
      conclusion === "queued" ||
      conclusion === "in_progress"
    ) {
      return { deploy: false, reason: `waiting for "${name}" to succeed on this commit`, waiting: true };
    }
    if (conclusion !== "success") return { deploy: false, reason: `"${name}" concluded ${conclusion} on this commit` };
  }
  return { deploy: true };
}
