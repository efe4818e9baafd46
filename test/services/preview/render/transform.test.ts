import { describe, expect, it } from "@jest/globals";
import { parseConfig, type PreviewConfig } from "../../../../src/config.js";
import type { KubeObject, PreviewRef } from "../../../../src/services/shared/preview.js";
import { RenderError, previewNamesFor, transformObjects } from "../../../../src/services/preview/render/index.js";
import { imageRepository } from "../../../../src/services/preview/render/images.js";
import { prefixPath } from "../../../../src/services/preview/render/routes.js";
import { substituteValues } from "../../../../src/services/preview/render/substitute.js";
import { DEFAULT_GUARDRAILS, DEFAULT_NEIGHBOURS } from "../../../../src/services/preview/guardrails/settings.js";
import {
  excludeObjects,
  applyPreviewNamespace,
  addOwnership,
} from "../../../../src/services/preview/render/transform.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";
const ref: PreviewRef = { owner: "acme", repo: "shop", number: 42, branch: "feature/login", sha: SHA };

function config(yaml: string): PreviewConfig {
  const r = parseConfig(`manifests:\n  path: deploy\n${yaml}`);
  if (!r.ok) throw new Error(r.errors.join("\n"));
  return r.config;
}

function run(objects: KubeObject[], yaml = "") {
  const c = config(yaml);
  const names = previewNamesFor(ref, c);
  return { names, ...transformObjects(objects, { config: c, ref, names }) };
}

const ingress = (): KubeObject => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "Ingress",
  metadata: { name: "web" },
  spec: {
    rules: [
      {
        http: {
          paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }],
        },
      },
    ],
  },
});
const obj = (kind: string, name: string, extra: Record<string, unknown> = {}, apiVersion = "v1"): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name },
  ...extra,
});

function deployment(name: string, images: string[], init: string[] = []): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, labels: { app: name } },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          initContainers: init.map((image, i) => ({ name: `init${i}`, image })),
          containers: images.map((image, i) => ({ name: `c${i}`, image })),
        },
      },
    },
  };
}

describe("1. exclude", () => {
  it("drops objects by kind, or by kind and name, and reports entries that matched nothing", () => {
    const warnings: string[] = [];
    const kept = excludeObjects(
      [obj("ConfigMap", "a"), obj("ConfigMap", "b"), obj("Secret", "a"), obj("Service", "a")],
      [{ kind: "ConfigMap", name: "a" }, { kind: "Secret" }, { kind: "Ingress", name: "web" }],
      warnings,
    );
    expect(kept.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(["ConfigMap/b", "Service/a"]);
    expect(warnings).toEqual(['manifests.exclude: no Ingress "web" in the render']);
  });
});

describe("2. replacements and variables", () => {
  const sub = (objects: KubeObject[], replacements: Record<string, string>, variables: Record<string, string>) => {
    const warnings: string[] = [];
    substituteValues(objects, { replacements, variables }, warnings);
    return warnings;
  };

  it("replaces the longest token first, in one pass, in string values only (never keys)", () => {
    const cm = obj("ConfigMap", "BRANCH_NAME-config", {
      data: {
        BRANCH_NAME: "BRANCH_NAME",
        db: "BRANCH_NAME_DB",
        ns: "feature-BRANCH_NAME",
        n: 5,
        list: ["x BRANCH_NAME y"],
      },
    });
    sub([cm], { BRANCH_NAME: "login", BRANCH_NAME_DB: "login_db", "feature-BRANCH_NAME": "feature-login" }, {});
    expect(cm.metadata.name).toBe("login-config");
    expect(cm.data).toEqual({ BRANCH_NAME: "login", db: "login_db", ns: "feature-login", n: 5, list: ["x login y"] });
  });

  it("does not re-scan a replacement's output", () => {
    const cm = obj("ConfigMap", "c", { data: { a: "AAA" } });
    sub([cm], { AAA: "BBB", BBB: "CCC" }, {});
    expect(cm.data).toEqual({ a: "BBB" });
  });

  it("substitutes ${VAR}, ${VAR:=default} and keeps $${VAR} and $VAR literal, like Flux", () => {
    const cm = obj("ConfigMap", "c", {
      data: { a: "${HOST}/x", b: "${PORT:=8080}", c: "$${HOST}", d: "$HOST", e: "${EMPTY:=}", f: "${HOST:=ignored}" },
    });
    const warnings = sub([cm], {}, { HOST: "h.example.com" });
    expect(cm.data).toEqual({ a: "h.example.com/x", b: "8080", c: "${HOST}", d: "$HOST", e: "", f: "h.example.com" });
    expect(warnings).toEqual([]);
  });

  it("leaves an undefined ${VAR} without default as is and warns once per name, when variables are in use", () => {
    const a = obj("ConfigMap", "a", { data: { x: "${MISSING}", y: "${MISSING}-again" } });
    const b = obj("Secret", "b", { stringData: { z: "${MISSING}" } });
    const warnings = sub([a, b], {}, { OTHER: "x" });
    expect(a.data).toEqual({ x: "${MISSING}", y: "${MISSING}-again" });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/\$\{MISSING\} is not defined .*ConfigMap "a".*left as is/);
  });

  it("keeps value types: a substituted number-looking value stays a string, numbers stay numbers", () => {
    const d = obj("ConfigMap", "c", { data: { ttl: "${TTL:=300}" }, replicas: 3 });
    sub([d], {}, {});
    expect(d.data).toEqual({ ttl: "300" });
    expect(d.replicas).toBe(3);
  });

  it("expands {placeholders} in the config's templates from the preview's names", () => {
    const { objects, names } = run(
      [obj("ConfigMap", "c", { data: { url: "${URL}", db: "DB_TOKEN", tag: "${TAG}" } }), ingress()],
      [
        "route:",
        '  host: "{name}.previews.example.com"',
        "variables:",
        '  URL: "{url}"',
        '  TAG: "{shortSha}-{number}"',
        "replacements:",
        '  DB_TOKEN: "{database}"',
      ].join("\n"),
    );
    expect(objects[0]!.data).toEqual({ url: names.url, db: names.database, tag: "0123456-42" });
    expect(names.url).toBe(`https://${names.host}/`);
  });

  it("says nothing about ${X} when the repository uses no variables (it is someone else's syntax)", () => {
    const warnings: string[] = [];
    const d = obj("ConfigMap", "script", { data: { run: "echo ${HOME}" } });
    substituteValues([d], { replacements: {}, variables: {} }, warnings);
    expect(warnings).toEqual([]);
    expect(d.data).toEqual({ run: "echo ${HOME}" });
  });

  it("names the field when a template has an unknown placeholder", () => {
    expect(() => run([], 'variables:\n  X: "{nope}"')).toThrow(/variables\.X: unknown placeholder \{nope\}/);
  });
});

describe("3. preview namespace", () => {
  it("puts every namespaced object in the preview namespace, overriding what the manifests say", () => {
    const warnings: string[] = [];
    const out = applyPreviewNamespace(
      [
        obj("ConfigMap", "a"),
        { ...obj("Service", "b"), metadata: { name: "b", namespace: "production" } },
        obj("HealthCheckPolicy", "c", {}, "alb.networking.azure.io/v1"),
      ],
      "pr-42",
      [],
      warnings,
    );
    expect(out.map((o) => o.metadata.namespace)).toEqual(["pr-42", "pr-42", "pr-42"]);
    expect(warnings).toEqual([]);
  });

  it("drops a Namespace object with a warning", () => {
    const warnings: string[] = [];
    const out = applyPreviewNamespace([obj("Namespace", "production"), obj("ConfigMap", "a")], "pr-42", [], warnings);
    expect(out.map((o) => o.kind)).toEqual(["ConfigMap"]);
    expect(warnings[0]).toMatch(
      /dropped Namespace "production": preview-bot creates the preview namespace "pr-42" itself/,
    );
  });

  it("refuses other cluster-scoped kinds unless allowed, and keeps allowed ones unnamespaced", () => {
    const role = () =>
      obj("ClusterRole", "reader", { metadata: { name: "reader", namespace: "x" } }, "rbac.authorization.k8s.io/v1");
    const problems: string[] = [];
    expect(applyPreviewNamespace([role()], "pr-42", [], [], problems)).toEqual([]);
    expect(problems).toEqual([
      'ClusterRole "reader" is cluster-scoped and not allowed in a preview (allowClusterScoped)',
    ]);
    expect(() => run([role()])).toThrow(RenderError);
    const out = applyPreviewNamespace([role()], "pr-42", ["ClusterRole"], []);
    expect(out[0]!.metadata.namespace).toBeUndefined();
  });

  it("treats kinds listed in allowClusterScoped as cluster-scoped (custom cluster-scoped CRDs)", () => {
    const out = applyPreviewNamespace([obj("ClusterThing", "t", {}, "example.com/v1")], "pr-42", ["ClusterThing"], []);
    expect(out[0]!.metadata.namespace).toBeUndefined();
  });

  it("moves ServiceAccount subjects of RoleBindings into the preview namespace, not other subjects", () => {
    const rb = obj(
      "RoleBinding",
      "rb",
      {
        subjects: [
          { kind: "ServiceAccount", name: "app", namespace: "production" },
          { kind: "User", name: "alice" },
          { kind: "ServiceAccount", name: "b" },
        ],
      },
      "rbac.authorization.k8s.io/v1",
    );
    applyPreviewNamespace([rb], "pr-42", [], []);
    expect(rb.subjects).toEqual([
      { kind: "ServiceAccount", name: "app", namespace: "pr-42" },
      { kind: "User", name: "alice" },
      { kind: "ServiceAccount", name: "b", namespace: "pr-42" },
    ]);
  });
});

describe("4. images", () => {
  it("reads the repository with the registry's reference parser (ports, tags; a digest it replaces is not checked)", () => {
    expect(imageRepository("ghcr.io/acme/shop:1.2@sha256:abc")).toBe("ghcr.io/acme/shop");
    expect(imageRepository("registry:5000/team/app")).toBe("registry:5000/team/app");
    expect(imageRepository("registry:5000/team/app:v1")).toBe("registry:5000/team/app");
    expect(imageRepository("nginx")).toBe("nginx");
    expect(imageRepository("ghcr.io/Acme/shop:1")).toBeUndefined(); // not a reference: left alone
  });

  it("pins listed images in containers and initContainers of every workload kind, leaving others alone", () => {
    const cron: KubeObject = {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: "cron" },
      spec: {
        jobTemplate: { spec: { template: { spec: { containers: [{ name: "c", image: "ghcr.io/acme/worker" }] } } } },
      },
    };
    const pod: KubeObject = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p" },
      spec: { containers: [{ name: "c", image: "ghcr.io/acme/shop:old" }] },
    };
    const { objects, warnings, pinned } = run(
      [deployment("web", ["ghcr.io/acme/shop:1.0@sha256:abcd", "nginx:1.27"], ["ghcr.io/acme/shop:latest"]), cron, pod],
      [
        "images:",
        "  - name: ghcr.io/acme/shop",
        '    tag: "pr-{number}-{shortSha}"',
        "  - name: ghcr.io/acme/worker",
        "    newName: registry.example.com/worker",
        "  - name: ghcr.io/acme/unused",
      ].join("\n"),
    );
    const spec = (o: KubeObject) => (o.spec as any).template.spec;
    expect(spec(objects[0]!).containers.map((c: any) => c.image)).toEqual([
      "ghcr.io/acme/shop:pr-42-0123456",
      "nginx:1.27",
    ]);
    expect(spec(objects[0]!).initContainers[0].image).toBe("ghcr.io/acme/shop:pr-42-0123456");
    expect((objects[1]!.spec as any).jobTemplate.spec.template.spec.containers[0].image).toBe(
      `registry.example.com/worker:${SHA}`,
    );
    expect((objects[2]!.spec as any).containers[0].image).toBe("ghcr.io/acme/shop:pr-42-0123456");
    expect(warnings).toContain("images: no container uses ghcr.io/acme/unused; nothing pinned for it");
    // What the deploy resolves to digests: each image written once, with every container that runs it.
    expect(pinned).toEqual([
      {
        entry: "ghcr.io/acme/shop",
        repository: "ghcr.io/acme/shop",
        tag: "pr-42-0123456",
        image: "ghcr.io/acme/shop:pr-42-0123456",
        containers: ["Deployment web, init container init0", "Deployment web, container c0", "Pod p, container c"],
      },
      {
        entry: "ghcr.io/acme/worker",
        repository: "registry.example.com/worker",
        tag: SHA,
        image: `registry.example.com/worker:${SHA}`,
        containers: ["CronJob cron, container c"],
      },
    ]);
  });

  it("refuses an invalid expanded tag, naming the image and the template", () => {
    const long = { ...ref, branch: "x".repeat(120) };
    const c = config('images:\n  - name: ghcr.io/acme/shop\n    tag: "{branch}-{sha}"');
    const names = previewNamesFor(long, c);
    expect(() => transformObjects([], { config: c, ref: long, names })).toThrow(
      /images: the tag "x{120}-0123.*" for ghcr.io\/acme\/shop \(from template "\{branch\}-\{sha\}"\) is not a valid image tag/,
    );
  });
});

describe("5. routes", () => {
  const route = (extra: Record<string, unknown> = {}): KubeObject => ({
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: "web", annotations: { keep: "me" } },
    spec: {
      parentRefs: [{ name: "prod-gateway", namespace: "gw" }],
      hostnames: ["shop.example.com"],
      rules: [
        { matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: "web", port: 80 }] },
        { matches: [{ path: { type: "Exact", value: "/api/health" } }, { headers: [{ name: "x", value: "y" }] }] },
        { backendRefs: [{ name: "web", port: 80 }] },
      ],
    },
    ...extra,
  });

  it("sets the preview hostname and the configured parents, keeps only allowed annotations, and adds external-dns", () => {
    const { objects, names, rewrites } = run(
      [route()],
      [
        "route:",
        '  host: "{name}.previews.example.com"',
        "  parentRefs: [{ name: previews, namespace: gateway-system }]",
        "  externalDns: true",
        "  tls:",
        "    clusterIssuer: letsencrypt",
        "  annotations:",
        "    team: shop",
      ].join("\n"),
    );
    const spec = objects[0]!.spec as any;
    expect(spec.hostnames).toEqual([names.host]);
    expect(spec.parentRefs).toEqual([{ name: "previews", namespace: "gateway-system" }]);
    expect(spec.rules[0].matches[0].path.value).toBe("/");
    // The bot's own (route.annotations, route.externalDns) are written after the PR's are filtered.
    expect(objects[0]!.metadata.annotations).toMatchObject({
      team: "shop",
      "external-dns.alpha.kubernetes.io/hostname": names.host,
    });
    expect(objects[0]!.metadata.annotations!.keep).toBeUndefined();
    expect(rewrites).toContain(
      `HTTPRoute "web": annotations stripped (shared controllers act on them; a preview keeps only the bot's own and those the operator allows, PREVIEW_ALLOWED_ANNOTATIONS): keep`,
    );
    // cert-manager reads issuer annotations on Gateways and Ingresses only: on an HTTPRoute it would be a lie.
    expect(objects[0]!.metadata.annotations!["cert-manager.io/cluster-issuer"]).toBeUndefined();
  });

  it("never keeps an HTTPRoute's own parents: with no Gateway configured it is refused, saying what to set", () => {
    expect(() => run([route()], 'route:\n  host: "{name}.previews.example.com"')).toThrow(
      `HTTPRoute "web": no Gateway is configured for previews, and the parents in the manifests (gw/prod-gateway) are never used: set route.parentRefs in .github/preview.yml, or ask the bot's operator for PREVIEW_GATEWAY`,
    );
  });

  it("keeps route.parentRefs to the operator's gateways when the operator lists any", () => {
    const c = config(
      'route:\n  host: "{name}.previews.example.com"\n  parentRefs: [{ name: prod, namespace: production }, { name: previews, namespace: gateway-system }]',
    );
    const names = previewNamesFor(ref, c);
    const policy = {
      ...DEFAULT_GUARDRAILS,
      neighbours: {
        ...DEFAULT_NEIGHBOURS,
        gateways: [{ namespace: "gateway-system", name: "previews" }],
        ingressFrom: { namespaces: ["gateway-system"], cidrs: [] },
      },
    };
    expect(() => transformObjects([route()], { config: c, ref, names, policy })).toThrow(
      "route.parentRefs: Gateway production/prod is not a gateway the bot's operator lets previews attach to (gateway-system/previews); name one of those, or ask the operator to add it to PREVIEW_ALLOWED_GATEWAYS",
    );
  });

  it("replaces parentRefs when configured and gives every HTTPRoute the preview's host, whatever route.httpRoutes says", () => {
    const other = route();
    other.metadata.name = "admin";
    const { objects, warnings } = run(
      [route(), other],
      [
        "route:",
        '  host: "{name}.previews.example.com"',
        "  httpRoutes: [web, ghost]",
        "  parentRefs:",
        "    - name: preview-gateway",
        "      namespace: gateways",
        "      sectionName: https",
      ].join("\n"),
    );
    expect((objects[0]!.spec as any).parentRefs).toEqual([
      { name: "preview-gateway", namespace: "gateways", sectionName: "https" },
    ]);
    expect((objects[1]!.spec as any).parentRefs).toEqual([
      { name: "preview-gateway", namespace: "gateways", sectionName: "https" },
    ]);
    expect((objects[1]!.spec as any).hostnames).toEqual([
      `pr-42.previews.example.com`.replace("pr-42", objects[1]!.metadata.namespace!),
    ]);
    expect(warnings).toContain(
      "route.httpRoutes is no longer needed and is ignored: every HTTPRoute gets the preview's hostnames",
    );
  });

  it("prefixes path matches in path-prefix mode and serves on the base URL's host", () => {
    expect(prefixPath("/pr-42", "/")).toBe("/pr-42");
    expect(prefixPath("/pr-42/", "/api")).toBe("/pr-42/api");
    const { objects, names } = run(
      [route()],
      [
        "names:",
        "  namespace: pr-{number}",
        "route:",
        "  baseUrl: https://previews.example.com",
        '  pathPrefix: "/{name}"',
        "  parentRefs: [{ name: previews, namespace: gateway-system }]",
      ].join("\n"),
    );
    const spec = objects[0]!.spec as any;
    expect(names.url).toBe("https://previews.example.com/pr-42/");
    expect(spec.hostnames).toEqual(["previews.example.com"]);
    expect(spec.rules[0].matches[0].path).toEqual({ type: "PathPrefix", value: "/pr-42" });
    expect(spec.rules[1].matches[0].path).toEqual({ type: "Exact", value: "/pr-42/api/health" });
    expect(spec.rules[1].matches[1].path).toEqual({ type: "PathPrefix", value: "/pr-42" });
    expect(spec.rules[2].matches).toEqual([{ path: { type: "PathPrefix", value: "/pr-42" } }]);
  });

  it("rewrites Ingress hosts and TLS hosts for teams not on Gateway API", () => {
    const ingress: KubeObject = {
      apiVersion: "networking.k8s.io/v1",
      kind: "Ingress",
      metadata: { name: "web" },
      spec: {
        tls: [{ hosts: ["shop.example.com"], secretName: "tls" }],
        rules: [{ host: "shop.example.com", http: { paths: [{ path: "/", pathType: "Prefix" }] } }],
      },
    };
    const { objects, names } = run(
      [ingress],
      'route:\n  host: "{name}.previews.example.com"\n  tls:\n    issuer: local-ca',
    );
    const spec = objects[0]!.spec as any;
    expect(spec.rules[0].host).toBe(names.host);
    expect(spec.rules[0].http.paths[0].path).toBe("/");
    expect(spec.tls[0]).toEqual({ hosts: [names.host], secretName: "tls" });
    expect(objects[0]!.metadata.annotations!["cert-manager.io/issuer"]).toBe("local-ca");
  });

  it("refuses routes when the preview has no hostname of its own (they would serve the manifests' hosts)", () => {
    expect(() => run([route()])).toThrow(
      'HTTPRoute "web": the preview has no hostname of its own (route.host or route.baseUrl), so this route would serve the hostnames in the manifests',
    );
  });
});

describe("6. ownership", () => {
  it("merges bot labels and annotations into metadata (bot wins) but never into pod templates or selectors", () => {
    const d = deployment("web", ["nginx"]);
    d.metadata.labels = { app: "web", "app.kubernetes.io/managed-by": "Helm" };
    addOwnership(
      [d],
      { "app.kubernetes.io/managed-by": "preview-bot", "preview-bot.dev/pr": "42" },
      { "preview-bot.dev/head-sha": SHA },
    );
    expect(d.metadata.labels).toEqual({
      app: "web",
      "app.kubernetes.io/managed-by": "preview-bot",
      "preview-bot.dev/pr": "42",
    });
    expect(d.metadata.annotations).toEqual({ "preview-bot.dev/head-sha": SHA });
    expect((d.spec as any).template.metadata.labels).toEqual({ app: "web" });
    expect((d.spec as any).selector).toEqual({ matchLabels: { app: "web" } });
  });
});

describe("transformObjects", () => {
  it("does not modify its input", () => {
    const input = [deployment("web", ["ghcr.io/acme/shop:1"])];
    const before = JSON.stringify(input);
    run(input, "images:\n  - name: ghcr.io/acme/shop");
    expect(JSON.stringify(input)).toBe(before);
  });

  it("refuses objects without a name and duplicates", () => {
    expect(() => run([{ apiVersion: "batch/v1", kind: "Job", metadata: { generateName: "migrate-" } }])).toThrow(
      /Job "migrate-" has no metadata.name/,
    );
    expect(() => run([obj("ConfigMap", "a"), obj("ConfigMap", "a")])).toThrow(
      'ConfigMap "a" appears twice in the render',
    );
  });

  it("warns when the manifests also produce the database Secret", () => {
    const { warnings } = run([obj("Secret", "preview-database")], "database:\n  enabled: true");
    expect(warnings.join("\n")).toMatch(
      /Secret "preview-database" is in the manifests and is also the database Secret/,
    );
  });
});

describe("4. images, prefix form", () => {
  it("pins every image under a prefix; an exact entry wins; a prefix newName replaces the prefix", () => {
    const d = deployment("web", [
      "ghcr.io/acme/web:1",
      "ghcr.io/acme/api@sha256:abc",
      "ghcr.io/acme/special:2",
      "ghcr.io/other/x:1",
    ]);
    const { objects } = run(
      [d],
      [
        "images:",
        "  - name: ghcr.io/acme/*",
        "    newName: mirror.example.com/acme/*",
        '    tag: "pr-{number}"',
        "  - name: ghcr.io/acme/special",
        '    tag: "exact"',
      ].join("\n"),
    );
    expect((objects[0]!.spec as any).template.spec.containers.map((c: any) => c.image)).toEqual([
      "mirror.example.com/acme/web:pr-42",
      "mirror.example.com/acme/api:pr-42",
      "ghcr.io/acme/special:exact",
      "ghcr.io/other/x:1",
    ]);
  });
});

describe("6. routes generated by route.expose", () => {
  const svc: KubeObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "frontend" },
    spec: { ports: [{ name: "http", port: 80 }] },
  };

  it("makes an HTTPRoute to the Service, resolving a named port, with the preview's host and parents", () => {
    const { objects, names } = run(
      [svc],
      'route:\n  host: "{name}.p.example.com"\n  expose: { service: frontend, port: http }\n  parentRefs: [{ name: gw, namespace: infra }]',
    );
    const route = objects.find((o) => o.kind === "HTTPRoute")!;
    expect(route.metadata.namespace).toBe(names.namespace);
    expect(route.spec).toEqual({
      rules: [
        { matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: "frontend", port: 80 }] },
      ],
      hostnames: [names.host],
      parentRefs: [{ name: "gw", namespace: "infra" }],
    });
  });

  it("makes an Ingress with route.kind: ingress, in path-prefix mode too", () => {
    const { objects } = run(
      [svc],
      "route:\n  baseUrl: https://previews.example.com\n  kind: ingress\n  ingressClassName: nginx\n  expose: { service: frontend, port: 80 }",
    );
    const ing = objects.find((o) => o.kind === "Ingress")!;
    expect(ing.spec).toEqual({
      ingressClassName: "nginx",
      rules: [
        {
          host: "previews.example.com",
          http: {
            paths: [
              {
                path: "/shop-pr-42",
                pathType: "Prefix",
                backend: { service: { name: "frontend", port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    });
  });

  it("says exactly what to add when a URL is wanted and the render has no route, and what is wrong with a bad expose", () => {
    expect(() => run([svc], 'route:\n  host: "{name}.p.example.com"')).toThrow(
      "route.host is set, but the render has no HTTPRoute or Ingress to serve it: add route.expose: { service: frontend, port: 80 } (Services in the render: frontend (80))",
    );
    expect(() => run([svc], "health:\n  checks: [{ path: /healthz }]")).toThrow(
      /^health\.checks need a preview URL, but the render has no HTTPRoute or Ingress to serve it: add route\.expose: \{ service: frontend, port: 80 \}.*, with route\.host$/,
    );
    expect(() =>
      run(
        [svc],
        'route:\n  host: "{name}.p.example.com"\n  expose: { service: frontend, port: 8080 }\n  parentRefs: [{ name: gw }]',
      ),
    ).toThrow('route.expose: Service "frontend" has no port 8080 (ports: 80 "http")');
    expect(() =>
      run([svc], 'route:\n  host: "{name}.p.example.com"\n  expose: { service: frontend, port: 80 }'),
    ).toThrow(/needs a Gateway to attach to: set route\.parentRefs \(or ask the bot's operator for PREVIEW_GATEWAY\)/);
  });
});

describe("6. several URLs from route.expose", () => {
  const svc = (name: string, ports: Array<{ name?: string; port: number }>, type?: string): KubeObject => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name },
    spec: { ports, ...(type ? { type } : {}) },
  });
  const app = [svc("vote", [{ port: 80 }]), svc("result", [{ name: "http", port: 8081 }])];

  it("generates one HTTPRoute per URL: the first on the preview's host, each other on a host label of its own", () => {
    const { objects, names } = run(
      app,
      'route:\n  host: "{name}.p.example.com"\n  parentRefs: [{ name: gw, namespace: infra }]\n  expose:\n    - { service: vote, port: 80 }\n    - { service: result, port: http, name: results }\n',
    );
    const routes = objects.filter((o) => o.kind === "HTTPRoute");
    expect(
      routes.map((r) => [r.metadata.name, (r.spec as any).hostnames, (r.spec as any).rules[0].backendRefs]),
    ).toEqual([
      ["shop-pr-42", ["shop-pr-42.p.example.com"], [{ name: "vote", port: 80 }]],
      ["shop-pr-42-results", ["shop-pr-42-results.p.example.com"], [{ name: "result", port: 8081 }]],
    ]);
    expect(names.url).toBe("https://shop-pr-42.p.example.com/");
    expect(names.extraUrls).toEqual([
      {
        name: "results",
        hostLabel: "shop-pr-42-results",
        host: "shop-pr-42-results.p.example.com",
        url: "https://shop-pr-42-results.p.example.com/",
      },
    ]);
  });

  it("gives each generated Ingress its host and its own TLS Secret, and leaves the manifests' own Ingress on the primary host", () => {
    const { objects } = run(
      [...app, ingress()],
      'route:\n  host: "{name}.p.example.com"\n  kind: ingress\n  tls: { clusterIssuer: letsencrypt }\n  expose:\n    - { service: vote, port: 80 }\n    - { service: result, port: 8081 }\n',
    );
    const ings = objects.filter((o) => o.kind === "Ingress");
    expect(ings.map((i) => [i.metadata.name, (i.spec as any).rules[0].host, (i.spec as any).tls])).toEqual([
      ["web", "shop-pr-42.p.example.com", [{ hosts: ["shop-pr-42.p.example.com"], secretName: "shop-pr-42-tls" }]],
      [
        "shop-pr-42",
        "shop-pr-42.p.example.com",
        [{ hosts: ["shop-pr-42.p.example.com"], secretName: "shop-pr-42-tls" }],
      ],
      [
        "shop-pr-42-result",
        "shop-pr-42-result.p.example.com",
        [{ hosts: ["shop-pr-42-result.p.example.com"], secretName: "shop-pr-42-result-tls" }],
      ],
    ]);
  });

  it("keeps the single-object form, and refuses two URLs of one name and a bad second entry by its index", () => {
    expect(
      run(app, 'route:\n  host: "{name}.p.example.com"\n  kind: ingress\n  expose: { service: vote, port: 80 }\n').names
        .extraUrls,
    ).toBeUndefined();
    const twice = parseConfig(
      'manifests: { path: d }\nroute:\n  host: "{name}.p.example.com"\n  expose:\n    - { service: vote, port: 80 }\n    - { service: vote, port: 80 }\n',
    );
    expect(twice).toEqual({
      ok: false,
      errors: ['route.expose[1].name: "vote" names route.expose[0] too: give each URL its own name'],
    });
    expect(() =>
      run(
        app,
        'route:\n  host: "{name}.p.example.com"\n  kind: ingress\n  expose:\n    - { service: vote, port: 80 }\n    - { service: results, port: 80 }\n',
      ),
    ).toThrow(/^route\.expose\[1\]: no Service "results" in the render/);
  });

  it("suggests the Service the manifests made public, else one with an HTTP port, over the first in the render", () => {
    const grpc = svc("cartservice", [{ name: "grpc", port: 7070 }]);
    expect(() =>
      run(
        [grpc, svc("frontend-external", [{ name: "http", port: 80 }], "LoadBalancer"), svc("frontend", [{ port: 80 }])],
        'route:\n  host: "{name}.p.example.com"',
      ),
    ).toThrow(/add route\.expose: \{ service: frontend-external, port: 80 \}/);
    expect(() =>
      run([grpc, svc("web", [{ port: 9000 }, { name: "http", port: 8080 }])], 'route:\n  host: "{name}.p.example.com"'),
    ).toThrow(/add route\.expose: \{ service: web, port: 8080 \}/);
    expect(() => run([grpc], 'route:\n  host: "{name}.p.example.com"')).toThrow(
      /add route\.expose: \{ service: cartservice, port: 7070 \}/,
    );
  });
});
