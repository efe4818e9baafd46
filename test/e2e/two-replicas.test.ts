/**
 * Two bot processes' worth of servers (two `startServer`s) on one PostgreSQL (DATABASE_URL → the durable queue) and
 * one cluster: GitHub's deliveries land on either replica, some twice (a redelivery can reach the other replica).
 * Each preview is deployed once, and the state database is where the replicas agree. Without DATABASE_URL the
 * replicas share only the cluster: one holds the job Lease and runs the jobs, the other stands by until it is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import nock from "nock";
import { startFakeKube, type FakeKube } from "../support/fake-kube/index.js";
import {
  startHarness,
  pull,
  prEvent,
  waitFor,
  INSTALLATION,
  OWNER,
  REPO,
  SECRET,
  type Harness,
} from "../support/e2e-bot.js";
import { deliver, fakeGitHub } from "../support/github-fake.js";
import { createTestDatabase } from "../support/pg-database.js";

const PRS = [31, 32, 33, 34, 35, 36];
const sha = (n: number) => n.toString(16).padStart(40, "0");

let cluster: FakeKube;
let replicas: Harness[] = [];
let state: Awaited<ReturnType<typeof createTestDatabase>>;
let gh: ReturnType<typeof fakeGitHub>;

beforeAll(async () => {
  state = await createTestDatabase("replicas_state");
  cluster = await startFakeKube({ namespaceFinalizeMs: 20 });
  const env = { DATABASE_URL: state.url, PREVIEW_DATABASE_URL: "", JOB_CONCURRENCY: "3" };
  replicas = [await startHarness({ env, cluster }), await startHarness({ env, cluster })];
  gh = fakeGitHub({
    owner: OWNER,
    repo: REPO,
    installationId: INSTALLATION,
    config: `manifests: { path: k8s }\nnames: { namespace: "rep-{number}" }\n`,
  });
  for (const n of PRS) {
    gh.state.pulls.set(n, pull({ number: n, sha: sha(n) }));
    gh.state.tarballs.set(
      sha(n),
      await replicas[0]!.tarball(sha(n), {
        "k8s/cm.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: app }\ndata: { pr: "${n}" }\n`,
      }),
    );
  }
}, 180_000);

afterAll(async () => {
  for (const r of replicas) await r.stop();
  await cluster?.stop();
  await state?.drop();
});

describe("two replicas on one PostgreSQL", () => {
  it("deploy each pull request once, whichever replica a delivery reaches and however often", async () => {
    const deliveries = PRS.map((n) => ({
      id: crypto.randomUUID(),
      payload: prEvent("opened", gh.state.pulls.get(n)!),
    }));
    const sends: Array<Promise<Response>> = [];
    deliveries.forEach((d, i) => {
      const first = replicas[i % 2]!;
      const other = replicas[(i + 1) % 2]!;
      sends.push(deliver(`http://127.0.0.1:${first.bot.port}`, SECRET, "pull_request", d.payload, d.id));
      // every other delivery arrives a second time, at the other replica
      if (i % 2 === 0)
        sends.push(deliver(`http://127.0.0.1:${other.bot.port}`, SECRET, "pull_request", d.payload, d.id));
    });
    for (const res of await Promise.all(sends)) expect(res.status).toBe(200);
    await Promise.all(replicas.map((r) => r.bot.app!.idle()));

    for (const n of PRS) {
      expect((cluster.get("v1", "ConfigMap", `rep-${n}`, "app") as any)?.data.pr).toBe(String(n));
      const runs = gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === sha(n));
      expect(runs.map((r) => r.conclusion)).toEqual(["success"]);
    }
    expect(gh.writes("POST", /\/deployments$/)).toHaveLength(PRS.length);
    // readiness covers the cluster and the state database
    const ready = await fetch(`http://127.0.0.1:${replicas[0]!.bot.port}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: "ready",
      kubernetes: expect.stringMatching(/^ok/),
      state: "ok (DATABASE_URL)",
    });
  }, 180_000);

  it("a Kubernetes 503 during apply is handed back to the durable queue, retried, and the preview converges", async () => {
    const n = 37;
    gh.state.pulls.set(n, pull({ number: n, sha: sha(n) }));
    gh.state.tarballs.set(
      sha(n),
      await replicas[0]!.tarball(sha(n), {
        "k8s/cm.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: app }\ndata: { pr: "${n}" }\n`,
      }),
    );
    let failures = 0;
    cluster.setFaults((req) =>
      req.method === "PATCH" && req.path.includes("/namespaces/rep-37/configmaps") && failures++ < 1 ? 503 : undefined,
    );
    try {
      expect(await replicas[0]!.send("pull_request", prEvent("opened", gh.state.pulls.get(n)!))).toBe(200);
      await Promise.all(replicas.map((r) => r.bot.app!.idle()));
    } finally {
      cluster.setFaults(undefined);
    }
    expect(failures).toBeGreaterThanOrEqual(1);
    expect((cluster.get("v1", "ConfigMap", `rep-${n}`, "app") as any)?.data.pr).toBe(String(n));
    const runs = gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === sha(n));
    expect(runs.at(-1)?.conclusion).toBe("success");
    expect(JSON.stringify(runs.map((r) => r.output))).toMatch(/transient error: retrying/);
    // and /metrics counted it as a Kubernetes API error on one of the replicas
    const texts = await Promise.all(
      replicas.map(async (r) => (await fetch(`http://127.0.0.1:${r.bot.port}/metrics`)).text()),
    );
    expect(texts.join("\n")).toMatch(/preview_bot_api_errors_total\{system="kubernetes"\} [1-9]/);
    expect(texts.join("\n")).toMatch(/preview_bot_job_retries_total\{kind="preview"\} [1-9]/);
  }, 180_000);
});

describe("two replicas without DATABASE_URL", () => {
  const BOT_NAMESPACE = "preview-bot";
  let fleet: FakeKube;
  const bots: Harness[] = [];
  const readyz = async (h: Harness) => {
    const res = await fetch(`http://127.0.0.1:${h.bot.port}/readyz`);
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  };
  const files = (n: number) => ({
    "k8s/cm.yaml": `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: app }\ndata: { pr: "${n}" }\n`,
  });

  beforeAll(async () => {
    fleet = await startFakeKube({ namespaceFinalizeMs: 20 });
    fleet.seed({ apiVersion: "v1", kind: "Namespace", metadata: { name: BOT_NAMESPACE }, status: { phase: "Active" } });
    const env = { POD_NAMESPACE: BOT_NAMESPACE, PREVIEW_DATABASE_URL: "" };
    bots.push(await startHarness({ env, cluster: fleet }), await startHarness({ env, cluster: fleet }));
    nock.cleanAll(); // the first describe's fake GitHub
    gh = fakeGitHub({
      owner: OWNER,
      repo: REPO,
      installationId: INSTALLATION,
      config: `manifests: { path: k8s }\nnames: { namespace: "fleet-{number}" }\n`,
    });
    for (const n of [71, 72]) {
      gh.state.pulls.set(n, pull({ number: n, sha: sha(n) }));
      gh.state.tarballs.set(sha(n), await bots[0]!.tarball(sha(n), files(n)));
    }
  }, 180_000);

  afterAll(async () => {
    for (const b of bots) await b.stop().catch(() => undefined);
    await fleet?.stop();
  });

  it("run jobs on the replica holding the Lease only; the other says why, keeps what it got, and takes over", async () => {
    const [first, second] = bots as [Harness, Harness];
    expect(await readyz(first)).toMatchObject({
      status: 200,
      body: { queue: expect.stringMatching(/^ok \(holds Lease preview-bot\/preview-bot-queue/) },
    });
    expect(await readyz(second)).toMatchObject({
      status: 503,
      body: {
        queue: expect.stringMatching(
          /^standby: .+ holds Lease preview-bot\/preview-bot-queue; this replica runs no jobs/,
        ),
      },
    });
    // the schedules (backups, sweeps, redelivery) fire on the holder only
    const slot = new Date().toISOString();
    expect([
      await second.bot.app!.scheduleLock.claim("preview-sweep", slot),
      await first.bot.app!.scheduleLock.claim("preview-sweep", slot),
    ]).toEqual([false, true]);

    // A delivery that reached the standby replica (before the Service noticed it is not ready) waits there …
    const early = await deliver(
      `http://127.0.0.1:${second.bot.port}`,
      SECRET,
      "pull_request",
      prEvent("opened", gh.state.pulls.get(71)!),
    );
    expect(early.status).toBe(200);
    // … while the holder runs its own deliveries to the end.
    expect(await first.send("pull_request", prEvent("opened", gh.state.pulls.get(72)!))).toBe(200);
    expect(fleet.get("v1", "ConfigMap", "fleet-72", "app")).toBeDefined();
    expect(second.bot.app!.queue.stats()).toMatchObject({ queued: 1, running: 0 });
    expect(fleet.get("v1", "Namespace", undefined, "fleet-71")).toBeUndefined();

    // The holder goes away (a rolling update): it hands the Lease back, and the standby runs what it kept.
    await first.bot.close(); // the server only: the test's fake GitHub stays up for the other replica
    await waitFor(
      "the second replica to deploy the delivery it kept",
      () => fleet.get("v1", "ConfigMap", "fleet-71", "app") !== undefined,
    );
    await second.bot.app!.idle();
    expect(
      gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === sha(71)).map((r) => r.conclusion),
    ).toEqual(["success"]);
    expect(await readyz(second)).toMatchObject({
      status: 200,
      body: { queue: expect.stringMatching(/^ok \(holds Lease/) },
    });
    const lease = fleet.get("coordination.k8s.io/v1", "Lease", BOT_NAMESPACE, "preview-bot-queue") as any;
    expect(lease.spec.leaseTransitions).toBeGreaterThanOrEqual(1);
    expect(lease.spec.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/); // MicroTime, as a real API server wants it
  }, 120_000);
});
