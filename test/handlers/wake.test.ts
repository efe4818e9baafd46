/**
 * The wake door alone (src/handlers/wake.ts) on a loopback server, with the namespaces it reads given as the cluster
 * would list them: who wakes a preview, what the page is, which hosts are its own.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createServer, request, type Server } from "node:http";
import { createWakeDoor, isRealVisitor } from "../../src/handlers/wake.js";
import { createLogger } from "../../src/logger.js";
import type { NamespaceListing } from "../../src/services/shared/preview.js";
import type { Request } from "../../src/services/shared/request.js";
import { HEALTH_CHECK_USER_AGENT } from "../../src/services/shared/sleep.js";

const BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15";

describe("isRealVisitor", () => {
  it.each([
    ["a browser", "GET", BROWSER, true],
    ["curl", "GET", "curl/8.5.0", true],
    ["a browser's POST", "POST", BROWSER, true],
    ["Slack's unfurler", "GET", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", false],
    ["Slack's image proxy", "GET", "Slack-ImgProxy (+https://api.slack.com/robots)", false],
    ["GitHub's camo", "GET", "github-camo (876de43e)", false],
    ["Twitter", "GET", "Twitterbot/1.0", false],
    ["Facebook", "GET", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", false],
    ["LinkedIn", "GET", "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)", false],
    ["Discord", "GET", "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", false],
    ["Google", "GET", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", false],
    ["the bot's own health check", "GET", HEALTH_CHECK_USER_AGENT, false],
    ["no User-Agent", "GET", "", false],
    ["a HEAD", "HEAD", BROWSER, false],
  ])("%s", (_what, method, ua, expected) => {
    expect(isRealVisitor(method, ua)).toBe(expected);
  });
});

describe("the wake door", () => {
  let server: Server;
  let port: number;
  const submitted: Request[] = [];
  let lists = 0;
  const namespaces: NamespaceListing[] = [
    {
      name: "web-pr-5",
      phase: "Active",
      labels: { "app.kubernetes.io/managed-by": "preview-bot", "preview-bot.dev/pr": "5" },
      annotations: {
        "preview-bot.dev/repository": "acme/web",
        "preview-bot.dev/asleep-since": "2026-12-01T10:00:00.000Z",
        "preview-bot.dev/wake-hosts": "web-pr-5.previews.example.test,alt.example.test",
        "preview-bot.dev/installation": "77",
      },
    },
    {
      name: "web-pr-6",
      phase: "Active",
      labels: { "app.kubernetes.io/managed-by": "preview-bot", "preview-bot.dev/pr": "6" },
      annotations: {
        "preview-bot.dev/repository": "acme/web",
        "preview-bot.dev/wake-hosts": "web-pr-6.previews.example.test",
      },
    },
  ];
  const door = createWakeDoor({
    cluster: {
      listNamespaces: async () => {
        lists++;
        return namespaces;
      },
    },
    submit: async (r) => void submitted.push(r),
    logger: createLogger({ level: "silent" }),
    cacheMs: 60_000,
    resubmitMs: 60_000,
  });
  const get = (host: string, ua: string, method = "GET") =>
    new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
      request({ host: "127.0.0.1", port, method, path: "/cart?x=1", headers: { host, "user-agent": ua } }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      })
        .on("error", reject)
        .end();
    });

  beforeAll(async () => {
    server = createServer(async (req, res) => {
      if (!(await door.listener(req, res))) res.writeHead(404).end("not the door's");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("an unfurler gets the waking page and asks for nothing", async () => {
    const r = await get("web-pr-5.previews.example.test", "Slackbot-LinkExpanding 1.0");
    expect(r.status).toBe(503);
    expect(r.headers["cache-control"]).toBe("no-store");
    expect(r.body).toContain('<meta http-equiv="refresh" content="3">');
    expect(submitted).toEqual([]);
  });

  it("a browser (any path, any port in the Host) gets the page and asks for one wake of that preview", async () => {
    const r = await get("WEB-PR-5.previews.example.test:443", BROWSER);
    expect(r.status).toBe(503);
    expect(submitted).toEqual([
      {
        door: "visitor",
        action: "wake",
        subject: { kind: "pull", owner: "acme", repo: "web", number: 5, installationId: 77 },
        actor: "a visitor",
        args: {},
        trigger: "a visitor opened the preview",
        deliveryId: "wake web-pr-5 2026-12-01T10:00:00.000Z",
      },
    ]);
    await get("alt.example.test", BROWSER);
    expect(submitted).toHaveLength(1); // the same preview: asked for once
  });

  it("an awake preview's host and any other host are not the door's; one look serves every request", async () => {
    expect((await get("web-pr-6.previews.example.test", BROWSER)).status).toBe(404);
    expect((await get("bot.example.test", BROWSER)).status).toBe(404);
    expect(lists).toBe(1);
  });
});
