/**
 * Where the operator's registry credentials come from (REGISTRY_CREDENTIALS, PREVIEW_IMAGE_PULL_SECRET): files and
 * `secret:<name>` Secrets, merged per registry, every secret value redacted once read, read on first use (never when
 * the bot is built) and again after their TTL. Resolutions go to the run's real registry.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { EnvError, loadEnv } from "../../../src/env.js";
import { redactText } from "../../../src/logger.js";
import {
  loadCredentials,
  parseCredentialSource,
  reloadingRegistryClient,
  type SecretReader,
} from "../../../src/services/registry/credential-sources.js";
import { describeWithRegistry } from "../../support/registry-suite.js";

const run = randomBytes(4).toString("hex");
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "creds-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const doc = (auths: Record<string, Record<string, string>>) => JSON.stringify({ auths });
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe("credential sources", () => {
  it("reads `secret:<name>` as a Secret of the bot's namespace and anything else as a file", () => {
    expect(parseCredentialSource("secret:regcred", "REGISTRY_CREDENTIALS")).toEqual({
      kind: "secret",
      name: "regcred",
    });
    expect(parseCredentialSource("/etc/x/.dockerconfigjson", "REGISTRY_CREDENTIALS")).toEqual({
      kind: "file",
      path: "/etc/x/.dockerconfigjson",
    });
    expect(() => parseCredentialSource("secret:Not_A_Name", "PREVIEW_IMAGE_PULL_SECRET")).toThrow(
      'PREVIEW_IMAGE_PULL_SECRET: "Not_A_Name" is not a Secret name',
    );
  });

  it("refuses a bad source in the settings, naming the variable", () => {
    expect(() => loadEnv({ REGISTRY_CREDENTIALS: "/ok/file,secret:Bad_Name" })).toThrow(EnvError);
    expect(() => loadEnv({ REGISTRY_CREDENTIALS: "secret:Bad_Name" })).toThrow(
      'REGISTRY_CREDENTIALS.0: a dockerconfigjson file path, or "secret:<name>" with a Secret name',
    );
    expect(loadEnv({ REGISTRY_CREDENTIALS: "/a.json, secret:regcred" }).REGISTRY_CREDENTIALS).toEqual([
      "/a.json",
      "secret:regcred",
    ]);
    expect(loadEnv({}).IMAGE_WAIT).toBe(900);
    expect(() => loadEnv({ IMAGE_WAIT: "3600" })).toThrow(/IMAGE_WAIT/);
  });

  it("merges the sources per registry (a later one wins) and redacts every secret value it read", async () => {
    const filePassword = `file-pw-${run}`;
    const secretPassword = `secret-pw-${run}`;
    const token = `reg-token-${run}`;
    const f = file(
      "a.json",
      doc({
        "https://ghcr.io": { username: "bot", password: filePassword },
        "reg.example.com:5000": { registrytoken: token },
      }),
    );
    const secrets: SecretReader = async (name) =>
      name === "regcred"
        ? {
            type: "kubernetes.io/dockerconfigjson",
            dockerconfigjson: doc({ "ghcr.io": { auth: Buffer.from(`octo:${secretPassword}`).toString("base64") } }),
          }
        : undefined;
    const creds = await loadCredentials(
      [
        { kind: "file", path: f },
        { kind: "secret", name: "regcred" },
      ],
      secrets,
      "preview-bot",
    );
    expect([...creds.keys()].sort()).toEqual(["ghcr.io", "reg.example.com:5000"]);
    expect(creds.get("ghcr.io")).toMatchObject({ source: "Secret preview-bot/regcred", username: "octo" });
    for (const s of [filePassword, secretPassword, token, Buffer.from(`octo:${secretPassword}`).toString("base64")])
      expect(redactText(`the value is ${s} here`)).not.toContain(s);
  });

  it("says which source is wrong and why, never what is in it", async () => {
    const none: SecretReader = async () => undefined;
    await expect(loadCredentials([{ kind: "secret", name: "gone" }], none, "preview-bot")).rejects.toThrow(
      "reading registry credentials from Secret preview-bot/gone: no such Secret",
    );
    const opaque: SecretReader = async () => ({ type: "Opaque" });
    await expect(loadCredentials([{ kind: "secret", name: "plain" }], opaque, "ns")).rejects.toThrow(
      "it has no .dockerconfigjson key (type Opaque; create it with kubectl create secret docker-registry)",
    );
    await expect(loadCredentials([{ kind: "file", path: path.join(dir, "missing.json") }], none, "ns")).rejects.toThrow(
      `reading registry credentials from ${path.join(dir, "missing.json")}: ENOENT`,
    );
    const secret = `leak-${run}`;
    const bad = file("bad.json", `{"auths": {"ghcr.io": "${secret}"}}`);
    const err = await loadCredentials([{ kind: "file", path: bad }], none, "ns").catch((e: Error) => e);
    expect((err as Error).message).toBe(`reading registry credentials from ${bad}: auths."ghcr.io" is not an object`);
  });
});

describeWithRegistry("a registry client whose credentials are read on first use", (registry) => {
  it("reads nothing when built, once for concurrent resolutions, again after its TTL, and again after a failed read", async () => {
    const r = registry();
    const [user, password] = Object.entries(r.users)[0]!;
    const repo = `team/${run}-reload`;
    const pushed = await r.push(repo, "v1");
    let now = 1_000_000;
    let reads = 0;
    let fail = false;
    const client = reloadingRegistryClient({
      now: () => now,
      ttlMs: 60_000,
      load: async () => {
        reads++;
        if (fail) throw new Error("reading registry credentials from Secret preview-bot/registry: forbidden");
        return loadCredentials(
          [{ kind: "file", path: file("reload.json", doc({ [r.host]: { username: user, password } })) }],
          async () => undefined,
          "preview-bot",
        );
      },
    });
    expect(reads).toBe(0);
    const both = await Promise.all([client.resolve(`${r.host}/${repo}:v1`), client.resolve(`${r.host}/${repo}:v1`)]);
    expect(both.map((x) => x.outcome === "found" && x.digest)).toEqual([pushed.digest, pushed.digest]);
    expect(reads).toBe(1);
    now += 61_000;
    fail = true;
    await expect(client.resolve(`${r.host}/${repo}:v1`)).rejects.toThrow("forbidden");
    fail = false;
    expect(await client.resolve(`${r.host}/${repo}:v1`)).toMatchObject({ outcome: "found", digest: pushed.digest });
    expect(reads).toBe(3);
  });
});
