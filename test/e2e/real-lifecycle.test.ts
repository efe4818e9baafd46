/**
 * The real-world overlay through the real control plane: rjpalt/KubernetesMOOC's `feature` overlay
 * (test/fixtures/kubernetesmooc), rendered with examples/kubernetesmooc/preview.yml as its `.github/preview.yml`,
 * goes through opened → synchronize → closed. Signed real webhook payloads go into the production server
 * (`startServer`), GitHub is on nock, the bot's KubeConfig points at this run's kube-apiserver: real admission (the
 * overlay's own ResourceQuota), real server-side apply, kwok pods becoming Ready, the real garbage collector and
 * namespace controller. The pull request adds a migration Job (whose image follows the commit, so the second push
 * changes its immutable template) and, on the second push, drops a HealthCheckPolicy (a CRD kind, to be pruned).
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { BatchV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import nock from "nock";
import pg from "pg";
import { parseConfig } from "../../src/config.js";
import { previewNamesFor } from "../../src/services/preview/naming.js";
import { startHarness, pull, prEvent, INSTALLATION, OWNER, REPO, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub } from "../support/github-fake.js";
import { describeWithRealCluster } from "../support/kube-real/index.js";
import { imagesInto, requireRegistry, type SharedRegistry } from "../support/registry-suite.js";
import { ROOT } from "../support/paths.js";

const EXAMPLE = readFileSync(path.join(ROOT, "examples", "kubernetesmooc", "preview.yml"), "utf8");
/** The example's images (its todo-app-cron job is left out: examples/kubernetesmooc/preview.yml says why). */
const IMAGES = ["todo-app-be", "todo-app-fe", "broadcaster"];
/** The example as is, but its images (kubemooc.azurecr.io) renamed into the run's real registry (newName). */
const withRegistry = (host: string, prefix: string) =>
  imagesInto(EXAMPLE, (name) =>
    name.startsWith("kubemooc.azurecr.io/") ? `${host}/${prefix}/${name.split("/").at(-1)!}` : undefined,
  );
const FIXTURE = path.join(ROOT, "test", "fixtures", "kubernetesmooc", "manifests");
const OVERLAY = "course_project/manifests/overlays/feature";
const SHA1 = "a1".repeat(20);
const SHA2 = "b2".repeat(20);

/** The fixture as the repository has it: every file under course_project/manifests/. */
function repoFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else out[`course_project/manifests/${path.relative(FIXTURE, full)}`] = readFileSync(full, "utf8");
    }
  };
  walk(FIXTURE);
  return out;
}

/**
 * What the pull request changes: a migration Job from the backend image; on the second push, one fewer
 * HealthCheckPolicy.
 */
function commit(second: boolean): Record<string, string> {
  const files = repoFiles();
  files[`${OVERLAY}/migrate-job.yaml`] = `apiVersion: batch/v1
kind: Job
metadata:
  name: todo-migrate
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: kubemooc.azurecr.io/todo-app-be:latest
          command: ["alembic", "upgrade", "head"]
          resources:
            requests: { cpu: 50m, memory: 64Mi }
            limits: { cpu: 100m, memory: 128Mi }
`;
  const k = `${OVERLAY}/kustomization.yaml`;
  files[k] = files[k]!.replace("- resourcequota.yaml\n", "- resourcequota.yaml\n- migrate-job.yaml\n");
  if (second) {
    const shared = "course_project/manifests/base/shared/kustomization.yaml";
    files[shared] = files[shared]!.replace("- health-check-fe.yaml\n", "");
  }
  return files;
}

describeWithRealCluster(
  "a kubernetesmooc preview, opened → synchronize → closed, on the real control plane",
  (cluster) => {
    let h: Harness;
    let kc: KubeConfig;
    let gh: ReturnType<typeof fakeGitHub>;
    const branch = `mooc-${randomBytes(3).toString("hex")}`;
    const number = 7000 + Math.floor(Math.random() * 1000);
    let ns: string;
    let pvName: string;
    let registry: SharedRegistry;
    let CONFIG: string;
    const prefix = `lib/mooc-${randomBytes(3).toString("hex")}`;
    /** Digest of each image CI pushed, by `<image> <sha>`. */
    const pushed = new Map<string, string>();
    const pinned = (image: string, sha: string) =>
      `${registry.host}/${prefix}/${image}@${pushed.get(`${image} ${sha}`)}`;
    const send = (action: string, sha: string, state: "open" | "closed" = "open") => {
      gh.state.pulls.set(number, pull({ number, branch, sha, state }));
      return h.send("pull_request", prEvent(action, gh.state.pulls.get(number)!));
    };
    const checkRun = (sha: string) =>
      gh.state.checkRuns.filter((r) => r.head_sha === sha && r.name === "preview").at(-1)!;
    /** The conclusion, with the check run's text when it is not a success (so a failure says why). */
    const outcome = (sha: string) => {
      const run = checkRun(sha);
      return run.conclusion === "success"
        ? "success"
        : `${run.conclusion}: ${run.output?.summary ?? ""}\n${run.output?.text ?? ""}`;
    };

    beforeAll(async () => {
      registry = requireRegistry();
      CONFIG = withRegistry(registry.host, prefix);
      expect(CONFIG.match(/newName:/g)).toHaveLength(IMAGES.length);
      // What the repository's CI pushes for each commit: each image, tagged <branch>-<sha>.
      for (const sha of [SHA1, SHA2])
        for (const [i, image] of IMAGES.entries()) {
          const { digest } = await registry.push(`${prefix}/${image}`, `${branch}-${sha}`, {
            seed: i + (sha === SHA1 ? 10 : 20),
          });
          pushed.set(`${image} ${sha}`, digest);
        }
      kc = cluster().kubeConfig();
      const parsed = parseConfig(CONFIG);
      if (!parsed.ok) throw new Error(`examples/kubernetesmooc/preview.yml: ${parsed.errors.join("; ")}`);
      const names = previewNamesFor({ owner: OWNER, repo: REPO, number, branch, sha: SHA1 }, parsed.config);
      ns = names.namespace;
      // The cluster's storage: the overlay's image-cache claim (azurefile-csi, ReadWriteMany) binds to this volume.
      pvName = `${ns}-image-cache`;
      await kc.makeApiClient(CoreV1Api).createPersistentVolume({
        body: {
          metadata: { name: pvName },
          spec: {
            capacity: { storage: "1Gi" },
            accessModes: ["ReadWriteMany"],
            storageClassName: "azurefile-csi",
            persistentVolumeReclaimPolicy: "Retain",
            hostPath: { path: `/tmp/${pvName}` },
            claimRef: { namespace: ns, name: "image-cache-pvc" },
          },
        },
      });
      h = await startHarness({ kubeConfig: kc, env: { NAMESPACE_DELETE_TIMEOUT: "300" }, rolloutFailFastMs: 120_000 });
      gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: CONFIG });
      gh.state.tarballs.set(SHA1, await h.tarball(SHA1, commit(false)));
      gh.state.tarballs.set(SHA2, await h.tarball(SHA2, commit(true)));
      // The preview's public URL (nip.io, http): the health check /be-health answers through the gateway.
      nock(`http://${names.host}`).persist().get("/be-health").reply(200, "ok");
    }, 60_000);

    afterAll(async () => {
      await h?.stop();
      await kc
        ?.makeApiClient(CoreV1Api)
        .deletePersistentVolume({ name: pvName })
        .catch(() => undefined);
    });

    it("opened: the whole overlay is applied through real admission and rolls out Ready; the check run succeeds", async () => {
      expect(await send("opened", SHA1)).toBe(200);
      expect(outcome(SHA1)).toBe("success");
      const core = kc.makeApiClient(CoreV1Api);
      const namespace = await core.readNamespace({ name: ns });
      expect(namespace.metadata?.labels).toMatchObject({
        "app.kubernetes.io/managed-by": "preview-bot",
        "preview-bot.dev/pr": String(number),
        "dev-gateway-access": "allowed",
      });
      expect(namespace.metadata?.annotations).toMatchObject({
        "preview-bot.dev/state": "ready",
        "preview-bot.dev/head-sha": SHA1,
      });
      const pods = (await core.listNamespacedPod({ namespace: ns })).items.filter(
        (p) => !p.metadata?.labels?.["job-name"],
      );
      expect(pods.length).toBeGreaterThanOrEqual(4);
      expect(pods.every((p) => p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"))).toBe(
        true,
      );
      // Every pod runs the PR's images by digest (a tag pushed again changes nothing until the next deploy).
      const ours = pods.flatMap((p) => p.spec!.containers.map((c) => c.image!)).filter((i) => i.includes(prefix));
      expect(ours.length).toBeGreaterThanOrEqual(3);
      expect(ours.every((i) => [...pushed.values()].some((d) => i.endsWith(`@${d}`)))).toBe(true);
      for (const image of IMAGES)
        expect(gh.sticky(number)[0]!.body).toContain(`\`${registry.host}/${prefix}/${image}:${branch}-${SHA1}\``);
      const job = await kc.makeApiClient(BatchV1Api).readNamespacedJob({ name: "todo-migrate", namespace: ns });
      expect(job.spec?.template.spec?.containers[0]?.image).toBe(pinned("todo-app-be", SHA1));
      const hc = await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
        group: "alb.networking.azure.io",
        version: "v1",
        namespace: ns,
        plural: "healthcheckpolicies",
      });
      expect((hc.items as Array<{ metadata: { name: string } }>).map((i) => i.metadata.name).sort()).toEqual([
        "todo-backend-health-check",
        "todo-frontend-health-check",
      ]);
      // The database Secret the overlay expects, with the keys it reads.
      const secret = await core.readNamespacedSecret({ name: "postgres-secret", namespace: ns });
      expect(Object.keys(secret.data ?? {}).sort()).toEqual(["PASSWORD", "USER"]);
    }, 400_000);

    it("synchronize: the migration Job's changed template is replaced (and reported), the dropped HealthCheckPolicy pruned", async () => {
      const before = await kc.makeApiClient(BatchV1Api).readNamespacedJob({ name: "todo-migrate", namespace: ns });
      expect(await send("synchronize", SHA2)).toBe(200);
      expect(outcome(SHA2)).toBe("success");
      const steps = String(checkRun(SHA2).output?.summary ?? "").replace(/\\([()_*[\]|])/g, "$1"); // markdown escapes out
      expect(steps).toContain(
        `replaced 1 (immutable fields changed, deleted and created again): Job "${ns}/todo-migrate" (spec.template)`,
      );
      expect(steps).toContain(`| Prune | ✅ |`);
      expect(steps).toContain(`1 removed: HealthCheckPolicy "${ns}/todo-frontend-health-check"`);
      const job = await kc.makeApiClient(BatchV1Api).readNamespacedJob({ name: "todo-migrate", namespace: ns });
      expect(job.metadata?.uid).not.toBe(before.metadata?.uid);
      expect(job.spec?.template.spec?.containers[0]?.image).toBe(pinned("todo-app-be", SHA2));
      const hc = await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
        group: "alb.networking.azure.io",
        version: "v1",
        namespace: ns,
        plural: "healthcheckpolicies",
      });
      expect((hc.items as Array<{ metadata: { name: string } }>).map((i) => i.metadata.name)).toEqual([
        "todo-backend-health-check",
      ]);
      expect(
        (await kc.makeApiClient(CoreV1Api).readNamespace({ name: ns })).metadata?.annotations?.[
          "preview-bot.dev/head-sha"
        ],
      ).toBe(SHA2);
    }, 400_000);

    it("closed: the real namespace controller removes the namespace and everything in it; the database is dropped", async () => {
      expect(await send("closed", SHA2, "closed")).toBe(200);
      const core = kc.makeApiClient(CoreV1Api);
      // Teardown waits until the namespace is gone, so by now it is: no sleeping, no polling here.
      await expect(core.readNamespace({ name: ns })).rejects.toMatchObject({ code: 404 });
      expect(gh.sticky(number)).toHaveLength(1);
      expect(gh.sticky(number)[0]!.body).toMatch(/removed/i);
      const admin = new pg.Client({ connectionString: process.env.TEST_PG_URL });
      await admin.connect();
      const { rows } = await admin.query("select datname from pg_database where datname like $1", [
        `${ns.replace(/-/g, "_")}%`,
      ]);
      await admin.end();
      expect(rows).toEqual([]);
      for (const d of gh.state.deployments) expect(d.statuses.at(-1)?.state).toBe("inactive");
    }, 400_000);
  },
);
