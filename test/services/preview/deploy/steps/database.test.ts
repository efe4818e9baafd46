/**
 * The Database step's decisions, against fakes of the runner's parts (test/support/runner-fakes.ts): when it skips
 * or refuses, what it asks the databases and backups to do (provision with the repository's options; seed only a
 * database it created, never a fork's unless the bot allows it; drop what a failed seed left), and what it leaves
 * for the next steps (the credentials Secret, first among the objects) and the report. What provisioning and seeding
 * do is tested against the real PostgreSQL and Azurite (test/services/data/).
 */
import { afterEach, describe, expect, it } from "@jest/globals";
import { databaseStep } from "../../../../../src/services/preview/deploy/steps/database.js";
import type { KubeObject } from "../../../../../src/services/shared/preview.js";
import { stepBench, type StepBench, type StepBenchOptions } from "../../../../support/runner-fakes.js";

const rendered: KubeObject = { apiVersion: "v1", kind: "Service", metadata: { name: "web" } };
const benches: StepBench[] = [];
afterEach(async () => {
  for (const b of benches.splice(0)) await b.cleanup();
});

async function bench(database: Record<string, unknown>, opts: Omit<StepBenchOptions, "config"> = {}) {
  const b = await stepBench({ config: { database: { enabled: true, ...database } }, objects: [rendered], ...opts });
  benches.push(b);
  return b;
}

const run = (b: StepBench) => databaseStep.run(b.ctx, b.detail);
const decoded = (secret: KubeObject) =>
  Object.fromEntries(
    Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]),
  );

describe("the Database step", () => {
  it("is skipped, saying why, unless the repository enables a database", async () => {
    const off = await stepBench({ config: {} });
    benches.push(off);
    expect(databaseStep.skip!(off.ctx)).toBe("database.enabled is false");
    expect(databaseStep.skip!((await bench({})).ctx)).toBeUndefined();
  });

  it("refuses when the bot has no database server, before touching anything", async () => {
    const b = await bench({}, { without: ["databases"] });
    await expect(run(b)).rejects.toThrow(
      "database.enabled is true, but preview-bot has no PREVIEW_DATABASE_URL to create databases with",
    );
    expect(b.ctx.objects).toEqual([rendered]);
    expect(b.ctx.report.database).toBeUndefined();
  });

  it("provisions a new database with the repository's options and puts its Secret first among the objects", async () => {
    const b = await bench({
      extensions: ["pgcrypto", "citext"],
      connectionLimit: 5,
      template: "template_shop",
      secret: { name: "shop-db", keys: { user: "DB_USER", password: "DB_PASSWORD", url: "DATABASE_URL" } },
    });
    await run(b);
    const { names } = b.ctx;
    expect(b.databases.calls).toEqual([
      { method: "list", args: [] },
      {
        method: "provision",
        args: [names, { extensions: ["pgcrypto", "citext"], connectionLimit: 5, template: "template_shop" }],
      },
    ]);
    expect(b.ctx.objects).toHaveLength(2);
    expect(b.ctx.objects[1]).toBe(rendered);
    const secret = b.ctx.objects[0]!;
    expect(secret).toMatchObject({
      kind: "Secret",
      metadata: { name: "shop-db", namespace: names.namespace, labels: names.labels },
    });
    const creds = b.databases.credentials(names.database, names.role);
    expect(decoded(secret)).toEqual({ DB_USER: creds.user, DB_PASSWORD: creds.password, DATABASE_URL: creds.url });
    expect(b.ctx.report.database).toEqual({ name: names.database, status: "created" });
    expect(b.details).toEqual([`${names.database} (role ${names.role}), credentials in Secret "shop-db"`]);
    expect(b.backups.seeds).toEqual([]);
  });

  it("runs the PR's seed SQL file on creation, as the renderer read it from the PR's commit", async () => {
    const b = await bench({ seed: "db/seed.sql" }, { seed: "insert into products (name) values ('tea');\n" });
    await run(b);
    expect(b.databases.calls[1]).toEqual({
      method: "provision",
      args: [
        b.ctx.names,
        { extensions: [], connectionLimit: 20, seedSql: "insert into products (name) values ('tea');\n" },
      ],
    });
  });

  it("refuses a seed file the renderer did not read, naming the field, and provisions nothing", async () => {
    const b = await bench({ seed: "db/seed.sql" });
    await expect(run(b)).rejects.toThrow('database.seed "db/seed.sql" was not read by the renderer');
    expect(b.databases.calls).toEqual([]);
  });

  it("keeps a database that exists: no seeding from a backup, reported as kept", async () => {
    const b = await bench({ seedFrom: "shop" });
    b.databases.existing = [{ database: b.ctx.names.database, key: b.ctx.names.key }];
    await run(b);
    expect(b.databases.calls.map((c) => c.method)).toEqual(["list", "provision"]);
    expect(b.backups.seeds).toEqual([]);
    expect(b.ctx.report.database).toEqual({ name: b.ctx.names.database, status: "ready (kept)" });
    expect(b.details[0]).not.toContain("seeded");
  });

  it("seeds a new database from the latest backup of seedFrom, into the new database as its role", async () => {
    const b = await bench({ seedFrom: "shop" });
    b.databases.existing = [{ database: "another_preview", key: "acme/web#7" }];
    await run(b);
    const creds = b.databases.credentials(b.ctx.names.database, b.ctx.names.role);
    expect(b.backups.seeds).toEqual([{ target: "shop", repository: "acme/web", toUrl: creds.url }]);
    expect(b.ctx.report.database).toEqual({ name: b.ctx.names.database, status: "created and seeded" });
    expect(b.details[0]).toMatch(/, seeded from db\/2026\/12\/07\/shop-20261207T020000Z\.dump$/);
  });

  it("gives a fork's pull request no backup data unless the bot allows it, and says so", async () => {
    const fork = await bench({ seedFrom: "shop" }, { pull: { fork: true } });
    await run(fork);
    expect(fork.backups.seeds).toEqual([]);
    expect(fork.ctx.report.database?.status).toBe("created");
    expect(fork.details[0]).toContain(
      '; not seeded from "shop": a pull request from a fork gets no backup data (SEED_FORK_PREVIEWS)',
    );

    const allowed = await bench({ seedFrom: "shop" }, { pull: { fork: true }, deps: { seedForkPreviews: true } });
    await run(allowed);
    expect(allowed.backups.seeds.map((s) => s.target)).toEqual(["shop"]);
    expect(allowed.details[0]).not.toContain("not seeded");
  });

  it("refuses seedFrom when the bot has no backup storage, before provisioning", async () => {
    const b = await bench({ seedFrom: "shop" }, { without: ["backups"] });
    await expect(run(b)).rejects.toThrow(
      'database.seedFrom is "shop", but preview-bot has no backup storage configured (AZURE_STORAGE_ACCOUNT_URL)',
    );
    expect(b.databases.calls).toEqual([]);
    // A fork's PR never seeds, so it needs no backup storage either.
    const fork = await bench({ seedFrom: "shop" }, { without: ["backups"], pull: { fork: true } });
    await run(fork);
    expect(fork.databases.calls.map((c) => c.method)).toEqual(["list", "provision"]);
  });

  it("drops the database a failed seed left, and fails with what it was doing", async () => {
    const b = await bench({ seedFrom: "shop" });
    b.backups.seedError = new Error('no backup of "shop" yet');
    b.databases.dropError = new Error("connection refused"); // the drop's own failure does not hide the seed's
    const err = (await run(b).catch((e: unknown) => e)) as Error;
    expect(err.message).toBe(`seeding ${b.ctx.names.database} from the latest backup of "shop"`);
    expect(err.cause).toBe(b.backups.seedError);
    expect(b.databases.calls.map((c) => c.method)).toEqual(["list", "provision", "drop"]);
    expect(b.databases.calls[2]!.args).toEqual([b.ctx.names]);
    expect(b.ctx.objects).toEqual([rendered]);
    expect(b.ctx.report.database).toBeUndefined();
  });

  it("passes a provisioning failure on, and adds no Secret", async () => {
    const b = await bench({});
    b.databases.provisionError = new Error('creating database "web_pr_42": permission denied');
    await expect(run(b)).rejects.toBe(b.databases.provisionError);
    expect(b.ctx.objects).toEqual([rendered]);
    expect(b.databases.calls.map((c) => c.method)).toEqual(["list", "provision"]);
  });
});
