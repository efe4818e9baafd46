/**
 * The process as a new user meets it: no credentials → it still starts, answers /healthz, says it is not ready,
 * serves the GitHub App registration from app.yml (with the preview page's callback URL), and the manifest code
 * exchange writes the credentials (the App's, and its client for the page's sign-in). With
 * WEBHOOK_PROXY_URL set (local development), the app is registered with the proxy as its webhook URL.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import nock from "nock";
import { loadEnv } from "../src/env.js";
import { pageSetup } from "../src/handlers/page/settings.js";
import { createLogger } from "../src/logger.js";
import { startServer, type RunningServer } from "../src/server.js";

let bot: RunningServer;
let dir: string;
const lines: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "setup-"));
  const out = new PassThrough();
  out.on("data", (b: Buffer) => lines.push(...b.toString().split("\n").filter(Boolean)));
  bot = await startServer({
    env: loadEnv({ PORT: "0", HOST: "127.0.0.1", ENV_FILE: join(dir, ".env") }),
    logger: createLogger({ level: "info", destination: out }),
  });
});

afterAll(async () => {
  await bot.close();
  nock.cleanAll();
  nock.restore();
  rmSync(dir, { recursive: true, force: true });
});

const get = (path: string) => fetch(`http://127.0.0.1:${bot.port}${path}`, { redirect: "manual" });

/** The app manifest the /probot page would post to GitHub. */
async function manifestOf(port: number): Promise<Record<string, any>> {
  const html = await (await fetch(`http://127.0.0.1:${port}/probot`)).text();
  const value = /name="manifest" value="([^"]*)"/.exec(html)?.[1] ?? "";
  return JSON.parse(value.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))));
}

describe("npm start with no credentials", () => {
  it("answers /healthz and reports not ready, and tells the user what to do next", async () => {
    expect((await get("/healthz")).status).toBe(200);
    const ready = await get("/readyz");
    expect(ready.status).toBe(503);
    expect(await ready.text()).toContain("/probot");
    expect(lines.join("\n")).toMatch(/no GitHub App credentials yet.*\/probot.*Register GitHub App/);
    expect((await get("/metrics")).status).toBe(200);
    expect((await get("/nowhere")).status).toBe(404);
  });

  it("serves the registration page with the manifest from app.yml and this server's webhook URL", async () => {
    const res = await get("/probot");
    expect(res.status).toBe(200);
    const html = await res.text();
    const value = /name="manifest" value="([^"]*)"/.exec(html)?.[1] ?? "";
    const manifest = JSON.parse(value.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))));
    expect(manifest.hook_attributes.url).toBe(`http://127.0.0.1:${bot.port}/api/github/webhooks`);
    expect(manifest.redirect_url).toBe(`http://127.0.0.1:${bot.port}/probot/setup`);
    // The preview page's GitHub sign-in returns here (GitHub accepts only a registered callback URL).
    expect(manifest.callback_urls).toEqual([`http://127.0.0.1:${bot.port}/auth/callback`]);
    expect(manifest.default_events).toEqual(expect.arrayContaining(["pull_request", "issue_comment"]));
    expect(manifest.default_permissions).toMatchObject({ checks: "write", deployments: "write", contents: "read" });
    expect(html).toContain('action="https://github.com/settings/apps/new"');
  });

  it("exchanges the manifest code for credentials, writes them to the env file, and never logs the key", async () => {
    const pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEfake\n-----END RSA PRIVATE KEY-----\n";
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
    const scope = nock("https://api.github.com").post("/app-manifests/abc123/conversions").reply(201, {
      id: 4242,
      slug: "my-preview-bot",
      pem,
      webhook_secret: "whsec-0123456789",
      html_url: "https://github.com/apps/my-preview-bot",
      client_id: "Iv23liClientId0001",
      client_secret: "client-secret-0123456789abcdef",
    });
    const res = await get("/probot/setup?code=abc123");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://github.com/apps/my-preview-bot/installations/new");
    expect(scope.isDone()).toBe(true);
    // What the next start reads: Node's own .env parser (process.loadEnvFile), in a child process.
    const read = execFileSync(
      process.execPath,
      ["-e", `process.loadEnvFile(${JSON.stringify(join(dir, ".env"))}); console.log(JSON.stringify(process.env))`],
      { encoding: "utf8" },
    );
    const written = JSON.parse(read) as Record<string, string>;
    expect([written.APP_ID, written.PRIVATE_KEY, written.WEBHOOK_SECRET]).toEqual(["4242", pem, "whsec-0123456789"]);
    // The page's sign-in: the App's client, the URL its callback was registered with, a new cookie key.
    expect(written).toMatchObject({
      GITHUB_CLIENT_ID: "Iv23liClientId0001",
      GITHUB_CLIENT_SECRET: "client-secret-0123456789abcdef",
      PREVIEW_BOT_URL: `http://127.0.0.1:${bot.port}`,
      PREVIEW_AUTH_INSECURE_COOKIES: "true",
    });
    expect(written.PREVIEW_AUTH_SECRET!.length).toBeGreaterThanOrEqual(32);
    // What the next start makes of it: the page is on.
    const pageVars = [
      "GITHUB_CLIENT_ID",
      "GITHUB_CLIENT_SECRET",
      "PREVIEW_BOT_URL",
      "PREVIEW_AUTH_INSECURE_COOKIES",
      "PREVIEW_AUTH_SECRET",
    ];
    const next = loadEnv(Object.fromEntries(pageVars.map((k) => [k, written[k]])));
    expect(pageSetup(next)).toMatchObject({ on: true, settings: { botUrl: `http://127.0.0.1:${bot.port}` } });
    expect(lines.join("\n")).not.toContain("client-secret-0123456789abcdef");
    expect(statSync(join(dir, ".env")).mode & 0o077).toBe(0);
    expect(lines.join("\n")).not.toContain("MIIEfake");
    expect(lines.join("\n")).not.toContain("whsec-0123456789");
    expect((await get("/probot/setup?code=../../etc")).status).toBe(400);
  });
});

describe("first-run safety: nobody on the network can register their own app into the bot", () => {
  /** This machine's first non-loopback IPv4 address, if it has one. */
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === "IPv4" && !i.internal)?.address;

  it("serves the registration to loopback only, says so in its log, and still answers health checks from anywhere", async () => {
    const out: string[] = [];
    const open = await startServer({
      env: loadEnv({ PORT: "0", HOST: "0.0.0.0", ENV_FILE: join(dir, ".env.open") }),
      logger: createLogger({
        level: "info",
        destination: { write: (l: string) => void out.push(l) } as unknown as NodeJS.WritableStream,
      }),
    });
    try {
      expect(out.join("\n")).toContain("Registration is served to loopback only");
      // Through a proxy on this machine (a forwarding header): not this machine's user.
      const proxied = await fetch(`http://127.0.0.1:${open.port}/probot`, {
        headers: { "x-forwarded-for": "203.0.113.9" },
      });
      expect(proxied.status).toBe(403);
      expect(await proxied.text()).toContain("registration is served only on this machine (loopback)");
      const code = await fetch(`http://127.0.0.1:${open.port}/probot/setup?code=attacker`, {
        headers: { forwarded: "for=203.0.113.9" },
      });
      expect(code.status).toBe(403);
      expect((await fetch(`http://127.0.0.1:${open.port}/probot`)).status).toBe(200);
      if (!external) {
        console.warn("this machine has no non-loopback IPv4 address: the direct remote case is not tried here");
        return;
      }
      // From another address of this machine, which the server sees as a network peer (nock lets it through).
      nock.enableNetConnect((host) => host.startsWith("127.0.0.1") || host.startsWith(`${external}:`));
      const remote = await fetch(`http://${external}:${open.port}/probot`);
      expect(remote.status).toBe(403);
      expect((await fetch(`http://${external}:${open.port}/probot/setup?code=attacker`)).status).toBe(403);
      expect((await fetch(`http://${external}:${open.port}/healthz`)).status).toBe(200);
      expect(out.join("\n")).toContain(
        "refused /probot to a client that is not this machine: the GitHub App registration is served to loopback only",
      );
      expect(existsSync(join(dir, ".env.open"))).toBe(false);
    } finally {
      await open.close();
    }
  });
});

describe("npm start with no credentials and WEBHOOK_PROXY_URL", () => {
  it("registers the app with the proxy as its webhook URL (GitHub cannot reach localhost) and says so", async () => {
    const proxy = "https://smee.io/AbCdEf0123456789";
    const out: string[] = [];
    const withProxy = await startServer({
      env: loadEnv({ PORT: "0", HOST: "127.0.0.1", ENV_FILE: join(dir, ".env.proxy"), WEBHOOK_PROXY_URL: proxy }),
      logger: createLogger({
        level: "info",
        destination: { write: (l: string) => void out.push(l) } as unknown as NodeJS.WritableStream,
      }),
    });
    try {
      const manifest = await manifestOf(withProxy.port);
      expect(manifest.hook_attributes.url).toBe(proxy);
      expect(manifest.redirect_url).toBe(`http://127.0.0.1:${withProxy.port}/probot/setup`);
      expect(out.join("\n")).toContain("registered with the webhook proxy (WEBHOOK_PROXY_URL)");
    } finally {
      await withProxy.close();
    }
    // Without it, the first server (above) registers its own address and tells the user how to get a proxy.
    expect((await manifestOf(bot.port)).hook_attributes.url).toBe(`http://127.0.0.1:${bot.port}/api/github/webhooks`);
    expect(lines.join("\n")).toContain("set WEBHOOK_PROXY_URL");
  });

  it("refuses a WEBHOOK_PROXY_URL that is not an http(s) URL, naming the variable", () => {
    expect(() => loadEnv({ WEBHOOK_PROXY_URL: "smee.io/abc" })).toThrow(/WEBHOOK_PROXY_URL/);
    expect(() => loadEnv({ WEBHOOK_PROXY_URL: "file:///etc/passwd" })).toThrow(/WEBHOOK_PROXY_URL/);
  });
});
