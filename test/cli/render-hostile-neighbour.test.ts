/**
 * The hostile-neighbour fixture (test/fixtures/hostile-neighbour, issue 21) rendered with `preview-bot render`, as a
 * reviewer would: every object that reaches past the preview is refused or rewritten, and the render says so for
 * each, in these words. The refused objects fail the render together (exit 1, every refusal listed at once); the
 * rewritten ones, rendered on their own with a configured gateway, pass with a note each.
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runRenderCli } from "../../src/cli/render.js";
import { describeWithTools } from "../support/tools.js";

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/hostile-neighbour");
const SHA = "e".repeat(40);

async function render(config?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const args = ["--dir", FIXTURE, "--pr", "66", "--branch", "evil", "--sha", SHA, "--owner", "acme", "--repo", "shop"];
  const code = await runRenderCli(config ? [...args, "--config", config] : args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}

/** Every refusal, in the render's words (the fixture's own .github/preview.yml: no gateway configured). */
const REFUSED = [
  `51 ConfigMaps in the render, over the bound of 50 objects of one kind for a preview (the cluster's etcd is shared; the operator's PREVIEW_QUOTA_OBJECTS)`,
  `Ingress "admin": annotation nginx.ingress.kubernetes.io/auth-url is refused: it tells a shared controller who may reach the route, and stripping it would open the route instead; remove it (previews are protected by the bot), or ask the operator to allow it (PREVIEW_ALLOWED_ANNOTATIONS)`,
  `Ingress "admin": annotation nginx.ingress.kubernetes.io/whitelist-source-range is refused: it tells a shared controller who may reach the route, and stripping it would open the route instead; remove it (previews are protected by the bot), or ask the operator to allow it (PREVIEW_ALLOWED_ANNOTATIONS)`,
  `TCPRoute "db" (deploy/refused/controllers.yaml, document 2): TCPRoutes are refused (preview-bot attaches only HTTPRoutes and Ingresses to the operator's gateways; this one would attach where the manifests say)`,
  `Deployment "critical": priorityClassName "system-node-critical" is refused (a preview runs at the cluster's default priority, so it cannot preempt its neighbours; allowed: none; the operator's PREVIEW_PRIORITY_CLASSES)`,
  `Deployment "critical": priority 2000001000 is refused (the cluster sets it from the priority class)`,
  `Deployment "critical": toleration of every taint (operator Exists, no key) is refused (it would let the preview onto tainted nodes: system, GPU or other teams' pools; allowed: node.kubernetes.io/not-ready:NoExecute, node.kubernetes.io/unreachable:NoExecute; the operator's PREVIEW_ALLOWED_TOLERATIONS)`,
  `Deployment "critical": nodeSelector node-role.kubernetes.io/control-plane= is refused (node selection would place the preview on nodes the operator keeps for others; allowed: kubernetes.io/os, kubernetes.io/arch; the operator's PREVIEW_ALLOWED_NODE_LABELS)`,
  `Deployment "critical": node affinity matchFields is refused (it pins the pod to named nodes)`,
  `Deployment "critical": podAffinity on pods of namespace production is refused (a preview is placed by its own pods only)`,
  `Job "miner": toleration of nvidia.com/gpu:NoSchedule is refused (it would let the preview onto tainted nodes: system, GPU or other teams' pools; allowed: node.kubernetes.io/not-ready:NoExecute, node.kubernetes.io/unreachable:NoExecute; the operator's PREVIEW_ALLOWED_TOLERATIONS)`,
  `Job "miner": nodeSelector agentpool=gpu is refused (node selection would place the preview on nodes the operator keeps for others; allowed: kubernetes.io/os, kubernetes.io/arch; the operator's PREVIEW_ALLOWED_NODE_LABELS)`,
  `ServiceMonitor "steal": endpoints[0].bearerTokenFile is refused (it sends one of Prometheus's own files, such as its token; use bearerTokenSecret or authorization with a Secret of the preview)`,
  `ServiceMonitor "steal": endpoints[0].tlsConfig.caFile is refused (a file of Prometheus's own; use a Secret of the preview)`,
  `ServiceMonitor "steal": endpoints[0].tlsConfig.keyFile is refused (a file of Prometheus's own; use a Secret of the preview)`,
  `ServiceMonitor "steal": endpoints[0].relabelings: relabelling __address__ is refused (it would make Prometheus scrape any address with its credentials)`,
  `PodMonitor "pods": podMetricsEndpoints[0].bearerTokenFile is refused (it sends one of Prometheus's own files, such as its token; use bearerTokenSecret or authorization with a Secret of the preview)`,
  `PrometheusRule "page-production": rule "PaymentsDown" sets the namespace label to "production", which is refused (its alerts would claim another namespace)`,
  `Probe "probe-metadata": Probes are refused (they point the shared Prometheus at arbitrary targets); use a ServiceMonitor or PodMonitor for the preview's own pods`,
  `ScrapeConfig "scrape-anything": ScrapeConfigs are refused (they point the shared Prometheus at arbitrary targets); use a ServiceMonitor or PodMonitor for the preview's own pods`,
  `HTTPRoute "web": no Gateway is configured for previews, and the parents in the manifests (production/prod-gateway) are never used: set route.parentRefs in .github/preview.yml, or ask the bot's operator for PREVIEW_GATEWAY`,
];

/** Every rewrite of deploy/rewritten, in the render's words (a gateway configured). */
const REWRITTEN = [
  `Deployment "web": emptyDir "cache" had no sizeLimit: 512Mi (the default ephemeral-storage limit), so it cannot fill the node's disk`,
  `Deployment "web": emptyDir "shm" had no sizeLimit: 512Mi (the default memory limit), so it cannot fill the node's memory`,
  `Service "web": annotations stripped (shared controllers act on them; a preview keeps only the bot's own and those the operator allows, PREVIEW_ALLOWED_ANNOTATIONS): external-dns.alpha.kubernetes.io/hostname, external-dns.alpha.kubernetes.io/target, service.beta.kubernetes.io/aws-load-balancer-internal`,
  `Service "web": type LoadBalancer → ClusterIP (previews are reached through their route; no load balancers or node ports)`,
  `Ingress "web": annotations stripped (shared controllers act on them; a preview keeps only the bot's own and those the operator allows, PREVIEW_ALLOWED_ANNOTATIONS): nginx.ingress.kubernetes.io/server-alias, nginx.ingress.kubernetes.io/mirror-target, cert-manager.io/cluster-issuer, kubernetes.io/ingress.class`,
  `HTTPRoute "web": annotations stripped (shared controllers act on them; a preview keeps only the bot's own and those the operator allows, PREVIEW_ALLOWED_ANNOTATIONS): external-dns.alpha.kubernetes.io/target`,
  `ServiceMonitor "web": namespaceSelector {"any":true} removed (a preview's monitor selects only its own namespace)`,
  `NetworkPolicy "egress-anywhere": egress rule 1 allowed every destination: narrowed to the guardrail's (0.0.0.0/0 but the cloud metadata endpoints, ::/0 but the cloud metadata endpoints, every namespace)`,
  `NetworkPolicy "egress-anywhere": egress rule 2: address range 169.254.169.254/32 is a cloud metadata endpoint, which previews never reach: dropped; address range 169.254.0.0/16: the cloud metadata endpoints in it (169.254.169.254/32, 169.254.169.252/32, 169.254.170.23/32) excepted`,
];

/** Said as warnings too (counted in the summary): an Ingress nothing may reach, a route's own parents replaced. */
const WARNED = [
  `Ingress "web" is unreachable: nothing outside the preview's namespace may reach its pods (the guardrail NetworkPolicy; PREVIEW_INGRESS_FROM_NAMESPACES and PREVIEW_INGRESS_FROM_CIDRS are empty), so the ingress controller cannot serve it. Ask the bot's operator to set PREVIEW_INGRESS_FROM_NAMESPACES to the controller's namespace`,
  `HTTPRoute "web": its own parentRefs (production/prod-gateway) replaced by the configured gateway (gateway-system/previews): a preview's routes attach only where the bot is told`,
  `NetworkPolicy "egress-anywhere": egress rule 1 allowed every destination: narrowed to the guardrail's (0.0.0.0/0 but the cloud metadata endpoints, ::/0 but the cloud metadata endpoints, every namespace)`,
  `NetworkPolicy "egress-anywhere": egress rule 2: address range 169.254.169.254/32 is a cloud metadata endpoint, which previews never reach: dropped; address range 169.254.0.0/16: the cloud metadata endpoints in it (169.254.169.254/32, 169.254.169.252/32, 169.254.170.23/32) excepted`,
];

let tmp = "";
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "hostile-neighbour-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describeWithTools([], "preview-bot render: the hostile-neighbour fixture", () => {
  it("refuses every object that would reach past the preview, all listed at once, and prints nothing", async () => {
    const r = await render();
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const listed = r.stderr
      .split("\n")
      .filter((l) => l.startsWith("  "))
      .map((l) => l.slice(2));
    expect(r.stderr).toMatch(new RegExp(`^preview-bot render: refused, ${REFUSED.length} problems:$`, "m"));
    expect(listed).toEqual(REFUSED);
  });

  it("rewrites the rest, with a note for each object, and keeps none of what it rewrote", async () => {
    const config = path.join(tmp, "rewritten.yml");
    await writeFile(
      config,
      'manifests:\n  path: deploy/rewritten\nroute:\n  host: "{name}.previews.example.com"\n  parentRefs: [{ name: previews, namespace: gateway-system }]\n',
    );
    const r = await render(config);
    expect(r.code).toBe(0);
    const block = r.stderr.slice(r.stderr.indexOf("  rewritten  "), r.stderr.indexOf("  refused    "));
    const lines = block
      .replace("  rewritten  ", "             ")
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
    expect(lines).toEqual(REWRITTEN);
    const warnings = r.stderr
      .split("\n")
      .filter((l) => l.startsWith("warning: "))
      .map((l) => l.slice("warning: ".length));
    expect(warnings).toEqual(expect.arrayContaining(WARNED));
    expect(r.stderr).toMatch(new RegExp(`^ {2}warnings {3}${warnings.length}$`, "m"));
    // What is applied carries none of it.
    expect(r.stdout).not.toMatch(/external-dns|server-alias|mirror-target|letsencrypt-prod|LoadBalancer|prod-gateway/);
    expect(r.stdout).not.toMatch(/cidr: 169\.254\.169\.254\/32\n/);
    expect(r.stdout).not.toContain("any: true");
  });
});
