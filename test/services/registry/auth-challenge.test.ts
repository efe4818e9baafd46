import { describe, expect, it } from "@jest/globals";
import { parseAuthChallenges, pickChallenge } from "../../../src/services/registry/auth-challenge.js";

describe("WWW-Authenticate challenges", () => {
  it.each([
    [
      // Docker Hub
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
      [
        {
          scheme: "bearer",
          params: {
            realm: "https://auth.docker.io/token",
            service: "registry.docker.io",
            scope: "repository:library/nginx:pull",
          },
        },
      ],
    ],
    [
      // ACR, with an error and spaces after commas
      'Bearer realm="https://acme.azurecr.io/oauth2/token", service="acme.azurecr.io", scope="repository:web:pull", error="invalid_token"',
      [
        {
          scheme: "bearer",
          params: {
            realm: "https://acme.azurecr.io/oauth2/token",
            service: "acme.azurecr.io",
            scope: "repository:web:pull",
            error: "invalid_token",
          },
        },
      ],
    ],
    [
      'Basic realm="Registry Realm", Bearer realm="https://r/token",service=r',
      [
        { scheme: "basic", params: { realm: "Registry Realm" } },
        { scheme: "bearer", params: { realm: "https://r/token", service: "r" } },
      ],
    ],
    ['Bearer realm="a \\"quoted\\" realm"', [{ scheme: "bearer", params: { realm: 'a "quoted" realm' } }]],
    ["", []],
  ])("parses %j", (header, want) => {
    expect(parseAuthChallenges(header)).toEqual(want);
  });

  it("prefers Bearer, then Basic, and ignores schemes a registry client cannot answer", () => {
    expect(pickChallenge('Basic realm="x", Bearer realm="y"')?.scheme).toBe("bearer");
    expect(pickChallenge('Negotiate, Basic realm="x"')?.scheme).toBe("basic");
    expect(pickChallenge("Negotiate")).toBeUndefined();
    expect(pickChallenge(null)).toBeUndefined();
  });
});
