/**
 * deploy/ as a cluster would get it: rendered with the same kustomize the bot uses (kustomize or kubectl kustomize),
 * then checked for what running preview-bot needs — replicas, probes, Workload Identity wired on both ends, a
 * non-root read-only pod, RBAC that is commented, wildcard-free, bound cluster-wide only for namespaces and binding
 * the preview role, and covers the kinds a real repository's previews use, the admission policy that fences the
 * bot, and only settings the code actually reads. What that RBAC and policy do is proven on a real API server
 * (test/e2e/real-rbac.test.ts).
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { loadEnv } from "../../src/env.js";
import { parseTargets } from "../../src/services/data/backups/targets.js";
import { COUNTED_RESOURCES } from "../../src/services/preview/guardrails/quota.js";
import { findKustomizeCommand } from "../../src/services/preview/render/sandboxed/kustomize.js";
import { describeWithTools } from "../support/tools.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const at = (...p: string[]) => path.join(ROOT, ...p);
/**
 * The pinned kustomize (.tools/bin, first on PATH), else kubectl kustomize; suites needing it skip (fail under CI)
 * without.
 */
const KUSTOMIZE = await findKustomizeCommand(process.env.PATH!);

/** The ClusterRole the bot binds to itself in each preview namespace. */
const PREVIEW_ROLE = "preview-bot-previews";

/** Parsed YAML: its shape is what the assertions check. */
type Obj = Record<string, any>;
const home = mkdtempSync(path.join(tmpdir(), "deploy-test-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

async function render(dir: string): Promise<Obj[]> {
  const [file, ...args] = KUSTOMIZE!;
  const { stdout } = await promisify(execFile)(file!, [...args, at(dir)], {
    env: { PATH: process.env.PATH ?? "", HOME: home },
    maxBuffer: 16 << 20,
  });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);
}
const find = (objs: Obj[], kind: string, name?: string): Obj[] =>
  objs.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
const one = (objs: Obj[], kind: string, name?: string): Obj => {
  const found = find(objs, kind, name);
  expect(found).toHaveLength(1);
  return found[0]!;
};
const podSpecs = (objs: Obj[]): Array<{ owner: string; spec: Obj; labels: Record<string, string> }> =>
  objs.flatMap((o) => {
    if (o.kind === "Deployment" || o.kind === "StatefulSet")
      return [
        {
          owner: `${o.kind}/${o.metadata.name}`,
          spec: o.spec.template.spec,
          labels: o.spec.template.metadata?.labels ?? {},
        },
      ];
    if (o.kind === "CronJob")
      return [
        {
          owner: `CronJob/${o.metadata.name}`,
          spec: o.spec.jobTemplate.spec.template.spec,
          labels: o.spec.jobTemplate.spec.template.metadata?.labels ?? {},
        },
      ];
    return [];
  });

/** Every setting the code reads: src/env.ts's schema keys, and what the backups code and CLI read from env. */
function knownSettings(): Set<string> {
  const envTs = readFileSync(at("src/env.ts"), "utf8");
  const start = envTs.indexOf("z.object({");
  const schema = envTs.slice(start, envTs.indexOf("\n});", start));
  const names = new Set([...schema.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!));
  const backupFiles = [
    ...readdirSync(at("src/services/data/backups")).map((f) => at("src/services/data/backups", f)),
    at("src/cli/backup.ts"),
  ];
  for (const file of backupFiles) {
    for (const m of readFileSync(file, "utf8").matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g)) names.add(m[1]!);
  }
  return names;
}

/** Env var names a container gets: env entries plus the keys of ConfigMaps it takes whole (envFrom). */
function envNames(objs: Obj[], container: Obj): string[] {
  const names: string[] = (container.env ?? []).map((e: Obj) => e.name);
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) names.push(...Object.keys(one(objs, "ConfigMap", from.configMapRef.name).data ?? {}));
  }
  return names;
}

/** The server's forced-exit timer on SIGTERM (src/server.ts), in seconds. */
function serverDrainSeconds(): number {
  const m = /setTimeout\(\(\) => process\.exit\(1\), ([\d_]+)\)/.exec(readFileSync(at("src/server.ts"), "utf8"));
  if (!m) throw new Error("could not find the shutdown timer in src/server.ts");
  return Number(m[1]!.replace(/_/g, "")) / 1000;
}

/** `HealthCheckPolicy` → `healthcheckpolicies`, `Ingress` → `ingresses`. */
const plural = (kind: string): string => {
  const k = kind.toLowerCase();
  return k.endsWith("y") ? `${k.slice(0, -1)}ies` : k.endsWith("s") ? `${k}es` : `${k}s`;
};
const groupOf = (apiVersion: string): string => (apiVersion.includes("/") ? apiVersion.split("/")[0]! : "");
function grants(rules: Obj[], group: string, resource: string, verbs: string[]): string[] {
  const granted = new Set(
    rules
      .filter((r) => r.apiGroups.includes(group) && r.resources.includes(resource))
      .flatMap((r) => r.verbs as string[]),
  );
  return verbs.filter((v) => !granted.has(v));
}

describeWithTools(["kustomize"], "deploy/ (kustomize base)", () => {
  let objs: Obj[];
  let deployment: Obj;
  let container: Obj;

  beforeAll(async () => {
    objs = await render("deploy");
    deployment = one(objs, "Deployment", "preview-bot");
    container = deployment.spec.template.spec.containers[0];
  });

  it("runs two replicas, kept at one or more through disruptions", () => {
    expect(deployment.spec.template.spec.containers).toHaveLength(1);
    expect(deployment.spec.replicas).toBe(2);
    const pdb = one(objs, "PodDisruptionBudget");
    expect(pdb.spec.minAvailable).toBe(1);
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels))
      expect(deployment.spec.template.metadata.labels[k]).toBe(v);
  });

  it("probes readiness on /readyz and liveness on /healthz, on the port the server listens on", () => {
    expect(container.readinessProbe.httpGet.path).toBe("/readyz");
    expect(container.livenessProbe.httpGet.path).toBe("/healthz");
    const port = container.ports.find((p: Obj) => p.name === container.livenessProbe.httpGet.port);
    expect(port?.containerPort).toBe(3000);
    expect(container.readinessProbe.httpGet.port).toBe(port.name);
    expect(container.env.find((e: Obj) => e.name === "PORT")?.value).toBe(String(port.containerPort));
  });

  it("runs the renderer as its own workload that holds nothing worth stealing, and points the bot at it", () => {
    const renderer = one(objs, "Deployment", "preview-bot-renderer");
    const pod = renderer.spec.template.spec;
    const c = pod.containers[0];
    const account = one(objs, "ServiceAccount", pod.serviceAccountName);
    expect(pod.serviceAccountName).not.toBe(deployment.spec.template.spec.serviceAccountName);
    expect(account.automountServiceAccountToken).toBe(false);
    expect(pod.automountServiceAccountToken).toBe(false);
    // No Secret and nothing derived from one: no envFrom, no secretKeyRef, no secret volume.
    expect(c.envFrom).toBeUndefined();
    expect(JSON.stringify(c.env)).not.toMatch(/secretKeyRef|configMapKeyRef/);
    expect(JSON.stringify(pod.volumes)).not.toMatch(/secret|projected/);
    expect(c.command).toEqual(["node", "dist/cli.js", "renderer"]);
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(pod.securityContext.seccompProfile.type).toBe("RuntimeDefault");
    expect(pod.securityContext.runAsUser).not.toBe(deployment.spec.template.spec.securityContext.runAsUser);
    expect(c.resources.limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(c.resources.limits["ephemeral-storage"]).toBeDefined();
    // No egress, and ingress only from the bot's pods, on the renderer's port.
    const policy = one(objs, "NetworkPolicy", "preview-bot-renderer");
    expect(policy.spec.policyTypes.sort()).toEqual(["Egress", "Ingress"]);
    expect(policy.spec.egress ?? []).toEqual([]);
    expect(policy.spec.ingress).toEqual([
      {
        from: [{ podSelector: { matchLabels: deployment.spec.template.metadata.labels } }].map((f) => ({
          podSelector: {
            matchLabels: {
              "app.kubernetes.io/name": "preview-bot",
              "app.kubernetes.io/component": f.podSelector.matchLabels["app.kubernetes.io/component"],
            },
          },
        })),
        ports: [{ port: 8080, protocol: "TCP" }],
      },
    ]);
    for (const [k, v] of Object.entries(policy.spec.podSelector.matchLabels))
      expect(renderer.spec.template.metadata.labels[k]).toBe(v);
    // The bot renders there: RENDERER_URL names the renderer's Service and port.
    const service = one(objs, "Service", "preview-bot-renderer");
    const config = one(objs, "ConfigMap").data as Record<string, string>;
    expect(config.RENDERER_URL).toBe(`http://${service.metadata.name}:${service.spec.ports[0].port}`);
    for (const [k, v] of Object.entries(service.spec.selector))
      expect(renderer.spec.template.metadata.labels[k]).toBe(v);
  });

  it("gives the pod more time to stop than the server's own drain", () => {
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBe(40);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(serverDrainSeconds());
  });

  it("wires Azure Workload Identity on both ends: the label on the pod template, the client id on its ServiceAccount", () => {
    expect(deployment.spec.template.metadata.labels["azure.workload.identity/use"]).toBe("true");
    const accountName = deployment.spec.template.spec.serviceAccountName;
    expect(accountName).toBe("preview-bot");
    const account = one(objs, "ServiceAccount", accountName);
    expect(account.metadata.annotations["azure.workload.identity/client-id"]).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    expect(account.metadata.namespace).toBe(deployment.metadata.namespace);
    // A label on the ServiceAccount or an annotation on the pod is the mistake this guards against.
    expect(account.metadata.labels?.["azure.workload.identity/use"]).toBeUndefined();
  });

  it("binds RBAC to exactly the ServiceAccount the Deployment runs as, and the preview role nowhere cluster-wide", () => {
    const bindings = [...find(objs, "ClusterRoleBinding"), ...find(objs, "RoleBinding")];
    expect(bindings.length).toBeGreaterThanOrEqual(1);
    for (const b of bindings) {
      expect(b.subjects).toEqual([
        {
          kind: "ServiceAccount",
          name: deployment.spec.template.spec.serviceAccountName,
          namespace: deployment.metadata.namespace,
        },
      ]);
      expect(find(objs, b.roleRef.kind, b.roleRef.name)).toHaveLength(1);
    }
    // The bot binds preview-bot-previews itself, in each preview namespace
    // (src/services/preview/guardrails/namespace-guardrails.ts).
    expect(find(objs, "ClusterRoleBinding").map((b) => b.roleRef.name)).toEqual(["preview-bot"]);
    one(objs, "ClusterRole", PREVIEW_ROLE);
  });

  it("runs as non-root on a read-only root filesystem, with emptyDirs for /tmp and WORK_DIR", () => {
    const pod = deployment.spec.template.spec;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    const workDir = container.env.find((e: Obj) => e.name === "WORK_DIR")?.value;
    expect(workDir).toBeDefined();
    for (const mountPath of ["/tmp", workDir]) {
      const mount = container.volumeMounts.find((m: Obj) => m.mountPath === mountPath);
      expect(mount).toBeDefined();
      expect(pod.volumes.find((v: Obj) => v.name === mount.name)?.emptyDir).toBeDefined();
    }
  });

  it("sets only environment variables the code reads (src/env.ts or the backup settings)", () => {
    const known = knownSettings();
    expect(
      known.has("PREVIEW_DATABASE_URL") && known.has("BACKUP_TARGETS_FILE") && known.has("AZURE_STORAGE_ACCOUNT_URL"),
    ).toBe(true);
    const names = envNames(objs, container);
    expect(names).toEqual(expect.arrayContaining(["PORT", "WORK_DIR", "PROTECTED_NAMESPACES"]));
    expect(names.filter((n) => !known.has(n))).toEqual([]);
    const example = parseYaml(readFileSync(at("deploy/base/secret.example.yaml"), "utf8")) as Obj;
    expect(container.envFrom.some((f: Obj) => f.secretRef?.name === example.metadata.name)).toBe(true);
    expect(Object.keys(example.stringData).filter((n) => !known.has(n))).toEqual([]);
    expect(find(objs, "Secret")).toEqual([]); // credentials are never part of what kustomize applies
  });

  it("has a comment on every RBAC rule and every admission-policy check in the source YAML", () => {
    const source = ["deploy/base/rbac.yaml", "deploy/base/rbac-lease.yaml", "deploy/base/rbac-access.yaml"]
      .map((f) => readFileSync(at(f), "utf8"))
      .join("\n---\n");
    const parsedRules = parseAllDocuments(source).flatMap((d) => ((d.toJS() as Obj | null)?.rules ?? []) as Obj[]);
    const lines = source.split("\n");
    const ruleLines = lines.flatMap((l, i) => (/^\s*- apiGroups:/.test(l) ? [i] : []));
    expect(ruleLines.length).toBe(parsedRules.length); // every rule starts with apiGroups, so each is found here
    const uncommented = ruleLines.filter((i) => !/^\s*#\s*\S/.test(lines[i - 1] ?? "")).map((i) => `line ${i + 1}`);
    expect(uncommented).toEqual([]);
    const rendered = [...find(objs, "ClusterRole"), ...find(objs, "Role")].flatMap((r) => r.rules);
    expect(rendered.length).toBe(parsedRules.length);

    const policySource = readFileSync(at("deploy/base/admission-policy.yaml"), "utf8").split("\n");
    const checks = policySource.flatMap((l, i) => (/^ {4}- expression:/.test(l) ? [i] : []));
    expect(checks.length).toBe(one(objs, "ValidatingAdmissionPolicy", "preview-bot-fence").spec.validations.length);
    expect(
      checks
        .filter((i) => !/^\s*#\s*\S/.test(policySource[i - 1] ?? ""))
        .map((i) => `admission-policy.yaml line ${i + 1}`),
    ).toEqual([]);
  });

  it("grants no wildcards, no escalate or impersonate, and bind on the preview role only", () => {
    const rules = [...find(objs, "ClusterRole"), ...find(objs, "Role")].flatMap((r) => r.rules as Obj[]);
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) {
      for (const field of ["verbs", "resources", "apiGroups"]) expect(r[field]).not.toContain("*");
      expect(r.verbs.filter((v: string) => ["escalate", "impersonate"].includes(v))).toEqual([]);
      if (r.verbs.includes("bind"))
        expect(r).toEqual({
          apiGroups: ["rbac.authorization.k8s.io"],
          resources: ["clusterroles"],
          verbs: ["bind"],
          resourceNames: [PREVIEW_ROLE],
        });
      expect(r.nonResourceURLs).toBeUndefined();
    }
    const forbidden = rules
      .flatMap((r) => r.resources as string[])
      .filter((res) =>
        [
          "clusterrolebindings",
          "roles",
          "customresourcedefinitions",
          "nodes",
          "pods/exec",
          "serviceaccounts/token",
          "daemonsets",
        ].includes(res),
      );
    expect(forbidden).toEqual([]);
    // Cluster-wide, RoleBindings may only be created (the bot's own, before it has any right in a new namespace).
    const clusterWide = one(objs, "ClusterRole", "preview-bot").rules as Obj[];
    expect(clusterWide.filter((r) => r.resources.includes("rolebindings")).flatMap((r) => r.verbs)).toEqual(["create"]);
    expect(clusterWide.flatMap((r) => r.resources as string[]).sort()).toEqual([
      "clusterroles",
      "gateways",
      "namespaces",
      "rolebindings",
    ]);
    // The shared Gateway is only read (its HTTPS listeners decide a preview URL's scheme), never written.
    expect(clusterWide.filter((r) => r.resources.includes("gateways")).flatMap((r) => r.verbs)).toEqual(["get"]);
  });

  it("grants what the bot itself does: namespaces cluster-wide, the rest only through the preview role", () => {
    const clusterWide = one(objs, "ClusterRole", "preview-bot").rules as Obj[];
    expect(grants(clusterWide, "", "namespaces", ["get", "list", "create", "patch", "delete"])).toEqual([]);
    const rules = one(objs, "ClusterRole", PREVIEW_ROLE).rules as Obj[];
    const needs: Array<[string, string, string[]]> = [
      ["", "secrets", ["get", "create", "patch"]],
      ["", "pods", ["list"]],
      ["", "pods/log", ["get"]],
      ["", "events", ["list"]],
      ["", "resourcequotas", ["get", "create", "patch"]],
      ["", "limitranges", ["get", "create", "patch"]],
      ["networking.k8s.io", "networkpolicies", ["get", "create", "patch"]],
      ["rbac.authorization.k8s.io", "rolebindings", ["get"]],
      ["apps", "deployments", ["list"]],
      ["apps", "statefulsets", ["list"]],
      ["batch", "cronjobs", ["list", "patch"]],
    ];
    for (const [group, resource, verbs] of needs)
      expect({ group, resource, missing: grants(rules, group, resource, verbs) }).toEqual({
        group,
        resource,
        missing: [],
      });
  });

  it("ships the admission policy that fences the bot: bound, failing closed, for the Deployment's own account", () => {
    const policy = one(objs, "ValidatingAdmissionPolicy", "preview-bot-fence");
    const binding = one(objs, "ValidatingAdmissionPolicyBinding", "preview-bot-fence");
    expect(binding.spec).toEqual({ policyName: "preview-bot-fence", validationActions: ["Deny"] });
    expect(policy.spec.failurePolicy).toBe("Fail");
    const account = `system:serviceaccount:${deployment.metadata.namespace}:${deployment.spec.template.spec.serviceAccountName}`;
    expect(policy.spec.matchConditions).toEqual([
      { name: "the-bot-only", expression: `request.userInfo.username == '${account}'` },
    ]);
    expect(policy.spec.matchConstraints.resourceRules).toEqual([
      {
        apiGroups: ["*"],
        apiVersions: ["*"],
        operations: ["CREATE", "UPDATE", "DELETE", "CONNECT"],
        resources: ["*/*"],
        scope: "*",
      },
    ]);
    expect(policy.spec.validations.length).toBeGreaterThanOrEqual(6);
    for (const v of policy.spec.validations)
      expect({ reason: v.reason, message: typeof v.messageExpression }).toEqual({
        reason: "Forbidden",
        message: "string",
      });
  });

  it("tells the bot who it is and which role to bind: the settings' defaults match deploy/", () => {
    const fromPod = Object.fromEntries(
      (container.env as Obj[]).filter((e) => e.valueFrom).map((e) => [e.name, e.valueFrom.fieldRef.fieldPath]),
    );
    expect(fromPod).toMatchObject({
      BOT_NAMESPACE: "metadata.namespace",
      BOT_SERVICE_ACCOUNT: "spec.serviceAccountName",
    });
    const defaults = loadEnv({});
    expect([defaults.PREVIEW_CLUSTER_ROLE, defaults.BOT_NAMESPACE, defaults.BOT_SERVICE_ACCOUNT]).toEqual([
      PREVIEW_ROLE,
      deployment.metadata.namespace,
      deployment.spec.template.spec.serviceAccountName,
    ]);
    expect(
      one(objs, "Namespace", deployment.metadata.namespace).metadata.labels["pod-security.kubernetes.io/enforce"],
    ).toBe("restricted");
  });

  it("covers every kind a real repository's previews apply (the KubernetesMOOC fixture): apply and prune verbs", async () => {
    const rules = one(objs, "ClusterRole", PREVIEW_ROLE).rules as Obj[];
    const fixture = [
      ...(await render("test/fixtures/kubernetesmooc/manifests/overlays/feature")),
      ...(await render("test/fixtures/kubernetesmooc/manifests/base")),
    ];
    const kinds = new Map(
      fixture.filter((o) => o.kind !== "Namespace").map((o) => [`${groupOf(o.apiVersion)}/${plural(o.kind)}`, o]),
    );
    expect(kinds.size).toBeGreaterThanOrEqual(12);
    const missing = [...kinds.keys()].flatMap((key) => {
      const [group, resource] = key.split("/") as [string, string];
      const lacking = grants(rules, group, resource, ["get", "list", "create", "patch", "delete"]);
      return lacking.length ? [`${key}: ${lacking.join(",")}`] : [];
    });
    expect(missing).toEqual([]);
  });

  it("closes its own namespace to ingress: webhooks from the ingress namespace and metrics from Prometheus reach the bot's port, the renderer hears only the bot", () => {
    const policies = find(objs, "NetworkPolicy");
    const deny = one(objs, "NetworkPolicy", "preview-bot-default-deny");
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress"] });
    const bot = one(objs, "NetworkPolicy", "preview-bot");
    expect(bot.spec.podSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    const port = container.ports.find((p: Obj) => p.name === "http");
    expect(bot.spec.ingress).toEqual([
      {
        from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } }],
        ports: [{ port: port.name, protocol: "TCP" }],
      },
      {
        from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
        ports: [{ port: port.name, protocol: "TCP" }],
      },
    ]);
    const renderer = one(objs, "NetworkPolicy", "preview-bot-renderer");
    expect(renderer.spec.ingress.flatMap((r: Obj) => r.from)).toEqual([
      { podSelector: { matchLabels: deployment.spec.selector.matchLabels } },
    ]);
    expect(renderer.spec.egress).toEqual([]);
    expect(policies.map((p) => p.metadata.name).sort()).toEqual([
      "preview-bot",
      "preview-bot-default-deny",
      "preview-bot-renderer",
    ]);
  });

  it("counts in every preview's quota each built-in kind the preview role may create", () => {
    const previews = one(objs, "ClusterRole", PREVIEW_ROLE);
    // Custom kinds are counted by the render (PREVIEW_QUOTA_OBJECTS): the quota controller leaves their usage
    // uncomputed, and the bot waits for a quota's usage before applying anything.
    const custom = new Set([
      "gateway.networking.k8s.io",
      "gateway.envoyproxy.io",
      "secrets-store.csi.x-k8s.io",
      "alb.networking.azure.io",
      "monitoring.coreos.com",
    ]);
    const builtIn = previews.rules
      .filter((r: Obj) => r.verbs.includes("create") && !custom.has(r.apiGroups[0]))
      .flatMap((r: Obj) => (r.resources as string[]).map((res) => (r.apiGroups[0] ? `${res}.${r.apiGroups[0]}` : res)));
    expect(builtIn.length).toBeGreaterThan(10);
    expect(builtIn.filter((r: string) => !COUNTED_RESOURCES.includes(r))).toEqual([]);
  });
});

describeWithTools(["kustomize"], "deploy/overlays/example (with the backups component)", () => {
  let objs: Obj[];

  beforeAll(async () => {
    objs = await render("deploy/overlays/example");
  });

  it("sets a real image (registry/name:tag) on every container", () => {
    const images = podSpecs(objs).flatMap((p) => p.spec.containers.map((c: Obj) => c.image as string));
    expect(images.length).toBeGreaterThanOrEqual(3);
    for (const image of images) expect(image).toMatch(/^[a-z0-9.-]+(:\d+)?\/.+:[\w.-]+$/);
  });

  it("wires Workload Identity for every workload that uses Azure (not the renderer: it holds no identity)", () => {
    for (const { owner, spec, labels } of podSpecs(objs)) {
      if (owner === "Deployment/preview-bot-renderer") {
        expect(labels["azure.workload.identity/use"]).toBeUndefined();
        expect(one(objs, "ServiceAccount", spec.serviceAccountName).metadata.annotations).toBeUndefined();
        continue;
      }
      expect({ owner, label: labels["azure.workload.identity/use"] }).toEqual({ owner, label: "true" });
      const account = one(objs, "ServiceAccount", spec.serviceAccountName);
      expect(account.metadata.annotations["azure.workload.identity/client-id"]).not.toBe(
        "00000000-0000-0000-0000-000000000000",
      );
    }
  });

  it("gives the bot and the backup jobs separate Azure identities (the bot must not reach production backups)", () => {
    const bot = one(objs, "ServiceAccount", "preview-bot").metadata.annotations["azure.workload.identity/client-id"];
    const backup = one(objs, "ServiceAccount", "preview-bot-backup").metadata.annotations[
      "azure.workload.identity/client-id"
    ];
    expect(bot).toMatch(/^[0-9a-f-]{36}$/);
    expect(backup).toMatch(/^[0-9a-f-]{36}$/);
    expect(backup).not.toBe(bot);
  });

  it("gives backup jobs no Kubernetes token and no RBAC binding", () => {
    const backups = podSpecs(objs).filter((p) => p.owner.startsWith("CronJob/"));
    expect(backups.length).toBe(2);
    for (const { spec } of backups) {
      expect(spec.automountServiceAccountToken).toBe(false);
      expect(spec.securityContext.runAsNonRoot).toBe(true);
      expect(spec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
      const bound = [...find(objs, "ClusterRoleBinding"), ...find(objs, "RoleBinding")].filter((b) =>
        b.subjects.some((s: Obj) => s.name === spec.serviceAccountName),
      );
      expect(bound).toEqual([]);
    }
  });

  it("sets only known settings in every container, and the backup targets file passes the targets schema", () => {
    const known = knownSettings();
    for (const { owner, spec } of podSpecs(objs)) {
      for (const c of spec.containers)
        expect({ owner, unknown: envNames(objs, c).filter((n) => !known.has(n)) }).toEqual({ owner, unknown: [] });
    }
    const targetsMap = find(objs, "ConfigMap").find((c) => c.data?.["backup-targets.yaml"]);
    const targets = parseTargets(
      parseYaml(targetsMap!.data["backup-targets.yaml"]),
      "deploy/backups/backup-targets.yaml",
    );
    const args = find(objs, "CronJob").map((c) => c.spec.jobTemplate.spec.template.spec.containers[0].args as string[]);
    for (const a of args) expect(targets.map((t) => t.name)).toContain(a[2]);
  });
});
