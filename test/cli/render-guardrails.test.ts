/**
 * `preview-bot render` prints everything the bot would apply for a preview, so a reviewer sees exactly what a
 * preview gets: the Namespace with its labels, the bot's RoleBinding and guardrails (from this machine's settings,
 * tightened by the repository's), then the repository's objects as held inside them; refusals exit 1.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { chmod, cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { runRenderCli } from "../../src/cli/render.js";
import type { KubeObject } from "../../src/services/shared/preview.js";

const PLAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/plain-app");
const SHA = "fedcba9876543210fedcba9876543210fedcba98";

async function cli(
  dir: string,
  config: string,
): Promise<{ code: number; stdout: string; stderr: string; objects: KubeObject[] }> {
  let stdout = "";
  let stderr = "";
  const configPath = path.join(dir, "preview.yml");
  await writeFile(
    configPath,
    `${config}route:\n  host: "{name}.previews.example.com"\n  parentRefs: [{ name: shared-gateway, namespace: gateway-system }]\n`,
  );
  const code = await runRenderCli(
    ["--dir", dir, "--config", configPath, "--pr", "8", "--branch", "main", "--sha", SHA],
    { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } },
  );
  return { code, stdout, stderr, objects: Array.from(parseAllDocuments(stdout)).map((d) => d.toJS() as KubeObject) };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "render-guardrails-"));
  await chmod(dir, 0o755); // the sandboxed renderer runs unprivileged when the tests run as root
  await cp(path.join(PLAIN, "deploy"), path.join(dir, "deploy"), { recursive: true });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("preview-bot render: what the bot itself applies", () => {
  it("prints the Namespace with its labels and the guardrails before the repository's objects", async () => {
    const r = await cli(
      dir,
      "manifests: { path: deploy }\nnames: { namespace: 'shop-pr-{number}' }\nnamespace:\n  labels: { team: shop }\n",
    );
    expect(r.code).toBe(0);
    expect(r.objects.slice(0, 6).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "Namespace/shop-pr-8",
      "RoleBinding/preview-bot",
      "ResourceQuota/preview-bot-guardrails",
      "ResourceQuota/preview-bot-system-priority",
      "LimitRange/preview-bot-guardrails",
      "NetworkPolicy/preview-bot-guardrails",
    ]);
    expect(r.objects[0]!.metadata.labels).toMatchObject({
      team: "shop",
      "app.kubernetes.io/managed-by": "preview-bot",
      "pod-security.kubernetes.io/enforce": "baseline",
      "pod-security.kubernetes.io/warn": "restricted",
    });
    expect(r.objects.slice(1).every((o) => o.metadata.namespace === "shop-pr-8")).toBe(true);
    expect(r.objects.slice(6).map((o) => o.kind)).toEqual([
      "Deployment",
      "Service",
      "ConfigMap",
      "CronJob",
      "HTTPRoute",
    ]);
  });

  it("shows the repository's tighter guardrails, and says where it asked for more than the bot allows", async () => {
    const r = await cli(
      dir,
      "manifests: { path: deploy }\nguardrails:\n  podSecurity: restricted\n  quota: { pods: 3, memory: 64Gi }\n",
    );
    expect(r.code).toBe(0);
    expect(r.objects[0]!.metadata.labels?.["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    expect(r.objects.find((o) => o.kind === "ResourceQuota")!.spec).toMatchObject({
      hard: { pods: "3", "requests.memory": "8Gi" },
    });
    expect(r.stderr).toContain("warning: guardrails.quota.memory 64Gi is above the bot's bound of 8Gi: 8Gi applies");
  });

  it("prints a NetworkPolicy the way it will be applied, narrowed, with a warning", async () => {
    await writeFile(
      path.join(dir, "deploy", "open.yaml"),
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: { name: open }\nspec:\n  podSelector: {}\n  ingress: [{}]\n",
    );
    try {
      const r = await cli(dir, "manifests: { path: deploy }\n");
      expect(r.code).toBe(0);
      // The gateway the routes attach to (route.parentRefs) may reach the preview without a setting of its own.
      expect(r.objects.find((o) => o.metadata.name === "open")!.spec).toEqual({
        podSelector: {},
        ingress: [
          {
            from: [
              { podSelector: {} },
              { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "gateway-system" } } },
            ],
          },
        ],
      });
      expect(r.stderr).toContain(
        'warning: NetworkPolicy "open": ingress rule 1 allowed every source: narrowed to the guardrail\'s (this namespace, namespace gateway-system)',
      );
    } finally {
      await rm(path.join(dir, "deploy", "open.yaml"));
    }
  });

  it("refuses at render time what the bot's Pod Security level would refuse the pods for (PREVIEW_POD_SECURITY)", async () => {
    const before = process.env.PREVIEW_POD_SECURITY;
    process.env.PREVIEW_POD_SECURITY = "restricted";
    try {
      const r = await cli(dir, "manifests: { path: deploy }\n");
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/refused at Pod Security level "restricted"/);
    } finally {
      if (before === undefined) delete process.env.PREVIEW_POD_SECURITY;
      else process.env.PREVIEW_POD_SECURITY = before;
    }
  });

  it("exits 1 naming an object that would take a guardrail over, and prints nothing", async () => {
    await writeFile(
      path.join(dir, "deploy", "quota.yaml"),
      "apiVersion: v1\nkind: ResourceQuota\nmetadata: { name: preview-bot-guardrails }\nspec: { hard: { pods: '5000' } }\n",
    );
    try {
      const r = await cli(dir, "manifests: { path: deploy }\n");
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(
        'preview-bot render: refused: ResourceQuota "preview-bot-guardrails": the name is preview-bot\'s own guardrail',
      );
    } finally {
      await rm(path.join(dir, "deploy", "quota.yaml"));
    }
  });
});
