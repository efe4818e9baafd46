/**
 * Images end to end: signed webhooks into the production server (buildApp through startServer), the bot's KubeConfig
 * on this run's real kube-apiserver (kwok pods), GitHub on nock, and the run's real OCI registry with a private
 * repository. The bot's registry credential is a kubernetes.io/dockerconfigjson Secret in its own namespace
 * (REGISTRY_CREDENTIALS=secret:…, read through the API server), and the same Secret is the previews' pull secret
 * (PREVIEW_IMAGE_PULL_SECRET). One job slot (JOB_CONCURRENCY=1), so a wait that kept its slot would stall every
 * other preview.
 *
 * Cases: a present image runs by digest (and a tag pushed again changes nothing until the next deploy, which takes
 * the new digest); a missing image is waited for (the check run says so, no namespace exists meanwhile, another PR
 * deploys in the meantime) and deployed when CI pushes it; a newer push ends a wait; one that never comes fails at its
 * images[].wait naming the image and the registry's answer; and the registry saw manifest HEADs only.
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { AppsV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import {
  startHarness,
  pull,
  prEvent,
  webApp,
  waitFor,
  INSTALLATION,
  OWNER,
  REPO,
  SECRET,
  type Harness,
} from "../support/e2e-bot.js";
import { deliver, fakeGitHub } from "../support/github-fake.js";
import { describeWithRealCluster } from "../support/kube-real/index.js";
import { requireRegistry, type SharedRegistry } from "../support/registry-suite.js";

const ID = randomBytes(3).toString("hex");
const NS = (n: number) => `img-${ID}-${n}`;
const BOT_NS = `img-bot-${ID}`;
const REPO_PATH = `team/img-${ID}-web`; // private: anonymous pulls are refused
const said = (run: { output?: { summary?: string; text?: string } } | undefined): string =>
  `${run?.output?.summary ?? ""}\n${run?.output?.text ?? ""}`.replace(/\\(.)/g, "$1");

describeWithRealCluster("images by digest on the real control plane, from the real registry", (cluster) => {
  let h: Harness;
  let kc: KubeConfig;
  let registry: SharedRegistry;
  let gh: ReturnType<typeof fakeGitHub>;
  let shaCount = 0;
  const config = (wait = "") => `
manifests: { path: deploy }
names: { namespace: "img-${ID}-{number}" }
images:
  - name: ghcr.io/acme/web
    newName: ${registry.host}/${REPO_PATH}
    tag: "{sha}"${wait ? `\n    wait: ${wait}` : ""}
health: { timeout: 5m }
`;
  const nextSha = () => (++shaCount).toString(16).padStart(8, "0").padEnd(40, "e");
  const checkRun = (sha: string) => gh.state.checkRuns.filter((r) => r.head_sha === sha && r.name === "preview").at(-1);
  const deployment = async (n: number) =>
    kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: "web", namespace: NS(n) });
  /** Open PR `number` at a new commit; the delivery is answered at once, the deploy runs in the queue. */
  async function open(number: number, sha = nextSha()): Promise<string> {
    gh.state.tarballs.set(sha, await h.tarball(sha, { "deploy/web.yaml": webApp({ image: "ghcr.io/acme/web:dev" }) }));
    gh.state.pulls.set(number, pull({ number, sha }));
    const res = await deliver(
      `http://127.0.0.1:${h.bot.port}`,
      SECRET,
      "pull_request",
      prEvent("opened", gh.state.pulls.get(number)!),
    );
    expect(res.status).toBe(200);
    return sha;
  }
  const finished = (sha: string) =>
    waitFor(`the check run of ${sha.slice(0, 8)} to finish`, () => checkRun(sha)?.status === "completed", 300_000);

  beforeAll(async () => {
    registry = requireRegistry();
    kc = cluster().kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const [user, password] = Object.entries(registry.users)[0]!;
    const doc = JSON.stringify({ auths: { [registry.host]: { username: user, password } } });
    await core.createNamespace({ body: { metadata: { name: BOT_NS } } });
    await core.createNamespacedSecret({
      namespace: BOT_NS,
      body: {
        metadata: { name: "registry" },
        type: "kubernetes.io/dockerconfigjson",
        data: { ".dockerconfigjson": Buffer.from(doc).toString("base64") },
      },
    });
    h = await startHarness({
      kubeConfig: kc,
      rolloutFailFastMs: 120_000,
      env: {
        JOB_CONCURRENCY: "1",
        CHECK_RUN_PROGRESS_INTERVAL: "1",
        BOT_NAMESPACE: BOT_NS,
        REGISTRY_CREDENTIALS: "secret:registry",
        PREVIEW_IMAGE_PULL_SECRET: "secret:registry",
      },
    });
    gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION });
    gh.state.config = config();
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
    const core = kc?.makeApiClient(CoreV1Api);
    for (const ns of [BOT_NS, ...[1, 2, 3, 4, 5].map(NS)])
      await core?.deleteNamespace({ name: ns }).catch(() => undefined);
  });

  let first: { sha: string; digest: string };

  it("runs a present image by digest, with the pull secret, the tag in an annotation, and the image in the sticky comment", async () => {
    const sha = nextSha();
    const { digest } = await registry.push(REPO_PATH, sha, { seed: 1 });
    await open(1, sha);
    await finished(sha);
    expect({
      conclusion: checkRun(sha)?.conclusion,
      said: checkRun(sha)?.conclusion === "success" ? "" : said(checkRun(sha)),
    }).toEqual({ conclusion: "success", said: "" });
    const web = await deployment(1);
    expect(web.spec?.template.spec?.containers[0]?.image).toBe(`${registry.host}/${REPO_PATH}@${digest}`);
    expect(web.metadata?.annotations?.["preview-bot.dev/images"]).toBe(`web=${registry.host}/${REPO_PATH}:${sha}`);
    expect(web.spec?.template.spec?.imagePullSecrets).toEqual([{ name: "preview-bot-image-pull" }]);
    const core = kc.makeApiClient(CoreV1Api);
    const secret = await core.readNamespacedSecret({ name: "preview-bot-image-pull", namespace: NS(1) });
    expect(secret.type).toBe("kubernetes.io/dockerconfigjson");
    expect(secret.metadata?.labels?.["app.kubernetes.io/managed-by"]).toBe("preview-bot");
    const pods = (await core.listNamespacedPod({ namespace: NS(1) })).items;
    expect(pods.length).toBeGreaterThan(0);
    expect(pods.every((p) => p.spec?.containers[0]?.image === `${registry.host}/${REPO_PATH}@${digest}`)).toBe(true);
    expect(gh.sticky(1)[0]!.body).toContain(`\`${registry.host}/${REPO_PATH}:${sha}\` @ \`${digest.slice(0, 19)}\``);
    expect(said(checkRun(sha))).toContain("| Images | ✅ |");
    first = { sha, digest };
  }, 400_000);

  it("a tag pushed again changes nothing that runs until the next deploy, which runs the new digest", async () => {
    const moved = await registry.push(REPO_PATH, first.sha, { seed: 99 }); // CI re-pushed the same tag
    expect(moved.digest).not.toBe(first.digest);
    const still = await deployment(1);
    expect(still.spec?.template.spec?.containers[0]?.image).toBe(`${registry.host}/${REPO_PATH}@${first.digest}`);
    const pods = (await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: NS(1) })).items;
    expect(pods.every((p) => p.spec?.containers[0]?.image?.endsWith(`@${first.digest}`))).toBe(true);

    expect(await h.send("pull_request", prEvent("synchronize", gh.state.pulls.get(1)!))).toBe(200);
    expect(checkRun(first.sha)?.conclusion).toBe("success");
    const redeployed = await deployment(1);
    expect(redeployed.spec?.template.spec?.containers[0]?.image).toBe(`${registry.host}/${REPO_PATH}@${moved.digest}`);
  }, 400_000);

  it("waits for a missing image with nothing in the cluster, lends its job slot to another PR meanwhile, and deploys once CI pushes it", async () => {
    const waiting = await open(2);
    await waitFor(
      "the check run to say what it waits for",
      () =>
        said(checkRun(waiting)).includes(
          `waiting for \`${registry.host}/${REPO_PATH}:${waiting}\` (not in ${registry.host} yet`,
        ),
      120_000,
    );
    expect(checkRun(waiting)?.status).toBe("in_progress");
    await expect(kc.makeApiClient(CoreV1Api).readNamespace({ name: NS(2) })).rejects.toMatchObject({ code: 404 });

    // One job slot, and it is lent: another PR's deploy runs to the end while the first still waits.
    const other = nextSha();
    await registry.push(REPO_PATH, other, { seed: 3 });
    await open(3, other);
    await finished(other);
    expect(checkRun(other)?.conclusion).toBe("success");
    expect(checkRun(waiting)?.status).toBe("in_progress");

    const { digest } = await registry.push(REPO_PATH, waiting, { seed: 2 });
    await finished(waiting);
    expect({
      conclusion: checkRun(waiting)?.conclusion,
      said: checkRun(waiting)?.conclusion === "success" ? "" : said(checkRun(waiting)),
    }).toEqual({ conclusion: "success", said: "" });
    expect((await deployment(2)).spec?.template.spec?.containers[0]?.image).toBe(
      `${registry.host}/${REPO_PATH}@${digest}`,
    );
    expect(said(checkRun(waiting))).toMatch(
      new RegExp(`waited [0-9.]+ (s|min)[^|]* for \`${registry.host}/${REPO_PATH}:${waiting}\``.replace(/\./g, "\\.")),
    );
  }, 400_000);

  it("a newer push ends a wait: the waiting run is cancelled, the new commit deploys", async () => {
    const stale = await open(5);
    await waitFor(
      "the first run to wait",
      () => said(checkRun(stale)).includes(`waiting for \`${registry.host}/${REPO_PATH}:${stale}\``),
      120_000,
    );
    const fresh = nextSha();
    const { digest } = await registry.push(REPO_PATH, fresh, { seed: 5 });
    gh.state.tarballs.set(
      fresh,
      await h.tarball(fresh, { "deploy/web.yaml": webApp({ image: "ghcr.io/acme/web:dev" }) }),
    );
    gh.state.pulls.set(5, pull({ number: 5, sha: fresh }));
    expect(await h.send("pull_request", prEvent("synchronize", gh.state.pulls.get(5)!))).toBe(200);
    expect(checkRun(stale)?.conclusion).toBe("cancelled");
    expect(checkRun(fresh)?.conclusion).toBe("success");
    expect((await deployment(5)).spec?.template.spec?.containers[0]?.image).toBe(
      `${registry.host}/${REPO_PATH}@${digest}`,
    );
  }, 400_000);

  it("fails at images[].wait when the image never comes, naming it and the registry's answer; nothing is created", async () => {
    gh.state.config = config("2s");
    try {
      const sha = await open(4);
      await finished(sha);
      const run = checkRun(sha)!;
      expect(run.conclusion).toBe("failure");
      expect(said(run)).toContain(`\`${registry.host}/${REPO_PATH}:${sha}\` did not appear within 2.0 s`);
      expect(said(run)).toContain(
        `${registry.host}/${REPO_PATH}:${sha} is not in ${registry.host} (404 for ${REPO_PATH}:${sha})`,
      );
      await expect(kc.makeApiClient(CoreV1Api).readNamespace({ name: NS(4) })).rejects.toMatchObject({ code: 404 });
    } finally {
      gh.state.config = config();
    }
  }, 400_000);

  it("asked the registry with manifest HEADs only (no GET: not a pull)", () => {
    const manifests = registry
      .log()
      .filter((e) => e.path.startsWith(`/v2/${REPO_PATH}/manifests/`) && !e.ua?.startsWith("preview-registry-client"));
    expect(manifests.length).toBeGreaterThan(4);
    expect(manifests.filter((e) => e.method !== "HEAD")).toEqual([]);
  });
});
