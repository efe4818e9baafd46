/**
 * The Guardrails step's wait for its own RoleBinding: RBAC refusals are retried until the binding is seen (an API
 * server authorizes from a cache), and nothing else is — an admission refusal (a quota, Pod Security, the fence
 * policy) fails at once. The errors are the real client's ApiException, wrapped the way the Cluster wraps them.
 */
import { describe, expect, it } from "@jest/globals";
import { ApiException } from "@kubernetes/client-node";
import { kubeError } from "../../../../../src/services/cluster/kube-errors.js";
import { whileRbacCatchesUp } from "../../../../../src/services/preview/deploy/steps/guardrails.js";

const status = (message: string) =>
  JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", message, reason: "Forbidden", code: 403 });
const rbac = () =>
  kubeError(
    'applying ResourceQuota "pv-1/preview-bot-guardrails"',
    new ApiException(
      403,
      "Forbidden",
      status(
        'resourcequotas "preview-bot-guardrails" is forbidden: User "system:serviceaccount:preview-bot:preview-bot" cannot patch resource "resourcequotas" in API group "" in the namespace "pv-1"',
      ),
      {},
    ),
  );
const admission = () =>
  kubeError(
    'applying Service "pv-1/ssh"',
    new ApiException(
      403,
      "Forbidden",
      status(
        'services "ssh" is forbidden: exceeded quota: preview-bot-guardrails, requested: services.loadbalancers=1',
      ),
      {},
    ),
  );

describe("whileRbacCatchesUp", () => {
  it("retries while RBAC has not seen the new RoleBinding, then goes on", async () => {
    let calls = 0;
    await whileRbacCatchesUp(async () => {
      if (++calls < 3) throw rbac();
      return [];
    });
    expect(calls).toBe(3);
  });

  it("does not retry an admission refusal", async () => {
    let calls = 0;
    await expect(
      whileRbacCatchesUp(async () => {
        calls++;
        throw admission();
      }),
    ).rejects.toThrow("exceeded quota");
    expect(calls).toBe(1);
  });

  it("gives up after its bound with the RBAC error", async () => {
    await expect(whileRbacCatchesUp(async () => Promise.reject(rbac()), undefined, 200)).rejects.toThrow(
      /cannot patch resource "resourcequotas"/,
    );
  });
});
