/**
 * The Render manifests step's decisions, against a fake Renderer (test/support/runner-fakes.ts): what it hands the
 * renderer, what it passes on (the objects; the URL, the report's URL and links when the render decided the scheme),
 * what it logs, and its detail line (rewrites and warnings shown, the first six in full). What the renderer makes of
 * a repository is tested with the real helm and kustomize (test/services/preview/render/).
 */
import { afterEach, describe, expect, it } from "@jest/globals";
import { RenderError } from "../../../../../src/services/preview/render/index.js";
import { renderManifestsStep } from "../../../../../src/services/preview/deploy/steps/render-manifests.js";
import type { KubeObject } from "../../../../../src/services/shared/preview.js";
import { stepBench, type StepBench, type StepBenchOptions } from "../../../../support/runner-fakes.js";

const benches: StepBench[] = [];
afterEach(async () => {
  for (const b of benches.splice(0)) await b.cleanup();
});

async function bench(opts: StepBenchOptions = {}): Promise<StepBench> {
  const b = await stepBench(opts);
  benches.push(b);
  return b;
}

const run = (b: StepBench) => renderManifestsStep.run(b.ctx, b.detail);
const objects: KubeObject[] = [
  { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" } },
  { apiVersion: "v1", kind: "Service", metadata: { name: "web" } },
  { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", metadata: { name: "web" } },
];
const routed = {
  config: {
    route: { host: "{name}.previews.example.com" },
    links: [
      { title: "API docs", path: "/docs" },
      { title: "Admin", path: "/admin/" },
    ],
  },
};

describe("the Render manifests step", () => {
  it("always runs (no skip)", () => {
    expect(renderManifestsStep).not.toHaveProperty("skip");
  });

  it("renders the fetched source with the repository's config and names, reading kinds from the cluster, and passes the objects and the seed on", async () => {
    const b = await bench({ objects: [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "stale" } }] });
    b.renderer.result = {
      objects,
      warnings: [],
      rewrites: [],
      notes: ["scopes from discovery"],
      type: "kustomize",
      seed: "insert into t values (1);",
      extracted: { files: 12, bytes: 4096, skipped: [] },
    };
    await run(b);
    const { source, dir, config, ref, names, deps } = b.ctx;
    expect(b.renderer.inputs).toEqual([
      { source, runDir: dir, config, ref, names, cluster: deps.cluster, access: "public" },
    ]);
    expect(b.renderer.inputs[0]!.cluster).toBe(b.cluster);
    expect(b.ctx.objects).toBe(objects);
    expect(b.ctx.seed).toBe("insert into t values (1);");
    expect(b.details).toEqual(["3 objects (kustomize, 12 files; isolated: namespaces)"]);
    expect(b.cluster.calls).toEqual([]); // the renderer asks the cluster, not the step
  });

  it("asks for the access the deploy decided, and keeps the hosts and bot-namespace grants the render returns", async () => {
    const b = await bench({ pull: { private: true } });
    const grant: KubeObject = {
      apiVersion: "gateway.networking.k8s.io/v1beta1",
      kind: "ReferenceGrant",
      metadata: { name: "web-pr-42" },
    };
    b.renderer.result = {
      objects,
      warnings: [],
      rewrites: [],
      notes: [],
      type: "plain",
      access: { mode: "github", hosts: ["web-pr-42.previews.example.com"], grants: [grant] },
    };
    await run(b);
    expect(b.renderer.inputs[0]!.access).toBe("github");
    expect(b.ctx.access).toMatchObject({ mode: "github", hosts: ["web-pr-42.previews.example.com"], grants: [grant] });
    expect(b.details[0]).toContain("access: github (sign-in in front of every route)");
  });

  it("shows rewrites and warnings in its line, the first six cut to 240 characters, and logs every one", async () => {
    const b = await bench();
    const rewrites = ["Deployment web: image pinned to ghcr.io/acme/web:4f8e2c1", "Ingress web: host set"];
    const warnings = [
      "x".repeat(300),
      "Service db: type LoadBalancer changed to ClusterIP",
      "w4",
      "w5",
      "w6 (the seventh note)",
    ];
    b.renderer.result = { objects, warnings, rewrites, notes: [], type: "helm" };
    await run(b);
    expect(b.details).toEqual([
      `3 objects (helm; isolated: namespaces); 7 note(s): rewritten: ${rewrites[0]}; rewritten: ${rewrites[1]}; ${"x".repeat(240)}; ` +
        "Service db: type LoadBalancer changed to ClusterIP; w4; w5; …",
    ]);
    const logged = b.logs.filter((l) => l.level === 40);
    expect(logged.map((l) => l.msg)).toEqual([...rewrites, ...warnings].map((w) => `render: ${w}`));
    expect(logged.every((l) => l.key === b.ctx.names.key)).toBe(true);
  });

  it("lists up to six notes without an ellipsis", async () => {
    const b = await bench();
    b.renderer.result = {
      objects: [],
      warnings: ["a", "b", "c", "d", "e", "f"],
      rewrites: [],
      notes: [],
      type: "plain",
    };
    await run(b);
    expect(b.details).toEqual(["0 objects (plain; isolated: namespaces); 6 note(s): a; b; c; d; e; f"]);
  });

  it("follows the scheme the render decided: the names' URL, the report's URL and the links under it", async () => {
    const b = await bench(routed);
    const before = b.ctx.names.url!;
    expect(before).toMatch(/^https:\/\/web-pr-42\.previews\.example\.com\/$/);
    const after = before.replace(/^https:/, "http:");
    b.ctx.report.links!.push({ title: "Status page", url: "https://status.example.com/" });
    b.renderer.result = { objects, warnings: [], rewrites: [], notes: [], type: "plain", url: after };
    await run(b);
    expect(b.ctx.names.url).toBe(after);
    expect(b.ctx.report.url).toBe(after);
    expect(b.ctx.report.links).toEqual([
      { title: "API docs", url: `${after}docs` },
      { title: "Admin", url: `${after}admin/` },
      { title: "Status page", url: "https://status.example.com/" },
    ]);
  });

  it("keeps the URL when the render agrees, and sets none when the preview has no route", async () => {
    const same = await bench(routed);
    const url = same.ctx.names.url!;
    const links = structuredClone(same.ctx.report.links);
    same.renderer.result = { objects, warnings: [], rewrites: [], notes: [], type: "plain", url };
    await run(same);
    expect([same.ctx.names.url, same.ctx.report.url, same.ctx.report.links]).toEqual([url, url, links]);

    const unrouted = await bench();
    unrouted.renderer.result = {
      objects,
      warnings: [],
      rewrites: [],
      notes: [],
      type: "plain",
      url: "http://web-pr-42.example.com/",
    };
    await run(unrouted);
    expect(unrouted.ctx.names.url).toBeUndefined();
    expect(unrouted.ctx.report.url).toBeUndefined();
  });

  it("renders nothing when no source was fetched", async () => {
    const b = await bench();
    delete b.ctx.source;
    await expect(run(b)).rejects.toThrow("nothing to render: the source was not fetched");
    expect(b.renderer.inputs).toEqual([]);
  });

  it("passes a render error on as it is, leaving the objects alone", async () => {
    const b = await bench({ objects: [] });
    b.renderer.error = new RenderError('manifests.path "deploy" does not exist at the PR\'s commit');
    await expect(run(b)).rejects.toBe(b.renderer.error);
    expect(b.ctx.objects).toEqual([]);
    expect(b.details).toEqual([]);
  });
});
