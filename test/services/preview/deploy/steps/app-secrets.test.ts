/**
 * The App secrets step's decisions, against a fake Cluster (test/support/runner-fakes.ts): when it skips (nothing to
 * copy; a fork's pull request without PREVIEW_SECRETS_FOR_FORKS), what it refuses (a source namespace the operator
 * does not allow for this repository, a Secret or key that is not there), and what it leaves for the next steps (the
 * copy, among the objects and the bot's own). Its values are registered for redaction before anything else, and its
 * line names Secrets and keys, never a value. Copying on a real cluster is tested in test/e2e/app-secrets.test.ts.
 */
import { afterEach, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { appSecretsStep } from "../../../../../src/services/preview/deploy/steps/app-secrets.js";
import { parseAllowlist } from "../../../../../src/services/preview/render/app-secrets.js";
import type { KubeObject } from "../../../../../src/services/shared/preview.js";
import { stepBench, type StepBench, type StepBenchOptions } from "../../../../support/runner-fakes.js";

const rendered: KubeObject = { apiVersion: "v1", kind: "Service", metadata: { name: "web" } };
const b64 = (s: string) => Buffer.from(s).toString("base64");
const benches: StepBench[] = [];
afterEach(async () => {
  for (const b of benches.splice(0)) await b.cleanup();
});

async function bench(
  secrets: Array<Record<string, unknown>>,
  sources: string[] = ["ops"],
  opts: Omit<StepBenchOptions, "config" | "deps"> & { forks?: boolean } = {},
) {
  const b = await stepBench({
    config: { secrets },
    objects: [rendered],
    deps: { appSecrets: { sources: parseAllowlist(sources), forks: opts.forks === true } },
    ...opts,
  });
  benches.push(b);
  return b;
}

const run = (b: StepBench) => appSecretsStep.run(b.ctx, b.detail);

describe("the App secrets step", () => {
  it("is skipped, saying why, with nothing to copy or for a fork's pull request unless the bot allows it", async () => {
    expect(appSecretsStep.skip!((await bench([])).ctx)).toBe("no secrets to copy (secrets[].from)");
    const storeOnly = await bench([{ name: "db", store: "vault", data: { url: "db/url" } }]);
    expect(appSecretsStep.skip!(storeOnly.ctx)).toBe("no secrets to copy (secrets[].from)");
    const copy = [{ name: "stripe", from: "ops" }];
    expect(appSecretsStep.skip!((await bench(copy)).ctx)).toBeUndefined();
    expect(appSecretsStep.skip!((await bench(copy, ["ops"], { pull: { fork: true } })).ctx)).toBe(
      "a pull request from a fork gets no app secrets (PREVIEW_SECRETS_FOR_FORKS)",
    );
    expect(appSecretsStep.skip!((await bench(copy, ["ops"], { pull: { fork: true }, forks: true })).ctx)).toBe(
      undefined,
    );
  });

  it("copies the keys asked for, type kept, under its new name, first among the objects and the bot's own", async () => {
    const value = `sk_live_${randomBytes(12).toString("hex")}`;
    const b = await bench([{ name: "stripe", from: "ops", as: "payments", keys: ["api-key"] }], ["ops=acme/*"]);
    b.cluster.secrets["ops/stripe"] = { type: "Opaque", data: { "api-key": b64(value), other: b64("not-copied-x") } };
    await run(b);
    expect(b.cluster.calls).toEqual([{ method: "readSecret", args: ["ops", "stripe"] }]);
    const [copy, ...rest] = b.ctx.objects;
    expect(rest).toEqual([rendered]);
    expect(b.ctx.ownObjects).toEqual([copy]);
    expect(copy).toEqual({
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: "payments",
        namespace: b.ctx.names.namespace,
        labels: b.ctx.names.labels,
        annotations: { ...b.ctx.names.annotations, "preview-bot.dev/copied-from": "ops/stripe" },
      },
      type: "Opaque",
      data: { "api-key": b64(value) },
    });
    expect(b.details).toEqual(['copied "payments" (1 keys, from ops/stripe); values never shown']);
    // Registered for redaction: the value, and its base64, never reach a log line.
    b.ctx.deps.logger.info({ data: copy!.data }, `leaked ${value}`);
    const logged = JSON.stringify(b.logs);
    expect(logged).toContain("leaked");
    expect(logged).not.toContain(value);
    expect(logged).not.toContain(b64(value));
  });

  it("copies every key when none is named", async () => {
    const b = await bench([{ name: "tls", from: "ops" }]);
    b.cluster.secrets["ops/tls"] = { type: "kubernetes.io/tls", data: { "tls.crt": b64("c"), "tls.key": b64("k") } };
    await run(b);
    expect(b.ctx.objects[0]).toMatchObject({
      type: "kubernetes.io/tls",
      data: { "tls.crt": b64("c"), "tls.key": b64("k") },
    });
    expect(b.details).toEqual(['copied "tls" (2 keys, from ops/tls); values never shown']);
  });

  it("refuses a source namespace not allowed for this repository, before reading anything", async () => {
    for (const sources of [[], ["team-a"], ["ops=other/*"]]) {
      const b = await bench([{ name: "stripe", from: "ops" }], sources);
      await expect(run(b)).rejects.toThrow(
        `copying secrets[0] (Secret "ops/stripe") into ${b.ctx.names.namespace} as "stripe": namespace "ops" is not a source allowed for acme/web (PREVIEW_SECRET_SOURCES)`,
      );
      expect(b.cluster.calls).toEqual([]);
      expect(b.ctx.objects).toEqual([rendered]);
    }
  });

  it("says when the Secret or a key asked for is not there, naming the keys it has and no value", async () => {
    const absent = await bench([{ name: "stripe", from: "ops" }]);
    await expect(run(absent)).rejects.toThrow(
      /"ops\/stripe"\) .*: it does not exist \(the operator creates it there\)$/,
    );

    const value = `pk_${randomBytes(12).toString("hex")}`;
    const b = await bench([{ name: "stripe", from: "ops", keys: ["api-key", "webhook"] }]);
    b.cluster.secrets["ops/stripe"] = { type: "Opaque", data: { "api-key": b64(value), public: b64(value) } };
    const err = await run(b).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/: it has no key "webhook" \(it has api-key, public\)$/);
    expect(err?.message).not.toContain(value);
    expect(b.ctx.ownObjects).toEqual([]);
  });

  it("passes the cluster's error on, saying what it was copying", async () => {
    const b = await bench([{ name: "stripe", from: "ops" }]);
    const refusal = new Error('reading Secret "ops/stripe": 403 forbidden');
    b.cluster.readSecret = async () => Promise.reject(refusal);
    const err = await run(b).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe(`copying secrets[0] (Secret "ops/stripe") into ${b.ctx.names.namespace} as "stripe"`);
    expect(err?.cause).toBe(refusal);
  });
});
