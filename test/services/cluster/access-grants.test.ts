/**
 * The ReferenceGrants protected Gateway API previews need in the bot's own namespace (access-grants.ts), on the real
 * control plane (Gateway API's CRDs installed): applied for the preview, removed when it no longer needs them,
 * without touching another preview's grant or one the bot did not make; anything else is refused.
 */
import { expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { CoreV1Api, KubernetesObjectApi } from "@kubernetes/client-node";
import { createLogger } from "../../../src/logger.js";
import { createAccessGrants } from "../../../src/services/cluster/access-grants.js";
import { botReferenceGrant } from "../../../src/services/preview/render/preview-access.js";
import { ownershipLabels } from "../../../src/services/preview/naming.js";
import { describeWithRealCluster } from "../../support/kube-real/index.js";
import { until } from "../../support/wait.js";

describeWithRealCluster("a protected preview's grants in the bot's namespace", (real) => {
  const run = randomBytes(3).toString("hex");
  const botNs = `bot-${run}`;
  const service = { namespace: botNs, name: "preview-bot", port: 80 };
  const labels = (n: number) => ownershipLabels("acme", `web-${run}`, n);
  const selector = labels;
  const grant = (n: number) =>
    botReferenceGrant(
      { botService: service },
      `web-pr-${n}-${run}`,
      { group: "gateway.networking.k8s.io", kind: "HTTPRoute" },
      labels(n),
    );
  const names = async () => {
    const objects = real().kubeConfig().makeApiClient(KubernetesObjectApi);
    const list = await objects.list("gateway.networking.k8s.io/v1beta1", "ReferenceGrant", botNs);
    return list.items.map((g) => g.metadata?.name).sort();
  };

  it("applies the preview's grant, then removes only its own when it needs none", async () => {
    const kc = real().kubeConfig();
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: botNs } } });
    // A control plane that has just installed the CRDs answers 429 (storage initializing) for a moment.
    await until("ReferenceGrants to be served", () =>
      names().then(
        () => true,
        () => undefined,
      ),
    );
    const grants = createAccessGrants({ kubeConfig: kc, namespace: botNs, logger: createLogger({ level: "silent" }) });
    expect(await grants.sync(selector(1), [grant(1)])).toEqual({
      applied: [`ReferenceGrant "${botNs}/preview-access-web-pr-1-${run}"`],
      deleted: [],
    });
    await grants.sync(selector(2), [grant(2)]);
    // One the bot did not make, with the same name pattern but without its label.
    const unowned = { ...grant(3), metadata: { ...grant(3).metadata, labels: {} } };
    await kc.makeApiClient(KubernetesObjectApi).create(unowned);
    expect(await names()).toEqual([1, 2, 3].map((n) => `preview-access-web-pr-${n}-${run}`));

    // Applying again is a no-op; syncing preview 1 to none removes its grant only.
    await grants.sync(selector(1), [grant(1)]);
    expect(await grants.sync(selector(1), [])).toEqual({
      applied: [],
      deleted: [`ReferenceGrant "${botNs}/preview-access-web-pr-1-${run}"`],
    });
    expect(await names()).toEqual([2, 3].map((n) => `preview-access-web-pr-${n}-${run}`));
  });

  it("refuses anything but this preview's ReferenceGrants in the bot's namespace", async () => {
    const grants = createAccessGrants({
      kubeConfig: real().kubeConfig(),
      namespace: botNs,
      logger: createLogger({ level: "silent" }),
    });
    const elsewhere = { ...grant(4), metadata: { ...grant(4).metadata, namespace: "default" } };
    const other = { ...grant(4), metadata: { ...grant(4).metadata, labels: labels(5) } };
    const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "x", namespace: botNs, labels: labels(4) } };
    for (const bad of [elsewhere, other, secret])
      await expect(grants.sync(selector(4), [bad])).rejects.toThrow(/only this preview's ReferenceGrants/);
    expect(await names()).not.toContain(`preview-access-web-pr-4-${run}`);
  });
});
