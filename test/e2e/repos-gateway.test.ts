/**
 * Issue 13's repositories, end to end through the real server (signed webhooks, the fake API server, real
 * PostgreSQL, real helm and kustomize): a Helm chart with a vendored dependency, a kustomize base with a
 * LoadBalancer frontend and no route, and a plain directory with nested variants, each behind the shared Gateway.
 * Each: opened → deployed with a generated route → the https URL answers its health checks → closed → gone.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import nock from "nock";
import { startHarness, pull, prEvent, INSTALLATION, OWNER, REPO, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub } from "../support/github-fake.js";
import { describeWithTools } from "../support/tools.js";
import { imagesInto, requireRegistry, type SharedRegistry } from "../support/registry-suite.js";
import { fixtureConfig, fixtureFiles, GATEWAY_KIND, sharedGateway, startApp, type AppServer } from "./repos-support.js";

let h: Harness;
let app: AppServer;
/** The run's real OCI registry: what the fixtures' CI pushes to ghcr.io/acme is pushed here (images[] renames it). */
let registry: SharedRegistry;
/** Where those images go in it: under the registry's public prefix (pulled without credentials), one per run. */
const ACME = `lib/repos-${Math.random().toString(36).slice(2, 8)}/`;

beforeAll(async () => {
  registry = requireRegistry();
  app = await startApp();
  h = await startHarness({ fetchImpl: app.fetchImpl, fake: { kinds: [GATEWAY_KIND] } });
  h.fake.seed(
    sharedGateway([
      { name: "http", protocol: "HTTP", port: 80 },
      {
        name: "https",
        protocol: "HTTPS",
        port: 443,
        hostname: "*.previews.example.test",
        tls: { certificateRefs: [{ name: "previews-wildcard-tls" }] },
      },
    ]) as never,
  );
});

afterAll(async () => {
  await h?.stop();
  await app?.close();
});

/** The check run's text as people read it (markdown escapes removed). */
const shown = (run: any): string => JSON.stringify(run.output).replace(/\\/g, "");

function enroll(config: string): ReturnType<typeof fakeGitHub> {
  nock.cleanAll();
  return fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config });
}

/**
 * The fixture's config with its images[] (ghcr.io/acme/…) renamed to the run's registry, and those images pushed
 * there under the tags the config gives them for this PR: every pinned image is resolved to a digest before a deploy.
 */
async function withImages(fixture: string, pushes: Array<[repository: string, tag: string]>): Promise<string> {
  for (const [name, tag] of pushes) await registry.push(`${ACME}${name}`, tag, { seed: 1 });
  return imagesInto(fixtureConfig(fixture), (name) =>
    name.startsWith("ghcr.io/acme/") ? `${registry.host}/${ACME}${name.slice("ghcr.io/acme/".length)}` : undefined,
  );
}

async function lifecycle(
  fixture: string,
  number: number,
  sha: string,
  ns: string,
  config = fixtureConfig(fixture),
): Promise<{ run: any; gh: ReturnType<typeof fakeGitHub> }> {
  const gh = enroll(config);
  gh.state.tarballs.set(sha, await h.tarball(sha, fixtureFiles(fixture)));
  gh.state.pulls.set(number, pull({ number, sha, branch: `try-${fixture}` }));
  await h.send("pull_request", prEvent("opened", gh.state.pulls.get(number)!));
  const run = gh.state.checkRuns.filter((r) => r.head_sha === sha && r.name === "preview").at(-1)!;
  if (run.conclusion !== "success") throw new Error(`deploy of ${fixture} failed: ${JSON.stringify(run.output)}`);
  const url = `https://${ns}.previews.example.test/`;
  expect(gh.state.deployments.find((d) => d.sha === sha)!.statuses.at(-1)).toMatchObject({
    state: "success",
    environment_url: url,
  });
  expect(app.hosts).toContain(`https://${ns}.previews.example.test`);
  const route = h.fake.get("gateway.networking.k8s.io/v1", "HTTPRoute", ns, ns) as any;
  expect(route.spec.hostnames).toEqual([`${ns}.previews.example.test`]);
  expect(route.spec.parentRefs[0]).toMatchObject({ name: "previews", namespace: "gateway-system" });
  return { run, gh };
}

async function close(gh: ReturnType<typeof fakeGitHub>, number: number, ns: string): Promise<void> {
  gh.state.pulls.set(number, { ...gh.state.pulls.get(number)!, state: "closed" });
  await h.send("pull_request", prEvent("closed", gh.state.pulls.get(number)!));
  expect(h.fake.get("v1", "Namespace", undefined, ns)).toBeUndefined();
  for (const d of gh.state.deployments) expect(d.statuses.at(-1)?.state).toBe("inactive");
}

describeWithTools(["helm"], "a Helm chart with a vendored dependency and values files", () => {
  it("opened → the chart's objects and a generated HTTPRoute, the https URL healthy → closed → removed", async () => {
    const ns = "notes-pr-41";
    const { run, gh } = await lifecycle("helm-chart-app", 41, "4".repeat(40), ns);
    expect(
      (h.fake.get("apps/v1", "StatefulSet", ns, "notes-cache") as any).spec.template.spec.containers[0].args,
    ).toEqual(["--maxmemory", "32mb"]);
    expect((h.fake.get("apps/v1", "Deployment", ns, "notes-web") as any).spec.template.spec.containers[0].image).toBe(
      `ghcr.io/acme/notes:${"4".repeat(40)}`,
    );
    expect(shown(run)).toMatch(/6 objects \(helm, \d+ files; isolated: (namespaces|landlock)\)/);
    await close(gh, 41, ns);
  });
});

describeWithTools(["kustomize"], "a kustomize base with several services, a LoadBalancer frontend and no route", () => {
  it("opened → the frontend as ClusterIP (said in the check run), a route to it, healthy → closed → removed", async () => {
    const ns = "shop-pr-42";
    const tag = `pr-42-${"5".repeat(7)}`;
    const config = await withImages("kustomize-shop", [
      ["shop-api", tag],
      ["shop-frontend", tag],
      ["shop-worker", tag],
    ]);
    const { run, gh } = await lifecycle("kustomize-shop", 42, "5".repeat(40), ns, config);
    expect((h.fake.get("v1", "Service", ns, "frontend") as any).spec.type).toBe("ClusterIP");
    expect((h.fake.get("apps/v1", "Deployment", ns, "frontend") as any).spec.template.spec.containers[0].image).toMatch(
      new RegExp(`^${registry.host}/${ACME}shop-frontend@sha256:[0-9a-f]{64}$`),
    );
    expect(shown(run)).toContain('rewritten: Service "frontend": type LoadBalancer → ClusterIP');
    await close(gh, 42, ns);
  });
});

describe("a plain YAML directory with nested variants", () => {
  it("opened → only k8s/base applied (variants excluded by path), healthy → closed → removed", async () => {
    const ns = "guestbook-pr-43";
    const config = await withImages("plain-variants", [["guestbook", "6".repeat(40)]]);
    const { run, gh } = await lifecycle("plain-variants", 43, "6".repeat(40), ns, config);
    expect(
      h.fake
        .list("apps/v1", "Deployment", ns)
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual(["guestbook", "redis"]);
    expect((h.fake.get("v1", "Service", ns, "guestbook") as any).spec.type ?? "ClusterIP").toBe("ClusterIP"); // not legacy/'s NodePort
    expect(shown(run)).toMatch(/5 objects \(plain, \d+ files; isolated: (namespaces|landlock)\)/);
    await close(gh, 43, ns);
  });

  it("without the excludes, fails naming both files that define the same Service", async () => {
    const config = fixtureConfig("plain-variants").replace(/ {2}exclude:\n(?: {4}- .*\n)+/, "");
    const gh = enroll(config);
    const sha = "7".repeat(40);
    gh.state.tarballs.set(sha, await h.tarball(sha, fixtureFiles("plain-variants")));
    gh.state.pulls.set(44, pull({ number: 44, sha }));
    await h.send("pull_request", prEvent("opened", gh.state.pulls.get(44)!));
    const run = gh.state.checkRuns.filter((r) => r.head_sha === sha).at(-1)!;
    expect(run.conclusion).toBe("failure");
    expect(run.output.text).toContain(
      'Service "guestbook" appears twice in the render: in k8s/all-in-one/guestbook-all-in-one.yaml, document 2 and in k8s/base/guestbook.yaml, document 2',
    );
  });
});
