/**
 * The teardown's steps for what a preview was found to own (destroy/steps.ts), against the runner's fakes: a role of
 * the preview that owns no database (a provision or a drop cut short by a crash or a PostgreSQL restart) gets a step
 * of its own that drops it, and never when the database its mark names was found (that database's step decides, and
 * may keep it). What `drop` does to a real server is tested in test/services/data/databases.test.ts.
 */
import { afterEach, describe, expect, it } from "@jest/globals";
import type { FoundPreview } from "../../../../src/services/preview/destroy/find.js";
import { teardownSteps } from "../../../../src/services/preview/destroy/steps.js";
import { stepBench, type StepBench } from "../../../support/runner-fakes.js";

const benches: StepBench[] = [];
afterEach(async () => {
  for (const b of benches.splice(0)) await b.cleanup();
});

async function found(over: Partial<FoundPreview>): Promise<{ b: StepBench; preview: FoundPreview }> {
  const b = await stepBench({ config: { database: { enabled: true } } });
  benches.push(b);
  const preview: FoundPreview = {
    octokit: b.ctx.octokit,
    ref: b.ctx.ref,
    names: b.ctx.names,
    config: b.ctx.config,
    namespaces: [],
    databases: [],
    strayRoles: [],
    found: "",
    ...over,
  };
  return { b, preview };
}

describe("teardown steps", () => {
  it("drops a role of the preview left without its database", async () => {
    const { b, preview } = await found({ strayRoles: [{ role: "web_pr_42_app", database: "web_pr_42" }] });
    const steps = teardownSteps(b.ctx.deps, preview);
    expect(steps.map((s) => s.name)).toEqual(["Drop role web_pr_42_app"]);
    expect(steps[0]!.skip?.()).toBeUndefined();
    await expect(steps[0]!.run(b.detail)).resolves.toEqual({ kind: "removed", what: "role web_pr_42_app" });
    expect(b.databases.calls).toEqual([
      { method: "drop", args: [{ key: b.ctx.names.key, database: "web_pr_42", role: "web_pr_42_app" }] },
    ]);
  });

  it("leaves a role whose database was found to that database's step (which may keep it)", async () => {
    const { b, preview } = await found({
      databases: [{ database: "web_pr_42", key: "acme/web#42", role: "web_pr_42_owner" }],
      strayRoles: [{ role: "web_pr_42_app", database: "web_pr_42" }],
      keepDatabases: "the sweeper said so",
    });
    const steps = teardownSteps(b.ctx.deps, preview);
    const stray = steps.find((s) => s.name === "Drop role web_pr_42_app")!;
    expect(stray.skip?.()).toEqual({ reason: "its database web_pr_42 has its own step" });
    expect(steps.find((s) => s.name === "Drop database web_pr_42")!.skip?.()).toMatchObject({
      reason: "kept: the sweeper said so",
    });
  });
});
