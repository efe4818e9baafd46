/** The page's settings say what is wrong by name; sealed values open only for their purpose, key and lifetime. */
import { describe, expect, it } from "@jest/globals";
import { Sealer } from "../../../src/handlers/page/seal.js";
import { loadEnv } from "../../../src/env.js";
import { accessSettingsOf, pageSetup } from "../../../src/handlers/page/settings.js";

const SECRET = "a".repeat(16) + "b".repeat(16);
const OLD = "o".repeat(40);
const full = {
  PREVIEW_BOT_URL: "https://preview-bot.example.com",
  GITHUB_CLIENT_ID: "Iv23liABC",
  GITHUB_CLIENT_SECRET: "shh",
  PREVIEW_AUTH_SECRET: SECRET,
};

/** The page's setup from these variables, through the bot's own settings (env.ts) as production reads them. */
const setup = (vars: Record<string, string>) => pageSetup(loadEnv(vars));
const on = (vars: Record<string, string>) => {
  const s = setup(vars);
  if (!s.on) throw new Error(`page off: ${s.reason}`);
  return s.settings;
};

describe("page settings", () => {
  it("are off, saying how to turn them on, when none of the page's variables is set", () => {
    expect(setup({ APP_ID: "1" })).toEqual({
      on: false,
      reason: expect.stringMatching(/not configured \(set PREVIEW_BOT_URL, GITHUB_CLIENT_ID/),
    });
  });

  it("leave the page off and name every missing variable when only some are set (the bot still starts)", () => {
    const s = setup({ PREVIEW_BOT_URL: "https://preview-bot.example.com", GITHUB_CLIENT_ID: "Iv23liABC" });
    expect(s).toEqual({ on: false, reason: "GITHUB_CLIENT_SECRET is missing; PREVIEW_AUTH_SECRET is missing" });
  });

  it("refuse a malformed value with the bot's other settings, naming it", () => {
    expect(() => loadEnv({ ...full, PREVIEW_BOT_URL: "https://preview-bot.example.com/x" })).toThrow(
      /PREVIEW_BOT_URL: an origin only/,
    );
    expect(() => loadEnv({ ...full, PREVIEW_AUTH_SECRET: "short" })).toThrow(/PREVIEW_AUTH_SECRET: at least 32/);
    expect(() => loadEnv({ ...full, PREVIEW_ACCESS_GATEWAY: "traefik" })).toThrow(/PREVIEW_ACCESS_GATEWAY/);
  });

  it("keep cookies Secure except for a bot on http://localhost", () => {
    expect(setup({ ...full, PREVIEW_BOT_URL: "http://preview-bot.example.com" })).toEqual({
      on: false,
      reason: expect.stringMatching(/PREVIEW_BOT_URL must be https/),
    });
    expect(setup({ ...full, PREVIEW_AUTH_INSECURE_COOKIES: "true" })).toEqual({
      on: false,
      reason: expect.stringMatching(/only for a bot on http:\/\/localhost/),
    });
    expect(
      on({ ...full, PREVIEW_BOT_URL: "http://localhost:3000", PREVIEW_AUTH_INSECURE_COOKIES: "true" }).secureCookies,
    ).toBe(false);
    // Browsers keep Secure cookies on http://localhost: only the flag drops them.
    expect(on({ ...full, PREVIEW_BOT_URL: "http://bot.localhost:3000" }).secureCookies).toBe(true);
    expect(on(full).secureCookies).toBe(true);
  });

  it("derive GitHub Enterprise Server URLs, the auth URL and the bot's Service", () => {
    const s = on({ ...full, GHE_HOST: "github.acme.internal", BOT_NAMESPACE: "bots" });
    expect(s.github).toEqual({ web: "https://github.acme.internal", api: "https://github.acme.internal/api/v3" });
    expect(s.authUrl).toBe("https://preview-bot.example.com/auth/check");
    expect(s.botService).toEqual({ namespace: "bots", name: "preview-bot", port: 80 });
    expect(s.accessTtlMs).toBe(120_000);
    expect(on(full).github).toEqual({ web: "https://github.com", api: "https://api.github.com" });
    expect(on({ ...full, PREVIEW_BOT_SERVICE: "edge/bot:8080" }).botService).toEqual({
      namespace: "edge",
      name: "bot",
      port: 8080,
    });
  });

  it("tell the render why protected previews cannot be deployed while the page is off", () => {
    expect(accessSettingsOf(setup({ GITHUB_CLIENT_ID: "x" }))).toEqual({
      unavailable: expect.stringMatching(/sign-in \(the preview page\) is off: PREVIEW_BOT_URL is missing/),
    });
    expect(accessSettingsOf(setup({ ...full, PREVIEW_ACCESS_GATEWAY: "ingress-nginx" }))).toEqual({
      gateway: "ingress-nginx",
      botUrl: "https://preview-bot.example.com",
      authUrl: "https://preview-bot.example.com/auth/check",
      botService: { namespace: "preview-bot", name: "preview-bot", port: 80 },
    });
  });
});

describe("sealed values", () => {
  const now = 1_800_000_000_000;
  const sealer = new Sealer([SECRET], () => now);

  it("open for their purpose only, and hide what they carry", () => {
    const v = sealer.seal("access:a.example", { token: "ghu_secret" }, 60_000);
    expect(v).not.toContain("ghu_");
    expect(Buffer.from(v, "base64url").toString("latin1")).not.toContain("ghu_secret");
    expect(sealer.open("access:a.example", v)).toMatchObject({ token: "ghu_secret" });
    expect(sealer.open("access:b.example", v)).toBeUndefined();
    expect(sealer.open("session", v)).toBeUndefined();
  });

  it("refuse a value changed anywhere", () => {
    const v = sealer.seal("session", { login: "rita" }, 60_000);
    for (const i of [0, 14, v.length - 2]) {
      const c = v[i] === "A" ? "B" : "A";
      expect(sealer.open("session", v.slice(0, i) + c + v.slice(i + 1))).toBeUndefined();
    }
  });

  it("expire", () => {
    const v = sealer.seal("session", { login: "rita" }, 60_000);
    expect(new Sealer([SECRET], () => now + 59_999).open("session", v)).toBeDefined();
    expect(new Sealer([SECRET], () => now + 60_000).open("session", v)).toBeUndefined();
  });

  it("rotate: the first secret seals, every listed one opens", () => {
    const old = new Sealer([OLD], () => now).seal("session", { login: "rita" }, 60_000);
    expect(new Sealer([SECRET, OLD], () => now).open("session", old)).toMatchObject({ login: "rita" });
    expect(new Sealer([SECRET], () => now).open("session", old)).toBeUndefined();
  });
});
