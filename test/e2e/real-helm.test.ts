/**
 * A Helm chart through the bot onto the real control plane: a chart that needs Kubernetes ≥ 1.23 (podinfo's case)
 * renders for the cluster's own version and API versions (discovery through the real API server), and its hooks run
 * as Argo CD runs them: the pre-install migration Job (and a pre-install ConfigMap after it, by weight) applied and
 * finished before the Deployment exists, the post-install Job only once the Deployment is available, deleted when it
 * succeeded (hook-succeeded); the test hook left out, and the check run says so. kwok completes the Jobs' pods (its
 * pod-complete stage) and the real Job controller marks them Complete. The order is read from watch events'
 * resourceVersions: this control plane has one etcd, whose revisions order every write.
 * The second push runs the migration again: `before-hook-creation` (the default) deletes the last one first.
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { AppsV1Api, BatchV1Api, CoreV1Api, Watch, type KubeConfig } from "@kubernetes/client-node";
import { startHarness, pull, prEvent, INSTALLATION, OWNER, REPO, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub } from "../support/github-fake.js";
import { describeWithRealCluster } from "../support/kube-real/index.js";

const ID = randomBytes(3).toString("hex");
const CONFIG = `
manifests: { path: chart }
names: { namespace: "rh-${ID}-{number}" }
health: { timeout: 120s }
`;
const SHA1 = "c1".repeat(20);
const SHA2 = "d2".repeat(20);
const SHA3 = "e3".repeat(20);
const hook = (kind: string, annotations: Record<string, string>) =>
  Object.entries({ "helm.sh/hook": kind, ...annotations })
    .map(([k, v]) => `    "${k}": "${v}"`)
    .join("\n");
const job = (name: string, annotations: string, fail = false) => `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-${name}
  annotations:
${annotations}
spec:
  backoffLimit: 0${fail ? "\n  activeDeadlineSeconds: 2" : ""}
  template:
    spec:
      restartPolicy: Never${fail ? "\n      nodeSelector: { kubernetes.io/os: plan9 }" : ""}
      containers:
        - name: ${name}
          image: ghcr.io/acme/podinfo:{{ .Values.tag }}
          resources: { requests: { cpu: 10m, memory: 16Mi }, limits: { cpu: 50m, memory: 32Mi } }
`;
/** The chart at `tag`; `failing`: a migration that cannot finish (no node fits, a 2 s deadline), deleted when it fails. */
const chart = (tag: string, failing = false): Record<string, string> => ({
  "chart/Chart.yaml": 'apiVersion: v2\nname: podinfo\nversion: 6.7.0\nkubeVersion: ">=1.23.0-0"\n',
  "chart/values.yaml": `tag: "${tag}"\n`,
  "chart/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: { name: {{ .Release.Name }} }
spec:
  replicas: 1
  selector: { matchLabels: { app: podinfo } }
  template:
    metadata: { labels: { app: podinfo } }
    spec:
      containers:
        - name: podinfo
          image: ghcr.io/acme/podinfo:{{ .Values.tag }}
          resources: { requests: { cpu: 10m, memory: 16Mi }, limits: { cpu: 50m, memory: 32Mi } }
`,
  "chart/templates/capabilities.yaml": `apiVersion: v1
kind: ConfigMap
metadata: { name: {{ .Release.Name }}-capabilities }
data:
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  httproute: {{ .Capabilities.APIVersions.Has "gateway.networking.k8s.io/v1/HTTPRoute" | quote }}
`,
  "chart/templates/migrate.yaml": job(
    "migrate",
    hook("pre-install,pre-upgrade", {
      "helm.sh/hook-weight": "-1",
      ...(failing ? { "helm.sh/hook-delete-policy": "before-hook-creation,hook-failed" } : {}),
    }),
    failing,
  ),
  "chart/templates/seed.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-seed
  annotations:
${hook("pre-install", {})}
data: { seeded: "yes" }
`,
  "chart/templates/notify.yaml": job(
    "notify",
    hook("post-install,post-upgrade", { "helm.sh/hook-delete-policy": "hook-succeeded" }),
  ),
  "chart/templates/tests/test-connection.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test-connection
  annotations:
${hook("test", {})}
spec:
  restartPolicy: Never
  containers: [{ name: wget, image: busybox, command: [wget, "podinfo:9898"] }]
`,
});

interface Seen {
  rv: number;
  what: string;
}

describeWithRealCluster("a Helm chart with hooks, through the bot onto the real control plane", (cluster) => {
  let h: Harness;
  let kc: KubeConfig;
  let gh: ReturnType<typeof fakeGitHub>;
  const number = 100 + Math.floor(Math.random() * 800);
  const ns = `rh-${ID}-${number}`;
  const seen: Seen[] = [];
  const stops: Array<() => void> = [];
  const send = (action: string, sha: string) => {
    gh.state.pulls.set(number, pull({ number, branch: "feat/hooks", sha }));
    return h.send("pull_request", prEvent(action, gh.state.pulls.get(number)!));
  };
  const checkRun = (sha: string) =>
    gh.state.checkRuns.filter((r) => r.head_sha === sha && r.name === "preview").at(-1)!;
  const said = (sha: string) =>
    `${checkRun(sha).output?.summary ?? ""}\n${checkRun(sha).output?.text ?? ""}`.replace(/\\(.)/g, "$1");
  /** The first event (by etcd revision) matching. */
  const first = (re: RegExp) => seen.filter((s) => re.test(s.what)).sort((a, b) => a.rv - b.rv)[0];

  beforeAll(async () => {
    kc = cluster().kubeConfig();
    // Watch Jobs and Deployments of the preview namespace from before it exists, recording each change with its revision.
    const watch = new Watch(kc);
    const record =
      (kind: string) =>
      (type: string, obj: { metadata?: { name?: string; resourceVersion?: string }; status?: any }) => {
        const name = obj.metadata?.name ?? "";
        const rv = Number(obj.metadata?.resourceVersion ?? 0);
        seen.push({ rv, what: `${type} ${kind}/${name}` });
        if (kind === "Job" && obj.status?.conditions?.some((c: any) => c.type === "Complete" && c.status === "True"))
          seen.push({ rv, what: `complete ${kind}/${name}` });
        if (
          kind === "Deployment" &&
          obj.status?.conditions?.some((c: any) => c.type === "Available" && c.status === "True")
        )
          seen.push({ rv, what: `available ${kind}/${name}` });
      };
    for (const [kind, path] of [
      ["Job", `/apis/batch/v1/namespaces/${ns}/jobs`],
      ["Deployment", `/apis/apps/v1/namespaces/${ns}/deployments`],
    ] as const) {
      const ctl = await watch.watch(path, {}, record(kind), () => undefined);
      stops.push(() => ctl.abort());
    }
    h = await startHarness({ kubeConfig: kc, rolloutFailFastMs: 120_000 });
    gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: CONFIG });
    gh.state.tarballs.set(SHA1, await h.tarball(SHA1, chart("1.0.0")));
    gh.state.tarballs.set(SHA2, await h.tarball(SHA2, chart("1.0.1")));
    gh.state.tarballs.set(SHA3, await h.tarball(SHA3, chart("1.0.2", true)));
  }, 60_000);

  afterAll(async () => {
    for (const stop of stops) stop();
    await kc
      ?.makeApiClient(CoreV1Api)
      .deleteNamespace({ name: ns })
      .catch(() => undefined);
    await h?.stop();
  });

  it("opened: renders for the cluster, runs the pre-install hooks to completion before the apply, the post-install hook after the roll-out", async () => {
    expect(await send("opened", SHA1)).toBe(200);
    expect(checkRun(SHA1).conclusion === "success" ? "success" : said(SHA1)).toBe("success");
    const core = kc.makeApiClient(CoreV1Api);
    // Rendered for this control plane (v1.37.x, Gateway API CRDs installed), as the release named after the chart.
    const caps = await core.readNamespacedConfigMap({ name: "podinfo-capabilities", namespace: ns });
    expect(caps.data?.kube).toBe(/^v\d+\.\d+\.\d+/.exec(cluster().version)![0]);
    expect(caps.data?.httproute).toBe("true");
    // The migration finished before the Deployment was created; the seed ConfigMap (weight 0) came after the migration.
    const migrated = first(/^complete Job\/podinfo-migrate$/);
    const created = first(/^ADDED Deployment\/podinfo$/);
    const available = first(/^available Deployment\/podinfo$/);
    const notify = first(/^ADDED Job\/podinfo-notify$/);
    expect([migrated, created, available, notify].every(Boolean)).toBe(true);
    expect(migrated!.rv).toBeLessThan(created!.rv);
    const seed = await core.readNamespacedConfigMap({ name: "podinfo-seed", namespace: ns });
    expect(Number(seed.metadata?.resourceVersion)).toBeGreaterThan(migrated!.rv);
    expect(Number(seed.metadata?.resourceVersion)).toBeLessThan(created!.rv);
    // The post-install Job started only once the Deployment was available, and was deleted once it succeeded.
    expect(notify!.rv).toBeGreaterThan(available!.rv);
    const notified = first(/^complete Job\/podinfo-notify$/);
    const removed = first(/^DELETED Job\/podinfo-notify$/);
    expect(notified && removed && removed.rv > notified.rv).toBe(true);
    await expect(
      kc.makeApiClient(BatchV1Api).readNamespacedJob({ name: "podinfo-notify", namespace: ns }),
    ).rejects.toMatchObject({ code: 404 });
    // The test hook was never applied, and the check run says why.
    await expect(core.readNamespacedPod({ name: "podinfo-test-connection", namespace: ns })).rejects.toMatchObject({
      code: 404,
    });
    const text = said(SHA1);
    expect(text).toContain('left out Pod "podinfo-test-connection"');
    expect(text).toMatch(
      /\| Pre-install hooks \| ✅ \|[^\n]*Job "podinfo-migrate" completed; ConfigMap "podinfo-seed" applied/,
    );
    expect(text).toMatch(
      /\| Post-install hooks \| ✅ \|[^\n]*Job "podinfo-notify" completed \(deleted: its delete policy\)/,
    );
  }, 400_000);

  it("synchronize: the migration runs again (the last one deleted first), then the new version rolls out", async () => {
    const before = await kc.makeApiClient(BatchV1Api).readNamespacedJob({ name: "podinfo-migrate", namespace: ns });
    const mark = Math.max(...seen.map((s) => s.rv));
    expect(await send("synchronize", SHA2)).toBe(200);
    expect(checkRun(SHA2).conclusion === "success" ? "success" : said(SHA2)).toBe("success");
    const after = await kc.makeApiClient(BatchV1Api).readNamespacedJob({ name: "podinfo-migrate", namespace: ns });
    expect(after.metadata?.uid).not.toBe(before.metadata?.uid);
    expect(after.spec?.template.spec?.containers[0]?.image).toBe("ghcr.io/acme/podinfo:1.0.1");
    const later = seen.filter((s) => s.rv > mark).sort((a, b) => a.rv - b.rv);
    const at = (re: RegExp) => later.find((s) => re.test(s.what))?.rv ?? Infinity;
    expect(at(/^DELETED Job\/podinfo-migrate$/)).toBeLessThan(at(/^ADDED Job\/podinfo-migrate$/));
    expect(at(/^complete Job\/podinfo-migrate$/)).toBeLessThan(at(/^MODIFIED Deployment\/podinfo$/));
    const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: "podinfo", namespace: ns });
    expect(d.spec?.template.spec?.containers[0]?.image).toBe("ghcr.io/acme/podinfo:1.0.1");
  }, 400_000);

  it("a migration that fails stops the deploy before the apply, with its diagnosis; hook-failed deletes it", async () => {
    expect(await send("synchronize", SHA3)).toBe(200);
    expect(checkRun(SHA3).conclusion).toBe("failure");
    const text = said(SHA3);
    expect(text).toMatch(/pre-install hook Job "rh-[0-9a-f]+-\d+\/podinfo-migrate" failed: DeadlineExceeded/);
    expect(text).toMatch(
      /\| Pre-install hooks \| ❌ \|[^\n]*Job "podinfo-migrate" failed: DeadlineExceeded[^\n]*\(deleted: its delete policy\) \|/,
    );
    expect(text).toMatch(/event DeadlineExceeded: Job was active longer than specified deadline/);
    expect(text).toMatch(/\| Apply \| ⏭️ \|/);
    await expect(
      kc.makeApiClient(BatchV1Api).readNamespacedJob({ name: "podinfo-migrate", namespace: ns }),
    ).rejects.toMatchObject({ code: 404 });
    // The new version was never applied.
    const d = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: "podinfo", namespace: ns });
    expect(d.spec?.template.spec?.containers[0]?.image).toBe("ghcr.io/acme/podinfo:1.0.1");
  }, 400_000);
});
