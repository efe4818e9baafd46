/**
 * The four repositories a new user tried (issue 13), rendered with `preview-bot render` exactly as the README
 * tells them to: a Helm chart with a vendored dependency, a kustomize base with a LoadBalancer frontend and no
 * route, a plain directory with nested variants, and an Ingress app with TLS. Each renders, gets a URL, and the
 * summary says what was rewritten and what an offline render assumed.
 */
import { expect, it } from "@jest/globals";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { runRenderCli } from "../../src/cli/render.js";
import type { KubeObject } from "../../src/services/shared/preview.js";
import { describeWithTools } from "../support/tools.js";

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures");
const SHA = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12";

async function render(fixture: string, pr: number): Promise<{ code: number; objects: KubeObject[]; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runRenderCli(
    [
      "--dir",
      path.join(FIXTURES, fixture),
      "--pr",
      String(pr),
      "--branch",
      "feature/x",
      "--sha",
      SHA,
      "--owner",
      "acme",
    ],
    {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
    },
  );
  // The repository's objects: what follows the Namespace and preview-bot's guardrails (render-guardrails.test.ts).
  const objects = Array.from(parseAllDocuments(stdout))
    .map((d) => d.toJS() as KubeObject)
    .filter((o) => o.kind !== "Namespace" && o.metadata.labels?.["preview-bot.dev/guardrail"] !== "true");
  return { code, objects, stderr };
}
const find = (objects: KubeObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name) as any;

describeWithTools(["helm"], "preview-bot render: a Helm chart with a vendored dependency and values files", () => {
  it("renders the chart offline into the preview namespace, with values files, set values and a generated HTTPRoute", async () => {
    const r = await render("helm-chart-app", 7);
    expect(r.stderr).toMatch(/^summary \(helm\):$/m);
    expect(r.code).toBe(0);
    const ns = "notes-pr-7";
    expect(r.objects.every((o) => o.metadata.namespace === ns)).toBe(true);
    const web = find(r.objects, "Deployment", "notes-web");
    expect(web.spec.replicas).toBe(1); // values-preview.yaml over values.yaml
    expect(web.spec.template.spec.containers[0].image).toBe(`ghcr.io/acme/notes:${SHA}`); // manifests.set image.tag
    // The release is named after the chart, so the subchart's names are the same in every preview.
    expect(find(r.objects, "StatefulSet", "notes-cache").spec.template.spec.containers[0].args).toEqual([
      "--maxmemory",
      "32mb",
    ]); // the vendored subchart
    expect(find(r.objects, "ConfigMap", "notes-config").data.PUBLIC_URL).toBe(
      "https://notes-pr-7.previews.example.test/",
    );
    // The test hook is left out, and the summary says so.
    expect(r.objects.find((o) => o.metadata.name === "notes-test-connection")).toBeUndefined();
    expect(r.stderr).toMatch(
      /^ {2}hooks {6}left out Pod "notes-test-connection" \(deploy\/chart\/templates\/tests\/test-connection\.yaml\): helm\.sh\/hook test: test hooks run with `helm test`, which a preview does not run$/m,
    );
    const route = find(r.objects, "HTTPRoute", "notes-pr-7");
    expect(route.spec).toEqual({
      rules: [
        { matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: "notes-web", port: 80 }] },
      ],
      hostnames: ["notes-pr-7.previews.example.test"],
      parentRefs: [{ name: "previews", namespace: "gateway-system", sectionName: "https" }],
    });
    expect(r.stderr).toMatch(/^ {2}URL {8}https:\/\/notes-pr-7\.previews\.example\.test\/$/m);
  });
});

describeWithTools(
  ["kustomize"],
  "preview-bot render: a kustomize base with a LoadBalancer frontend and no route",
  () => {
    it("makes the frontend a ClusterIP Service, generates its route, pins every image by prefix, and says so", async () => {
      const r = await render("kustomize-shop", 11);
      expect(r.code).toBe(0);
      const frontend = find(r.objects, "Service", "frontend");
      expect(frontend.spec.type).toBe("ClusterIP");
      expect(r.stderr).toMatch(/^ {2}(rewritten)? +Service "frontend": type LoadBalancer → ClusterIP/m);
      // The cloud load balancer's annotation is for a controller a preview does not get.
      expect(r.stderr).toMatch(
        /^ {2}rewritten {2}Service "frontend": annotations stripped .*: service\.beta\.kubernetes\.io\/azure-load-balancer-internal$/m,
      );
      for (const name of ["frontend", "api", "worker"])
        expect(find(r.objects, "Deployment", name).spec.template.spec.containers[0].image).toBe(
          `ghcr.io/acme/shop-${name}:pr-11-ab12cd3`,
        );
      expect(find(r.objects, "StatefulSet", "redis").spec.template.spec.containers[0].image).toBe(
        "docker.io/library/redis:7.2-alpine",
      );
      expect(find(r.objects, "HTTPRoute", "shop-pr-11").spec.rules[0].backendRefs).toEqual([
        { name: "frontend", port: 80 },
      ]);
      expect(r.stderr).toMatch(/^ {2}objects {4}9: ConfigMap 1, Service 3, Deployment 3, StatefulSet 1, HTTPRoute 1/m);
    });
  },
);

describeWithTools([], "preview-bot render: a plain directory with nested variants", () => {
  it("reads only what the path globs leave in, so nothing appears twice", async () => {
    const r = await render("plain-variants", 3);
    expect(r.code).toBe(0);
    expect(r.objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "Deployment/guestbook",
      "Service/guestbook",
      "Deployment/redis",
      "Service/redis",
      "HTTPRoute/guestbook-pr-3",
    ]);
  });
});

describeWithTools([], "preview-bot render: an Ingress app with TLS", () => {
  it("gives the Ingress the preview's host, the class, spec.tls with a per-preview Secret and cert-manager's annotation", async () => {
    const r = await render("ingress-tls-app", 5);
    expect(r.code).toBe(0);
    const ingress = find(r.objects, "Ingress", "blog");
    const host = "blog-pr-5.previews.example.test";
    expect(ingress.spec.ingressClassName).toBe("nginx");
    expect(ingress.spec.rules[0].host).toBe(host);
    expect(ingress.spec.tls).toEqual([{ hosts: [host], secretName: "blog-pr-5-tls" }]);
    // The bot's own annotations; the controller annotation from the manifests is stripped unless the operator
    // allows it (PREVIEW_ALLOWED_ANNOTATIONS).
    expect(ingress.metadata.annotations).toMatchObject({
      "cert-manager.io/cluster-issuer": "letsencrypt-staging",
      "external-dns.alpha.kubernetes.io/hostname": host,
    });
    expect(ingress.metadata.annotations).not.toHaveProperty(["nginx.ingress.kubernetes.io/proxy-body-size"]);
    expect(r.stderr).toMatch(
      /Ingress "blog": annotations stripped .*: nginx\.ingress\.kubernetes\.io\/proxy-body-size/,
    );
    expect(r.stderr).toMatch(new RegExp(`^ {2}URL {8}https://${host.replace(/\./g, "\\.")}/$`, "m"));
    // Nothing lets the ingress controller in (no PREVIEW_INGRESS_FROM_NAMESPACES here): said, and counted.
    expect(r.stderr).toMatch(
      /^warning: Ingress "blog" is unreachable: nothing outside the preview.s namespace may reach its pods/m,
    );
    expect(r.stderr).toMatch(/^ {2}warnings {3}1$/m);
  });
});
