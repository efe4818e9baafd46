/**
 * The production auth path: `@azure/identity` Workload Identity (federated token file → token endpoint) against a
 * local HTTPS token stub, and Azurite on HTTPS with `--oauth basic` accepting the bearer token. The self-signed
 * certificate must be trusted through NODE_EXTRA_CA_CERTS, which node reads only at start, so the client runs in a
 * child `node` process (importing the TypeScript sources directly) and the test asserts on its output.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { selfSignedCert, startAzurite, writeTsImportHook, type TestAzurite } from "../../../support/azurite.js";

const ROOT = resolve(import.meta.dirname, "..", "..", "..", "..");
const tenant = randomUUID();
const clientId = randomUUID();
const federatedToken = `k8s-sa-token-${randomBytes(12).toString("hex")}`;

let dir: string;
let azurite: TestAzurite;
let stub: Server;
let stubUrl: string;
let audience = "https://storage.azure.com";
const tokenRequests: URLSearchParams[] = [];
const issued: string[] = [];

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "preview-bot-wi-"));
  const tls = selfSignedCert(dir);
  azurite = await startAzurite({ tls });
  stub = createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const base = stubUrl;
      res.setHeader("content-type", "application/json");
      if (req.url?.includes("/.well-known/openid-configuration")) {
        res.end(
          JSON.stringify({
            issuer: `${base}/${tenant}/v2.0`,
            authorization_endpoint: `${base}/${tenant}/oauth2/v2.0/authorize`,
            token_endpoint: `${base}/${tenant}/oauth2/v2.0/token`,
            end_session_endpoint: `${base}/${tenant}/oauth2/v2.0/logout`,
            jwks_uri: `${base}/${tenant}/discovery/v2.0/keys`,
            response_types_supported: ["code", "token"],
          }),
        );
      } else if (req.method === "POST" && req.url?.split("?")[0] === `/${tenant}/oauth2/v2.0/token`) {
        tokenRequests.push(new URLSearchParams(body));
        const now = Math.floor(Date.now() / 1000);
        const token = `${b64url({ alg: "RS256", typ: "JWT" })}.${b64url({ aud: audience, iss: `https://sts.windows.net/${tenant}/`, iat: now, nbf: now - 60, exp: now + 3600, oid: randomUUID(), tid: tenant, appid: clientId, sub: clientId })}.${randomBytes(16).toString("base64url")}`;
        issued.push(token);
        res.end(JSON.stringify({ token_type: "Bearer", expires_in: 3600, ext_expires_in: 3600, access_token: token }));
      } else {
        process.stderr.write(`stub 404: ${req.method} ${req.url}\n`);
        res.statusCode = 404;
        res.end(JSON.stringify({ error: "not_found", path: req.url }));
      }
    });
  });
  await new Promise<void>((r) => stub.listen(0, "127.0.0.1", r));
  const addr = stub.address();
  stubUrl = `https://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  writeFileSync(join(dir, "federated-token"), federatedToken);
  writeFileSync(join(dir, "tls-ca.pem"), readFileSync(tls.certFile));
  writeFileSync(
    join(dir, "client.mjs"),
    `import { Readable } from "node:stream";
const { blobStoreFromEnv } = await import(${JSON.stringify(pathToFileURL(join(ROOT, "src/services/data/backups/blob-store.ts")).href)});
try {
  const store = blobStoreFromEnv(process.env);
  await store.ensureContainer("wi-backups");
  await store.upload("wi-backups", "db/db-20261126T064300Z.dump", Readable.from([Buffer.from("PGDMP fake dump")]), { target: "db" });
  const list = await store.list("wi-backups", "db/");
  console.log(JSON.stringify({ ok: true, location: store.location, blobs: list.map((b) => [b.name, b.size, b.metadata.target]) }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: err.message }));
  process.exitCode = 1;
}
`,
  );
}, 180_000);

afterAll(async () => {
  await new Promise((r) => (stub ? stub.close(r) : r(undefined)));
  await azurite?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function runClient(): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ["--no-warnings", "--import", pathToFileURL(writeTsImportHook(dir)).href, join(dir, "client.mjs")],
      {
        cwd: ROOT,
        timeout: 45_000,
        env: {
          PATH: process.env.PATH,
          NODE_EXTRA_CA_CERTS: join(dir, "tls-ca.pem"),
          AZURE_STORAGE_ACCOUNT_URL: azurite.accountUrl,
          AZURE_CLIENT_ID: clientId,
          AZURE_TENANT_ID: tenant,
          AZURE_FEDERATED_TOKEN_FILE: join(dir, "federated-token"),
          AZURE_AUTHORITY_HOST: stubUrl,
          LOG_LEVEL: "debug",
        },
      },
      (err, stdout, stderr) => done({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe("Workload Identity to Azurite over HTTPS", () => {
  it("exchanges the federated token for a bearer token that Azurite accepts", async () => {
    const r = await runClient();
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({
      ok: true,
      location: azurite.accountUrl,
      blobs: [["db/db-20261126T064300Z.dump", 15, "db"]],
    });
    expect(tokenRequests.length).toBeGreaterThanOrEqual(1);
    const req = tokenRequests[0]!;
    expect(req.get("client_id")).toBe(clientId);
    expect(req.get("client_assertion")).toBe(federatedToken);
    expect(req.get("client_assertion_type")).toBe("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    expect(req.get("scope")).toContain("https://storage.azure.com/.default");
    for (const secret of [federatedToken, ...issued]) expect(r.stdout + r.stderr).not.toContain(secret);
  }, 180_000);

  it("is refused by Azurite when the token is for another audience (the bearer token is really checked)", async () => {
    audience = "https://management.azure.com";
    const r = await runClient();
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/creating blob container "wi-backups": (401|403)/),
    });
    for (const secret of [federatedToken, ...issued]) expect(r.stdout + r.stderr).not.toContain(secret);
  }, 180_000);
});
