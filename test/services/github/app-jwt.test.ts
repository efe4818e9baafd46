/**
 * The 10-installation storm's lost PRs: an installation token needs a fresh App JWT, and the library signed each one
 * by parsing the PEM again, which fails when another part of the process left an error on the thread's OpenSSL error
 * queue. Here the queue is dirtied the way the storm dirtied it (a TLS socket offered a session that does not decode:
 * nock's mocked handshakes hand undici such a session, and undici offers it on its next connection), and the bot's
 * own Probot (createProbotApp, as buildApp builds it) must still get its token.
 */
import { describe, expect, it } from "@jest/globals";
import { createPrivateKey, createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import nock from "nock";
import { loadEnv } from "../../../src/env.js";
import { createLogger } from "../../../src/logger.js";
import { createProbotApp } from "../../../src/parts.js";
import { appJwtSigner } from "../../../src/services/github/app-jwt.js";
import { GITHUB_API, useNock } from "../../support/github.js";
import { ProbotTestOctokit } from "../../support/github-fake.js";

useNock();

const { privateKey: pkcs1, publicKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs1", format: "pem" },
});

/** Leave `asn1 encoding routines::too long` on this thread's OpenSSL error queue, as an undecodable TLS session does. */
function dirtyOpenSslErrorQueue(): void {
  new TLSSocket(new Socket(), { session: Buffer.from("mocked session") }).destroy();
}

function claimsOf(jwt: string): Record<string, unknown> {
  const [header, payload, signature] = jwt.split(".") as [string, string, string];
  expect(JSON.parse(Buffer.from(header, "base64url").toString())).toEqual({ alg: "RS256", typ: "JWT" });
  const valid = verify(
    "sha256",
    Buffer.from(`${header}.${payload}`),
    createPublicKey(publicKey),
    Buffer.from(signature, "base64url"),
  );
  expect(valid).toBe(true);
  return JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
}

describe("the GitHub App's JWT", () => {
  it("a stale OpenSSL error makes Node's key parser fail (the hazard this guards against, on this Node)", () => {
    dirtyOpenSslErrorQueue();
    expect(() => createPrivateKey(pkcs1)).toThrow(/asn1 encoding routines::too long/);
    expect(() => createPrivateKey(pkcs1)).not.toThrow(); // the failed call cleared the queue
  });

  it("is signed with the key parsed once, whatever the error queue holds; claims as GitHub wants them", async () => {
    const now = Date.parse("2026-12-01T12:00:00Z");
    const sign = appJwtSigner(pkcs1, () => now);
    dirtyOpenSslErrorQueue();
    const { jwt, expiresAt } = await sign(123);
    const claims = claimsOf(jwt);
    expect(claims).toEqual({ iat: now / 1000 - 30, exp: now / 1000 - 30 + 600, iss: 123 });
    expect(expiresAt).toBe(new Date((now / 1000 - 30 + 600) * 1000).toISOString());
    // the clock difference GitHub reported is applied (auth-app passes it after a time-skew answer)
    expect(claimsOf((await sign(123, 100)).jwt).iat).toBe(now / 1000 - 30 + 100);
  });

  it("accepts a PKCS#8 key and `\\n`-escaped PEM text, and names the setting for a key it cannot use", async () => {
    const pkcs8 = createPrivateKey(pkcs1).export({ type: "pkcs8", format: "pem" }).toString();
    expect(claimsOf((await appJwtSigner(pkcs8)(1)).jwt).iss).toBe(1);
    expect(claimsOf((await appJwtSigner(pkcs1.replace(/\n/g, "\\n"))(1)).jwt).iss).toBe(1);
    expect(() => appJwtSigner("-----BEGIN RSA PRIVATE KEY-----")).toThrow(/PRIVATE_KEY or PRIVATE_KEY_PATH/);
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" });
    expect(() => appJwtSigner(ec.toString())).toThrow(/PRIVATE_KEY/);
  });

  it("the bot's Probot gets an installation token right after the queue was dirtied (the storm's failure)", async () => {
    const env = loadEnv({ APP_ID: "123", PRIVATE_KEY: pkcs1, WEBHOOK_SECRET: "s", PATH: process.env.PATH! });
    const probot = createProbotApp(env, createLogger({ level: "silent" }), ProbotTestOctokit);
    let bearer = "";
    const scope = nock(GITHUB_API)
      .post("/app/installations/7/access_tokens")
      .matchHeader("authorization", (value: string | null) => Boolean((bearer = value ?? "")))
      .reply(201, { token: "ghs_x", expires_at: new Date(Date.now() + 3_600_000).toISOString(), permissions: {} })
      .get("/repos/acme/web")
      .matchHeader("authorization", "token ghs_x")
      .reply(200, { id: 1, name: "web" });
    dirtyOpenSslErrorQueue();
    const octokit = await probot.auth(7);
    const { data } = await octokit.rest.repos.get({ owner: "acme", repo: "web" });
    expect(data.name).toBe("web");
    expect(scope.isDone()).toBe(true);
    expect(claimsOf(bearer.replace(/^bearer /i, "")).iss).toBe(123);
  });
});
