/**
 * slack-app-manifest.yml against the real server: a signed slash command for the manifest's command, posted to the
 * manifest's URL path on the one-port server (src/server.ts), reaches the Slack handler and is answered; so does a
 * button click posted to the interactivity URL. Slack's own Web API is on nock (auth.test only).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { KubeConfig } from "@kubernetes/client-node";
import nock from "nock";
import { parse as parseYaml } from "yaml";
import { SLACK_HELP } from "../../src/intake/help.js";
import { loadEnv } from "../../src/env.js";
import { createLogger } from "../../src/logger.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { ACTION_OPEN } from "../../src/services/chat/slack-blocks.js";
import { blockActionBody, postForm, signSlack, slashCommandBody } from "../support/slack.js";

interface SlackManifest {
  features: { slash_commands: Array<{ command: string; url: string; should_escape?: boolean }>; bot_user?: unknown };
  oauth_config: { scopes: { bot: string[]; user?: string[] } };
  settings: {
    interactivity: { is_enabled: boolean; request_url: string };
    socket_mode_enabled: boolean;
    event_subscriptions?: unknown;
  };
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const manifest = parseYaml(readFileSync(path.join(ROOT, "slack-app-manifest.yml"), "utf8")) as SlackManifest;
const SIGNING_SECRET = "0123456789abcdef0123456789abcdef";

let bot: RunningServer;
let base: string;
let workDir: string;

beforeAll(async () => {
  workDir = mkdtempSync(path.join(tmpdir(), "slack-manifest-"));
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1"));
  // Bolt asks who it is once, on the first request (the server does not pass botId/botUserId).
  nock("https://slack.com")
    .persist()
    .post("/api/auth.test")
    .reply(200, { ok: true, user_id: "U0BOT", bot_id: "B0BOT", team_id: "T0TEAM" });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "none", server: "http://127.0.0.1:9", skipTLSVerify: true }],
    users: [{ name: "none" }],
    contexts: [{ name: "none", cluster: "none", user: "none" }],
    currentContext: "none",
  });
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const env = loadEnv({
    PORT: "0",
    HOST: "127.0.0.1",
    LOG_LEVEL: "silent",
    APP_ID: "1",
    PRIVATE_KEY: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    WEBHOOK_SECRET: "webhook-secret-for-tests",
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_BOT_TOKEN: "xoxb-0000000000-0000000000-testtesttesttest",
    WORK_DIR: workDir,
  });
  bot = await startServer({ env, logger: createLogger({ level: "silent" }), parts: { kubeConfig }, schedules: false });
  base = `http://127.0.0.1:${bot.port}`;
});

afterAll(async () => {
  await bot?.close();
  nock.cleanAll();
  nock.enableNetConnect();
  nock.restore();
  rmSync(workDir, { recursive: true, force: true });
});

describe("slack-app-manifest.yml", () => {
  it("declares one slash command, /preview, and no socket mode", () => {
    expect(manifest.features.slash_commands.map((c) => c.command)).toEqual(["/preview"]);
    expect(manifest.settings.socket_mode_enabled).toBe(false);
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
  });

  it("asks only for the bot scopes the code uses", () => {
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual(["chat:write", "commands"]);
    expect(manifest.oauth_config.scopes.user).toBeUndefined();
  });

  it("points the command and interactivity at the same HTTPS URL, /slack/events", () => {
    const command = new URL(manifest.features.slash_commands[0]!.url);
    const interactivity = new URL(manifest.settings.interactivity.request_url);
    expect(command.protocol).toBe("https:");
    expect(command.pathname).toBe("/slack/events");
    expect(interactivity.href).toBe(command.href);
  });

  it("its slash command, posted to its URL path on the bot's server, reaches the /preview handler", async () => {
    const { command, url } = manifest.features.slash_commands[0]!;
    const body = slashCommandBody({ command, text: "help" });
    const res = await postForm(`${base}${new URL(url).pathname}`, body, signSlack(SIGNING_SECRET, body));
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as { text: string }).text).toBe(SLACK_HELP);
  });

  it("a button click posted to its interactivity path is acknowledged by the handler", async () => {
    const body = blockActionBody({ userId: "U0ALICE", actionId: ACTION_OPEN, value: "open" });
    const res = await postForm(
      `${base}${new URL(manifest.settings.interactivity.request_url).pathname}`,
      body,
      signSlack(SIGNING_SECRET, body),
    );
    expect(res.status).toBe(200);
  });

  it("another path on the server does not reach Slack (the manifest's path is the one that matters)", async () => {
    const body = slashCommandBody({ command: "/preview", text: "help" });
    const res = await postForm(`${base}/slack/commands`, body, signSlack(SIGNING_SECRET, body));
    // Not answered by the /preview handler. (Today the server answers 500 here: Bolt's requestListener throws for
    // paths it does not serve and src/server.ts turns that into a 500; a 404 would be kinder.)
    expect(res.status).not.toBe(200);
    expect(res.body).not.toContain(SLACK_HELP.split("\n")[0]);
  });
});
