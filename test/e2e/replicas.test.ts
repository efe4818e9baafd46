/**
 * Two replicas under faults, then a sweep: a seeded, randomized run of 40 pull requests (open, push, close) whose
 * signed webhook deliveries go to either of two servers built as production builds them (`startServer` →
 * `buildApp`, each with its PostgreSQL queue on one state database), some deliveries lost or delivered twice (to
 * the other replica), the fake Kubernetes API server failing ~10 % of requests and GitHub failing some. Once the storm
 * is over, the server's own sweeper converges: every open PR has a ready preview at its head commit with its database,
 * and nothing is left of closed ones (no orphan namespace, no orphan database).
 *
 * Its deadline is far above its normal time (about 30 s here) so that a loaded machine makes it slower, never red.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import nock from "nock";
import { MANAGED_BY } from "../../src/services/shared/labels.js";
import { nockInstallationListing, prEvent, SECRET, startHarness, webApp, type Harness } from "../support/e2e-bot.js";
import { startFakeKube, type FakeKube } from "../support/fake-kube/index.js";
import { deliver, fakeGitHub, GITHUB_API, type FakePull } from "../support/github-fake.js";
import { createTestDatabase } from "../support/pg-database.js";

const PRS = 40;
const SEED = Number(process.env.REPLICAS_SEED ?? 20261120);
const DEADLINE = 600_000;
const run = Math.random().toString(36).slice(2, 6);
// A repository of this file only: the PostgreSQL server is shared, and the sweeper acts on enrolled repositories.
const OWNER = "storm-org";
const REPO = `app-${run}`;
const CONFIG = `manifests:\n  path: deploy\nnames:\n  namespace: "r${run}-{number}"\ndatabase:\n  enabled: true\n  secret:\n    name: app-db\n`;

/** mulberry32: small, seeded, good enough to pick events. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let state: Awaited<ReturnType<typeof createTestDatabase>>;
let fake: FakeKube;
const replicas: Harness[] = [];

beforeAll(async () => {
  state = await createTestDatabase("replicas");
  fake = await startFakeKube({ namespaceFinalizeMs: 20, controllerTickMs: 10 });
  for (let i = 0; i < 2; i++)
    replicas.push(await startHarness({ env: { DATABASE_URL: state.url, JOB_CONCURRENCY: "4" }, cluster: fake }));
}, DEADLINE);

afterAll(async () => {
  fake?.setFaults(undefined);
  // Remove what the run created in the shared PostgreSQL server.
  const databases = replicas[0]?.bot.app?.databases;
  for (const d of (await databases?.list().catch(() => [])) ?? []) {
    if (d.database.startsWith(`r${run}_`))
      await databases!
        .drop({ key: d.key, database: d.database, role: d.role ?? `${d.database}_app` })
        .catch(() => undefined);
  }
  for (const r of replicas) await r.stop();
  await fake?.stop();
  await state?.drop();
}, DEADLINE);

describe("two replicas, a storm of events under faults, then a sweep", () => {
  it(
    "converges to exactly the open pull requests' previews, with nothing orphaned",
    async () => {
      const random = rng(SEED); // the event sequence: same seed, same storm
      const faultRandom = rng(SEED + 1); // faults: drawn per request, so their order depends on timing
      // GitHub fails some requests: these interceptors come first, so they take the first matching requests.
      nock(GITHUB_API)
        .get(/^\/repos\/[^/]+\/[^/]+\/pulls\/\d+$/)
        .times(6)
        .reply(502, { message: "Bad Gateway" });
      nock(GITHUB_API)
        .post(/\/check-runs$/)
        .times(4)
        .reply(500, { message: "Server Error" });
      const gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: 2, config: CONFIG });
      nockInstallationListing(gh);
      let version = 0;
      const newSha = async () => {
        const sha = (++version).toString(16).padStart(40, "0");
        gh.state.tarballs.set(
          sha,
          await replicas[0]!.tarball(sha, {
            "deploy/web.yaml": webApp({ image: "ghcr.io/codertocat/hello:latest", service: true }),
          }),
        );
        return sha;
      };
      const pull = async (number: number): Promise<FakePull> => ({
        number,
        title: `PR ${number}`,
        branch: `topic-${number}`,
        sha: await newSha(),
        state: "open",
        fork: false,
        draft: false,
        labels: [],
        author: "Codertocat",
        files: [],
      });

      let lost = 0;
      let duplicated = 0;
      const send = async (number: number, action: "opened" | "synchronize" | "closed") => {
        if (random() < 0.1) return void lost++; // GitHub gave up on this delivery: only the sweeper will notice
        const payload = prEvent(action, gh.state.pulls.get(number)!, { owner: OWNER, repo: REPO });
        const id = crypto.randomUUID();
        const to = (r: Harness) => deliver(`http://127.0.0.1:${r.bot.port}`, SECRET, "pull_request", payload, id);
        expect((await to(replicas[Math.floor(random() * 2)]!)).status).toBe(200);
        if (random() < 0.1) {
          duplicated++; // a redelivery of the same delivery id reaches the other replica
          expect((await to(replicas[Math.floor(random() * 2)]!)).status).toBe(200);
        }
      };

      fake.setFaults(() => (faultRandom() < 0.1 ? [500, 503, 429][Math.floor(faultRandom() * 3)] : undefined));
      const started = Date.now();
      for (let n = 1; n <= PRS; n++) {
        gh.state.pulls.set(n, await pull(n));
        await send(n, "opened");
      }
      for (let step = 0; step < 60; step++) {
        const n = 1 + Math.floor(random() * PRS);
        const p = gh.state.pulls.get(n)!;
        if (p.state === "closed") continue;
        if (random() < 0.25) {
          p.state = "closed";
          await send(n, "closed");
        } else {
          p.sha = await newSha();
          await send(n, "synchronize");
        }
      }
      const idle = () => Promise.all(replicas.map((r) => r.bot.app!.idle()));
      await idle();
      fake.setFaults(undefined); // the storm is over

      let sweeps = 0;
      for (; sweeps < 6; sweeps++) {
        const result = await replicas[sweeps % 2]!.bot.app!.sweeper.sweep();
        await idle();
        if (result.plan.deploy.length === 0 && result.plan.destroy.length === 0) break;
      }

      const open = [...gh.state.pulls.values()].filter((p) => p.state === "open");
      const ours = fake
        .list("v1", "Namespace")
        .filter((ns) => ns.metadata.labels?.[Object.keys(MANAGED_BY)[0]!] && ns.metadata.name?.startsWith(`r${run}-`));
      const actual = ours
        .map(
          (ns) =>
            `${ns.metadata.name}@${ns.metadata.annotations?.["preview-bot.dev/head-sha"]}:${ns.metadata.annotations?.["preview-bot.dev/state"]}`,
        )
        .sort();
      const desired = open.map((p) => `r${run}-${p.number}@${p.sha}:ready`).sort();
      const databases = (await replicas[0]!.bot.app!.databases!.list())
        .filter((d) => d.database.startsWith(`r${run}_`))
        .map((d) => d.key)
        .sort();
      const summary = {
        lost,
        duplicated,
        sweeps,
        open: desired.length,
        seconds: Math.round((Date.now() - started) / 1000),
      };
      expect({ summary, actual }).toEqual({ summary, actual: desired });
      expect(databases).toEqual(open.map((p) => `${OWNER}/${REPO}#${p.number}`).sort());
      for (const p of open) expect(fake.get("apps/v1", "Deployment", `r${run}-${p.number}`, "web")).toBeDefined();
      expect(lost).toBeGreaterThan(0); // the run did exercise missed deliveries …
      expect(sweeps).toBeGreaterThan(0); // … and the sweeper had work to do
    },
    DEADLINE,
  );
});
