/**
 * What the page and the sign-in read (page-reads.ts, pod-logs.ts), from the fake API server through the real Cluster
 * client: previews from their namespaces, with access, last run and database; the preview a host serves and its
 * deploy's bypass token (registered for redaction); how often the namespaces are listed; recent logs capped by the
 * API server and redacted.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createLogger, redactText, registerSecret } from "../../../src/logger.js";
import { createCluster } from "../../../src/services/cluster/cluster.js";
import { createPodLogReader, PAGE_LOG_BYTES } from "../../../src/services/cluster/pod-logs.js";
import { createPageReads } from "../../../src/services/preview/page-reads.js";
import { deriveBypassToken } from "../../../src/services/shared/bypass-token.js";
import type { PagePreview } from "../../../src/services/shared/page-data.js";
import type { Cluster } from "../../../src/services/shared/preview.js";
import { startFakeKube, type FakeKube } from "../../support/fake-kube/index.js";
import { seedPreview, type SeededPreview } from "../../support/page-cluster.js";
import { CANARY, samplePreviews } from "../../support/page-sample.js";

let fake: FakeKube;
let cluster: Cluster;
let listings = 0;
let clock = 1_800_000_000_000;
const seeded = new Map<string, SeededPreview>();
const samples = samplePreviews(Date.now(), 4, "previews.test");
const SECRET = "reads-secret-0123456789abcdefghijklmnop";

const reads = () =>
  createPageReads({
    cluster: {
      listNamespaces: (s) => {
        listings++;
        return cluster.listNamespaces(s);
      },
    },
    logs: createPodLogReader({ kubeConfig: fake.kubeConfig() }),
    databases: { list: async () => [{ key: samples[0]!.key, database: "preview_web_pr_40" }] },
    bypassToken: (ns, nonce) => deriveBypassToken(SECRET, ns, nonce),
    now: () => clock,
  });

beforeAll(async () => {
  registerSecret(CANARY);
  fake = await startFakeKube({ namespaceFinalizeMs: 30 });
  cluster = createCluster({ kubeConfig: fake.kubeConfig(), logger: createLogger({ level: "silent" }) });
  for (const p of samples) seeded.set(p.key, seedPreview(fake, { ...p, access: "github" }));
  // A namespace of another owner's making, and one claiming a host a preview serves: neither is believed.
  fake.seed({ apiVersion: "v1", kind: "Namespace", metadata: { name: "someone-elses", labels: {} } });
});

afterAll(async () => {
  await fake?.stop();
});

describe("the previews the page lists", () => {
  it("come from the bot's namespaces with their state, access, last deploy, creation time and database", async () => {
    const list = await reads().data.previews();
    expect(list.map((p) => p.key).sort()).toEqual(samples.map((p) => p.key).sort());
    const first = list.find((p) => p.key === samples[0]!.key)!;
    expect(first).toMatchObject({
      owner: samples[0]!.owner,
      repo: samples[0]!.repo,
      state: samples[0]!.state,
      access: "github",
      url: samples[0]!.url,
      database: "preview_web_pr_40",
      createdAt: samples[0]!.createdAt,
    });
    expect(first.lastDeploy?.steps.map((s) => s.name)).toEqual(samples[0]!.lastDeploy!.steps.map((s) => s.name));
    const failed = list.find((p) => p.state === "failed") as PagePreview & { diagnosis?: string };
    expect(failed.diagnosis).toContain("ImagePullBackOff");
    expect(failed.diagnosis).not.toContain(CANARY);
  });
});

describe("the preview a host serves", () => {
  it("is found by its recorded hosts, with this deploy's bypass token, which the logger then redacts", async () => {
    const p = samples[1]!;
    const host = new URL(p.url!).hostname;
    const found = await reads().previewForHost(host.toUpperCase());
    const { namespace, nonce } = seeded.get(p.key)!;
    expect(found).toEqual({
      owner: p.owner,
      repo: p.repo,
      number: p.number,
      access: "github",
      bypassToken: deriveBypassToken(SECRET, namespace, nonce!),
    });
    expect(redactText(`token ${found!.bypassToken}`)).toBe("token [REDACTED]");
    expect(await reads().previewForHost("nowhere.previews.test")).toBeUndefined();
  });

  it("answers for neither preview when two claim one host", async () => {
    const p = samples[2]!;
    seedPreview(fake, { ...p, key: "impostor/x#1", owner: "impostor", repo: "x", number: 1, namespace: "x-pr-1" });
    expect(await reads().previewForHost(new URL(p.url!).hostname)).toBeUndefined();
    await cluster.deleteNamespace("x-pr-1", { waitMs: 30_000 });
  });

  it("lists the namespaces once for a while, and again for an unknown host at most once a second", async () => {
    const r = reads();
    const host = new URL(samples[3]!.url!).hostname;
    listings = 0;
    for (let i = 0; i < 20; i++) await r.previewForHost(host);
    expect(listings).toBe(1);
    for (let i = 0; i < 20; i++) await r.previewForHost(`unknown-${i}.previews.test`, { fresh: true });
    expect(listings).toBe(1); // the listing is younger than a second
    clock += 1_500;
    for (let i = 0; i < 20; i++) await r.previewForHost(`unknown-${i}.previews.test`, { fresh: true });
    expect(listings).toBe(2);
    clock += 6_000;
    await r.previewForHost(host);
    expect(listings).toBe(3);
  });

  it("treats a namespace without an access record (deployed before the sign-in existed) as public", async () => {
    const p = samples[0]!;
    const { namespace } = seeded.get(p.key)!;
    const ns = fake.get("v1", "Namespace", undefined, namespace)!;
    const annotations = { ...ns.metadata.annotations };
    delete annotations["preview-bot.dev/access"];
    fake.seed({ ...ns, metadata: { ...ns.metadata, annotations } });
    expect(await reads().previewForHost(new URL(p.url!).hostname)).toMatchObject({ access: "public" });
    expect((await reads().previewForHost(new URL(p.url!).hostname))?.bypassToken).toBeUndefined();
    seedPreview(fake, { ...p, access: "github" });
  });
});

describe("recent logs", () => {
  it("are each container's tail, cut by the API server at the byte limit, and redacted", async () => {
    const p = samples[3]!;
    const big = `${"x".repeat(400)}\n`.repeat(1000); // its last 200 lines: 80 KB
    seedPreview(fake, { ...p, access: "github" }, [
      { pod: "web-1", container: "web", text: `listening\npassword=${CANARY}\n` },
      { pod: "worker-1", container: "worker", text: big },
    ]);
    const logs = await reads().data.logs({ owner: p.owner, repo: p.repo, number: p.number });
    const web = logs.find((l) => l.container === "web")!;
    expect(web.text).toBe("listening\npassword=[REDACTED]\n");
    expect(web.truncated).toBeUndefined();
    const worker = logs.find((l) => l.container === "worker")!;
    expect(worker.truncated).toBe(true);
    expect(Buffer.byteLength(worker.text)).toBeLessThanOrEqual(PAGE_LOG_BYTES);
  });

  it("are none for a namespace the bot does not own", async () => {
    fake.seed({ apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "someone-elses" }, spec: {} });
    expect(await createPodLogReader({ kubeConfig: fake.kubeConfig() }).recent("someone-elses")).toEqual([]);
    expect(await createPodLogReader({ kubeConfig: fake.kubeConfig() }).recent("absent")).toEqual([]);
  });
});
