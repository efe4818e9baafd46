import { describe, it, expect, beforeAll, afterAll, afterEach } from "@jest/globals";
import nock from "nock";
import { ProbotOctokit } from "probot";
import type { ActionName } from "../../../src/actions.js";
import {
  decide,
  getPermission,
  DEFAULT_POLICY,
  isBotLogin,
  type PermissionClient,
  type Role,
} from "../../../src/services/github/authz.js";

const API = "https://api.github.com";
const TestOctokit = ProbotOctokit.defaults({ retry: { enabled: false }, throttle: { enabled: false } });
const octokit = (): PermissionClient => new TestOctokit({ auth: { token: "ghs_testtoken000000000000000000000000" } });

/** What GitHub answers for each kind of actor: role_name plus the legacy permission it folds to. */
const ACTORS: Record<string, { status: number; body?: { permission: string; role_name: string } }> = {
  "alice-admin": { status: 200, body: { permission: "admin", role_name: "admin" } },
  "mo-maintain": { status: 200, body: { permission: "write", role_name: "maintain" } },
  "wes-write": { status: 200, body: { permission: "write", role_name: "write" } },
  "rita-read": { status: 200, body: { permission: "read", role_name: "read" } },
  nobody: { status: 404 },
  "fork-author": { status: 404 },
  "renovate[bot]": { status: 200, body: { permission: "write", role_name: "write" } },
};

const ACTIONS: ActionName[] = [
  "deploy",
  "redeploy",
  "destroy",
  "status",
  "extend",
  "sleep",
  "wake",
  "backup",
  "restore",
  "help",
];

/** Expected outcome, written out by hand so the matrix states the policy rather than recomputing it. */
const EXPECTED: Record<string, Record<ActionName, boolean> | undefined> = {
  "alice-admin": {
    deploy: true,
    redeploy: true,
    destroy: true,
    status: true,
    extend: true,
    sleep: true,
    wake: true,
    backup: true,
    restore: true,
    help: true,
    list: true,
    backups: true,
  },
  "mo-maintain": {
    deploy: true,
    redeploy: true,
    destroy: true,
    status: true,
    extend: true,
    sleep: true,
    wake: true,
    backup: true,
    restore: true,
    help: true,
    list: true,
    backups: true,
  },
  "wes-write": {
    deploy: true,
    redeploy: true,
    destroy: false,
    status: true,
    extend: true,
    sleep: true,
    wake: true,
    backup: true,
    restore: true,
    help: true,
    list: true,
    backups: true,
  },
  "rita-read": {
    deploy: false,
    redeploy: false,
    destroy: false,
    status: true,
    extend: false,
    sleep: false,
    wake: false,
    backup: false,
    restore: false,
    help: true,
    list: true,
    backups: true,
  },
  nobody: {
    deploy: false,
    redeploy: false,
    destroy: false,
    status: false,
    extend: false,
    sleep: false,
    wake: false,
    backup: false,
    restore: false,
    help: false,
    list: false,
    backups: false,
  },
  "fork-author": {
    deploy: false,
    redeploy: false,
    destroy: false,
    status: false,
    extend: false,
    sleep: false,
    wake: false,
    backup: false,
    restore: false,
    help: false,
    list: false,
    backups: false,
  },
  "renovate[bot]": {
    deploy: false,
    redeploy: false,
    destroy: false,
    status: false,
    extend: false,
    sleep: false,
    wake: false,
    backup: false,
    restore: false,
    help: false,
    list: false,
    backups: false,
  },
};

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());
// Jest reuses worker processes and each test file loads its own nock: deactivate ours so the next file's works.
afterAll(() => {
  nock.enableNetConnect();
  nock.restore();
});

function answer(login: string): nock.Scope {
  const actor = ACTORS[login]!;
  const scope = nock(API).get(`/repos/acme/web/collaborators/${encodeURIComponent(login)}/permission`);
  return actor.body ? scope.reply(200, { ...actor.body, user: { login } }) : scope.reply(404, { message: "Not Found" });
}

describe("authorization matrix (GitHub answered by nock)", () => {
  for (const login of Object.keys(ACTORS)) {
    for (const action of ACTIONS) {
      const expected = EXPECTED[login]![action];
      it(`${expected ? "allows" : "refuses"} ${login} to ${action}`, async () => {
        const isBot = isBotLogin(login);
        const scope = isBot ? undefined : answer(login);
        const permission: Role = isBot ? "none" : await getPermission(octokit(), "acme", "web", login);
        const decision = decide({
          permission,
          action,
          isBot,
          isForkPr: login === "fork-author",
          actorIsPrAuthor: login === "fork-author",
        });
        expect(decision.allowed).toBe(expected);
        if (!decision.allowed) expect(decision.reason.length).toBeLessThan(160);
        if (scope) expect(scope.isDone()).toBe(true);
      });
    }
  }
});

describe("decide", () => {
  it("needs maintain for deploy and redeploy on a fork PR, even from a writer", () => {
    for (const action of ["deploy", "redeploy"] as const) {
      expect(decide({ permission: "write", action, isForkPr: true })).toEqual({
        allowed: false,
        reason: expect.stringContaining("fork"),
      });
      expect(decide({ permission: "maintain", action, isForkPr: true })).toEqual({ allowed: true });
    }
    expect(decide({ permission: "write", action: "extend", isForkPr: true })).toEqual({ allowed: true });
  });

  it("lets a fork's author deploy their own PR only when they are a maintainer", () => {
    const refused = decide({ permission: "read", action: "deploy", isForkPr: true, actorIsPrAuthor: true });
    expect(refused).toEqual({ allowed: false, reason: expect.stringContaining("comes from a fork") });
    expect(decide({ permission: "admin", action: "deploy", isForkPr: true, actorIsPrAuthor: true })).toEqual({
      allowed: true,
    });
  });

  it("refuses bots whatever their permission", () => {
    expect(decide({ permission: "admin", action: "status", isBot: true }).allowed).toBe(false);
  });

  it("applies a configured minimum per command", () => {
    expect(decide({ permission: "write", action: "destroy", policy: { destroy: "write" } })).toEqual({ allowed: true });
    expect(decide({ permission: "write", action: "deploy", policy: { deploy: "admin" } }).allowed).toBe(false);
    // A stricter policy still applies on forks; a laxer one cannot undo the fork rule.
    expect(
      decide({ permission: "maintain", action: "deploy", policy: { deploy: "admin" }, isForkPr: true }).allowed,
    ).toBe(false);
    expect(decide({ permission: "read", action: "deploy", policy: { deploy: "read" }, isForkPr: true }).allowed).toBe(
      false,
    );
    expect(DEFAULT_POLICY.destroy).toBe("maintain");
  });
});

describe("getPermission", () => {
  it("falls back to the legacy permission when role_name is a custom role", async () => {
    const scope = nock(API)
      .get("/repos/acme/web/collaborators/cus/permission")
      .reply(200, { permission: "write", role_name: "deployers" });
    expect(await getPermission(octokit(), "acme", "web", "cus")).toBe("write");
    expect(scope.isDone()).toBe(true);
  });

  it("says what it was doing and keeps the cause on other errors", async () => {
    const scope = nock(API).get("/repos/acme/web/collaborators/x/permission").reply(502, { message: "Bad Gateway" });
    const err = await getPermission(octokit(), "acme", "web", "x").then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/^checking x's permission on acme\/web: /);
    expect((err?.cause as { status?: number }).status).toBe(502);
    expect(scope.isDone()).toBe(true);
  });
});
