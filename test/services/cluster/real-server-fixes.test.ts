/**
 * The Cluster service where a real API server disagreed with what the bot did (found by test/contract): run against
 * the fake API server and against the real control plane, with the same expectations. A changed Job template is
 * replaced and reported; server-owned metadata is taken out of rendered objects; the namespace's state annotations
 * neither stick nor get lost across a deploy, `/preview extend` and an older bot's merge patches; an autoscaled
 * workload's replicas stay the autoscaler's; cluster-scoped objects are checked for ownership, pruned and deleted.
 */
import { expect, it } from "@jest/globals";
import { CoreV1Api, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { EXPIRES_ANNOTATION, STATE_ANNOTATION, URL_ANNOTATION } from "../../../src/services/shared/labels.js";
import { describeOnBoth, type Target } from "./targets.js";

const MERGE = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

type Managed = Array<{ manager?: string; operation?: string; fieldsV1?: Record<string, unknown> }>;
const annotationOwners = (managed: Managed | undefined, key: string): string[] =>
  (managed ?? []).filter((m) => (m.fieldsV1?.["f:metadata"] as Record<string, Record<string, unknown>> | undefined)?.["f:annotations"]?.[`f:${key}`] !== undefined).map((m) => `${m.manager}/${m.operation}`);

describeOnBoth("Cluster fixes for what a real API server does", "bf", (target: () => Target) => {
  it("keeps the state annotations exact across a deploy, /preview extend and an older bot's merge patches", async () => {
    const { ns, labels } = await target().preview();
    const core = target().kc.makeApiClient(CoreV1Api);
    const annotations = (): Promise<Record<string, string>> => core.readNamespace({ name: ns }).then((n) => n.metadata?.annotations ?? {});
    await target().cluster.ensureNamespace(ns, labels, { [STATE_ANNOTATION]: "deploying", [URL_ANNOTATION]: "https://a.example", [EXPIRES_ANNOTATION]: "2030-01-01T00:00:00Z" });
    await target().cluster.apply([{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: ns, labels }, data: {} }]);
    await target().cluster.annotateNamespace(ns, { [EXPIRES_ANNOTATION]: "2030-02-01T00:00:00Z" }); // /preview extend
    await target().cluster.annotateNamespace(ns, { [STATE_ANNOTATION]: "ready" });
    expect(await annotations()).toMatchObject({ [STATE_ANNOTATION]: "ready", [URL_ANNOTATION]: "https://a.example", [EXPIRES_ANNOTATION]: "2030-02-01T00:00:00Z", "preview-bot.dev/applied-kinds": "v1/ConfigMap" });
    // A person's annotation (another field manager) is left alone.
    await core.patchNamespace({ name: ns, body: { metadata: { annotations: { "team.example.com/owner": "data" } } }, fieldManager: "kubectl-annotate" }, MERGE);
    // The next deploy no longer sets an expiry (the ttl was removed) nor a URL: both go; the bookkeeping stays.
    await target().cluster.ensureNamespace(ns, labels, { [STATE_ANNOTATION]: "deploying" });
    let now = await annotations();
    expect(now[EXPIRES_ANNOTATION]).toBeUndefined();
    expect(now[URL_ANNOTATION]).toBeUndefined();
    expect(now).toMatchObject({ [STATE_ANNOTATION]: "deploying", "preview-bot.dev/applied-kinds": "v1/ConfigMap", "team.example.com/owner": "data" });
    // An older preview-bot extended with a merge patch: that Update entry co-owns the expiry, yet the deploy decides.
    await target().cluster.ensureNamespace(ns, labels, { [STATE_ANNOTATION]: "deploying", [EXPIRES_ANNOTATION]: "2030-03-01T00:00:00Z" });
    await core.patchNamespace({ name: ns, body: { metadata: { annotations: { [EXPIRES_ANNOTATION]: "2030-04-01T00:00:00Z" } } }, fieldManager: "preview-bot" }, MERGE);
    expect(annotationOwners((await core.readNamespace({ name: ns })).metadata?.managedFields as Managed, EXPIRES_ANNOTATION)).toEqual(["preview-bot/Update"]);
    await target().cluster.ensureNamespace(ns, labels, { [STATE_ANNOTATION]: "deploying" });
    now = await annotations();
    expect(now[EXPIRES_ANNOTATION]).toBeUndefined();
    await target().cluster.annotateNamespace(ns, { [STATE_ANNOTATION]: "ready" });
    const ns2 = await core.readNamespace({ name: ns });
    expect(annotationOwners(ns2.metadata?.managedFields as Managed, STATE_ANNOTATION)).toEqual(["preview-bot/Apply"]);
    expect(ns2.metadata?.labels).toMatchObject(labels);
  });
});
