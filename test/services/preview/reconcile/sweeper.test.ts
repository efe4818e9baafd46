/**
 * The sweeper the server builds (`startServer` → `buildApp`: its GitHub listing, the queue, the runner) against the
 * fake Kubernetes API server, the real PostgreSQL server and GitHub on nock — with Slack on nock for the expiry
 * heads-up, across a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import {
  EXPIRES_ANNOTATION,
  MANAGED_BY,
  REPOSITORY_ANNOTATION,
  SHA_ANNOTATION,
} from "../../../../src/services/shared/labels.js";
import { ownershipLabels } from "../../../../src/services/preview/naming.js";
import { PgSweepMemory } from "../../../../src/services/preview/reconcile/sweeper.js";
import {
  markReady,
  nockInstallationListing,
  prEvent,
  SECRET,
  startHarness,
  waitFor,
  webApp,
  type Harness,
} from "../../../support/e2e-bot.js";
import { deliver, fakeGitHub, type FakePull } from "../../../support/github-fake.js";
import { createTestDatabase } from "../../../support/pg-database.js";

const sha = (c: string) => c.repeat(40);
const DEADLINE = 120_000; // a few seconds on an idle machine

describe("the server's sweeper against the fake API server and PostgreSQL", () => {
  // A repository of this file only: the PostgreSQL server is shared with other test files, and the sweeper acts
  // only on enrolled repositories' previews.
  const run = Math.random().toString(36).slice(2, 7);
  const OWNER = "sweep-org";
  const REPO = `app-${run}`;
  const KEY = (n: number) => `${OWNER}/${REPO}#${n}`;
  let h: Harness;
  let admin: pg.Client;
  let gh: ReturnType<typeof fakeGitHub>;
  let archived = false;

  const seedNs = (
    name: string,
    number: number,
    annotations: Record<string, string> = {},
    labels = ownershipLabels(OWNER, REPO, number),
  ) =>
    h.fake.seed({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name,
        labels,
        annotations: { [REPOSITORY_ANNOTATION]: `${OWNER}/${REPO}`, [SHA_ANNOTATION]: sha("1"), ...annotations },
      },
      status: { phase: "Active" },
    });
  const dbExists = async (name: string) =>
    ((await admin.query("select 1 from pg_database where datname = $1", [name])).rowCount ?? 0) > 0;
  const roleExists = async (name: string) =>
    ((await admin.query("select 1 from pg_roles where rolname = $1", [name])).rowCount ?? 0) > 0;
  const p = (number: number, state: "open" | "closed"): FakePull => ({
    number,
    title: `PR ${number}`,
    branch: `b${number}`,
    sha: sha("1"),
    state,
    fork: false,
    draft: false,
    labels: [],
    author: "Codertocat",
    files: [],
  });
  const namesOf = (n: number) => ({ key: KEY(n), database: `sw${run}_pr_${n}`, role: `sw${run}_pr_${n}_app` });

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: process.env.TEST_PG_URL });
    await admin.connect();
    h = await startHarness();
    gh = fakeGitHub({
      owner: OWNER,
      repo: REPO,
      installationId: 2,
      config: `manifests:\n  path: k8s\nnames:\n  namespace: "sw${run}-pr-{number}"\nhealth:\n  timeout: 30m\ndatabase:\n  enabled: true\n`,
    });
    nockInstallationListing(gh, { archived: () => archived });
    for (const [n, state] of [
      [1, "open"],
      [2, "closed"],
      [3, "open"],
      [4, "open"],
    ] as const)
      gh.state.pulls.set(n, p(n, state));
    gh.state.tarballs.set(sha("1"), await h.tarball(sha("1"), { "k8s/web.yaml": webApp({ image: "nginx:1" }) }));

    seedNs(`sw${run}-pr-2`, 2); // closed PR: orphan namespace …
    await h.bot.app!.databases!.provision(namesOf(2)); // … and database
    await h.bot.app!.databases!.provision(namesOf(5)); // unknown PR, database only
    seedNs(`sw${run}-pr-3`, 3, { [EXPIRES_ANNOTATION]: new Date(Date.now() - 60_000).toISOString() }); // open, expired
    seedNs(`sw${run}-pr-4`, 4, { "preview-bot.dev/state": "ready" }); // open, up to date
    seedNs(`sw${run}-theirs`, 2, {}, { team: "data", "preview-bot.dev/pr": "2" }); // not ours: no managed-by label
    await admin.query(`create database ${pg.escapeIdentifier(`sw${run}_theirs`)}`); // not ours: no mark
    // Leftover roles (a provision or a drop cut short: the role is there, its database is not): one of a closed PR,
    // one of the live preview of PR 4; and a role without our mark that owns nothing.
    for (const n of [7, 4]) {
      await h.bot.app!.databases!.provision(namesOf(n));
      await admin.query(`drop database ${pg.escapeIdentifier(namesOf(n).database)} with (force)`);
    }
    await admin.query(`create role ${pg.escapeIdentifier(`sw${run}_theirs_role`)}`);
  }, DEADLINE);

  afterAll(async () => {
    for (const n of [1, 2, 4, 5, 6, 7]) await h?.bot.app?.databases?.drop(namesOf(n)).catch(() => undefined);
    await h?.stop();
    await admin?.query(`drop database if exists ${pg.escapeIdentifier(`sw${run}_theirs`)}`);
    await admin?.query(`drop role if exists ${pg.escapeIdentifier(`sw${run}_theirs_role`)}`);
    await admin?.end();
  });

  it(
    "a dry run plans and changes nothing",
    async () => {
      const requests = h.fake.requests.length;
      const result = await h.bot.app!.sweeper.sweep({ dryRun: true });
      expect(result.plan.deploy.map((d) => d.number)).toEqual([1]);
      expect(result.plan.destroy.map((d) => `${d.number}:${d.reason}`).sort()).toEqual([
        "2:closed",
        "3:expired",
        "5:closed",
        "7:closed",
      ]);
      expect(result.text).toMatch(/^Sweep \(dry run\): 1 to deploy, 4 to remove/);
      expect(result.text).toContain(`• remove ${KEY(7)}: role sw${run}_pr_7_app (closed)`);
      expect(h.fake.requests.slice(requests).every((r) => r.method === "GET")).toBe(true);
      expect(await h.bot.app!.queue.activeKeys()).toEqual(new Set());
      expect(h.fake.get("v1", "Namespace", undefined, `sw${run}-pr-2`)).toBeDefined();
      expect(await dbExists(`sw${run}_pr_2`)).toBe(true);
      expect(await roleExists(namesOf(7).role)).toBe(true);
    },
    DEADLINE,
  );

  it(
    "removes orphans (a leftover role too) and expired previews, deploys the missing one, and touches nothing that is not ours or live",
    async () => {
      const result = await h.bot.app!.sweeper.sweep();
      await h.bot.app!.idle();
      expect(result.errors).toEqual([]);
      expect(result.dispatched.sort()).toEqual([
        `deploy ${KEY(1)} (missing)`,
        `destroy ${KEY(2)} (closed)`,
        `destroy ${KEY(3)} (expired)`,
        `destroy ${KEY(5)} (closed)`,
        `destroy ${KEY(7)} (closed)`,
      ]);
      expect(
        h.fake.get("v1", "Namespace", undefined, `sw${run}-pr-1`)?.metadata.annotations?.["preview-bot.dev/state"],
      ).toBe("ready");
      expect(h.fake.get("v1", "Namespace", undefined, `sw${run}-pr-2`)).toBeUndefined();
      expect(h.fake.get("v1", "Namespace", undefined, `sw${run}-pr-3`)).toBeUndefined();
      expect(await dbExists(`sw${run}_pr_2`)).toBe(false);
      expect(await dbExists(`sw${run}_pr_5`)).toBe(false);
      // Untouched: the up-to-date preview, the namespace without our label, the database without our mark.
      expect(h.fake.get("v1", "Namespace", undefined, `sw${run}-pr-4`)).toBeDefined();
      expect(h.fake.get("v1", "Namespace", undefined, `sw${run}-theirs`)).toBeDefined();
      expect(await dbExists(`sw${run}_theirs`)).toBe(true);
      // The closed PR's leftover role is gone; the live preview's and the unmarked one are not.
      expect(await roleExists(namesOf(7).role)).toBe(false);
      expect(await roleExists(namesOf(4).role)).toBe(true);
      expect(await roleExists(`sw${run}_theirs_role`)).toBe(true);
      expect(
        h.fake
          .list("v1", "Namespace")
          .filter((n) => n.metadata.labels?.[Object.keys(MANAGED_BY)[0]!])
          .map((n) => n.metadata.name)
          .sort(),
      ).toEqual([`sw${run}-pr-1`, `sw${run}-pr-4`]);
    },
    DEADLINE,
  );

  it(
    "does not bring an expired preview back on the next sweep",
    async () => {
      const result = await h.bot.app!.sweeper.sweep();
      expect(result.plan.skipped.map((s) => s.what)).toContain(KEY(3));
      expect(result.dispatched).toEqual([]);
    },
    DEADLINE,
  );

  it(
    "leaves a preview whose first deploy is still running to that deploy: one check run per commit",
    async () => {
      h.fake.setWorkloadBehaviour(() => ({ fail: "ContainerCreating" })); // the roll-out waits (health.timeout 30m)
      gh.state.pulls.set(6, { ...p(6, "open"), sha: sha("6") });
      gh.state.tarballs.set(sha("6"), await h.tarball(sha("6"), { "k8s/web.yaml": webApp({ image: "nginx:1" }) }));
      const delivered = await deliver(
        `http://127.0.0.1:${h.bot.port}`,
        SECRET,
        "pull_request",
        prEvent("opened", gh.state.pulls.get(6)!, { owner: OWNER, repo: REPO }),
      );
      expect(delivered.status).toBe(200);
      await waitFor(
        "the first deploy to apply its Deployment",
        () => h.fake.get("apps/v1", "Deployment", `sw${run}-pr-6`, "web") !== undefined,
      );
      const result = await h.bot.app!.sweeper.sweep();
      expect(result.plan.skipped).toContainEqual({ what: KEY(6), reason: "a job for it is queued or running" });
      expect(result.dispatched).toEqual([]);
      h.fake.setWorkloadBehaviour(() => "ready");
      await markReady(h.fake, `sw${run}-pr-6`, "web");
      await h.bot.app!.idle();
      expect(
        gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === sha("6")).map((r) => r.conclusion),
      ).toEqual(["success"]);
    },
    DEADLINE,
  );

  it(
    "once the repository is archived, removes its previews' namespaces but keeps their databases, and says so",
    async () => {
      archived = true;
      try {
        const result = await h.bot.app!.sweeper.sweep();
        await h.bot.app!.idle();
        expect(result.text).toContain(
          `• skipped database sw${run}_pr_1: kept: ${OWNER}/${REPO} is archived; drop it by hand, or enroll the repository again`,
        );
        expect(h.fake.get("v1", "Namespace", undefined, `sw${run}-pr-1`)).toBeUndefined();
        expect(await dbExists(`sw${run}_pr_1`)).toBe(true);
        expect(gh.sticky(1)[0]!.body.replace(/\\/g, "")).toContain(
          `database sw${run}_pr_1 kept: ${OWNER}/${REPO} is archived, so the sweeper keeps its data`,
        );
        // the next sweep has nothing to dispatch for it: the kept database is listed, not torn down again
        const again = await h.bot.app!.sweeper.sweep();
        expect(again.dispatched.filter((x) => x.includes(KEY(1)))).toEqual([]);
      } finally {
        archived = false;
      }
    },
    DEADLINE,
  );
});

describe("PgSweepMemory", () => {
  it("claims a (name, value) once across instances sharing the database, and remembers it", async () => {
    const db = await createTestDatabase("sweep_memory");
    const pools = [new pg.Pool({ connectionString: db.url }), new pg.Pool({ connectionString: db.url })];
    try {
      const [a, b] = pools.map((p) => new PgSweepMemory(p)) as [PgSweepMemory, PgSweepMemory];
      const claims = await Promise.all([
        a.claim("heads-up:acme/web#1", "2026-11-21T00:00:00.000Z"),
        b.claim("heads-up:acme/web#1", "2026-11-21T00:00:00.000Z"),
      ]);
      expect(claims.sort()).toEqual([false, true]);
      expect(await b.has("heads-up:acme/web#1", "2026-11-21T00:00:00.000Z")).toBe(true);
      expect(await a.has("heads-up:acme/web#1", "another expiry")).toBe(false);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
      await db.drop();
    }
  });
});
