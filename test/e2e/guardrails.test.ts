/**
 * Guardrails through the whole server path (signed webhooks → queue → runner → the real client against the fake API
 * server): every preview namespace gets Pod Security labels, the bot's RoleBinding, a quota, default limits and a
 * default-deny NetworkPolicy before any of the PR's objects; the PR's manifests and `.github/preview.yml` cannot
 * remove or loosen them, and what was refused or rewritten is said in the check run. What admission then does with
 * them is proven on the real control plane (real-guardrails.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startHarness, pull, prEvent, webApp, INSTALLATION, OWNER, REPO, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub } from "../support/github-fake.js";

const config = (extra = "") => `
manifests:
  path: deploy
names:
  namespace: "guard-pr-{number}"
${extra}`;
const NS = (n: number) => `guard-pr-${n}`;
const openPolicy = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: allow-all }
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
    - {}
`;

/** The check run's text as a reader sees it (Markdown escapes taken out). */
const said = (run: { output?: { summary?: string; text?: string } }): string =>
  `${run.output?.summary ?? ""}\n${run.output?.text ?? ""}`.replace(/\\(.)/g, "$1");

let h: Harness;
let gh: ReturnType<typeof fakeGitHub>;
let sha = 0;

/** Open PR `number` with these files under deploy/; returns the check run. */
async function open(number: number, files: Record<string, string>, repoConfig = config()) {
  gh.state.config = repoConfig;
  const head = String(++sha).padStart(40, "0");
  gh.state.tarballs.set(
    head,
    await h.tarball(head, Object.fromEntries(Object.entries(files).map(([k, v]) => [`deploy/${k}`, v]))),
  );
  gh.state.pulls.set(number, pull({ number, sha: head }));
  expect(await h.send("pull_request", prEvent("opened", gh.state.pulls.get(number)!))).toBe(200);
  return gh.state.checkRuns.filter((r) => r.head_sha === head && r.name === "preview").at(-1)!;
}

beforeAll(async () => {
  h = await startHarness({ env: { PREVIEW_INGRESS_FROM_NAMESPACES: "ingress-nginx" } });
  gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION });
});
afterAll(async () => {
  await h?.stop();
});

describe("every preview namespace gets the bot's guardrails", () => {
  it("Pod Security labels, its RoleBinding, a quota, limits and a default-deny policy — before anything of the PR", async () => {
    const run = await open(
      1,
      { "web.yaml": webApp({ image: "ghcr.io/codertocat/hello:1", service: true }) },
      config("namespace:\n  labels: { team: web }\n"),
    );
    expect(run.conclusion).toBe("success");
    expect(h.fake.get("v1", "Namespace", undefined, NS(1))!.metadata.labels).toMatchObject({
      team: "web",
      "pod-security.kubernetes.io/enforce": "baseline",
      "pod-security.kubernetes.io/enforce-version": "latest",
      "pod-security.kubernetes.io/warn": "restricted",
      "pod-security.kubernetes.io/audit": "restricted",
    });
    const binding = h.fake.get("rbac.authorization.k8s.io/v1", "RoleBinding", NS(1), "preview-bot") as any;
    expect(binding.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: "preview-bot-previews",
    });
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "preview-bot", namespace: "preview-bot" }]);
    expect((h.fake.get("v1", "ResourceQuota", NS(1), "preview-bot-guardrails") as any).spec.hard).toMatchObject({
      "services.loadbalancers": "0",
      "services.nodeports": "0",
      pods: "20",
    });
    expect((h.fake.get("v1", "LimitRange", NS(1), "preview-bot-guardrails") as any).spec.limits[0]).toMatchObject({
      default: { memory: "512Mi", "ephemeral-storage": "512Mi" },
      defaultRequest: { cpu: "100m", memory: "128Mi", "ephemeral-storage": "100Mi" },
    });
    // What the server stores, not what the bot meant to send: the peers of the only allow rule arrived.
    expect((h.fake.get("networking.k8s.io/v1", "NetworkPolicy", NS(1), "preview-bot-guardrails") as any).spec).toEqual({
      podSelector: {},
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        {
          from: [
            { podSelector: {} },
            { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } },
          ],
        },
      ],
      // Egress is open, but never to a cloud metadata endpoint.
      egress: [
        {
          to: [
            {
              ipBlock: {
                cidr: "0.0.0.0/0",
                except: ["169.254.169.254/32", "169.254.169.252/32", "169.254.170.23/32", "168.63.129.16/32"],
              },
            },
            { ipBlock: { cidr: "::/0", except: ["fd00:ec2::254/128", "fd00:ec2::23/128", "fd20:ce::254/128"] } },
            { namespaceSelector: {} },
          ],
        },
        {
          to: [{ ipBlock: { cidr: "168.63.129.16/32" } }],
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
      ],
    });
    expect(h.fake.get("v1", "ResourceQuota", NS(1), "preview-bot-system-priority")).toBeDefined();

    // Order: the binding first, then the guardrails, then the PR's objects.
    const inNamespace = `/namespaces/${NS(1)}/`;
    const writes = h.fake.requests
      .filter((r) => (r.method === "POST" || r.method === "PATCH") && r.path.includes(inNamespace))
      .map((r) => r.path.slice(r.path.indexOf(inNamespace) + inNamespace.length));
    const at = (what: string) => writes.findIndex((w) => w.startsWith(what));
    expect(at("rolebindings")).toBe(0);
    for (const guardrail of [
      "resourcequotas/preview-bot-guardrails",
      "resourcequotas/preview-bot-system-priority",
      "limitranges/preview-bot-guardrails",
      "networkpolicies/preview-bot-guardrails",
    ]) {
      expect(at(guardrail)).toBeGreaterThan(at("rolebindings"));
      expect(at(guardrail)).toBeLessThan(at("deployments/web"));
      expect(at(guardrail)).toBeLessThan(at("services/web"));
    }
    expect(said(run)).toMatch(
      /Guardrails \| ✅ \|[^|]*\| Pod Security baseline; quota 20 pods, 4 CPU, 8Gi memory \(20Gi limits\), 20Gi storage, 20Gi ephemeral storage, 50 objects per kind, no LoadBalancers or NodePorts, no system priority; ingress from the namespace, ingress-nginx; egress open \(cloud metadata blocked\)/,
    );
  });

  it("keeps them through the next push: prune never removes a guardrail", async () => {
    const head = "f".repeat(40);
    gh.state.tarballs.set(
      head,
      await h.tarball(head, { "deploy/web.yaml": webApp({ image: "ghcr.io/codertocat/hello:2" }) }),
    );
    gh.state.pulls.set(1, pull({ number: 1, sha: head }));
    await h.send("pull_request", prEvent("synchronize", gh.state.pulls.get(1)!));
    expect(gh.state.checkRuns.find((r) => r.head_sha === head)?.conclusion).toBe("success");
    expect(h.fake.get("v1", "Service", NS(1), "web")).toBeUndefined(); // pruned: it left the render
    for (const [apiVersion, kind] of [
      ["v1", "ResourceQuota"],
      ["v1", "LimitRange"],
      ["networking.k8s.io/v1", "NetworkPolicy"],
    ] as const) {
      expect(h.fake.get(apiVersion, kind, NS(1), "preview-bot-guardrails")).toBeDefined();
    }
    expect(h.fake.get("rbac.authorization.k8s.io/v1", "RoleBinding", NS(1), "preview-bot")).toBeDefined();
  });
});

describe("a pull request cannot remove or loosen them", () => {
  it("a NetworkPolicy allowing ingress from everywhere is narrowed to the guardrail's sources, and the check run says so", async () => {
    const run = await open(2, {
      "web.yaml": webApp({ image: "ghcr.io/codertocat/hello:1" }),
      "policy.yaml": openPolicy,
    });
    expect(run.conclusion).toBe("success");
    expect((h.fake.get("networking.k8s.io/v1", "NetworkPolicy", NS(2), "allow-all") as any).spec.ingress).toEqual([
      {
        from: [
          { podSelector: {} },
          { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } },
        ],
      },
    ]);
    expect(said(run)).toContain(
      `NetworkPolicy "allow-all": ingress rule 1 allowed every source: narrowed to the guardrail's (this namespace, namespace ingress-nginx)`,
    );
  });

  it("an object that would take a guardrail over fails the deploy with the reason, and nothing of the PR is applied", async () => {
    const quota =
      "apiVersion: v1\nkind: ResourceQuota\nmetadata: { name: preview-bot-guardrails }\nspec:\n  hard: { pods: '5000', services.loadbalancers: '10' }\n";
    const run = await open(3, { "web.yaml": webApp({ image: "ghcr.io/codertocat/hello:1" }), "quota.yaml": quota });
    expect(run.conclusion).toBe("failure");
    expect(said(run)).toContain(
      `ResourceQuota "preview-bot-guardrails" (deploy/quota.yaml, document 1): the name is preview-bot's own guardrail in every preview namespace; rename the object`,
    );
    expect(h.fake.get("apps/v1", "Deployment", NS(3), "web")).toBeUndefined();
    expect(h.fake.get("v1", "ResourceQuota", NS(3), "preview-bot-guardrails")).toBeUndefined();
  });

  it("a Namespace object in the manifests never relabels the preview namespace (e.g. privileged)", async () => {
    // The renderer drops Namespace objects; the Guardrails step would refuse one that got through (unit-tested).
    const ns =
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: guard-pr-4\n  labels: { pod-security.kubernetes.io/enforce: privileged }\n";
    const run = await open(
      4,
      { "web.yaml": webApp({ image: "ghcr.io/codertocat/hello:1" }), "ns.yaml": ns },
      config("allowClusterScoped: [Namespace]\n"),
    );
    expect(run.conclusion).toBe("success");
    expect(
      h.fake.get("v1", "Namespace", undefined, NS(4))!.metadata.labels?.["pod-security.kubernetes.io/enforce"],
    ).toBe("baseline");
  });

  it(".github/preview.yml may tighten them (restricted, a smaller quota) but not loosen them", async () => {
    const restricted = webApp({ image: "ghcr.io/codertocat/hello:1" }).replace(
      "          image: ghcr.io/codertocat/hello:1\n",
      "          image: ghcr.io/codertocat/hello:1\n          securityContext: { allowPrivilegeEscalation: false, runAsNonRoot: true, seccompProfile: { type: RuntimeDefault }, capabilities: { drop: [ALL] } }\n",
    );
    const run = await open(
      5,
      { "web.yaml": restricted },
      config("guardrails:\n  podSecurity: restricted\n  quota: { pods: 4, cpu: 64 }\n"),
    );
    expect(run.conclusion).toBe("success");
    expect(
      h.fake.get("v1", "Namespace", undefined, NS(5))!.metadata.labels?.["pod-security.kubernetes.io/enforce"],
    ).toBe("restricted");
    expect((h.fake.get("v1", "ResourceQuota", NS(5), "preview-bot-guardrails") as any).spec.hard).toMatchObject({
      pods: "4",
      "requests.cpu": "4",
    });
    expect(said(run)).toContain("guardrails.quota.cpu 64 is above the bot's bound of 4: 4 applies");
  });

  it("a pod that a repository's restricted level would refuse fails at the preflight, before anything is written", async () => {
    const run = await open(
      7,
      { "web.yaml": webApp({ image: "ghcr.io/codertocat/hello:1" }) },
      config("guardrails:\n  podSecurity: restricted\n"),
    );
    expect(run.conclusion).toBe("failure");
    expect(said(run)).toContain(
      `Deployment "web" (deploy/web.yaml, document 1): container "web" must set securityContext.allowPrivilegeEscalation: false (the namespace enforces Pod Security "restricted", so its pods would be refused)`,
    );
    expect(said(run)).toMatch(/\| Preflight \| ❌ \|/);
    expect(h.fake.get("v1", "Namespace", undefined, NS(7))).toBeUndefined();
  });

  it("a config that sets Pod Security labels on the namespace is refused, naming the field", async () => {
    gh.state.config = config("namespace:\n  labels:\n    pod-security.kubernetes.io/enforce: privileged\n");
    const head = "e".repeat(40);
    gh.state.tarballs.set(
      head,
      await h.tarball(head, { "deploy/web.yaml": webApp({ image: "ghcr.io/codertocat/hello:1" }) }),
    );
    gh.state.pulls.set(6, pull({ number: 6, sha: head }));
    await h.send("pull_request", prEvent("opened", gh.state.pulls.get(6)!));
    const check = gh.state.checkRuns.find((r) => r.head_sha === head)!;
    expect(check.conclusion).toBe("failure");
    expect(JSON.stringify(check.output)).toContain(
      "namespace.labels: pod-security.kubernetes.io/*, preview-bot.dev/* and app.kubernetes.io/managed-by are set by preview-bot",
    );
    expect(h.fake.get("v1", "Namespace", undefined, NS(6))).toBeUndefined();
  });
});
