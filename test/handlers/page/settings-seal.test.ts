/** The page's settings say what is wrong by name; sealed values open only for their purpose, key and lifetime. */
import { describe, expect, it } from "@jest/globals";
import { Sealer } from "../../../src/handlers/page/seal.js";
import { loadPageSettings } from "../../../src/handlers/page/settings.js";

const SECRET = "a".repeat(16) + "b".repeat(16);
const OLD = "o".repeat(40);
const full = {
  PREVIEW_BOT_URL: "https://preview-bot.example.com",
  GITHUB_CLIENT_ID: "Iv23liABC",
  GITHUB_CLIENT_SECRET: "shh",
  PREVIEW_AUTH_SECRET: SECRET,
};

describe("page settings", () => {
  it("are off when none of the page's variables is set", () => {
    expect(loadPageSettings({ APP_ID: "1" })).toBeUndefined();
  });

  it("name every missing or bad variable", () => {
    expect(() =>
      loadPageSettings({ PREVIEW_BOT_URL: "https://preview-bot.example.com/x", PREVIEW_AUTH_SECRET: "short" }),
    ).toThrow(
      /PREVIEW_BOT_URL: an origin only[\s\S]*GITHUB_CLIENT_ID[\s\S]*GITHUB_CLIENT_SECRET[\s\S]*PREVIEW_AUTH_SECRET: at least 32/,
    );
  });

  it("keep cookies Secure except for a bot on http://localhost", () => {
    expect(() => loadPageSettings({ ...full, PREVIEW_BOT_URL: "http://preview-bot.example.com" })).toThrow(
      /PREVIEW_BOT_URL: must be https/,
    );
    expect(() => loadPageSettings({ ...full, PREVIEW_AUTH_INSECURE_COOKIES: "true" })).toThrow(
      /only for a bot on http:\/\/localhost/,
    );
    expect(
      loadPageSettings({ ...full, PREVIEW_BOT_URL: "http://localhost:3000", PREVIEW_AUTH_INSECURE_COOKIES: "true" })
        ?.secureCookies,
    ).toBe(false);
    expect(loadPageSettings(full)?.secureCookies).toBe(true);
  });

  it("derive GitHub Enterprise Server URLs, the auth URL and the bot's Service", () => {
    const s = loadPageSettings({ ...full, GHE_HOST: "github.acme.internal", BOT_NAMESPACE: "bots" })!;
    expect(s.github).toEqual({ web: "https://github.acme.internal", api: "https://github.acme.internal/api/v3" });
    expect(s.authUrl).toBe("https://preview-bot.example.com/auth/check");
    expect(s.botService).toEqual({ namespace: "bots", name: "preview-bot", port: 80 });
    expect(s.accessTtlMs).toBe(120_000);
    expect(loadPageSettings(full)!.github).toEqual({ web: "https://github.com", api: "https://api.github.com" });
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
