/**
 * Issue 13's Ingress app with TLS, end to end through the real server: the manifests' Ingress gets the preview's
 * host, the configured class, `spec.tls` with a per-preview Secret and cert-manager's issuer annotation (read there),
 * so the URL really is https; opened → healthy → closed → gone. And the TLS rules that decide the scheme: with no
 * TLS configured the URL says http (and the check run says why), and behind a Gateway with no HTTPS listener for
 * the host the check run warns.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import nock from "nock";
import { startHarness, pull, prEvent, INSTALLATION, OWNER, REPO, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub } from "../support/github-fake.js";
import {
  fixtureConfig,
  fixtureFiles,
  GATEWAY_KIND,
  INGRESS_KIND,
  sharedGateway,
  startApp,
  type AppServer,
} from "./repos-support.js";
import { imagesInto, requireRegistry, type SharedRegistry } from "../support/registry-suite.js";

let h: Harness;
let app: AppServer;
/** The run's real OCI registry: the fixture's image (registry.example.com/acme/blog) is pushed here, images[] renames it. */
let registry: SharedRegistry;
/** Where it goes in it: under the registry's public prefix (pulled without credentials), one per run. */
const ACME = `lib/repos-ingress-${Math.random().toString(36).slice(2, 8)}/`;

/**
 * The fixture's config with its images[] renamed to the run's registry, and the image pushed there under the tag the
 * config gives it for this commit (`{shortSha}`): every pinned image is resolved to a digest before a deploy.
 */
async function withImage(config: string, sha: string): Promise<string> {
  await registry.push(`${ACME}blog`, sha.slice(0, 7), { seed: 1 });
  return imagesInto(config, (name) =>
    name === "registry.example.com/acme/blog" ? `${registry.host}/${ACME}blog` : undefined,
  );
}

beforeAll(async () => {
  registry = requireRegistry();
  app = await startApp();
  h = await startHarness({ fetchImpl: app.fetchImpl, fake: { kinds: [INGRESS_KIND, GATEWAY_KIND] } });
  // A Gateway that serves previews over plain HTTP only.
  h.fake.seed(
    sharedGateway([{ name: "http", protocol: "HTTP", port: 80, hostname: "*.previews.example.test" }]) as never,
  );
});

afterAll(async () => {
  await h?.stop();
  await app?.close();
});

const shown = (run: any): string => JSON.stringify(run.output).replace(/\\/g, "");

async function open(config: string, number: number, sha: string, files: Record<string, string>) {
  nock.cleanAll();
  const gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config });
  gh.state.tarballs.set(sha, await h.tarball(sha, files));
  gh.state.pulls.set(number, pull({ number, sha }));
  await h.send("pull_request", prEvent("opened", gh.state.pulls.get(number)!));
  return { gh, run: gh.state.checkRuns.filter((r) => r.head_sha === sha && r.name === "preview").at(-1)! };
}

describe("an Ingress-based app with TLS", () => {
  it("opened → Ingress with the preview host, class, TLS and issuer; the https URL healthy → closed → removed", async () => {
    const ns = "blog-pr-51";
    const host = `${ns}.previews.example.test`;
    const { gh, run } = await open(
      await withImage(fixtureConfig("ingress-tls-app"), "8".repeat(40)),
      51,
      "8".repeat(40),
      fixtureFiles("ingress-tls-app"),
    );
    expect(run.conclusion).toBe("success");
    expect((h.fake.get("apps/v1", "Deployment", ns, "blog") as any).spec.template.spec.containers[0].image).toMatch(
      new RegExp(`^${registry.host}/${ACME}blog@sha256:[0-9a-f]{64}$`),
    );
    const ingress = h.fake.get("networking.k8s.io/v1", "Ingress", ns, "blog") as any;
    expect(ingress.spec.ingressClassName).toBe("nginx");
    expect(ingress.spec.rules[0].host).toBe(host);
    expect(ingress.spec.tls).toEqual([{ hosts: [host], secretName: "blog-pr-51-tls" }]);
    expect(ingress.metadata.annotations["cert-manager.io/cluster-issuer"]).toBe("letsencrypt-staging");
    expect(gh.state.deployments.at(-1)!.statuses.at(-1)).toMatchObject({
      state: "success",
      environment_url: `https://${host}/`,
    });
    expect(app.hosts).toContain(`https://${host}`);

    gh.state.pulls.set(51, { ...gh.state.pulls.get(51)!, state: "closed" });
    await h.send("pull_request", prEvent("closed", gh.state.pulls.get(51)!));
    expect(h.fake.get("v1", "Namespace", undefined, ns)).toBeUndefined();
  });

  it("without route.tls nothing serves TLS: the URL says http, and the check run says what to set", async () => {
    const config = await withImage(
      fixtureConfig("ingress-tls-app").replace(/ {2}tls:\n {4}clusterIssuer: .*\n/, ""),
      "9".repeat(40),
    );
    const { gh, run } = await open(config, 52, "9".repeat(40), fixtureFiles("ingress-tls-app"));
    expect(run.conclusion).toBe("success");
    expect(gh.state.deployments.at(-1)!.statuses.at(-1)!.environment_url).toBe(
      "http://blog-pr-52.previews.example.test/",
    );
    expect(shown(run)).toContain("nothing serves TLS for blog-pr-52.previews.example.test");
    expect((h.fake.get("networking.k8s.io/v1", "Ingress", "blog-pr-52", "blog") as any).spec.tls).toBeUndefined();
  });
});

describe("behind a Gateway with no HTTPS listener for the preview host", () => {
  it("warns in the check run naming the Gateway and its listeners, and the URL says http", async () => {
    const config = `manifests: { path: deploy }\nnames: { namespace: "blog-pr-{number}" }\nroute:\n  host: "{name}.previews.example.test"\n  expose: { service: blog, port: 80 }\n  parentRefs: [{ name: previews, namespace: gateway-system }]\n`;
    const files = { "deploy/blog.yaml": fixtureFiles("ingress-tls-app")["deploy/blog.yaml"]! };
    const { gh, run } = await open(config, 53, "a".repeat(40), files);
    expect(run.conclusion).toBe("success");
    expect(shown(run)).toContain(
      "Gateway gateway-system/previews has no HTTPS listener whose hostname covers blog-pr-53.previews.example.test (listeners: http HTTP *.previews.example.test)",
    );
    expect(gh.state.deployments.at(-1)!.statuses.at(-1)!.environment_url).toBe(
      "http://blog-pr-53.previews.example.test/",
    );
  });
});
