import { afterAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  mergeCredentials,
  parseDockerConfig,
  readDockerConfigFile,
  registryKey,
} from "../../../src/services/registry/docker-config.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const dir = mkdtempSync(path.join(tmpdir(), "docker-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("parseDockerConfig", () => {
  it("reads auth, username/password, identitytoken and registrytoken, keyed by normalized host", () => {
    const creds = parseDockerConfig(
      JSON.stringify({
        auths: {
          "https://index.docker.io/v1/": { auth: b64("hubuser:hub:pass:with:colons") },
          "https://ghcr.io": { username: "octo", password: "ghp_x" },
          "acme.azurecr.io": { identitytoken: "refresh-abc" },
          "reg.example.com:5000/some/path": { registrytoken: "bearer-xyz" },
        },
        credsStore: "desktop",
      }),
      "Secret previews/regcred",
    );
    expect(Object.fromEntries(creds)).toEqual({
      "docker.io": { source: "Secret previews/regcred", username: "hubuser", password: "hub:pass:with:colons" },
      "ghcr.io": { source: "Secret previews/regcred", username: "octo", password: "ghp_x" },
      "acme.azurecr.io": { source: "Secret previews/regcred", identityToken: "refresh-abc" },
      "reg.example.com:5000": { source: "Secret previews/regcred", registryToken: "bearer-xyz" },
    });
  });

  it.each([
    ["not json", "{", "not JSON"],
    ["an array", "[]", "not a JSON object"],
    ["no auths (credential helpers only)", JSON.stringify({ credsStore: "desktop" }), '"auths" is missing'],
    [
      "an entry that is not an object",
      JSON.stringify({ auths: { "ghcr.io": "x" } }),
      'auths."ghcr.io" is not an object',
    ],
    [
      "auth that is not base64 of user:password",
      JSON.stringify({ auths: { "ghcr.io": { auth: b64("no-colon-s3cretvalue") } } }),
      'auths."ghcr.io".auth is not base64 of user:password',
    ],
    [
      "an entry without any credential",
      JSON.stringify({ auths: { "ghcr.io": { username: "octo" } } }),
      'auths."ghcr.io" has no credential',
    ],
  ])("refuses %s, naming the source and the field but no value", (_what, text, why) => {
    expect(() => parseDockerConfig(text, "/etc/preview-bot/config.json")).toThrow(
      `reading registry credentials from /etc/preview-bot/config.json: `,
    );
    expect(() => parseDockerConfig(text, "/etc/preview-bot/config.json")).toThrow(why);
    try {
      parseDockerConfig(text, "x");
    } catch (err) {
      expect((err as Error).message).not.toContain("s3cretvalue");
      expect((err as Error).message).not.toContain(b64("no-colon-s3cretvalue"));
    }
  });

  it("reads a file, and says which file when it cannot", async () => {
    const file = path.join(dir, "config.json");
    writeFileSync(file, JSON.stringify({ auths: { "ghcr.io": { auth: b64("a:b") } } }));
    expect((await readDockerConfigFile(file)).get("ghcr.io")).toEqual({ source: file, username: "a", password: "b" });
    await expect(readDockerConfigFile(path.join(dir, "missing.json"))).rejects.toThrow(
      `reading registry credentials from ${path.join(dir, "missing.json")}: ENOENT`,
    );
  });

  it("normalizes the ways Docker writes registry keys", () => {
    expect(registryKey("https://index.docker.io/v1/")).toBe("docker.io");
    expect(registryKey("registry-1.docker.io")).toBe("docker.io");
    expect(registryKey("http://127.0.0.1:5000/")).toBe("127.0.0.1:5000");
    expect(registryKey("GHCR.IO")).toBe("ghcr.io");
  });

  it("lets a later source replace an earlier one per registry", () => {
    const a = parseDockerConfig(
      JSON.stringify({ auths: { "ghcr.io": { auth: b64("a:1") }, "x.io": { auth: b64("x:1") } } }),
      "A",
    );
    const b = parseDockerConfig(JSON.stringify({ auths: { "ghcr.io": { auth: b64("b:2") } } }), "B");
    const merged = mergeCredentials(a, b);
    expect(merged.get("ghcr.io")?.source).toBe("B");
    expect(merged.get("x.io")?.source).toBe("A");
  });
});
