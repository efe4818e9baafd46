import { describe, expect, it } from "@jest/globals";
import { dryRunProblem } from "../../../../src/services/preview/deploy/steps/dry-run-problem.js";
import type { DryRunAnswer } from "../../../../src/services/shared/preview.js";

const ref = { apiVersion: "example.com/v1", kind: "Widget", namespace: "pr-1", name: "w" };
const answer = (status: number, reason: string, message: string): DryRunAnswer => ({
  ref,
  outcome: "refused",
  status,
  reason,
  message,
  warnings: [],
});
const WHO = 'Widget "w" (deploy/w.yaml, document 1)';

describe("a refusal of the server-side dry run, as the preflight says it", () => {
  it("RBAC: names the resource and group, the verbs to grant and the alternative", () => {
    expect(
      dryRunProblem(
        WHO,
        answer(
          403,
          "Forbidden",
          'widgets.example.com "w" is forbidden: User "system:serviceaccount:preview-bot:preview-bot" cannot patch resource "widgets" in API group "example.com" in the namespace "pr-1"',
        ),
      ),
    ).toBe(
      'Widget "w" (deploy/w.yaml, document 1): 403 Forbidden: widgets.example.com "w" is forbidden: User "system:serviceaccount:preview-bot:preview-bot" cannot patch resource "widgets" in API group "example.com" in the namespace "pr-1". To fix: preview-bot\'s RBAC does not grant widgets.example.com: ask preview-bot\'s operator to grant get, list, create, patch, delete on it in ClusterRole preview-bot-previews, or leave the object out (manifests.exclude in .github/preview.yml)',
    );
  });

  it("a core-group resource is named without a group; a quota, Pod Security, a missing kind and a schema error each get their fix", () => {
    const say = (status: number, reason: string, message: string) =>
      dryRunProblem(WHO, answer(status, reason, message)).split(". To fix: ")[1];
    expect(say(403, "Forbidden", 'cannot patch resource "pods" in API group "" in the namespace "x"')).toMatch(
      /^preview-bot's RBAC does not grant pods: /,
    );
    expect(say(403, "Forbidden", "exceeded quota: preview-bot-guardrails, requested: requests.storage=5Gi")).toMatch(
      /raise guardrails\.quota in \.github\/preview\.yml/,
    );
    expect(say(403, "Forbidden", 'pods "p" is forbidden: violates PodSecurity "baseline:latest": privileged')).toMatch(
      /securityContext/,
    );
    expect(say(404, "NotFound", "the cluster does not serve example.com/v1 Widget (no such kind)")).toMatch(
      /install its CustomResourceDefinition/,
    );
    // A built-in kind at an API version Kubernetes removed is no missing CRD: the fix is the apiVersion to write.
    expect(
      say(
        404,
        "NotFound",
        "the cluster does not serve autoscaling/v2beta2 HorizontalPodAutoscaler (no such kind in its API discovery: a missing CRD?)",
      ),
    ).toBe(
      "autoscaling/v2beta2 HorizontalPodAutoscaler was removed in Kubernetes 1.26 (no cluster preview-bot supports serves it): write apiVersion: autoscaling/v2",
    );
    expect(say(422, "Invalid", 'Deployment.apps "web" is invalid: spec.selector: Invalid value')).toBe(
      "fix the field(s) the API server names in the manifest",
    );
  });

  it("says only what the server said when it knows no fix (a webhook's own refusal)", () => {
    expect(dryRunProblem(WHO, answer(500, "InternalError", "admission webhook denied the request"))).toBe(
      `${WHO}: 500 InternalError: admission webhook denied the request`,
    );
  });
});
