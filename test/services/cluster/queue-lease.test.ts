/**
 * The job Lease (one queue per fleet without PostgreSQL) against the fake Kubernetes API server through the real
 * client: one holder; a standby takes over only after it has seen the record unchanged for a whole lease duration on
 * its own clock (a crashed holder never hands it back); a Lease API the bot may not use means no jobs, said plainly.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { createLogger } from "../../../src/logger.js";
import { QueueLease } from "../../../src/services/cluster/queue-lease.js";
import { startFakeKube, type FakeKube } from "../../support/fake-kube/index.js";
import { waitFor } from "../../support/wait.js";

const logger = createLogger({ level: "silent" });
let fake: FakeKube;
const leases: QueueLease[] = [];

function lease(identity: string, o: { retryMs?: number; now?: () => number; name?: string } = {}): QueueLease {
  const l = new QueueLease({
    api: fake.kubeConfig().makeApiClient(CoordinationV1Api),
    namespace: "bots",
    name: o.name ?? "jobs",
    identity,
    logger,
    retryMs: o.retryMs ?? 3_600_000,
    ...(o.now ? { now: o.now } : {}),
  });
  leases.push(l);
  return l;
}

beforeAll(async () => {
  fake = await startFakeKube();
  fake.registerKind({ group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true });
  fake.seed({ apiVersion: "v1", kind: "Namespace", metadata: { name: "bots" }, status: { phase: "Active" } });
});
afterAll(async () => {
  for (const l of leases) await l.stop();
  await fake.stop();
});

describe("the job Lease", () => {
  it("is open before the election starts (a one-shot CLI runs its own jobs), then held by one replica only", async () => {
    const a = lease("a");
    const b = lease("b");
    expect(a.allows()).toBe(true);
    await a.start();
    await b.start();
    expect([a.allows(), b.allows()]).toEqual([true, false]);
    expect(b.status()).toBe("standby: a holds Lease bots/jobs; this replica runs no jobs until it is gone");
  });

  it("is taken over from a holder that stopped renewing only after a whole lease duration on the standby's clock", async () => {
    let clock = 1_000_000;
    const gone = lease("gone", { name: "crashed" }); // ticks once, then never again: as if it crashed
    await gone.start();
    const standby = lease("standby", { name: "crashed", retryMs: 20, now: () => clock });
    await standby.start();
    const seen = fake.requests.length;
    await waitFor("the standby to look again", () =>
      fake.requests.slice(seen).some((r) => r.method === "GET" && r.path.endsWith("/leases/crashed")),
    );
    expect(standby.allows()).toBe(false); // its own clock has not moved: the record might still be renewed
    clock += 16_000;
    await waitFor("the standby to take the Lease over", () => standby.allows());
    const record = fake.get("coordination.k8s.io/v1", "Lease", "bots", "crashed") as any;
    expect(record.spec).toMatchObject({ holderIdentity: "standby", leaseTransitions: 1, leaseDurationSeconds: 15 });
  });

  it("runs no jobs and says why when the bot may not use Leases", async () => {
    fake.setFaults((req) => (req.path.includes("/leases") ? 403 : undefined));
    try {
      const l = lease("forbidden", { name: "forbidden" });
      await l.start();
      expect(l.allows()).toBe(false);
      expect(l.status()).toMatch(
        /^cannot elect: 403 .*\(without DATABASE_URL only the holder of Lease bots\/forbidden runs jobs\)$/,
      );
    } finally {
      fake.setFaults(undefined);
    }
  });
});
