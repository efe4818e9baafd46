import { describe, expect, it } from "@jest/globals";
import nock from "nock";
import { parseConfig } from "../../../src/config.js";
import { locateConfigError, reportConfigErrors, reportConfigOk } from "../../../src/services/github/config-check.js";
import { ReportError } from "../../../src/services/github/reporter.js";
import { GITHUB_API, testOctokit, useNock } from "../../support/github.js";

const SHA = "0123456789abcdef0123456789abcdef01234567";

const BAD = `manifests:
  path: deploy/preview
  typo: 1
health:
  timeout: soon
namespace:
  labels:
    app.kubernetes.io/name: "bad value!"
ttl: forever
`;

function errorsOf(text: string): string[] {
  const result = parseConfig(text);
  if (result.ok) throw new Error("expected an invalid config");
  return result.errors;
}

function record(bodies: Array<Record<string, unknown>>, response: Record<string, unknown>) {
  return async (req: Request): Promise<Record<string, unknown>> => {
    bodies.push((await req.json()) as Record<string, unknown>);
    return response;
  };
}

useNock();

describe("locateConfigError", () => {
  it("finds the line of the offending key, including dotted label keys and unknown fields", () => {
    const errors = errorsOf(BAD);
    const lineOf = (prefix: string) =>
      locateConfigError(
        BAD,
        errors.find((e) => e.startsWith(prefix))!,
      );
    expect(lineOf("manifests: unknown field")).toBe(3);
    expect(lineOf("health.timeout")).toBe(5);
    expect(lineOf("namespace.labels.app.kubernetes.io/name")).toBe(8);
    expect(lineOf("ttl")).toBe(9);
  });

  it("reads the line from a YAML syntax error and gives up on paths it cannot find", () => {
    const broken = "manifests:\n  path: x\nhealth: timeout: 5m\n";
    const [error] = errorsOf(broken);
    expect(locateConfigError(broken, error!)).toBe(3);
    expect(locateConfigError(BAD, "nothing.here: bad")).toBeUndefined();
    expect(locateConfigError(BAD, "no path at all")).toBeUndefined();
  });
});

describe("config check runs", () => {
  it("creates a failing check run listing each problem as a bullet and an annotation on its line", async () => {
    const bodies: Array<Record<string, unknown>> = [];
    const scope = nock(GITHUB_API)
      .post("/repos/acme/web/check-runs")
      .reply(201, record(bodies, { id: 55, html_url: "https://github.com/acme/web/runs/55" }));
    const errors = errorsOf(BAD);

    const ref = await reportConfigErrors({
      octokit: testOctokit(),
      owner: "acme",
      repo: "web",
      sha: SHA,
      errors,
      text: BAD,
    });

    expect(scope.isDone()).toBe(true);
    expect(ref).toEqual({ id: 55, url: "https://github.com/acme/web/runs/55" });
    const body = bodies[0]!;
    expect(body).toMatchObject({ name: "preview / config", head_sha: SHA, status: "completed", conclusion: "failure" });
    const output = body.output as { title: string; summary: string; annotations: Array<Record<string, unknown>> };
    expect(output.title).toBe(`.github/preview.yml: ${errors.length} problems`);
    expect(output.summary).toContain('- line 3: manifests: unknown field "typo"');
    expect(output.summary).toContain("- line 5: health.timeout:");
    expect(output.annotations).toHaveLength(errors.length);
    expect(output.annotations.map((a) => a.start_line).sort()).toEqual([3, 5, 8, 9]);
    expect(output.annotations[0]).toMatchObject({
      path: ".github/preview.yml",
      annotation_level: "failure",
      end_line: output.annotations[0]!.start_line,
    });
  });

  it("annotates line 1 when the file text is not given, and sends annotations past 50 in follow-up updates", async () => {
    const bodies: Array<Record<string, unknown>> = [];
    const scope = nock(GITHUB_API)
      .post("/repos/acme/web/check-runs")
      .reply(201, record(bodies, { id: 56, html_url: "u" }))
      .patch("/repos/acme/web/check-runs/56")
      .times(2)
      .reply(200, record(bodies, { id: 56 }));
    const errors = Array.from({ length: 120 }, (_, i) => `field${i}: bad`);

    await reportConfigErrors({
      octokit: testOctokit(),
      owner: "acme",
      repo: "web",
      sha: SHA,
      errors,
      path: ".github/preview.yml",
    });

    expect(scope.isDone()).toBe(true);
    const counts = bodies.map((b) => (b.output as { annotations: unknown[] }).annotations.length);
    expect(counts).toEqual([50, 50, 20]);
    const first = bodies[0]!.output as { annotations: Array<Record<string, unknown>>; title: string };
    expect(first.title).toBe(".github/preview.yml: 120 problems");
    expect(first.annotations[0]).toMatchObject({ start_line: 1, message: "field0: bad" });
  });

  it("creates a passing check run for a valid file", async () => {
    const bodies: Array<Record<string, unknown>> = [];
    const scope = nock(GITHUB_API)
      .post("/repos/acme/web/check-runs")
      .reply(201, record(bodies, { id: 57, html_url: "u" }));
    await reportConfigOk({ octokit: testOctokit(), owner: "acme", repo: "web", sha: SHA });
    expect(scope.isDone()).toBe(true);
    expect(bodies[0]).toMatchObject({
      name: "preview / config",
      conclusion: "success",
      output: { title: ".github/preview.yml is valid" },
    });
  });

  it("throws an error that says what it was doing when GitHub refuses", async () => {
    nock(GITHUB_API)
      .post("/repos/acme/web/check-runs")
      .reply(403, { message: "Resource not accessible by integration" });
    const err = await reportConfigErrors({
      octokit: testOctokit(),
      owner: "acme",
      repo: "web",
      sha: SHA,
      errors: ["ttl: bad"],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReportError);
    expect((err as Error).message).toMatch(
      /^reporting 1 config problem for acme\/web@0123456: creating check run: Resource not accessible/,
    );
    expect(((err as Error).cause as { status: number }).status).toBe(403);
  });
});
