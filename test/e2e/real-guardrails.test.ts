/**
 * The guardrails on a real kube-apiserver, with its real admission chain (Pod Security, ResourceQuota, LimitRanger):
 * the bot runs with deploy/'s RBAC and its own ServiceAccount token (real-rbac-support.ts), pull requests arrive as
 * signed webhooks, and each attack from the security review is tried against a guarded preview namespace. Whatever
 * layer stops it first (the renderer's own checks, the Guardrails step, or the cluster), what must hold is checked
 * on the cluster itself: no privileged pod, no LoadBalancer or NodePort, no more pods than the quota, and the PR's own
 * workloads holding no rights. The same attacks are then made directly against the namespace as cluster admin, to
 * show the cluster refuses them even without the bot's checks.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { AuthorizationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { startHarness, pull, prEvent, webApp, INSTALLATION, OWNER, REPO, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub } from "../support/github-fake.js";
import { apiRequest, describeWithRealCluster } from "../support/kube-real/index.js";
import { ROOT } from "../support/paths.js";
import { adminApply, installFence, looseCrd, until, type InstalledFence } from "./real-rbac-support.js";

const FIXTURES = path.join(ROOT, "test", "fixtures");

const ID = Date.now().toString(36);
const NS = (n: number) => `rg-${ID}-${n}`;
const QUOTA_PODS = 4;
const CONFIG = `
manifests: { path: deploy }
names: { namespace: "rg-${ID}-{number}" }
health: { timeout: 20s }
guardrails:
  quota: { pods: ${QUOTA_PODS} }
`;
const WIDGETS = `widgets${ID}.preflight.example.com`;
/** The quota-heavy fixture's manifests, and a config with the bot's default guardrails. */
const HEAVY_APP = Object.fromEntries(
  readdirSync(path.join(FIXTURES, "quota-heavy-app", "deploy")).map((f) => [
    f,
    readFileSync(path.join(FIXTURES, "quota-heavy-app", "deploy", f), "utf8"),
  ]),
);
const HEAVY_CONFIG = `
manifests: { path: deploy }
names: { namespace: "rg-${ID}-{number}" }
health: { timeout: 3m }
`;
const said = (run: { output?: { summary?: string; text?: string } }): string =>
  `${run.output?.summary ?? ""}\n${run.output?.text ?? ""}`.replace(/\\(.)/g, "$1");

const deployment = (name: string, replicas: number, pod: string): string => `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
${pod}`;
const PRIVILEGED_POD = `      hostNetwork: true
      containers:
        - name: root
          image: alpine:3
          securityContext: { privileged: true }
          volumeMounts: [{ name: host, mountPath: /host }]
      volumes:
        - name: host
          hostPath: { path: / }
`;
const PLAIN_POD = `      containers:
        - name: app
          image: ghcr.io/codertocat/hello:1
`;

describeWithRealCluster("guardrails on a real API server, the bot running with deploy/'s RBAC", (cluster) => {
  let fence: InstalledFence;
  let h: Harness;
  let gh: ReturnType<typeof fakeGitHub>;
  let sha = 0;
  const admin = (method: string, p: string, body?: unknown) =>
    apiRequest(cluster(), cluster().adminToken, method, p, body);
  const items = async (p: string): Promise<Array<Record<string, any>>> =>
    (JSON.parse((await admin("GET", p)).body) as { items: Array<Record<string, any>> }).items;

  /** Open PR `number` with these files under deploy/; returns its check run once the deploy has finished. */
  async function open(number: number, files: Record<string, string>) {
    const head = (++sha).toString(16).padStart(40, "0");
    gh.state.tarballs.set(
      head,
      await h.tarball(head, Object.fromEntries(Object.entries(files).map(([k, v]) => [`deploy/${k}`, v]))),
    );
    gh.state.pulls.set(number, pull({ number, sha: head }));
    expect(await h.send("pull_request", prEvent("opened", gh.state.pulls.get(number)!))).toBe(200);
    return gh.state.checkRuns.filter((r) => r.head_sha === head && r.name === "preview").at(-1)!;
  }

  beforeAll(async () => {
    fence = await installFence(cluster(), `g${ID}`);
    h = await startHarness({ kubeConfig: fence.kubeConfig, env: { ...fence.env, NAMESPACE_DELETE_TIMEOUT: "120" } });
    gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: CONFIG });
  }, 180_000);

  afterAll(async () => {
    await h?.stop();
    for (let n = 1; n <= 11; n++) await admin("DELETE", `/api/v1/namespaces/${NS(n)}`);
    await admin("DELETE", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${WIDGETS}`);
    await fence?.remove();
  });

  describe("an ordinary app", () => {
    it("deploys under Pod Security baseline; containers that set no resources get the LimitRange's defaults", async () => {
      const run = await open(1, { "web.yaml": webApp({ image: "ghcr.io/codertocat/hello:1", service: true }) });
      expect({ conclusion: run.conclusion, detail: run.conclusion === "success" ? "" : said(run) }).toEqual({
        conclusion: "success",
        detail: "",
      });
      const [pod] = await items(`/api/v1/namespaces/${NS(1)}/pods`);
      // CPU is requested, never limited by default (issue 22); memory and ephemeral storage are both.
      expect(pod!.spec.containers[0].resources).toEqual({
        requests: { cpu: "100m", memory: "128Mi", "ephemeral-storage": "100Mi" },
        limits: { memory: "512Mi", "ephemeral-storage": "512Mi" },
      });
      const quota = JSON.parse(
        (await admin("GET", `/api/v1/namespaces/${NS(1)}/resourcequotas/preview-bot-guardrails`)).body,
      );
      expect(quota.status.used).toMatchObject({
        pods: "1",
        "services.loadbalancers": "0",
        "requests.ephemeral-storage": "100Mi",
        "count/deployments.apps": "1",
        "count/configmaps": expect.any(String),
      });
    }, 120_000);

    it("a quota-heavy app (8 small Deployments that set no resources, like bookinfo) deploys healthy with the defaults", async () => {
      gh.state.config = HEAVY_CONFIG;
      try {
        const run = await open(6, HEAVY_APP);
        expect({ conclusion: run.conclusion, detail: run.conclusion === "success" ? "" : said(run) }).toEqual({
          conclusion: "success",
          detail: "",
        });
      } finally {
        gh.state.config = CONFIG;
      }
      const deployments = await items(`/apis/apps/v1/namespaces/${NS(6)}/deployments`);
      expect(
        deployments.map((d) => `${d.metadata.name} ${d.status.readyReplicas ?? 0}/${d.spec.replicas}`).sort(),
      ).toEqual([
        "details-v1 1/1",
        "mongodb-v1 1/1",
        "productpage-v1 1/1",
        "ratings-v1 1/1",
        "ratings-v2 1/1",
        "reviews-v1 1/1",
        "reviews-v2 1/1",
        "reviews-v3 1/1",
      ]);
      // Its emptyDir got a size: it cannot fill the node's disk.
      const pods = await items(`/api/v1/namespaces/${NS(6)}/pods`);
      expect(pods.map((p) => p.spec.volumes.find((v: any) => v.name === "tmp").emptyDir)).toEqual(
        Array(8).fill({ sizeLimit: "512Mi" }),
      );
    }, 240_000);

    it("a ReplicationController app (guestbook-go's shape) deploys with deploy/'s RBAC and its pods become Ready", async () => {
      const rc = (name: string, replicas: number) => `apiVersion: v1
kind: ReplicationController
metadata: { name: ${name} }
spec:
  replicas: ${replicas}
  selector: { app: ${name} }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
        - name: ${name}
          image: ghcr.io/codertocat/${name}:1
`;
      const run = await open(10, { "web.yaml": rc("web", 2), "redis.yaml": rc("redis", 1) });
      expect({ conclusion: run.conclusion, detail: run.conclusion === "success" ? "" : said(run) }).toEqual({
        conclusion: "success",
        detail: "",
      });
      const rcs = await items(`/api/v1/namespaces/${NS(10)}/replicationcontrollers`);
      expect(rcs.map((r) => `${r.metadata.name} ${r.status.readyReplicas ?? 0}/${r.spec.replicas}`).sort()).toEqual([
        "redis 1/1",
        "web 2/2",
      ]);
    }, 120_000);

    it("an app of 11 pods of two containers that set nothing (an app and a sidecar) deploys healthy with the defaults", async () => {
      // The old 1Gi ephemeral-storage default refused the 11th such pod against the 20Gi quota (22 × 1Gi), although
      // the pod quota is 20; the default is now the quota's share of an ordinary pod's container (20Gi / 40).
      const two = `      containers:
        - { name: app, image: ghcr.io/codertocat/hello:1 }
        - { name: proxy, image: ghcr.io/codertocat/hello:1 }
`;
      gh.state.config = HEAVY_CONFIG;
      try {
        const run = await open(11, {
          "app.yaml": [deployment("web", 6, two), deployment("api", 5, two)].join("---\n"),
        });
        expect({ conclusion: run.conclusion, detail: run.conclusion === "success" ? "" : said(run) }).toEqual({
          conclusion: "success",
          detail: "",
        });
      } finally {
        gh.state.config = CONFIG;
      }
      const quota = JSON.parse(
        (await admin("GET", `/api/v1/namespaces/${NS(11)}/resourcequotas/preview-bot-guardrails`)).body,
      );
      expect(quota.status.used).toMatchObject({ pods: "11", "limits.ephemeral-storage": "11Gi" });
    }, 240_000);

    it("runs its code with no Kubernetes rights: the preview's own account cannot read Secrets or remove a guardrail", async () => {
      const token = await cluster().serviceAccountToken(NS(1), "default");
      const authz = cluster().kubeConfigFor(token).makeApiClient(AuthorizationV1Api);
      const can = async (verb: string, resource: string, group = "", namespace = NS(1)) =>
        (
          await authz.createSelfSubjectAccessReview({
            body: { spec: { resourceAttributes: { verb, resource, group, namespace } } },
          })
        ).status?.allowed === true;
      expect({
        readSecrets: await can("get", "secrets"),
        deleteQuota: await can("delete", "resourcequotas"),
        deletePolicy: await can("delete", "networkpolicies", "networking.k8s.io"),
        editBinding: await can("patch", "rolebindings", "rbac.authorization.k8s.io"),
        createPods: await can("create", "pods"),
        kubeSystemSecrets: await can("list", "secrets", "", "kube-system"),
      }).toEqual({
        readSecrets: false,
        deleteQuota: false,
        deletePolicy: false,
        editBinding: false,
        createPods: false,
        kubeSystemSecrets: false,
      });
    });

    it("a ServiceAccount a preview names like the bot's is not the bot: its token holds no rights and the fence is not its", async () => {
      expect(
        (
          await admin("POST", `/api/v1/namespaces/${NS(1)}/serviceaccounts`, {
            metadata: { name: fence.serviceAccount },
          })
        ).status,
      ).toBe(201);
      const token = await cluster().serviceAccountToken(NS(1), fence.serviceAccount);
      const authz = cluster().kubeConfigFor(token).makeApiClient(AuthorizationV1Api);
      const can = async (verb: string, resource: string, group: string, namespace?: string) =>
        (
          await authz.createSelfSubjectAccessReview({
            body: { spec: { resourceAttributes: { verb, resource, group, ...(namespace ? { namespace } : {}) } } },
          })
        ).status?.allowed === true;
      expect({
        createNamespaces: await can("create", "namespaces", ""),
        bindPreviewRole: await can("bind", "clusterroles", "rbac.authorization.k8s.io"),
        kubeSystemSecrets: await can("get", "secrets", "", "kube-system"),
        secretsHere: await can("get", "secrets", "", NS(1)),
      }).toEqual({ createNamespaces: false, bindPreviewRole: false, kubeSystemSecrets: false, secretsHere: false });
    });
  });

  describe("a hostile pull request", () => {
    it("a privileged, hostNetwork, hostPath: / pod never runs", async () => {
      const run = await open(2, { "root.yaml": deployment("root", 1, PRIVILEGED_POD) });
      expect(run.conclusion).toBe("failure");
      expect(await items(`/api/v1/namespaces/${NS(2)}/pods`)).toEqual([]);
      // Where the Deployment got as far as the cluster, Pod Security admission is what refused its pods.
      const sets = await items(`/apis/apps/v1/namespaces/${NS(2)}/replicasets`);
      for (const rs of sets) {
        const failure = await until(`ReplicaSet ${rs.metadata.name} to report its failed pod creation`, async () => {
          const now = JSON.parse(
            (await admin("GET", `/apis/apps/v1/namespaces/${NS(2)}/replicasets/${rs.metadata.name}`)).body,
          );
          return (now.status?.conditions ?? []).find((c: Record<string, string>) => c.type === "ReplicaFailure")
            ?.message as string | undefined;
        });
        expect(failure).toMatch(
          /violates PodSecurity "baseline:latest": host namespaces \(hostNetwork=true\), hostPath volumes \(volume "host"\), privileged/,
        );
      }
    }, 120_000);

    it("a LoadBalancer on port 22 never exists (rewritten to ClusterIP, or refused by the quota)", async () => {
      const lb =
        "apiVersion: v1\nkind: Service\nmetadata: { name: ssh }\nspec:\n  type: LoadBalancer\n  selector: { app: web }\n  ports: [{ port: 22 }]\n";
      const run = await open(3, { "web.yaml": webApp({ image: "ghcr.io/codertocat/hello:1" }), "ssh.yaml": lb });
      expect(said(run)).toMatch(
        /exceeded quota: preview-bot-guardrails, requested: services\.loadbalancers=1|type LoadBalancer → ClusterIP/,
      );
      const types = (await items(`/api/v1/namespaces/${NS(3)}/services`)).map((s) => s.spec.type);
      expect(types.filter((t) => t === "LoadBalancer" || t === "NodePort")).toEqual([]);
    }, 120_000);

    it("a pod that would outrank or out-place its neighbours never runs: refused at render with the reasons", async () => {
      const pod = `      priorityClassName: system-node-critical
      tolerations: [{ operator: Exists }]
      nodeSelector: { node-role.kubernetes.io/control-plane: "" }
      containers:
        - name: app
          image: ghcr.io/codertocat/hello:1
`;
      const run = await open(7, { "critical.yaml": deployment("critical", 1, pod) });
      expect(run.conclusion).toBe("failure");
      expect(said(run)).toContain(
        `Deployment "critical": priorityClassName "system-node-critical" is refused (a preview runs at the cluster's default priority, so it cannot preempt its neighbours; allowed: none; the operator's PREVIEW_PRIORITY_CLASSES)`,
      );
      expect(said(run)).toContain(
        `Deployment "critical": toleration of every taint (operator Exists, no key) is refused`,
      );
      expect(said(run)).toContain(
        `Deployment "critical": nodeSelector node-role.kubernetes.io/control-plane= is refused`,
      );
      expect(await items(`/apis/apps/v1/namespaces/${NS(7)}/deployments`)).toEqual([]);
    }, 120_000);

    it(`5000 replicas never become more than the quota's ${QUOTA_PODS} pods`, async () => {
      const run = await open(4, { "swarm.yaml": deployment("swarm", 5000, PLAIN_POD) });
      expect(run.conclusion).toBe("failure");
      const sets = await items(`/apis/apps/v1/namespaces/${NS(4)}/replicasets`);
      for (const rs of sets) {
        await until(`ReplicaSet ${rs.metadata.name} to hit the quota`, async () => {
          const now = JSON.parse(
            (await admin("GET", `/apis/apps/v1/namespaces/${NS(4)}/replicasets/${rs.metadata.name}`)).body,
          );
          const message = (now.status?.conditions ?? []).find(
            (c: Record<string, string>) => c.type === "ReplicaFailure",
          )?.message as string | undefined;
          return message?.includes("exceeded quota: preview-bot-guardrails") ? true : undefined;
        });
      }
      expect((await items(`/api/v1/namespaces/${NS(4)}/pods`)).length).toBeLessThanOrEqual(QUOTA_PODS);
    }, 120_000);
  });

  describe("the preflight: what would be refused is said before anything is applied", () => {
    const status = async (p: string) => (await admin("GET", p)).status;
    const steps = (run: { output?: { summary?: string } }) =>
      Object.fromEntries(
        [...(run.output?.summary ?? "").matchAll(/^\| ([^|]+?) \| (\S+) \|/gm)].map((m) => [m[1], m[2]]),
      );

    it("replicas over the quota: refused at the Preflight, naming the workload, its file and what to set; no namespace", async () => {
      const run = await open(5, { "crowd.yaml": deployment("crowd", QUOTA_PODS + 1, PLAIN_POD) });
      expect(run.conclusion).toBe("failure");
      expect(said(run)).toContain(
        "The preflight refused the deploy (1 problem); nothing of the pull request was applied:",
      );
      expect(said(run)).toContain(
        `- ❌ 1 Deployment asks 5 of pods; ResourceQuota "preview-bot-guardrails" allows 4: Deployment "crowd" (deploy/crowd.yaml, document 1) 5 × 1. Set fewer replicas, or raise guardrails.quota.pods in .github/preview.yml (now 4; preview-bot allows up to 20)`,
      );
      expect(steps(run)).toMatchObject({ Preflight: "❌", Namespace: "⏭️", Apply: "⏭️", "Roll out": "⏭️" });
      expect(await status(`/api/v1/namespaces/${NS(5)}`)).toBe(404);
    }, 120_000);

    it("small containers that set no ephemeral-storage limit, over the quota by the LimitRange's default: refused at once, nothing applied", async () => {
      // 3 pods of 16 containers that set no ephemeral storage: 48 × the default 512Mi ephemeral-storage limit, over
      // the quota's 20Gi (the CPU they request and the memory limits they set fit).
      const sixteen = `      containers:
${Array.from({ length: 16 }, (_, i) => `        - { name: c${i}, image: ghcr.io/codertocat/hello:1, resources: { requests: { cpu: 10m, memory: 32Mi }, limits: { memory: 64Mi } } }\n`).join("")}`;
      const app = ["api", "worker", "front"].map((n) => deployment(n, 1, sixteen)).join("---\n");
      const run = await open(8, { "app.yaml": app });
      expect(run.conclusion).toBe("failure");
      expect(said(run)).toContain(
        `- ❌ 3 Deployments ask 24Gi of limits.ephemeral-storage; ResourceQuota "preview-bot-guardrails" allows 20Gi: Deployment "api" (deploy/app.yaml, document 1) 1 × 8Gi (a LimitRange default), Deployment "worker" (deploy/app.yaml, document 2) 1 × 8Gi (a LimitRange default), Deployment "front" (deploy/app.yaml, document 3) 1 × 8Gi (a LimitRange default). Set lower resources.limits.ephemeral-storage, or ask preview-bot's operator to raise PREVIEW_QUOTA_EPHEMERAL_STORAGE`,
      );
      expect(steps(run)).toMatchObject({ Preflight: "❌", Database: "⏭️", Namespace: "⏭️", Apply: "⏭️" });
      expect(await status(`/api/v1/namespaces/${NS(8)}`)).toBe(404);
    }, 120_000);

    it("what only the API server knows (a kind the bot's RBAC does not grant, an invalid object): refused by the dry run, every object listed with its file, none of them written", async () => {
      await adminApply(cluster(), looseCrd(`preflight.example.com`, `Widget${ID}`, `widgets${ID}`));
      await until(`CRD ${WIDGETS} to be served`, async () => {
        const r = await admin("GET", `/apis/preflight.example.com/v1/widgets${ID}`);
        return r.status === 200 ? true : undefined;
      });
      const widget = `apiVersion: preflight.example.com/v1\nkind: Widget${ID}\nmetadata: { name: w }\nspec: { size: 3 }\n`;
      const broken = deployment("broken", 1, PLAIN_POD).replace(
        "matchLabels: { app: broken }",
        "matchLabels: { app: other }",
      );
      const settings = "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings }\ndata: { mode: preview }\n";
      const run = await open(9, { "app.yaml": `${settings}---\n${broken}`, "widget.yaml": widget });
      expect(run.conclusion).toBe("failure");
      const text = said(run);
      expect(text).toContain("The preflight refused the deploy (2 problems); nothing of the pull request was applied:");
      expect(text).toContain(
        `- ❌ Widget${ID} "w" (deploy/widget.yaml, document 1): 403 Forbidden: widgets${ID}.preflight.example.com "w" is forbidden: User "${fence.username}" cannot patch resource "widgets${ID}" in API group "preflight.example.com" in the namespace "${NS(9)}". To fix: preview-bot's RBAC does not grant widgets${ID}.preflight.example.com: ask preview-bot's operator to grant get, list, create, patch, delete on it in ClusterRole preview-bot-previews, or leave the object out (manifests.exclude in .github/preview.yml)`,
      );
      expect(text).toMatch(
        /- ❌ Deployment "broken" \(deploy\/app\.yaml, document 2\): 422 Invalid: Deployment\.apps "broken" is invalid: spec\.template\.metadata\.labels: Invalid value: .*`selector` does not match template `labels`\. To fix: fix the field\(s\) the API server names in the manifest/,
      );
      expect(steps(run)).toMatchObject({ Preflight: "✅", Guardrails: "✅", "Dry run": "❌", Apply: "⏭️" });
      // The bot's own fence exists (the dry run needs the namespace and its RoleBinding); nothing of the PR does.
      expect(await status(`/api/v1/namespaces/${NS(9)}/configmaps/settings`)).toBe(404);
      expect(await status(`/apis/apps/v1/namespaces/${NS(9)}/deployments/broken`)).toBe(404);
      expect(await status(`/apis/preflight.example.com/v1/namespaces/${NS(9)}/widgets${ID}/w`)).toBe(404);
    }, 120_000);
  });

  describe("the guarded namespace itself refuses them, whoever asks (cluster admin here)", () => {
    it("Pod Security refuses privileged, host-network and hostPath pods", async () => {
      const pod = (name: string, spec: Record<string, unknown>) =>
        admin("POST", `/api/v1/namespaces/${NS(1)}/pods`, {
          metadata: { name },
          spec: { containers: [{ name: "c", image: "alpine:3" }], ...spec },
        });
      const refusals = [
        await pod("privileged", {
          containers: [{ name: "c", image: "alpine:3", securityContext: { privileged: true } }],
        }),
        await pod("host-network", { hostNetwork: true }),
        await pod("host-path", { volumes: [{ name: "root", hostPath: { path: "/" } }] }),
      ];
      expect(refusals.map((r) => r.status)).toEqual([403, 403, 403]);
      expect(refusals.map((r) => JSON.parse(r.body).message)).toEqual([
        expect.stringMatching(/violates PodSecurity "baseline:latest": privileged/),
        expect.stringMatching(/violates PodSecurity "baseline:latest": host namespaces \(hostNetwork=true\)/),
        expect.stringMatching(/violates PodSecurity "baseline:latest": hostPath volumes/),
      ]);
    });

    it("the quota admits no pod of a system priority class (2000001000 would preempt production)", async () => {
      const r = await admin("POST", `/api/v1/namespaces/${NS(1)}/pods`, {
        metadata: { name: "critical" },
        spec: { priorityClassName: "system-node-critical", containers: [{ name: "c", image: "alpine:3" }] },
      });
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body).message).toMatch(
        /exceeded quota: preview-bot-system-priority, requested: pods=1, used: pods=0, limited: pods=0/,
      );
      // The same pod at the default priority is admitted: the scope is the system classes only.
      const plain = await admin("POST", `/api/v1/namespaces/${NS(1)}/pods`, {
        metadata: { name: "plain" },
        spec: { containers: [{ name: "c", image: "alpine:3" }] },
      });
      expect(plain.status).toBe(201);
      await admin("DELETE", `/api/v1/namespaces/${NS(1)}/pods/plain`);
    });

    it("the guardrail NetworkPolicy as stored: egress everywhere but the cloud metadata endpoints", async () => {
      // kwok enforces no network policy, so this asserts the object the cluster holds (a CNI enforces it).
      const policy = JSON.parse(
        (await admin("GET", `/apis/networking.k8s.io/v1/namespaces/${NS(1)}/networkpolicies/preview-bot-guardrails`))
          .body,
      );
      expect(policy.spec.policyTypes).toEqual(["Ingress", "Egress"]);
      const blocks = policy.spec.egress.flatMap((r: any) => r.to.map((t: any) => t.ipBlock).filter(Boolean));
      expect(blocks).toEqual(
        expect.arrayContaining([
          {
            cidr: "0.0.0.0/0",
            except: ["169.254.169.254/32", "169.254.169.252/32", "169.254.170.23/32", "168.63.129.16/32"],
          },
          { cidr: "::/0", except: ["fd00:ec2::254/128", "fd00:ec2::23/128", "fd20:ce::254/128"] },
        ]),
      );
    });

    it("the quota refuses LoadBalancer and NodePort Services", async () => {
      const service = (name: string, type: string) =>
        admin("POST", `/api/v1/namespaces/${NS(1)}/services`, {
          metadata: { name },
          spec: { type, selector: { app: "web" }, ports: [{ port: 22 }] },
        });
      const [lb, np] = [await service("lb", "LoadBalancer"), await service("np", "NodePort")];
      expect([lb.status, np.status]).toEqual([403, 403]);
      expect(JSON.parse(lb.body).message).toMatch(
        /exceeded quota: preview-bot-guardrails, requested: services\.loadbalancers=1/,
      );
      expect(JSON.parse(np.body).message).toMatch(
        /exceeded quota: preview-bot-guardrails, requested: services\.nodeports=1/,
      );
    });

    it("a new quota holds once the bot's wait for it returns: its usage is computed", async () => {
      const core = fence.kubeConfig.makeApiClient(CoreV1Api);
      const name = "fresh";
      await core.createNamespacedResourceQuota({
        namespace: NS(1),
        body: { metadata: { name }, spec: { hard: { "services.loadbalancers": "0", "count/configmaps": "50" } } },
      });
      await h.bot.app!.cluster.waitForQuotas(NS(1), [name], 60_000);
      const quota = await core.readNamespacedResourceQuota({ name, namespace: NS(1) });
      expect(quota.status?.used).toMatchObject({
        "services.loadbalancers": "0",
        "count/configmaps": expect.any(String),
      });
    });
  });
});
