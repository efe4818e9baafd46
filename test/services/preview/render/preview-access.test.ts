/**
 * What `access: github` does to a preview's routes, per gateway, and what it refuses (a protected preview is never
 * deployed public).
 */
import { describe, expect, it } from "@jest/globals";
import type { KubeObject } from "../../../../src/services/shared/preview.js";
import {
  protectAccess,
  protectPreview,
  routeHosts,
  type AccessSettings,
} from "../../../../src/services/preview/render/preview-access.js";
import { RenderError } from "../../../../src/services/preview/render/render-error.js";

const base: Omit<AccessSettings, "gateway"> = {
  botUrl: "https://preview-bot.example.com",
  authUrl: "http://preview-bot.preview-bot.svc.cluster.local/auth/check",
  botService: { namespace: "preview-bot", name: "preview-bot", port: 80 },
};
const NS = "preview-acme-web-pr-42";

const ingress = (annotations: Record<string, string> = {}): KubeObject => ({
  apiVersion: "networking.k8s.io/v1",
  kind: "Ingress",
  metadata: { name: "web", namespace: NS, annotations },
  spec: { rules: [{ host: "web-pr-42.previews.example.com" }] },
});
const route = (name: string, filters: unknown[] = []): KubeObject => ({
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "HTTPRoute",
  metadata: { name, namespace: NS },
  spec: { hostnames: ["web-pr-42.previews.example.com"], rules: [{ filters, backendRefs: [{ name, port: 80 }] }] },
});
const deployment: KubeObject = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: NS } };

describe("protecting a preview's routes", () => {
  it("ingress-nginx: auth-url and auth-signin on every Ingress, and the pull request's ways around them removed", () => {
    const r = protectPreview(
      {
        namespace: NS,
        objects: [
          deployment,
          ingress({
            "nginx.ingress.kubernetes.io/auth-url": "https://always-yes.example/",
            "nginx.ingress.kubernetes.io/satisfy": "any",
            "nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0",
            "nginx.ingress.kubernetes.io/enable-global-auth": "false",
            "nginx.ingress.kubernetes.io/configuration-snippet": "auth_request off;",
            "nginx.ingress.kubernetes.io/proxy-body-size": "8m",
          }),
        ],
      },
      { ...base, gateway: "ingress-nginx" },
    );
    if (!r.ok) throw new Error(r.reason);
    expect(r.objects[1]!.metadata.annotations).toEqual({
      "nginx.ingress.kubernetes.io/auth-url": base.authUrl,
      "nginx.ingress.kubernetes.io/auth-signin": "https://preview-bot.example.com/auth/signin",
      "nginx.ingress.kubernetes.io/whitelist-source-range": "0.0.0.0/0",
      "nginx.ingress.kubernetes.io/proxy-body-size": "8m",
    });
    expect(r.objects[0]).toEqual(deployment);
    expect(r.botNamespaceObjects).toEqual([]);
    expect(r.notes.join("\n")).toContain("configuration-snippet");
  });

  it("envoy-gateway: one SecurityPolicy over every HTTPRoute, failing closed, and a ReferenceGrant to the bot's Service", () => {
    const r = protectPreview(
      {
        namespace: NS,
        objects: [route("web"), route("api")],
        labels: { "app.kubernetes.io/managed-by": "preview-bot" },
      },
      { ...base, gateway: "envoy-gateway" },
    );
    if (!r.ok) throw new Error(r.reason);
    const policy = r.objects.find((o) => o.kind === "SecurityPolicy")!;
    expect(policy).toEqual({
      apiVersion: "gateway.envoyproxy.io/v1alpha1",
      kind: "SecurityPolicy",
      metadata: {
        name: "preview-bot-access",
        namespace: NS,
        labels: { "app.kubernetes.io/managed-by": "preview-bot" },
      },
      spec: {
        targetRefs: [
          { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "web" },
          { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "api" },
        ],
        extAuth: {
          failOpen: false,
          headersToExtAuth: ["cookie", "accept", "x-forwarded-proto", "x-preview-bypass"],
          http: { backendRefs: [{ name: "preview-bot", namespace: "preview-bot", port: 80 }], path: "/auth/check" },
        },
      },
    });
    expect(r.botNamespaceObjects).toEqual([
      {
        apiVersion: "gateway.networking.k8s.io/v1beta1",
        kind: "ReferenceGrant",
        metadata: {
          name: `preview-access-${NS}`,
          namespace: "preview-bot",
          labels: { "app.kubernetes.io/managed-by": "preview-bot" },
        },
        spec: {
          from: [{ group: "gateway.envoyproxy.io", kind: "SecurityPolicy", namespace: NS }],
          to: [{ group: "", kind: "Service", name: "preview-bot" }],
        },
      },
    ]);
  });

  it("gateway-api-external-auth: the ExternalAuth filter first on every rule, replacing the pull request's own", () => {
    const theirs = {
      type: "ExternalAuth",
      externalAuth: { protocol: "HTTP", backendRef: { name: "yes-man", port: 80 } },
    };
    const header = { type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "x-a", value: "b" }] } };
    const r = protectPreview(
      { namespace: NS, objects: [route("web", [theirs, header])] },
      { ...base, gateway: "gateway-api-external-auth" },
    );
    if (!r.ok) throw new Error(r.reason);
    const rules = (r.objects[0]!.spec as { rules: Array<{ filters: unknown[] }> }).rules;
    expect(rules[0]!.filters).toEqual([
      {
        type: "ExternalAuth",
        externalAuth: {
          protocol: "HTTP",
          backendRef: { name: "preview-bot", namespace: "preview-bot", port: 80 },
          http: { path: "/auth/check", allowedHeaders: ["cookie", "accept", "x-forwarded-proto", "x-preview-bypass"] },
        },
      },
      header,
    ]);
    expect(r.botNamespaceObjects[0]!.spec).toMatchObject({ from: [{ kind: "HTTPRoute", namespace: NS }] });
  });

  it.each([
    ["no gateway is configured", {}, [ingress()], undefined, "has no PREVIEW_ACCESS_GATEWAY"],
    [
      "the preview lives under a path",
      { gateway: "ingress-nginx" },
      [ingress()],
      true,
      "under a path of a shared host",
    ],
    [
      "an HTTPRoute meets ingress-nginx",
      { gateway: "ingress-nginx" },
      [route("web")],
      undefined,
      "does not serve HTTPRoutes",
    ],
    [
      "an Ingress meets Envoy Gateway",
      { gateway: "envoy-gateway" },
      [ingress()],
      undefined,
      "does not serve Ingresses",
    ],
    [
      "a TLS passthrough route",
      { gateway: "envoy-gateway" },
      [{ apiVersion: "gateway.networking.k8s.io/v1alpha2", kind: "TLSRoute", metadata: { name: "raw" } }],
      undefined,
      'TLSRoute "raw" cannot be protected',
    ],
    [
      "the pull request's own SecurityPolicy",
      { gateway: "envoy-gateway" },
      [
        route("web"),
        { apiVersion: "gateway.envoyproxy.io/v1alpha1", kind: "SecurityPolicy", metadata: { name: "open" } },
      ],
      undefined,
      "cannot bring its own Envoy Gateway policies",
    ],
  ] as const)("refuses when %s", (_, gw, objects, pathPrefix, reason) => {
    const r = protectPreview({ namespace: NS, objects, ...(pathPrefix ? { pathPrefix } : {}) }, { ...base, ...gw });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toContain(reason);
      expect(r.reason).toMatch(/^access: github: /);
    }
  });

  it("leaves the input alone (it returns changed copies)", () => {
    const ing = ingress({ "nginx.ingress.kubernetes.io/server-snippet": "x" });
    protectPreview({ namespace: NS, objects: [ing] }, { ...base, gateway: "ingress-nginx" });
    expect(ing.metadata.annotations).toEqual({ "nginx.ingress.kubernetes.io/server-snippet": "x" });
  });
});

describe("the render's access step (protectAccess)", () => {
  const settings: AccessSettings = { ...base, gateway: "ingress-nginx" };
  const two = [
    ingress(),
    {
      ...ingress(),
      metadata: { name: "api", namespace: NS },
      spec: { rules: [{ host: "api-pr-42.previews.example.com" }] },
    },
  ];

  it("leaves a public preview's routes alone and says which hosts they serve", () => {
    const r = protectAccess([deployment, route("web")], { mode: "public", namespace: NS }, undefined);
    expect(r).toEqual({
      objects: [deployment, route("web")],
      hosts: ["web-pr-42.previews.example.com"],
      grants: [],
      notes: [],
    });
  });

  it("protects every route of a preview with several (one per exposed Service), each of its hosts recorded", () => {
    const r = protectAccess(two, { mode: "github", namespace: NS }, settings);
    expect(r.hosts).toEqual(["web-pr-42.previews.example.com", "api-pr-42.previews.example.com"]);
    for (const o of r.objects)
      expect(o.metadata.annotations?.["nginx.ingress.kubernetes.io/auth-url"]).toBe(base.authUrl);
  });

  it("fails the render with the reason when the bot cannot protect it: sign-in off, or no supported gateway", () => {
    expect(() =>
      protectAccess(two, { mode: "github", namespace: NS }, { unavailable: "the preview page is off: X is missing" }),
    ).toThrow(
      new RenderError(
        "access: github: the preview page is off: X is missing; the preview is not deployed rather than left public",
      ),
    );
    expect(() => protectAccess(two, { mode: "github", namespace: NS }, { ...base })).toThrow(
      /access: github: the bot has no PREVIEW_ACCESS_GATEWAY/,
    );
    expect(() => protectAccess(two, { mode: "github", namespace: NS }, undefined)).toThrow(RenderError);
  });

  it("records no host for a preview under a path of a shared host (that host is not the preview's)", () => {
    expect(protectAccess(two, { mode: "public", namespace: NS, pathPrefix: true }, settings).hosts).toEqual([]);
  });

  it("reads hosts from Ingress rules and TLS and from HTTPRoute hostnames, lowercase, once, never a wildcard", () => {
    expect(
      routeHosts([
        {
          ...ingress(),
          spec: { rules: [{ host: "A.example.com" }, {}], tls: [{ hosts: ["a.example.com", "*.x.com"] }] },
        },
        { ...route("r"), spec: { hostnames: ["b.example.com"] } },
        deployment,
      ]),
    ).toEqual(["a.example.com", "b.example.com"]);
  });
});
