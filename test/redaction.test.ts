/**
 * Linear-time redaction (src/redaction.ts). The regular expressions the logger used before are kept here as the
 * reference: on ordinary text (property-tested with fast-check, plus a table of real shapes) both redact the same.
 * On hostile text the old ones were quadratic (a 160 KB `resources` entry took minutes); these cases are the attack
 * texts, with bounds so generous that only a super-linear implementation can miss them (the speed target itself,
 * 10 MB in ≤ 1 s, is a bench row: `npm run bench`).
 */
import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { redactPatterns } from "../src/redaction.js";

/** The logger's patterns before issue 20 (src/logger.ts at 0316f7c), applied in order. */
const OLD: Array<[RegExp, string]> = [
  [/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]+:)[^@\s/]+@/gi, "$1[REDACTED]@"],
  [/(AccountKey=)[^;\s]+/gi, "$1[REDACTED]"],
  [/(SharedAccessSignature=)[^;\s]+/gi, "$1[REDACTED]"],
  [/([?&]sig=)[^&\s]+/gi, "$1[REDACTED]"],
  [/(bearer\s+)[A-Za-z0-9._~+/-]+=*/gi, "$1[REDACTED]"],
  [/\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b/g, "[REDACTED]"],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}\b/g, "[REDACTED]"],
  [
    /-----BEGIN [A-Z ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----|(?:\s|\\[nr]|[A-Za-z0-9+/=])*)/g,
    "[REDACTED PRIVATE KEY]",
  ],
  [
    /\b([A-Z0-9_-]*(PASSWORD|PASSWD|SECRET|TOKEN|ACCOUNT_KEY|API_KEY|APIKEY)[A-Z0-9_-]*(?:\\?["'])?\s*[=:]\s*)(\\?"(?:[^"\\]|\\[^"])*\\?"|'[^']*'|[^\s,;}&"']+)/gi,
    "$1[REDACTED]",
  ],
  [/\b(password\s+)('(?:[^']|'')*'|"[^"]*")/gi, "$1[REDACTED]"],
  [/\b(with\s+(?:encrypted\s+)?password\s+)(?!\[REDACTED\])(\S+)/gi, "$1[REDACTED]"],
];
const old = (text: string) => OLD.reduce((out, [re, repl]) => out.replace(re, repl), text);

const GH = `ghp_${"a1B2".repeat(9)}`;
const KEY = ["-----BEGIN RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEAx1", "abc+/=", "-----END RSA PRIVATE KEY-----"].join(
  "\n",
);

describe("redaction, the same as before on real shapes", () => {
  it.each([
    "connecting to postgres://app:s3cr3t-pw@db.internal:5432/app?sslmode=require",
    "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=abc123==;EndpointSuffix=core.windows.net",
    "SharedAccessSignature=sv=2020&sig=Zm9vYmFy; other",
    "GET https://acct.blob.core.windows.net/c/b?sv=2020&sig=abc%2Fdef&se=2026 200",
    "Authorization: Bearer eyJhbGciOi.J9.abc-_def==",
    `token ${GH} leaked`,
    "slack xoxb-1234567890-abcdefghij ok",
    `key:\n${KEY}\ndone`,
    "-----BEGIN PRIVATE KEY-----\\nMIIEv\\nabc== (escaped, cut short)",
    "DATABASE_PASSWORD=hunter22 API_KEY: 'abc def' ok",
    '{"password": "p@ss word", "user": "x"}',
    'error: {\\"token\\":\\"abc\\"} at line',
    "ALTER ROLE app WITH ENCRYPTED PASSWORD 'x''y' LOGIN",
    "create role r with password hunter2",
    "nothing secret here: 10 pods, 3 services, sha abc123",
    "PASSWORD_RESET_URL=https://x password   'quoted'",
    // Found by the property below (seed -1453536462): an escaped single quote before the colon.
    "PASSWORD\\':postgres://",
  ])("%s", (text) => {
    expect(redactPatterns(text)).toBe(old(text));
  });

  it("agrees with the old patterns on generated text made of the patterns' own pieces", () => {
    const piece = fc.constantFrom(
      "postgres://",
      "u",
      ":",
      "p@",
      "@",
      "host",
      " ",
      "\n",
      "AccountKey=",
      ";",
      "?sig=",
      "&",
      "Bearer ",
      "tok.en",
      "ghp_",
      "a1B2c3D4e5F6g7H8i9J0k",
      "xoxb-",
      "1234567890",
      "-----BEGIN RSA PRIVATE KEY-----",
      "MIIab+/=",
      "-----END RSA PRIVATE KEY-----",
      "PASSWORD",
      "SECRET_",
      "=",
      '"',
      "'",
      "value",
      ",",
      "password ",
      "with ",
      "encrypted ",
      "x",
      "_",
      "-",
      "\\",
      "}",
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (pieces) => {
        const text = pieces.join("");
        expect(redactPatterns(text)).toBe(old(text));
      }),
      { numRuns: 3000 },
    );
  });
});

describe("hostile text redacts in linear time", () => {
  const MB = 1024 * 1024;
  // Each was super-linear with the old expressions (minutes at 160 KB); a linear pass takes well under a second.
  it.each<[string, string]>([
    ["a long run of scheme-like characters", "a".repeat(2 * MB)],
    ["repeated url openings", "a://b:".repeat((2 * MB) / 6)],
    ["a huge identifier full of secret words", "PASSWORDSECRETTOKEN_".repeat((2 * MB) / 20)],
    ["secret words with assignments and no value end", `password:${"x".repeat(2 * MB)}`],
    ["repeated unterminated quotes", 'password="'.repeat((2 * MB) / 10)],
    ["repeated key headers with no end", "-----BEGIN RSA PRIVATE KEY-----".repeat((2 * MB) / 31)],
    ["repeated account keys", "AccountKey=".repeat((2 * MB) / 11)],
    ["a kustomization's 2 MB resources entry", `resources:\n- ${"../".repeat((2 * MB) / 3)}`],
  ])(
    "%s (2 MB)",
    (_name, text) => {
      const started = process.hrtime.bigint();
      redactPatterns(text);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // Generous: ~0.1 s is typical on a loaded 2-core machine; the old expressions took minutes on 160 KB.
      expect(seconds).toBeLessThan(20);
    },
    60_000,
  );
});
