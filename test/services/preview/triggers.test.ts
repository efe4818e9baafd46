import { describe, expect, it } from "@jest/globals";
import { parseConfig, type PreviewConfig } from "../../../src/config.js";
import { decideTrigger, type TriggerFacts } from "../../../src/services/preview/triggers.js";

function config(trigger: string): PreviewConfig {
  const r = parseConfig(`manifests: { path: k8s }\n${trigger}`);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.config;
}

const facts = (over: Partial<TriggerFacts> = {}): TriggerFacts => ({
  source: "webhook",
  action: "deploy",
  fork: false,
  draft: false,
  labels: [],
  checks: {},
  ...over,
});

describe("decideTrigger", () => {
  it("deploys a push by default, and always when a person asked (comment or Slack), whatever the policy", () => {
    expect(decideTrigger(config(""), facts())).toEqual({ deploy: true });
    const strict = config("trigger: { on: command, afterChecks: [ci], drafts: false }\n");
    for (const source of ["comment", "slack"] as const) {
      expect(decideTrigger(strict, facts({ source, fork: true, draft: true, checks: { ci: "failure" } }))).toEqual({
        deploy: true,
      });
    }
  });

  it("never deploys a fork PR by itself, from a webhook or a sweep", () => {
    for (const source of ["webhook", "sweeper"] as const) {
      const d = decideTrigger(config(""), facts({ source, fork: true }));
      expect(d).toEqual({
        deploy: false,
        reason: expect.stringContaining("forks deploy only when a maintainer comments"),
      });
    }
  });

  it("on: command waits for /preview deploy", () => {
    expect(decideTrigger(config("trigger: { on: command }\n"), facts())).toEqual({
      deploy: false,
      reason: "this repository deploys previews only on `/preview deploy`",
    });
  });

  it("on: label deploys only with the configured label", () => {
    const c = config("trigger: { on: label, label: show-me }\n");
    expect(decideTrigger(c, facts({ labels: ["preview"] }))).toEqual({
      deploy: false,
      reason: 'waiting for the "show-me" label',
    });
    expect(decideTrigger(c, facts({ labels: ["bug", "show-me"] }))).toEqual({ deploy: true });
    // a label is not needed for on: push
    expect(decideTrigger(config("trigger: { on: push, label: show-me }\n"), facts())).toEqual({ deploy: true });
  });

  it("drafts deploy unless trigger.drafts is false", () => {
    expect(decideTrigger(config(""), facts({ draft: true }))).toEqual({ deploy: true });
    expect(decideTrigger(config("trigger: { drafts: false }\n"), facts({ draft: true }))).toEqual({
      deploy: false,
      reason: expect.stringContaining("trigger.drafts: false"),
    });
    expect(decideTrigger(config("trigger: { drafts: false }\n"), facts({ draft: false }))).toEqual({ deploy: true });
  });

  it("afterChecks: waits while any named check is missing or running, refuses on a failure, deploys when all succeeded", () => {
    const c = config("trigger: { afterChecks: [build, test] }\n");
    for (const state of [undefined, "pending", "queued", "in_progress"]) {
      const checks: Record<string, string> = { build: "success", ...(state ? { test: state } : {}) };
      expect(decideTrigger(c, facts({ checks }))).toEqual({
        deploy: false,
        reason: 'waiting for "test" to succeed on this commit',
        waiting: true,
      });
    }
    expect(decideTrigger(c, facts({ checks: { build: "failure", test: "success" } }))).toEqual({
      deploy: false,
      reason: '"build" concluded failure on this commit',
    });
    expect(decideTrigger(c, facts({ checks: { build: "success", test: "cancelled" } }))).toEqual({
      deploy: false,
      reason: '"test" concluded cancelled on this commit',
    });
    expect(decideTrigger(c, facts({ checks: { build: "success", test: "success", other: "failure" } }))).toEqual({
      deploy: true,
    });
  });
});
