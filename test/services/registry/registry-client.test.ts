/**
 * The image resolver against the run's real OCI registry (preview-registry: go-containerregistry's registry behind a
 * Docker token-auth front; `lib/` public, `team/` private). Images are pushed by the registry's own client, as CI
 * would; the registry's request log shows what the resolver did on the wire.
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:net";
import { parseDockerConfig } from "../../../src/services/registry/docker-config.js";
import type { ImageResolution } from "../../../src/services/registry/image-resolution.js";
import { createRegistryClient, type RegistryClientOptions } from "../../../src/services/registry/registry-client.js";
import { describeWithRegistry, type SharedRegistry } from "../../support/registry-suite.js";
import { startRegistry, type RegistryLogEntry, type TestRegistry } from "../../support/registry.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const run = randomBytes(4).toString("hex");
const UA = `preview-bot test ${run}`;

/** No message may carry a password or a token the registry issued (they start with tok_ / ref_). */
function expectNoSecrets(res: ImageResolution, ...secrets: string[]): void {
  const text = JSON.stringify(res);
  expect(text).not.toMatch(/\b(tok|ref)_[0-9a-f]{16,}/);
  for (const s of secrets) expect(text).not.toContain(s);
}

describeWithRegistry("resolving images against a real OCI registry", (registry) => {
  let r: SharedRegistry;
  let user: string;
  let password: string;
  beforeAll(() => {
    r = registry();
    [user, password] = Object.entries(r.users)[0]!;
  });
  const client = (opts: RegistryClientOptions = {}) => createRegistryClient({ userAgent: UA, ...opts });
  const credentials = (entry: Record<string, string>, host = r.host) =>
    parseDockerConfig(JSON.stringify({ auths: { [host]: entry } }), "Secret previews/regcred");
  const basic = () => credentials({ auth: b64(`${user}:${password}`) });
  /** This file's requests to these repositories, in order. */
  const logOf = (...repos: string[]): RegistryLogEntry[] =>
    r
      .log()
      .filter(
        (e) =>
          e.ua === UA &&
          repos.some((repo) =>
            e.path === "/token" ? e.scope?.includes(`repository:${repo}:pull`) : e.path.startsWith(`/v2/${repo}/`),
          ),
      );

  it("resolves a present tag to the digest the push printed, by a HEAD with the index types accepted", async () => {
    const repo = `lib/${run}-present`;
    const pushed = await r.push(repo, "pr-42");
    const res = await client().resolve(`${r.host}/${repo}:pr-42`);
    expect(res).toEqual({
      outcome: "found",
      image: `${r.host}/${repo}:pr-42`,
      registry: r.host,
      repository: repo,
      reference: "pr-42",
      digest: pushed.digest,
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      pinned: `${r.host}/${repo}@${pushed.digest}`,
    });
    const heads = logOf(repo).filter((e) => e.path.includes("/manifests/"));
    expect(heads.map((e) => [e.method, e.status])).toEqual([
      ["HEAD", 401],
      ["HEAD", 200],
    ]);
    expect(heads[1]!.accept).toBe(
      "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
    );
  });

  it("answers missing for a tag not pushed yet, then found once CI pushes it", async () => {
    const repo = `lib/${run}-later`;
    const c = client();
    await r.push(repo, "main");
    const before = await c.resolve(`${r.host}/${repo}:pr-7`);
    expect(before).toMatchObject({ outcome: "missing", status: 404, reference: "pr-7" });
    expect(before.outcome === "missing" && before.message).toBe(
      `${r.host}/${repo}:pr-7 is not in ${r.host} (404 for ${repo}:pr-7)`,
    );
    const pushed = await r.push(repo, "pr-7");
    expect(await c.resolve(`${r.host}/${repo}:pr-7`)).toMatchObject({ outcome: "found", digest: pushed.digest });
    expect(await c.resolve(`${r.host}/lib/${run}-never:v1`)).toMatchObject({ outcome: "missing" });
  });

  it("refuses a private repository without a credential, naming what was tried and what to configure", async () => {
    const repo = `team/${run}-private`;
    await r.push(repo, "v1");
    const res = await client().resolve(`${r.host}/${repo}:v1`);
    expect(res).toMatchObject({ outcome: "unauthorized", status: 401, credential: "anonymous" });
    expect(res.outcome === "unauthorized" && res.message).toBe(
      `resolving ${r.host}/${repo}:v1: getting a token from http://${r.host}/token: 401 {"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}. Configure a dockerconfigjson credential for ${r.host} in the bot's REGISTRY_CREDENTIALS.`,
    );
  });

  it("resolves a private repository with a dockerconfigjson credential (Basic at the token endpoint only)", async () => {
    const repo = `team/${run}-with-cred`;
    const pushed = await r.push(repo, "v1");
    const res = await client({ credentials: basic() }).resolve(`${r.host}/${repo}:v1`);
    expect(res).toMatchObject({ outcome: "found", digest: pushed.digest });
    expectNoSecrets(res, password);
    const log = logOf(repo);
    expect(log.filter((e) => e.path === "/token").map((e) => [e.auth, e.user, e.status])).toEqual([
      ["basic", user, 200],
    ]);
    expect(log.filter((e) => e.path !== "/token").every((e) => e.auth !== "basic")).toBe(true);
  });

  it("refuses a wrong password, naming the credential but never the password", async () => {
    const repo = `team/${run}-wrong`;
    await r.push(repo, "v1");
    const wrong = "wrong-" + randomBytes(6).toString("hex");
    const res = await client({ credentials: credentials({ username: user, password: wrong }) }).resolve(
      `${r.host}/${repo}:v1`,
    );
    expect(res).toMatchObject({
      outcome: "unauthorized",
      status: 401,
      credential: `the credential for ${r.host} from Secret previews/regcred (user "${user}")`,
    });
    expect(res.outcome === "unauthorized" && res.message).toContain("incorrect username or password");
    expect(res.outcome === "unauthorized" && res.message).toContain(`Check the credential for ${r.host}`);
    expectNoSecrets(res, wrong, b64(`${user}:${wrong}`));
  });

  it("resolves with an identitytoken through the token endpoint's OAuth2 POST", async () => {
    const repo = `team/${run}-identity`;
    const pushed = await r.push(repo, "v1");
    const got = await fetch(
      `http://${r.host}/token?service=preview-registry&scope=repository:${repo}:pull&offline_token=true`,
      { headers: { authorization: `Basic ${b64(`${user}:${password}`)}` } },
    );
    const refresh = ((await got.json()) as { refresh_token: string }).refresh_token;
    const res = await client({ credentials: credentials({ identitytoken: refresh }) }).resolve(`${r.host}/${repo}:v1`);
    expect(res).toMatchObject({ outcome: "found", digest: pushed.digest });
    expect(
      logOf(repo)
        .filter((e) => e.path === "/token")
        .map((e) => [e.method, e.auth, e.user]),
    ).toEqual([["POST", "none", user]]);
  });

  it("sends a dockerconfigjson registrytoken to the registry as is, without the token endpoint", async () => {
    const repo = `team/${run}-registrytoken`;
    const pushed = await r.push(repo, "v1");
    const got = await fetch(`http://${r.host}/token?service=preview-registry&scope=repository:${repo}:pull`, {
      headers: { authorization: `Basic ${b64(`${user}:${password}`)}` },
    });
    const token = ((await got.json()) as { token: string }).token;
    const res = await client({ credentials: credentials({ registrytoken: token }) }).resolve(`${r.host}/${repo}:v1`);
    expect(res).toMatchObject({ outcome: "found", digest: pushed.digest });
    expect(logOf(repo).map((e) => `${e.method} ${e.path === "/token" ? "/token" : "manifest"} ${e.status}`)).toEqual([
      "HEAD manifest 401",
      "HEAD manifest 200",
    ]);
  });

  it("follows a retag: the tag moves to the new digest, a digest reference stays put", async () => {
    const repo = `lib/${run}-retag`;
    const first = await r.push(repo, "pr-9", { seed: 101 });
    const main = await r.push(repo, "main", { seed: 202 });
    expect(first.digest).not.toBe(main.digest);
    const c = client();
    expect(await c.resolve(`${r.host}/${repo}:pr-9`)).toMatchObject({ outcome: "found", digest: first.digest });
    const retagged = await r.tag(repo, "main", "pr-9");
    expect(retagged.digest).toBe(main.digest);
    expect(await c.resolve(`${r.host}/${repo}:pr-9`)).toMatchObject({ outcome: "found", digest: main.digest });
    expect(await c.resolve(`${r.host}/${repo}@${first.digest}`)).toMatchObject({
      outcome: "found",
      digest: first.digest,
      reference: first.digest,
      pinned: `${r.host}/${repo}@${first.digest}`,
    });
  });

  it.each([
    ["oci", "application/vnd.oci.image.index.v1+json"],
    ["docker", "application/vnd.docker.distribution.manifest.list.v2+json"],
  ] as const)("resolves a multi-arch image (%s) to the index's digest, not a platform's", async (format, type) => {
    const repo = `lib/${run}-multi-${format}`;
    const pushed = await r.push(repo, "v1", { index: true, format });
    expect(pushed.manifests).toHaveLength(2);
    const res = await client().resolve(`${r.host}/${repo}:v1`);
    expect(res).toMatchObject({ outcome: "found", digest: pushed.digest, mediaType: type });
    expect(pushed.manifests).not.toContain(res.outcome === "found" && res.digest);
  });

  it("makes one HEAD per resolution once a token is cached, and never GETs a manifest", async () => {
    const repo = `lib/${run}-cached`;
    const other = `lib/${run}-cached-other`;
    const a = await r.push(repo, "v1");
    await r.push(other, "v1");
    const c = client();
    for (let i = 0; i < 5; i++) expect(await c.resolve(`${r.host}/${repo}:v1`)).toMatchObject({ digest: a.digest });
    await c.resolve(`${r.host}/${repo}@${a.digest}`);
    await c.resolve(`${r.host}/${repo}:missing`);
    await c.resolve(`${r.host}/${other}:v1`);
    const log = logOf(repo, other);
    const manifests = log.filter((e) => e.path.includes("/manifests/"));
    expect(manifests.filter((e) => e.method !== "HEAD")).toEqual([]);
    // first: HEAD 401 → token → HEAD; then one HEAD each; the other repository: its own token, no probe (challenge
    // known)
    expect(log.map((e) => `${e.method} ${e.path.replace(`/v2/`, "")} ${e.status}`)).toEqual([
      `HEAD ${repo}/manifests/v1 401`,
      `GET /token 200`,
      ...Array.from({ length: 5 }, () => `HEAD ${repo}/manifests/v1 200`),
      `HEAD ${repo}/manifests/${a.digest} 200`,
      `HEAD ${repo}/manifests/missing 404`,
      `GET /token 200`,
      `HEAD ${other}/manifests/v1 200`,
    ]);
  });

  it("gets a new token when the cached one expires by the client's clock", async () => {
    const repo = `lib/${run}-expiry`;
    await r.push(repo, "v1");
    let now = Date.now();
    const c = client({ now: () => now });
    await c.resolve(`${r.host}/${repo}:v1`);
    await c.resolve(`${r.host}/${repo}:v1`);
    expect(logOf(repo).filter((e) => e.path === "/token")).toHaveLength(1);
    now += 300_000 - 29_000; // the registry's tokens live 300 s; the client stops using one 30 s before
    await c.resolve(`${r.host}/${repo}:v1`);
    expect(logOf(repo).filter((e) => e.path === "/token")).toHaveLength(2);
  });

  it("drops a token the registry no longer accepts and gets a fresh one", async () => {
    const repo = `lib/${run}-revoked`;
    const pushed = await r.push(repo, "v1");
    let revoke = false;
    const c = client({
      fetch: (input, init) => {
        const headers = new Headers(init?.headers);
        if (revoke && headers.get("authorization")?.startsWith("Bearer ")) {
          revoke = false;
          headers.set("authorization", "Bearer tok_revoked");
        }
        return fetch(input, { ...init, headers });
      },
    });
    await c.resolve(`${r.host}/${repo}:v1`);
    revoke = true;
    expect(await c.resolve(`${r.host}/${repo}:v1`)).toMatchObject({ outcome: "found", digest: pushed.digest });
    expect(logOf(repo).map((e) => `${e.method} ${e.path === "/token" ? "/token" : "manifest"} ${e.status}`)).toEqual([
      "HEAD manifest 401",
      "GET /token 200",
      "HEAD manifest 200",
      "HEAD manifest 401",
      "GET /token 200",
      "HEAD manifest 200",
    ]);
  });

  it("names GHCR's credential rule when ghcr.io refuses (GHCR's host routed to this registry)", async () => {
    const repo = `team/${run}-ghcr`;
    await r.push(repo, "pr-1");
    const toLocal: typeof fetch = (input, init) =>
      fetch(String(input).replace("https://ghcr.io/", `http://${r.host}/`), init);
    const anonymous = await client({ fetch: toLocal }).resolve(`ghcr.io/${repo}:pr-1`);
    expect(anonymous).toMatchObject({ outcome: "unauthorized", registry: "ghcr.io", credential: "anonymous" });
    expect(anonymous.outcome === "unauthorized" && anonymous.message).toContain(
      "configure a dockerconfigjson credential for ghcr.io in the bot's REGISTRY_CREDENTIALS: a personal access token (classic) with read:packages from an account that can read the package. A GitHub App installation token cannot pull private GHCR packages.",
    );
    const ghs = "ghs_" + randomBytes(18).toString("hex");
    const withApp = await client({
      fetch: toLocal,
      credentials: credentials({ username: "x-access-token", password: ghs }, "ghcr.io"),
    }).resolve(`ghcr.io/${repo}:pr-1`);
    expect(withApp).toMatchObject({
      outcome: "unauthorized",
      credential: 'the credential for ghcr.io from Secret previews/regcred (user "x-access-token")',
    });
    expect(withApp.outcome === "unauthorized" && withApp.message).toContain(
      "A GitHub App installation token cannot pull private GHCR packages.",
    );
    expectNoSecrets(withApp, ghs);
  });

  it("times out a registry that does not answer, as retryable", async () => {
    const sockets: import("node:net").Socket[] = [];
    const silent: Server = createServer((s) => void sockets.push(s));
    await new Promise<void>((ok) => silent.listen(0, "127.0.0.1", ok));
    const port = (silent.address() as { port: number }).port;
    try {
      const res = await client({ timeoutMs: 300 }).resolve(`127.0.0.1:${port}/lib/x:v1`);
      expect(res).toMatchObject({ outcome: "error", retryable: true });
      expect(res.outcome === "error" && res.message).toBe(
        `resolving 127.0.0.1:${port}/lib/x:v1: HEAD http://127.0.0.1:${port}/v2/lib/x/manifests/v1: timed out after 300 ms`,
      );
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((ok) => silent.close(ok));
    }
  });
});

describeWithRegistry("a registry that asks for Basic credentials on every request", () => {
  let reg: TestRegistry;
  const password = randomBytes(8).toString("hex");
  beforeAll(async () => {
    reg = await startRegistry({ auth: "basic", users: { deployer: password }, privatePrefixes: ["team/"] });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it("answers with the configured user and password, and says what is missing without one", async () => {
    const pushed = await reg.push("team/basic", "v1");
    const without = await createRegistryClient().resolve(`${reg.host}/team/basic:v1`);
    expect(without).toMatchObject({ outcome: "unauthorized", status: 401, credential: "anonymous" });
    expect(without.outcome === "unauthorized" && without.message).toBe(
      `resolving ${reg.host}/team/basic:v1: ${reg.host} asks for Basic credentials and no user and password is configured for ${reg.host}. Configure a dockerconfigjson credential for ${reg.host} in the bot's REGISTRY_CREDENTIALS.`,
    );
    const c = createRegistryClient({
      credentials: parseDockerConfig(
        JSON.stringify({ auths: { [reg.host]: { username: "deployer", password } } }),
        "/run/secrets/regcred",
      ),
    });
    expect(await c.resolve(`${reg.host}/team/basic:v1`)).toMatchObject({ outcome: "found", digest: pushed.digest });
    expect(await c.resolve(`${reg.host}/team/basic:v1`)).toMatchObject({ outcome: "found", digest: pushed.digest });
    const ours = reg.log().filter((e) => e.ua === "preview-bot (image resolver)");
    expect(ours.map((e) => `${e.method} ${e.auth} ${e.status}`)).toEqual([
      "HEAD none 401", // the client without a credential
      "HEAD none 401", // the client with one, learning the challenge
      "HEAD basic 200",
      "HEAD basic 200", // challenge known: straight to Basic
    ]);
  });
});

describeWithRegistry("Docker Hub's ways, on a registry set up like it", () => {
  let hub: TestRegistry;
  const password = randomBytes(8).toString("hex");
  beforeAll(async () => {
    hub = await startRegistry({
      users: { hubuser: password },
      publicPrefixes: ["library/", "bitnami/"],
      denyWithEmptyToken: true,
    });
  });
  afterAll(async () => {
    await hub?.stop();
  });
  const toHub: typeof fetch = (input, init) =>
    fetch(String(input).replace("https://registry-1.docker.io/", `http://${hub.host}/`), init);

  it("asks registry-1.docker.io for library/<name> when the image is an official one", async () => {
    const pushed = await hub.push("library/nginx", "1.27");
    const c = createRegistryClient({ fetch: toHub });
    for (const image of [
      "nginx:1.27",
      "docker.io/nginx:1.27",
      "docker.io/library/nginx:1.27",
      "index.docker.io/library/nginx:1.27",
    ]) {
      expect(await c.resolve(image)).toMatchObject({
        outcome: "found",
        registry: "docker.io",
        repository: "library/nginx",
        digest: pushed.digest,
        pinned: `${image.replace(/:1\.27$/, "")}@${pushed.digest}`,
      });
    }
    const bitnami = await hub.push("bitnami/redis", "7");
    expect(await c.resolve("bitnami/redis:7")).toMatchObject({ outcome: "found", digest: bitnami.digest });
    expect(
      hub
        .log()
        .filter((e) => e.path.includes("/manifests/") && e.ua === "preview-bot (image resolver)")
        .every((e) => e.method === "HEAD"),
    ).toBe(true);
  });

  it("reads a token that grants nothing (Docker Hub's answer for private or unknown repositories) as unauthorized", async () => {
    await hub.push("acme/private", "v1");
    const res = await createRegistryClient({ fetch: toHub }).resolve("acme/private:v1");
    expect(res).toMatchObject({ outcome: "unauthorized", status: 401, credential: "anonymous", registry: "docker.io" });
    expect(res.outcome === "unauthorized" && res.message).toContain(
      "Docker Hub answers 401 both for a private repository and for one that does not exist",
    );
    const withCred = await createRegistryClient({
      fetch: toHub,
      credentials: parseDockerConfig(
        JSON.stringify({ auths: { "https://index.docker.io/v1/": { auth: b64(`hubuser:${password}`) } } }),
        "/home/bot/.docker/config.json",
      ),
    }).resolve("acme/private:v1");
    expect(withCred).toMatchObject({ outcome: "found" });
  });
});
