import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments, parseDocument } from "yaml";
import { runRenderCli } from "../../src/cli/render.js";
import { parseConfig } from "../../src/config.js";
import type { KubeObject } from "../../src/services/shared/preview.js";
import { previewNamesFor } from "../../src/services/preview/render/index.js";
import { isClusterScoped } from "../../src/services/preview/render/cluster-scoped.js";
import { describeWithTools } from "../support/tools.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.resolve(here, "../fixtures");
const EXAMPLE = path.resolve(here, "../../examples/kubernetesmooc/preview.yml");
const SHA = "fedcba9876543210fedcba9876543210fedcba98";
const HOSTILE_BRANCH = "Feature/Add-Login_ÜBER";

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runRenderCli(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}

/**
 * The repository's objects: what the output lists after the Namespace and preview-bot's guardrails
 * (render-guardrails.test.ts).
 */
function objectsOf(yaml: string): KubeObject[] {
  const docs = Array.from(parseAllDocuments(yaml));
  for (const d of docs) expect(d.errors).toEqual([]);
  return docs
    .map((d) => d.toJS() as KubeObject)
    .filter((o) => o.kind !== "Namespace" && o.metadata.labels?.["preview-bot.dev/guardrail"] !== "true");
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "cli-render-"));
  await chmod(tmp, 0o755); // the sandboxed renderer runs unprivileged when the tests run as root
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("preview-bot render: arguments and config", () => {
  it("prints usage for --help", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: preview-bot render --dir <checkout> --pr <number> --branch <name> --sha <sha>/);
  });

  it("exits 2 naming every missing or bad argument", async () => {
    const r = await cli(["--dir", tmp, "--pr", "abc", "--sha", "xyz"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--branch is required/);
    expect(r.stderr).toMatch(/--sha must be 7 to 40 hex characters, got "xyz"/);
    expect(r.stderr).toMatch(/--pr must be a positive integer, got "abc"/);
    expect((await cli(["--frobnicate"])).code).toBe(2);
  });

  it("exits 2 and prints each config error on its own line, naming the field", async () => {
    const config = path.join(tmp, "bad.yml");
    await writeFile(config, "manifests:\n  path: deploy\n  typo: true\nimages:\n  - tag: latest\n");
    const r = await cli([
      "--dir",
      path.join(FIXTURES, "plain-app"),
      "--config",
      config,
      "--pr",
      "1",
      "--branch",
      "x",
      "--sha",
      SHA,
    ]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    // The file actually read is named, a typo gets the nearest known key, and a field is named once.
    expect(lines[0]).toBe(`${config}: 2 problems`);
    expect(lines).toContain('manifests: unknown field "typo" (did you mean "type"?)');
    expect(lines.some((l) => l.startsWith("images[0].name: "))).toBe(true);
  });

  it("exits 2 when the repository has no config", async () => {
    const r = await cli(["--dir", tmp, "--pr", "1", "--branch", "x", "--sha", SHA]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read .*\.github\/preview\.yml: no such file/);
  });

  it("exits 1 with the render error when rendering fails", async () => {
    const config = path.join(tmp, "missing-path.yml");
    await writeFile(config, "manifests:\n  path: does/not/exist\n");
    const r = await cli([
      "--dir",
      path.join(FIXTURES, "plain-app"),
      "--config",
      config,
      "--pr",
      "1",
      "--branch",
      "x",
      "--sha",
      SHA,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^preview-bot render: rendering does\/not\/exist: no such directory/m);
  });
});

describe("preview-bot render: plain-app (no binary needed)", () => {
  it("prints exactly the transformed objects as YAML, warnings on stderr", async () => {
    const dir = path.join(FIXTURES, "plain-app");
    const r = await cli(["--dir", dir, "--pr", "31", "--branch", "Fix/Cart_Totals", "--sha", SHA, "--owner", "acme"]);
    expect(r.code).toBe(0);
    // No warnings; the closing summary says what the preview gets and what an offline render assumed.
    expect(r.stderr).not.toMatch(/^warning:/m);
    expect(r.stderr).toMatch(/^summary \(plain\):$/m);
    expect(r.stderr).toMatch(/^ {2}namespace {2}pr-31-fix-cart-totals-[0-9a-f]{8}$/m);
    expect(r.stderr).toMatch(
      /^ {2}fits {7}ResourceQuota "preview-bot-guardrails": .*requests\.cpu 500m CPU of 4 CPU, requests\.memory 640Mi of 8Gi, limits\.memory 2\.5Gi of 20Gi,/m,
    );
    expect(r.stderr).toMatch(/^ {2}URL {8}https:\/\/pr-31-fix-cart-totals-[0-9a-f]{8}\.previews\.example\.com\/$/m);
    expect(r.stderr).toMatch(/^ {2}objects {4}5: Deployment 1, Service 1, ConfigMap 1, CronJob 1, HTTPRoute 1$/m);
    expect(r.stderr).toMatch(/^ {2}how {8}kind scopes from preview-bot's built-in list/m);
    expect(r.stderr).toMatch(
      /the parent Gateway was not read \(no cluster\): the URL assumes its HTTPS listener covers the host/,
    );
    const config = parseConfig(await readFile(path.join(dir, ".github/preview.yml"), "utf8"));
    if (!config.ok) throw new Error("fixture config invalid");
    const names = previewNamesFor(
      { owner: "acme", repo: "plain-app", number: 31, branch: "Fix/Cart_Totals", sha: SHA },
      config.config,
    );
    const objects = objectsOf(r.stdout);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "Deployment/shop",
      "Service/shop",
      "ConfigMap/shop-config",
      "CronJob/nightly-report",
      "HTTPRoute/shop",
      // database.enabled: the Secret the deploy writes, its credentials redacted.
      "Secret/preview-database",
    ]);
    for (const o of objects) {
      expect(o.metadata.namespace).toBe(names.namespace);
      expect(o.metadata.labels).toMatchObject({
        "app.kubernetes.io/managed-by": "preview-bot",
        "preview-bot.dev/pr": "31",
      });
    }
    const [deploy, , cm, cron, route] = objects as [KubeObject, KubeObject, KubeObject, KubeObject, KubeObject];
    const pod = (deploy.spec as any).template.spec;
    expect(pod.initContainers[0].image).toBe("ghcr.io/acme/shop:pr-31-fedcba9");
    expect(pod.containers.map((c: any) => c.image)).toEqual([
      "ghcr.io/acme/shop:pr-31-fedcba9",
      "docker.io/library/nginx:1.27",
    ]);
    expect((deploy.spec as any).template.metadata.labels).toEqual({ app: "shop" });
    expect((cron.spec as any).jobTemplate.spec.template.spec.containers[0].image).toBe(
      `registry.example.com/acme/shop-worker:${SHA}`,
    );
    expect((route.spec as any).hostnames).toEqual([names.host]);
    expect(route.metadata.annotations).toMatchObject({ "external-dns.alpha.kubernetes.io/hostname": names.host });
    expect(cm.data).toMatchObject({ PUBLIC_URL: `https://${names.host}/`, LOG_LEVEL: "debug", CACHE_TTL: "300" });
  });

  it("never touches YAML text: a value with ${X} and a document separator stays one string", async () => {
    const r = await cli(["--dir", path.join(FIXTURES, "plain-app"), "--pr", "31", "--branch", "main", "--sha", SHA]);
    const objects = objectsOf(r.stdout);
    expect(objects).toHaveLength(6);
    // The only Secret is the database's (database.enabled), not one read out of the ConfigMap's text.
    expect(objects.filter((o) => o.kind === "Secret").map((o) => o.metadata.name)).toEqual(["preview-database"]);
    const cm = objects.find((o) => o.kind === "ConfigMap")!;
    expect((cm.data as Record<string, string>).BANNER).toBe("deploy debug\n---\nkind: Secret\n");
  });
});

describeWithTools(
  ["kustomize"],
  "preview-bot render: the KubernetesMOOC feature overlay with the shipped example config",
  () => {
    it("renders the unedited overlay for a hostile branch name", async () => {
      // The example's path is the real repository's; the fixture holds the same manifests one level up.
      const doc = parseDocument(await readFile(EXAMPLE, "utf8"));
      expect(doc.getIn(["manifests", "path"])).toBe("course_project/manifests/overlays/feature");
      doc.setIn(["manifests", "path"], "manifests/overlays/feature");
      const configPath = path.join(tmp, "kubernetesmooc.yml");
      await writeFile(configPath, doc.toString());
      const dir = path.join(FIXTURES, "kubernetesmooc");

      const r = await cli([
        "--dir",
        dir,
        "--config",
        configPath,
        "--pr",
        "57",
        "--branch",
        HOSTILE_BRANCH,
        "--sha",
        SHA,
        "--owner",
        "rjpalt",
        "--repo",
        "KubernetesMOOC",
      ]);
      expect(r.code).toBe(0);
      const config = parseConfig(doc.toString());
      if (!config.ok) throw new Error(config.errors.join("\n"));
      const names = previewNamesFor(
        { owner: "rjpalt", repo: "KubernetesMOOC", number: 57, branch: HOSTILE_BRANCH, sha: SHA },
        config.config,
      );
      const objects = objectsOf(r.stdout);

      // The overlay's 29 objects less those excluded, and the database Secret.
      expect(objects).toHaveLength(29 - config.config.manifests.exclude.length + 1);
      expect(names.namespace).toMatch(/^feature-add-login-uber-[0-9a-f]{8}$/);
      for (const o of objects) {
        expect(isClusterScoped(o.kind)).toBe(false);
        expect(o.metadata.namespace).toBe(names.namespace);
        expect(o.metadata.labels).toMatchObject(names.labels);
        expect(o.metadata.annotations).toMatchObject(names.annotations);
      }
      expect(r.stdout).not.toMatch(/BRANCH_NAME/);

      const images = objects.flatMap((o) => JSON.stringify(o).match(/kubemooc\.azurecr\.io\/[a-z-]+:[^"]+/g) ?? []);
      expect(new Set(images)).toEqual(
        new Set(
          ["todo-app-be", "todo-app-fe", "broadcaster"].map(
            (n) => `kubemooc.azurecr.io/${n}:feature-add-login-uber-${SHA}`,
          ),
        ),
      );

      const route = objects.find((o) => o.kind === "HTTPRoute")!;
      expect(names.host).toBe(`${names.namespace}.23.98.101.23.nip.io`);
      expect((route.spec as any).hostnames).toEqual([names.host]);
      expect((route.spec as any).parentRefs).toEqual([{ name: "agc-feature-gateway", namespace: "agc-shared" }]);

      const policy = objects.find((o) => o.kind === "NetworkPolicy")!;
      const selectors = (policy.spec as any).ingress
        .flatMap((i: any) => i.from ?? [])
        .map((f: any) => f.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"]);
      expect(selectors).toContain(names.namespace);
      // The kube-system metrics rule reaches past preview-bot's guardrail: narrowed to the namespace, and said.
      expect(selectors).not.toContain("kube-system");
      expect(r.stderr).toContain(
        'warning: NetworkPolicy "nats": ingress rule 1: namespace kube-system: narrowed to this namespace',
      );

      const backend = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "todo-app-be")!;
      const env = (backend.spec as any).template.spec.containers[0].env as Array<{ name: string; value?: string }>;
      expect(env.find((e) => e.name === "POSTGRES_DB")!.value).toBe(names.database);
      expect(names.database).toMatch(/^feature_add_login_uber_[0-9a-f]{8}$/);

      for (const excluded of config.config.manifests.exclude) {
        expect(objects.some((o) => o.kind === excluded.kind && o.metadata.name === excluded.name)).toBe(false);
      }
      expect(r.stderr).toMatch(
        /warning: SecretProviderClass "postgres-secret-provider-feature" \(kustomize build of manifests\/overlays\/feature, document \d+\) syncs a Secret named "postgres-secret"/,
      );
      expect(parse(await readFile(EXAMPLE, "utf8")).manifests.path).toBe("course_project/manifests/overlays/feature");
    });
  },
);

describe("preview-bot render: the preflight's offline rules", () => {
  const deployment = (name: string, replicas = 1) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name} }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
        - { name: app, image: ghcr.io/acme/app:1 }
        - { name: sidecar, image: ghcr.io/acme/app:1 }
`;
  async function repo(name: string, files: Record<string, string>, config: string): Promise<string> {
    const dir = path.join(tmp, name);
    for (const [file, text] of Object.entries({ ".github/preview.yml": config, ...files })) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true, mode: 0o755 });
      await writeFile(path.join(dir, file), text, { mode: 0o644 });
    }
    return dir;
  }
  const args = (dir: string) => ["--dir", dir, "--pr", "7", "--branch", "main", "--sha", SHA];

  it("refuses what the quota cannot hold (the LimitRange's defaults × replicas), naming each workload's file and what to set", async () => {
    // 3 Deployments × 4 replicas × 4 containers that set no ephemeral storage: 48 × the default 512Mi
    // ephemeral-storage limit, over the quota's 20Gi (12 pods, the CPU and memory they set would fit).
    const small = "resources: { requests: { cpu: 10m, memory: 32Mi }, limits: { memory: 64Mi } }";
    const four = (name: string) =>
      deployment(name, 4).replace(
        /^ {6}containers:\n[\s\S]*$/m,
        `      containers:\n${[0, 1, 2, 3].map((i) => `        - { name: c${i}, image: ghcr.io/acme/app:1, ${small} }\n`).join("")}`,
      );
    const dir = await repo(
      "over-quota",
      { "deploy/app.yaml": ["api", "worker", "front"].map(four).join("---\n") },
      "manifests: { path: deploy }\n",
    );
    const r = await cli(args(dir));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(
      `preview-bot render: refused: 3 Deployments ask 24Gi of limits.ephemeral-storage; ResourceQuota "preview-bot-guardrails" allows 20Gi: Deployment "api" (deploy/app.yaml, document 1) 4 × 2Gi (a LimitRange default), Deployment "worker" (deploy/app.yaml, document 2) 4 × 2Gi (a LimitRange default), Deployment "front" (deploy/app.yaml, document 3) 4 × 2Gi (a LimitRange default). Set lower resources.limits.ephemeral-storage, or ask preview-bot's operator to raise PREVIEW_QUOTA_EPHEMERAL_STORAGE`,
    );
  });

  it("refuses a kind the bot's RBAC as shipped does not grant, and prints the database Secret with its credentials redacted", async () => {
    const cert =
      "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: { name: tls }\nspec: { secretName: tls }\n";
    const config = "manifests: { path: deploy }\ndatabase: { enabled: true }\n";
    const refused = await cli(
      args(await repo("cert", { "deploy/app.yaml": deployment("api"), "deploy/tls.yaml": cert }, config)),
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `preview-bot render: refused: Certificate "tls" (deploy/tls.yaml, document 1): the bot's RBAC, deploy/base/rbac.yaml`,
    );

    const r = await cli(args(await repo("with-db", { "deploy/app.yaml": deployment("api") }, config)));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /^ {2}fits {7}ResourceQuota "preview-bot-guardrails": .*requests\.cpu 200m CPU of 4 CPU, requests\.memory 256Mi of 8Gi, limits\.memory 1Gi of 20Gi,/m,
    );
    const secret = Array.from(parseAllDocuments(r.stdout))
      .map((d) => d.toJS() as KubeObject)
      .find((o) => o.kind === "Secret")!;
    expect(secret.metadata.name).toBeDefined();
    const values = Object.values(secret.data as Record<string, string>).map((v) => Buffer.from(v, "base64").toString());
    expect(values).toContain("(redacted: set at deploy time)");
    expect(values.join(" ")).not.toMatch(/postgres(ql)?:\/\/\S+:\S+@/);
  });
});
