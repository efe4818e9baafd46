/**
 * App secrets and the pull request's details, through the bot onto the real control plane: a Secret the operator
 * keeps in an allowed namespace is copied into the preview (only the keys asked for, its type kept, the bot's own
 * labels) before the app that reads it is applied; the app's containers carry PREVIEW_PR_NUMBER, PREVIEW_SHA, … ;
 * the value appears in no log line, check run or comment.
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { AppsV1Api, CoreV1Api, Watch, type KubeConfig } from "@kubernetes/client-node";
import { startHarness, pull, prEvent, INSTALLATION, OWNER, REPO, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub } from "../support/github-fake.js";
import { describeWithRealCluster } from "../support/kube-real/index.js";

const ID = randomBytes(3).toString("hex");
const SOURCE = `ops-${ID}`;
const VALUE = `sk_live_${randomBytes(12).toString("hex")}`;
const OTHER = `other_${randomBytes(12).toString("hex")}`;
const CONFIG = `
manifests: { path: deploy }
names: { namespace: "as-${ID}-{number}" }
health: { timeout: 120s }
secrets:
  - { name: stripe, from: ${SOURCE}, keys: [api-key] }
`;
const SHA = "a7".repeat(20);
const APP = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 1
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          image: ghcr.io/acme/web:1.0.0
          env:
            - name: STRIPE_KEY
              valueFrom: { secretKeyRef: { name: stripe, key: api-key } }
          resources: { requests: { cpu: 10m, memory: 16Mi }, limits: { cpu: 50m, memory: 32Mi } }
`;

describeWithRealCluster("app secrets and PR details, through the bot onto the real control plane", (cluster) => {
  let h: Harness;
  let kc: KubeConfig;
  let gh: ReturnType<typeof fakeGitHub>;
  const logLines: string[] = [];
  const number = 100 + Math.floor(Math.random() * 800);
  const ns = `as-${ID}-${number}`;
  /** The revision at which the Deployment was created (one etcd: revisions order every write). */
  let created: number | undefined;
  let stopWatch = () => undefined as void;

  beforeAll(async () => {
    kc = cluster().kubeConfig();
    const ctl = await new Watch(kc).watch(
      `/apis/apps/v1/namespaces/${ns}/deployments`,
      {},
      (type: string, obj: { metadata?: { resourceVersion?: string } }) => {
        if (type === "ADDED") created ??= Number(obj.metadata?.resourceVersion);
      },
      () => undefined,
    );
    stopWatch = () => ctl.abort();
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: SOURCE } } });
    await core.createNamespacedSecret({
      namespace: SOURCE,
      body: {
        metadata: { name: "stripe" },
        type: "Opaque",
        stringData: { "api-key": VALUE, "other-key": OTHER },
      },
    });
    h = await startHarness({
      kubeConfig: kc,
      rolloutFailFastMs: 120_000,
      logLines,
      env: { PREVIEW_SECRET_SOURCES: `${SOURCE}=${OWNER}/${REPO}` },
    });
    gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: CONFIG });
    gh.state.tarballs.set(SHA, await h.tarball(SHA, { "deploy/app.yaml": APP }));
  }, 60_000);

  afterAll(async () => {
    stopWatch();
    const core = kc?.makeApiClient(CoreV1Api);
    for (const name of [ns, SOURCE]) await core?.deleteNamespace({ name }).catch(() => undefined);
    await h?.stop();
  });

  it("copies the allowed Secret's asked-for keys before the app, injects the PR's details, and shows no value", async () => {
    gh.state.pulls.set(number, pull({ number, branch: "feat/pay", sha: SHA }));
    expect(await h.send("pull_request", prEvent("opened", gh.state.pulls.get(number)!))).toBe(200);
    const run = gh.state.checkRuns.filter((r) => r.head_sha === SHA && r.name === "preview").at(-1)!;
    const said = `${run.output?.summary ?? ""}\n${run.output?.text ?? ""}`.replace(/\\(.)/g, "$1");
    expect(run.conclusion === "success" ? "success" : said).toBe("success");

    const core = kc.makeApiClient(CoreV1Api);
    const copy = await core.readNamespacedSecret({ name: "stripe", namespace: ns });
    expect(copy.type).toBe("Opaque");
    expect(Object.keys(copy.data ?? {})).toEqual(["api-key"]);
    expect(Buffer.from(copy.data!["api-key"]!, "base64").toString()).toBe(VALUE);
    expect(copy.metadata?.labels?.["app.kubernetes.io/managed-by"]).toBe("preview-bot");
    expect(copy.metadata?.annotations?.["preview-bot.dev/copied-from"]).toBe(`${SOURCE}/stripe`);
    // Written before the app that reads it.
    expect(created).toBeDefined();
    expect(Number(copy.metadata?.resourceVersion)).toBeLessThan(created!);
    const web = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: "web", namespace: ns });

    const env = web.spec?.template.spec?.containers[0]?.env ?? [];
    expect(env.filter((e) => e.name.startsWith("PREVIEW_") && e.name !== "PREVIEW_URL")).toEqual([
      { name: "PREVIEW_PR_NUMBER", value: String(number) },
      { name: "PREVIEW_BRANCH", value: "feat/pay" },
      { name: "PREVIEW_SHA", value: SHA },
      { name: "PREVIEW_NAMESPACE", value: ns },
      { name: "PREVIEW_REPOSITORY", value: `${OWNER}/${REPO}` },
    ]);
    expect(env[0]).toEqual({ name: "STRIPE_KEY", valueFrom: { secretKeyRef: { name: "stripe", key: "api-key" } } });

    expect(said).toMatch(
      new RegExp(`\\| App secrets \\| ✅ \\|[^\\n]*copied "stripe" \\(1 keys, from ${SOURCE}/stripe\\)`),
    );
    const everything = [said, JSON.stringify(gh.state.comments), logLines.join("\n")].join("\n");
    expect(logLines.length).toBeGreaterThan(0);
    for (const v of [VALUE, OTHER, Buffer.from(VALUE).toString("base64")]) expect(everything).not.toContain(v);
  }, 400_000);
});
