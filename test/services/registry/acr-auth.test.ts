/**
 * Azure Container Registry through the bot's Entra identity, against a loopback STUB of ACR's protocol (not ACR):
 * the endpoints and bodies that github.com/Azure/acr docs/AAD-OAuth.md documents — the registry's Bearer challenge
 * with realm `<registry>/oauth2/token`, `POST /oauth2/exchange` (grant_type=access_token → {"refresh_token"}), and
 * `POST /oauth2/token` (grant_type=refresh_token + scope → {"access_token"}), JWT-shaped tokens with `exp` and no
 * expires_in, as ACR's are. The Entra side is a TokenCredential double that records the scopes asked for.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import type { TokenCredential } from "@azure/identity";
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { createRegistryClient } from "../../../src/services/registry/registry-client.js";

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
const jwt = (claims: Record<string, unknown>) =>
  `${b64url({ alg: "RS256", typ: "JWT" })}.${b64url(claims)}.${randomBytes(16).toString("base64url")}`;
const DIGEST = `sha256:${randomBytes(32).toString("hex")}`;
const tenant = randomUUID();

interface Seen {
  method: string;
  path: string;
  form?: Record<string, string>;
  authorization?: string;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

const body = (req: IncomingMessage) =>
  new Promise<string>((ok) => {
    let text = "";
    req.on("data", (c: Buffer) => (text += c.toString()));
    req.on("end", () => ok(text));
  });

describe("Azure Container Registry through the bot's Entra identity (loopback stub of ACR's documented protocol)", () => {
  let stub: Server;
  let host: string;
  const seen: Seen[] = [];
  let realmOverride: string | undefined;
  let refuseExchange = false;
  const entraToken = jwt({
    aud: "https://management.azure.com",
    tid: tenant,
    exp: Math.floor(Date.now() / 1000) + 3600,
  });
  const issuedAccess = new Map<string, string>(); // access token → scope
  const issuedRefresh = new Set<string>();
  const entraScopes: string[][] = [];
  const credential: TokenCredential = {
    async getToken(scopes) {
      entraScopes.push([scopes].flat());
      return { token: entraToken, expiresOnTimestamp: Date.now() + 3600_000 };
    },
  };

  beforeAll(async () => {
    stub = createServer((req, res) => {
      void body(req).then((text) => {
        const path = (req.url ?? "").split("?")[0]!;
        const form = req.method === "POST" ? Object.fromEntries(new URLSearchParams(text)) : undefined;
        seen.push({
          method: req.method!,
          path,
          ...(form && { form }),
          ...(req.headers.authorization && { authorization: req.headers.authorization }),
        });
        const json = (status: number, o: unknown) => {
          res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
          res.end(JSON.stringify(o));
        };
        const now = Math.floor(Date.now() / 1000);
        if (req.method === "POST" && path === "/oauth2/exchange") {
          if (
            refuseExchange ||
            form?.grant_type !== "access_token" ||
            form.access_token !== entraToken ||
            form.service !== host
          ) {
            // (a real ACR does not echo the token; the stub does, to prove the client scrubs what it quotes)
            return json(401, {
              errors: [{ code: "UNAUTHORIZED", message: `identity not allowed, token ${form?.access_token}` }],
            });
          }
          const refresh = jwt({
            iss: "Azure Container Registry",
            aud: host,
            grant_type: "refresh_token",
            tenant,
            exp: now + 10800,
          });
          issuedRefresh.add(refresh);
          return json(200, { refresh_token: refresh });
        }
        if (req.method === "POST" && path === "/oauth2/token") {
          if (
            form?.grant_type !== "refresh_token" ||
            !issuedRefresh.has(form.refresh_token ?? "") ||
            form.service !== host
          ) {
            return json(401, { errors: [{ code: "UNAUTHORIZED", message: "invalid refresh token" }] });
          }
          const access = jwt({ iss: "Azure Container Registry", aud: host, access: form.scope, exp: now + 4500 });
          issuedAccess.set(access, form.scope ?? "");
          return json(200, { access_token: access });
        }
        const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
        if (m && (req.method === "HEAD" || req.method === "GET")) {
          const scope = `repository:${m[1]}:pull`;
          const token = req.headers.authorization?.replace(/^Bearer /, "");
          if (!token || issuedAccess.get(token) !== scope) {
            res.writeHead(401, {
              "www-authenticate": `Bearer realm="${realmOverride ?? `http://${host}/oauth2/token`}",service="${host}",scope="${scope}"`,
              "content-type": "application/json",
            });
            return res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
          }
          res.writeHead(200, {
            "docker-content-digest": DIGEST,
            "content-type": "application/vnd.oci.image.index.v1+json",
            "content-length": "512",
          });
          return res.end();
        }
        json(404, { errors: [{ code: "NOT_FOUND" }] });
      });
    });
    host = await listen(stub);
  });
  afterAll(async () => {
    await new Promise((ok) => stub.close(ok));
  });
  beforeEach(() => {
    seen.length = 0;
    entraScopes.length = 0;
    realmOverride = undefined;
    refuseExchange = false;
  });

  const client = () => createRegistryClient({ azure: { credential, tenantId: tenant, isAcr: (r) => r === host } });

  it("exchanges the Entra token for a refresh token, then an access token for the repository, then HEADs", async () => {
    const c = client();
    const res = await c.resolve(`${host}/web:pr-42`);
    expect(res).toEqual({
      outcome: "found",
      image: `${host}/web:pr-42`,
      registry: host,
      repository: "web",
      reference: "pr-42",
      digest: DIGEST,
      mediaType: "application/vnd.oci.image.index.v1+json",
      pinned: `${host}/web@${DIGEST}`,
    });
    expect(entraScopes).toEqual([["https://management.azure.com/.default"]]);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      "HEAD /v2/web/manifests/pr-42",
      "POST /oauth2/exchange",
      "POST /oauth2/token",
      "HEAD /v2/web/manifests/pr-42",
    ]);
    expect(seen[1]!.form).toEqual({ grant_type: "access_token", service: host, tenant, access_token: entraToken });
    expect(seen[2]!.form).toEqual({
      grant_type: "refresh_token",
      service: host,
      scope: "repository:web:pull",
      refresh_token: expect.stringMatching(/^ey/),
      client_id: "preview-bot",
    });
    expect(issuedRefresh.has(seen[2]!.form!.refresh_token!)).toBe(true);

    // another repository: the refresh token is reused (no Entra call, no exchange), one access token for its scope
    seen.length = 0;
    expect(await c.resolve(`${host}/team/api:v1`)).toMatchObject({ outcome: "found" });
    expect(entraScopes).toHaveLength(1);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual(["POST /oauth2/token", "HEAD /v2/team/api/manifests/v1"]);
    // and the first one again: one HEAD with the cached access token
    seen.length = 0;
    await c.resolve(`${host}/web:pr-42`);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual(["HEAD /v2/web/manifests/pr-42"]);
  });

  it("says to grant AcrPull when the registry refuses the identity, without quoting the Entra token", async () => {
    refuseExchange = true;
    const res = await client().resolve(`${host}/web:pr-42`);
    expect(res).toMatchObject({
      outcome: "unauthorized",
      status: 401,
      credential: "the bot's Azure identity (Entra token exchanged for an ACR token)",
    });
    expect(res.outcome === "unauthorized" && res.message).toContain(
      `exchanging the Entra token at http://${host}/oauth2/exchange: 401`,
    );
    expect(res.outcome === "unauthorized" && res.message).toContain(
      `Grant the bot's identity the AcrPull role on ${host}`,
    );
    expect(res.outcome === "unauthorized" && res.message).toContain("identity not allowed, token [REDACTED]");
    expect(JSON.stringify(res)).not.toContain(entraToken);
    expect(JSON.stringify(res)).not.toContain(entraToken.split(".")[1]);
  });

  it("never sends the Entra token to a realm that is not the registry itself", async () => {
    const elsewhere: Seen[] = [];
    const collector = createServer((req, res) => {
      elsewhere.push({ method: req.method!, path: req.url ?? "" });
      res.end("{}");
    });
    const collectorHost = await listen(collector);
    try {
      realmOverride = `http://${collectorHost}/oauth2/token`;
      const res = await client().resolve(`${host}/web:pr-42`);
      expect(res).toMatchObject({ outcome: "error", retryable: false });
      expect(res.outcome === "error" && res.message).toContain(
        `${host}'s token realm is http://${collectorHost}, not the registry itself over https: not sending the bot's Entra token there`,
      );
      expect(elsewhere).toEqual([]);
      expect(entraScopes).toEqual([]);
    } finally {
      await new Promise((ok) => collector.close(ok));
    }
  });
});
