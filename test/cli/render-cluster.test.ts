/**
 * `preview-bot render --cluster` on the real control plane, as the identity in KUBECONFIG: a kind the cluster does not
 * serve is refused with its file even before the namespace exists; once it exists, every object is server-side
 * dry-run and a schema refusal comes back with its file and what to do; nothing is ever written.
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { runRenderCli } from "../../src/cli/render.js";
import { apiRequest, describeWithRealCluster } from "../support/kube-real/index.js";

const SHA = "fedcba9876543210fedcba9876543210fedcba98";
const ID = Date.now().toString(36);
const NS = `rc-${ID}-7`;

const deployment = (port: number) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: api }
spec:
  replicas: 1
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/app:1
          ports: [{ containerPort: ${port} }]
`;
const CERT = "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: { name: tls }\nspec: { secretName: tls }\n";

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "cli-render-cluster-"));
  await chmod(tmp, 0o755); // the sandboxed renderer runs unprivileged when the tests run as root
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function repo(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(tmp, name);
  const config = `manifests: { path: deploy }\nnames: { namespace: "rc-${ID}-{number}" }\n`;
  for (const [file, text] of Object.entries({ ".github/preview.yml": config, ...files })) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true, mode: 0o755 });
    await writeFile(path.join(dir, file), text, { mode: 0o644 });
  }
  return dir;
}

describeWithRealCluster("preview-bot render --cluster", (cluster) => {
  let kubeconfig: string;
  const admin = (method: string, p: string, body?: unknown) =>
    apiRequest(cluster(), cluster().adminToken, method, p, body);
  beforeAll(async () => {
    kubeconfig = path.join(tmp, "kubeconfig");
    const c = cluster();
    await writeFile(
      kubeconfig,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          {
            name: "t",
            cluster: { server: c.server, "certificate-authority-data": Buffer.from(c.caData).toString("base64") },
          },
        ],
        users: [{ name: "admin", user: { token: c.adminToken } }],
        contexts: [{ name: "t", context: { cluster: "t", user: "admin" } }],
        "current-context": "t",
      }),
      { mode: 0o600 },
    );
  });

  async function cli(dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = "";
    let stderr = "";
    const code = await runRenderCli(["--dir", dir, "--pr", "7", "--branch", "main", "--sha", SHA, "--cluster"], {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env: { ...process.env, KUBECONFIG: kubeconfig },
    });
    return { code, stdout, stderr };
  }

  it("refuses a kind the cluster does not serve before the namespace exists, and writes nothing", async () => {
    const r = await cli(await repo("unserved", { "deploy/app.yaml": deployment(8080), "deploy/tls.yaml": CERT }));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(
      `preview-bot render: refused: Certificate "tls" (deploy/tls.yaml, document 1): 404 NotFound: the cluster does not serve cert-manager.io/v1 Certificate`,
    );
    expect(r.stderr).toContain(`note: namespace "${NS}" does not exist yet`);
    expect((await admin("GET", `/api/v1/namespaces/${NS}`)).status).toBe(404);
  });

  it("renders as a deploy does: helm gets the cluster's version and API versions from its discovery, kind scopes too", async () => {
    const version = (JSON.parse((await admin("GET", "/version")).body) as { gitVersion: string }).gitVersion;
    const chart = await repo("chart", {
      "deploy/Chart.yaml": "apiVersion: v2\nname: capabilities\nversion: 0.1.0\n",
      "deploy/templates/seen.yaml": `apiVersion: v1
kind: ConfigMap
metadata: { name: seen }
data:
  kubeVersion: "{{ .Capabilities.KubeVersion.Version }}"
  httpRoutes: "{{ .Capabilities.APIVersions.Has "gateway.networking.k8s.io/v1/HTTPRoute" }}"
`,
    });
    const r = await cli(chart);
    expect(r.stderr).not.toMatch(/^preview-bot render: refused/m);
    expect(r.code).toBe(0);
    const seen = parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string }; data?: Record<string, string> })
      .find((o) => o?.kind === "ConfigMap" && o.metadata?.name === "seen");
    expect(seen?.data).toEqual({ kubeVersion: version, httpRoutes: "true" });
    expect(r.stderr).toMatch(/helm rendered for Kubernetes .*the cluster/);
    expect(r.stderr).not.toContain("no cluster to ask");
  });

  it("dry-runs every object once the namespace exists: a schema refusal is named with its file; nothing is written", async () => {
    expect(
      (await admin("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }))
        .status,
    ).toBe(201);
    const bad = await cli(await repo("invalid", { "deploy/app.yaml": deployment(70000) }));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /^preview-bot render: refused: Deployment "api" \(deploy\/app\.yaml, document 1\): 422 Invalid: .*containerPort.*\. To fix: fix the field\(s\) the API server names in the manifest$/m,
    );
    expect(bad.stderr).not.toContain("note: namespace");

    const good = await cli(await repo("valid", { "deploy/app.yaml": deployment(8080) }));
    expect(good.stderr).not.toMatch(/^preview-bot render: refused/m);
    expect(good.code).toBe(0);
    for (const p of [
      `/apis/apps/v1/namespaces/${NS}/deployments`,
      `/api/v1/namespaces/${NS}/resourcequotas`,
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`,
    ]) {
      const list = JSON.parse((await admin("GET", p)).body) as { items: unknown[] };
      expect({ p, items: list.items }).toEqual({ p, items: [] });
    }
  });
});
