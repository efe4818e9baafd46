/**
 * The deploy's Images step against the run's real OCI registry (preview-registry: go-containerregistry behind a Docker
 * token-auth front; `lib/` public, `team/` private). The render is the real transform (images[] pins the tag), the
 * resolver is the real client, images are pushed and retagged by the registry's own client as CI would, and the
 * registry's request log shows what went over the wire. GitHub (the PR's changed files) is on nock with GitHub's
 * payload shape. Waits end on events (a push, an abort) or on the step's own deadline; none is a sleep.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import nock from "nock";
import { parseConfig } from "../../../../src/config.js";
import type { DeployContext } from "../../../../src/services/preview/deploy/context.js";
import { imagesStep } from "../../../../src/services/preview/deploy/steps/images.js";
import { newReport, type RunnerDeps } from "../../../../src/services/preview/context.js";
import { UNREACHABLE_LOOKS } from "../../../../src/services/preview/images/image-wait.js";
import { IMAGES_ANNOTATION, PULL_SECRET_NAME } from "../../../../src/services/preview/images/pin-digests.js";
import { previewNamesFor, transformObjects } from "../../../../src/services/preview/render/index.js";
import { StepTracker } from "../../../../src/services/preview/steps.js";
import { parseDockerConfig } from "../../../../src/services/registry/docker-config.js";
import { createRegistryClient, type RegistryClientOptions } from "../../../../src/services/registry/registry-client.js";
import { SupersededError } from "../../../../src/services/shared/errors.js";
import type { KubeObject, PreviewRef } from "../../../../src/services/shared/preview.js";
import { GITHUB_API, testOctokit } from "../../../support/github.js";
import { describeWithRegistry, type SharedRegistry } from "../../../support/registry-suite.js";
import { waitFor } from "../../../support/wait.js";

const run = randomBytes(4).toString("hex");
const UA = `preview-bot images-step test ${run}`;
const SHA = "c0ffee".padEnd(40, "0");
const BASE_SHA = "ba5e".padEnd(40, "1");
const ref: PreviewRef = { owner: "acme", repo: "web", number: 42, branch: "feature/login", sha: SHA };

function deployment(name: string, image: string): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image }] } },
    },
  };
}

interface StepRun {
  ctx: DeployContext;
  /** The step's line each time the check run was told (what it shows while the step runs). */
  told: string[];
  parks: number;
  run(): Promise<void>;
}

describeWithRegistry("the deploy's Images step, against a real OCI registry", (registry) => {
  let r: SharedRegistry;
  let user: string;
  let password: string;
  beforeAll(() => {
    r = registry();
    [user, password] = Object.entries(r.users)[0]!;
    nock.disableNetConnect();
    nock.enableNetConnect((host) => host.startsWith("127.0.0.1"));
  });
  afterAll(() => {
    nock.cleanAll();
    nock.enableNetConnect();
    nock.restore();
  });

  const credentials = (pass = password) =>
    parseDockerConfig(
      JSON.stringify({ auths: { [r.host]: { username: user, password: pass } } }),
      "Secret preview-bot/registry",
    );

  function step(
    yaml: string,
    objects: KubeObject[],
    opts: { client?: RegistryClientOptions; signal?: AbortSignal; pullSecret?: string } = {},
  ): StepRun {
    const parsed = parseConfig(`manifests: { path: k8s }\n${yaml}`);
    if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
    const config = parsed.config;
    const names = previewNamesFor(ref, config);
    const rendered = transformObjects(objects, { config, ref, names });
    const report = newReport("deploy", ref, names, "push by @octocat");
    const out: StepRun = {
      told: [],
      parks: 0,
      ctx: {
        deps: {
          images: {
            registry: createRegistryClient({ userAgent: UA, ...opts.client }),
            defaultWaitMs: 600_000,
            pollMs: 20,
            maxPollMs: 200,
            ...(opts.pullSecret ? { pullSecret: async () => opts.pullSecret! } : {}),
          },
        } as unknown as RunnerDeps,
        job: {
          installationId: 1,
          owner: "acme",
          repo: "web",
          number: 42,
          trigger: "t",
          source: "webhook",
          action: "deploy",
        },
        octokit: testOctokit(),
        pull: {
          number: 42,
          state: "open",
          title: "Login",
          branch: ref.branch,
          sha: SHA,
          fork: false,
          draft: false,
          labels: [],
          htmlUrl: "https://github.com/acme/web/pull/42",
          baseBranch: "main",
          baseSha: BASE_SHA,
          author: "octocat",
          private: false,
        },
        config,
        ref,
        names,
        report,
        ...(opts.signal ? { signal: opts.signal } : {}),
        park: async (wait) => {
          out.parks++;
          return wait();
        },
        dir: "/nonexistent",
        objects: rendered.objects,
        origins: new Map(),
        ownObjects: [],
        pinned: rendered.pinned,
        applied: [],
        workloads: [],
        access: { mode: "public", nonce: "test-nonce", hosts: [], grants: [] },
      },
      async run() {
        const tracker = new StepTracker(report, opts.signal, async (rep) => {
          out.told.push(rep.steps.find((s) => s.name === "Images")?.detail ?? "");
        });
        await tracker.run("Images", (detail) => imagesStep.run(out.ctx, detail));
      },
    };
    return out;
  }
  const image = (o: KubeObject) => (o.spec as any).template.spec.containers[0].image as string;
  const manifestRequests = (repo: string) =>
    r.log().filter((e) => e.ua === UA && e.path.startsWith(`/v2/${repo}/manifests/`));

  it("runs a present image by the digest its push printed, keeps the tag in the workload's annotation, and only HEADs", async () => {
    const repo = `lib/${run}-present`;
    const pushed = await r.push(repo, SHA);
    const s = step(`images: [{ name: "${r.host}/${repo}" }]`, [deployment("web", `${r.host}/${repo}:dev`)]);
    await s.run();
    const web = s.ctx.objects.find((o) => o.kind === "Deployment")!;
    expect(image(web)).toBe(`${r.host}/${repo}@${pushed.digest}`);
    expect(web.metadata.annotations?.[IMAGES_ANNOTATION]).toBe(`web=${r.host}/${repo}:${SHA}`);
    expect((web.spec as any).template.metadata.annotations).toBeUndefined(); // a retag with the same digest restarts nothing
    expect(s.ctx.report.images).toEqual([{ repository: `${r.host}/${repo}`, tag: SHA, digest: pushed.digest }]);
    expect(s.ctx.report.steps[0]!.detail).toContain(
      `1 image(s) by digest in 1 container(s): \`${r.host}/${repo}:${SHA}\``,
    );
    expect(s.parks).toBe(0); // nothing to wait for: the slot is kept
    expect(manifestRequests(repo).map((e) => e.method)).toEqual(["HEAD", "HEAD"]); // the token challenge, then found
  });

  it("waits for a missing image (parked, the check run saying so) and goes on when CI pushes it", async () => {
    const repo = `lib/${run}-later`;
    await r.push(repo, "main"); // the repository exists; the PR's tag does not yet
    const s = step(`images: [{ name: "${r.host}/${repo}" }]`, [deployment("web", `${r.host}/${repo}:dev`)]);
    const done = s.run();
    const waiting = `waiting for \`${r.host}/${repo}:${SHA}\` (not in ${r.host} yet;`;
    await waitFor("the step to say it is waiting", () => s.told.some((t) => t.startsWith(waiting)));
    expect(s.ctx.report.summary).toMatch(/^Waiting for `/);
    expect(s.parks).toBe(1);
    const pushed = await r.push(repo, SHA, { seed: 7 });
    await done;
    expect(image(s.ctx.objects[0]!)).toBe(`${r.host}/${repo}@${pushed.digest}`);
    expect(s.ctx.report.summary).toBe("");
    expect(s.ctx.report.steps[0]!.detail).toMatch(new RegExp(`waited [0-9.]+ (s|min) for \``));
    const looks = manifestRequests(repo);
    expect(looks.length).toBeGreaterThanOrEqual(3);
    expect(looks.every((e) => e.method === "HEAD")).toBe(true);
  }, 120_000);

  it("fails at its deadline (images[].wait) naming the image and the registry's answer", async () => {
    const repo = `lib/${run}-never`;
    await r.push(repo, "main");
    const s = step(`images: [{ name: "${r.host}/${repo}", wait: 1s }]`, [deployment("web", `${r.host}/${repo}:dev`)]);
    const err = await s.run().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    expect(err?.message).toMatch(
      new RegExp(
        `^${esc(`\`${r.host}/${repo}:${SHA}\``)} did not appear within 1\\.0 s \\(\\d+ looks, the last after [\\d.]+ s\\); ` +
          `the registry's last answer: ${esc(`${r.host}/${repo}:${SHA} is not in ${r.host} (404 for ${repo}:${SHA})`)}$`,
      ),
    );
    expect(s.ctx.report.steps[0]).toMatchObject({ status: "failure" });
    expect(image(s.ctx.objects[0]!)).toBe(`${r.host}/${repo}:${SHA}`); // nothing pinned, nothing applied
  }, 120_000);

  it("ends the wait when a newer push supersedes the deploy (the run's signal)", async () => {
    const repo = `lib/${run}-superseded`;
    const abort = new AbortController();
    const s = step(`images: [{ name: "${r.host}/${repo}" }]`, [deployment("web", `${r.host}/${repo}:dev`)], {
      signal: abort.signal,
    });
    const done = s.run();
    await waitFor("the step to wait", () => s.told.some((t) => t.startsWith("waiting for")));
    abort.abort(new SupersededError("superseded by a newer deploy"));
    await expect(done).rejects.toBeInstanceOf(SupersededError);
  }, 120_000);

  it("stops early, naming the registry, when the registry cannot be reached at all (not the full 10-minute wait)", async () => {
    // A loopback port nothing listens on: every look is a refused connection, no HTTP answer.
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, "127.0.0.1", ok));
    const host = `127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((ok) => closed.close(() => ok()));
    const repo = `lib/${run}-unreachable`;
    const s = step(`images: [{ name: "${host}/${repo}" }]`, [deployment("web", `${host}/${repo}:dev`)]);
    const err = await s.run().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(
      new RegExp(
        `^\`${host}/${repo}:${SHA}\`: ${host} could not be reached on ${UNREACHABLE_LOOKS} looks in a row over [\\d.]+ s, ` +
          `so the deploy stops here rather than wait 10 min 0 s; check the image's registry name and that the bot can reach it\\. ` +
          `The last answer: .*ECONNREFUSED`,
      ),
    );
    expect(s.ctx.report.steps[0]).toMatchObject({ status: "failure" });
  }, 120_000);

  it("passes the auth challenge with the operator's credential, and fails at once (no wait) when it is refused", async () => {
    const repo = `team/${run}-private`;
    const pushed = await r.push(repo, SHA);
    const yaml = `images: [{ name: "${r.host}/${repo}" }]`;
    const ok = step(yaml, [deployment("web", `${r.host}/${repo}:dev`)], { client: { credentials: credentials() } });
    await ok.run();
    expect(image(ok.ctx.objects[0]!)).toBe(`${r.host}/${repo}@${pushed.digest}`);

    const wrong = `wrong-${randomBytes(8).toString("hex")}`;
    const bad = step(yaml, [deployment("web", `${r.host}/${repo}:dev`)], {
      client: { credentials: credentials(wrong) },
    });
    const err = await bad.run().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toContain("incorrect username or password");
    expect(err?.message).toContain(
      `(the bot tried the credential for ${r.host} from Secret preview-bot/registry (user "${user}"))`,
    );
    expect(err?.message).toContain(`Check the credential for ${r.host}`);
    expect(err?.message).not.toContain(wrong);
    expect(bad.parks).toBe(0); // refused is not waited for (the default wait is 10 minutes)
  }, 120_000);

  it("says a GitHub App token cannot pull a private GHCR package and names the setting to configure (GHCR routed here)", async () => {
    const repo = `team/${run}-ghcr`;
    await r.push(repo, SHA);
    const toLocal: typeof fetch = (input, init) =>
      fetch(String(input).replace("https://ghcr.io/", `http://${r.host}/`), init);
    const s = step(`images: [{ name: ghcr.io/${repo} }]`, [deployment("web", `ghcr.io/${repo}:dev`)], {
      client: { fetch: toLocal },
    });
    await expect(s.run()).rejects.toThrow(
      /401 .*authentication required.*\. If the package is private, configure a dockerconfigjson credential for ghcr\.io in the bot's REGISTRY_CREDENTIALS: .*A GitHub App installation token cannot pull private GHCR packages\. \(the bot tried anonymous\)$/,
    );
  }, 120_000);

  describe("reusing the base branch's image", () => {
    /** GitHub's answer to "list pull request files", as it shapes it. */
    const prFiles = (...paths: string[]) =>
      nock(GITHUB_API)
        .get("/repos/acme/web/pulls/42/files")
        .query({ per_page: "100" })
        .reply(
          200,
          paths.map((filename, i) => ({
            sha: `${i}`.padStart(40, "a"),
            filename,
            status: "modified",
            additions: 3,
            deletions: 1,
            changes: 4,
            blob_url: `https://github.com/acme/web/blob/${SHA}/${filename}`,
            raw_url: `https://github.com/acme/web/raw/${SHA}/${filename}`,
            contents_url: `https://api.github.com/repos/acme/web/contents/${filename}?ref=${SHA}`,
            patch: "@@ -1 +1 @@\n-a\n+b",
          })),
        );
    const config = (api: string, web: string, webWait = "") =>
      [
        "images:",
        `  - { name: "${r.host}/${api}", paths: ["services/api/**"] }`,
        `  - { name: "${r.host}/${web}", paths: [services/web, Dockerfile.web]${webWait} }`,
      ].join("\n");

    it("runs main's image, by digest and without waiting, for a component whose paths the PR did not touch", async () => {
      const api = `lib/${run}-api`;
      const web = `lib/${run}-web`;
      const mainApi = await r.push(api, "main", { seed: 1 });
      await r.push(web, "main", { seed: 2 });
      const prWeb = await r.push(web, SHA, { seed: 3 }); // CI built only what changed
      const files = prFiles("services/web/src/app.ts", "README.md");
      const s = step(config(api, web), [
        deployment("api", `${r.host}/${api}:dev`),
        deployment("web", `${r.host}/${web}:dev`),
      ]);
      await s.run();
      expect(files.isDone()).toBe(true);
      const [a, w] = s.ctx.objects;
      expect(image(a!)).toBe(`${r.host}/${api}@${mainApi.digest}`);
      expect(a!.metadata.annotations?.[IMAGES_ANNOTATION]).toBe(`api=${r.host}/${api}:main (reused from main)`);
      expect(image(w!)).toBe(`${r.host}/${web}@${prWeb.digest}`);
      expect(s.ctx.report.images).toEqual([
        { repository: `${r.host}/${api}`, tag: "main", digest: mainApi.digest, reusedFrom: "main" },
        { repository: `${r.host}/${web}`, tag: SHA, digest: prWeb.digest },
      ]);
      expect(s.parks).toBe(0);
      // The PR's own tag of the reused component was never asked for.
      expect(manifestRequests(api).some((e) => e.path.endsWith(`/${SHA}`))).toBe(false);
    }, 120_000);

    it("waits for the PR's build of a component whose paths it changed, even when main has one", async () => {
      const api = `lib/${run}-api2`;
      const web = `lib/${run}-web2`;
      await r.push(api, "main", { seed: 4 });
      await r.push(web, "main", { seed: 5 });
      const prApi = await r.push(api, SHA, { seed: 6 });
      prFiles("services/api/main.go", "Dockerfile.web");
      const s = step(config(api, web, ", wait: 1s"), [
        deployment("api", `${r.host}/${api}:dev`),
        deployment("web", `${r.host}/${web}:dev`),
      ]);
      await expect(s.run()).rejects.toThrow(`\`${r.host}/${web}:${SHA}\` did not appear within 1.0 s`);
      expect(s.ctx.report.steps[0]!.detail).toContain(`${r.host}/${web}:${SHA}`);
      expect(prApi.digest).toMatch(/^sha256:/);
    }, 120_000);
  });

  it("puts the operator's pull secret in the preview and names it in every pod", async () => {
    const repo = `team/${run}-pull`;
    await r.push(repo, SHA);
    const doc = JSON.stringify({
      auths: { [r.host]: { auth: Buffer.from(`${user}:${password}`).toString("base64") } },
    });
    const s = step(
      `images: [{ name: "${r.host}/${repo}" }]`,
      [deployment("web", `${r.host}/${repo}:dev`), deployment("side", "nginx:1.27")],
      { client: { credentials: credentials() }, pullSecret: doc },
    );
    await s.run();
    const secret = s.ctx.objects.find((o) => o.kind === "Secret")!;
    expect(secret).toMatchObject({
      type: "kubernetes.io/dockerconfigjson",
      metadata: { name: PULL_SECRET_NAME, namespace: s.ctx.names.namespace, labels: s.ctx.names.labels },
    });
    expect(Buffer.from((secret.data as Record<string, string>)[".dockerconfigjson"]!, "base64").toString()).toBe(doc);
    // The bot's own object: applied before any pre-install hook, whose pods pull images too.
    expect(s.ctx.ownObjects).toContain(secret);
    for (const d of s.ctx.objects.filter((o) => o.kind === "Deployment"))
      expect((d.spec as any).template.spec.imagePullSecrets).toEqual([{ name: PULL_SECRET_NAME }]);
    expect(s.ctx.report.steps[0]!.detail).not.toContain(password);

    const own: KubeObject = { apiVersion: "v1", kind: "Secret", metadata: { name: PULL_SECRET_NAME }, data: {} };
    const clash = step(`images: [{ name: "${r.host}/${repo}" }]`, [deployment("web", `${r.host}/${repo}:dev`), own], {
      client: { credentials: credentials() },
      pullSecret: doc,
    });
    await expect(clash.run()).rejects.toThrow(
      `the render has a Secret named "${PULL_SECRET_NAME}", the name preview-bot gives the image pull secret (PREVIEW_IMAGE_PULL_SECRET): rename it`,
    );
  }, 120_000);
});
