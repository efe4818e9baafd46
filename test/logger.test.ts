import { describe, expect, it } from "@jest/globals";
import { PassThrough } from "node:stream";
import { createLogger, redactText, registerSecret } from "../src/logger.js";

function capture() {
  const out = new PassThrough();
  const lines: string[] = [];
  out.on("data", (b: Buffer) => lines.push(b.toString()));
  return { log: createLogger({ level: "trace", destination: out }), text: () => lines.join("") };
}

const flush = () => new Promise((r) => setImmediate(r));

describe("the logger redacts secrets wherever they appear", () => {
  it("by key, by URL userinfo, in messages, errors, causes and child bindings", async () => {
    const { log, text } = capture();
    registerSecret("literal-admin-pass-42");
    log.info(
      { password: "hunter2", nested: { apiKey: "k-123456", token: "t-abcdef" }, ok: "visible" },
      "connecting to postgres://app:s3cr3t@db:5432/x",
    );
    const cause = new Error("auth failed for postgres://u:causepass@h/db");
    log.error({ err: new Error("outer literal-admin-pass-42", { cause }) }, "boom");
    log
      .child({ connectionString: "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc123==;" })
      .warn("child line");
    log.info(
      { headers: { authorization: "token ghs_0123456789abcdefghijklmnopqrstuvwxyz" } },
      "Bearer eyJhbGciOi.payload.sig",
    );
    log.info("container said PASSWORD=hunter3 and SLACK xoxb-1234567890-abcdefghij");
    await flush();
    const all = text();
    for (const secret of [
      "hunter2",
      "k-123456",
      "t-abcdef",
      "s3cr3t",
      "causepass",
      "literal-admin-pass-42",
      "abc123==",
      "ghs_0123456789",
      "eyJhbGciOi",
      "hunter3",
      "xoxb-1234567890",
    ]) {
      expect(all).not.toContain(secret);
    }
    expect(all).toContain("visible");
    expect(all).toContain("postgres://app:[REDACTED]@db:5432/x");
    expect(all).toContain("[REDACTED]");
  });

  it("leaves ordinary text alone", () => {
    expect(redactText("deployed acme/web#42 to https://pr-42.previews.example.com/ in 12 s")).toBe(
      "deployed acme/web#42 to https://pr-42.previews.example.com/ in 12 s",
    );
  });

  it("redacts private keys in free text", () => {
    expect(redactText("key: -----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----")).toBe(
      "key: [REDACTED PRIVATE KEY]",
    );
  });

  it.each([
    ['{"user":"app","password":"hunter2x"}', '{"user":"app","password":[REDACTED]}'],
    ['{ "db_password": "p@ss w0rd", "n": 1 }', '{ "db_password": [REDACTED], "n": 1 }'],
    ['{\\"apiToken\\":\\"tok-123456\\"}', '{\\"apiToken\\":[REDACTED]}'],
    ["ALTER ROLE app WITH LOGIN PASSWORD 'hunter2x'", "ALTER ROLE app WITH LOGIN PASSWORD [REDACTED]"],
    ["created the role with password hunter2x, then left", "created the role with password [REDACTED] then left"],
    [
      'psql: FATAL: password authentication failed for user "app"',
      'psql: FATAL: password authentication failed for user "app"',
    ],
  ])("redacts %s", (input, output) => {
    expect(redactText(input)).toBe(output);
  });

  it("redacts a private key quoted in part, or with escaped newlines, and each line of a registered one", () => {
    expect(redactText("yaml error at: -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1x2y3z\nQ7 ^ here")).toBe(
      "yaml error at: [REDACTED PRIVATE KEY]^ here",
    );
    expect(redactText('{"message":"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkq\\n-----END PRIVATE KEY-----"}')).toBe(
      '{"message":"[REDACTED PRIVATE KEY]"}',
    );
    registerSecret(
      "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAregisteredline0001\nZZZZsecondlineofthekey0002\n-----END RSA PRIVATE KEY-----\n",
    );
    expect(redactText("context: ZZZZsecondlineofthekey0002 <- here")).toBe("context: [REDACTED] <- here");
  });
});
