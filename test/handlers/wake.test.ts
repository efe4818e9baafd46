/**
 * The wake door alone (src/handlers/wake.ts) on a loopback server, with the namespaces it reads given as the cluster
 * would list them: who wakes a preview, what the page is, which hosts are its own.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createServer, request, type Server } from "node:http";
import { createWakeDoor, isRealVisitor, RecentAsks } from "../../src/handlers/wake.js";
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

/**
 * The door on a loopback server for the enclosing describe (started in its beforeAll, closed in its afterAll), and a
 * request to it as a browser at `host` would send one.
 */
function serveDoor(door: ReturnType<typeof createWakeDoor>) {
  let server: Server;
  let port = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      void Promise.resolve(door.listener(req, res)).then((served) => {
        if (!served) res.writeHead(404).end("not the door's");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  return (host: string, ua: string, method: string, path: string) =>
    new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
      request({ host: "127.0.0.1", port, method, path, headers: { host, "user-agent": ua } }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      })
        .on("error", reject)
        .end();
    });
}

describe("the wake door", () => {
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
  const visit = serveDoor(door);
  const get = (host: string, ua: string, method = "GET") => visit(host, ua, method, "/cart?x=1");

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

describe("the wake door when things change or fail", () => {
  const sleeping = (name: string, number: number, extra: Record<string, string> = {}): NamespaceListing => ({
    name,
    phase: "Active",
    labels: { "app.kubernetes.io/managed-by": "preview-bot", "preview-bot.dev/pr": String(number) },
    annotations: {
      "preview-bot.dev/repository": "acme/web",
      "preview-bot.dev/asleep-since": "2026-12-01T10:00:00.000Z",
      "preview-bot.dev/wake-hosts": `${name}.previews.example.test`,
      ...extra,
    },
  });
  let namespaces: NamespaceListing[] = [];
  let listing: () => Promise<NamespaceListing[]> = async () => namespaces;
  let submitting: (r: Request) => Promise<void> = async () => {};
  const submitted: Request[] = [];
  const door = createWakeDoor({
    cluster: { listNamespaces: () => listing() },
    submit: async (r) => {
      submitted.push(r);
      await submitting(r);
    },
    logger: createLogger({ level: "silent" }),
    cacheMs: 60_000,
    resubmitMs: 60_000,
  });
  const visit = serveDoor(door);
  const call = (host: string, method = "GET", ua = BROWSER) =>
    visit(host, ua, method, "/").then(({ status, body }) => ({ status, body }));

  it("a cluster that cannot be read serves no page, and the next request looks again", async () => {
    listing = async () => {
      throw new Error("503 from the API server");
    };
    expect((await call("web-pr-7.previews.example.test")).status).toBe(404);
    namespaces = [sleeping("web-pr-7", 7)];
    listing = async () => namespaces;
    expect((await call("web-pr-7.previews.example.test")).status).toBe(503);
  });

  it("a HEAD gets the status and headers, no page and no wake", async () => {
    submitted.length = 0;
    door.refresh();
    namespaces = [sleeping("web-pr-8", 8)];
    const r = await call("web-pr-8.previews.example.test", "HEAD");
    expect(r).toEqual({ status: 503, body: "" });
    expect(submitted).toEqual([]);
  });

  it("a wake the intake refused is asked for again by the next visitor, without waiting", async () => {
    submitted.length = 0;
    door.refresh();
    namespaces = [sleeping("web-pr-9", 9)];
    submitting = async () => {
      throw new Error("the queue is not reachable");
    };
    expect((await call("web-pr-9.previews.example.test")).status).toBe(503);
    expect(submitted).toHaveLength(1);
    submitting = async () => {};
    // The refusal is handled after the page is sent: ask until the door has forgotten the failed wake.
    for (let i = 0; i < 200 && submitted.length < 2; i++) await call("web-pr-9.previews.example.test");
    expect(submitted).toHaveLength(2);
    await call("web-pr-9.previews.example.test");
    expect(submitted).toHaveLength(2); // asked once it went through
  });

  it("serves only sleeping previews it can name: not terminating, not without a repository, not once awake", async () => {
    door.refresh();
    namespaces = [
      { ...sleeping("web-pr-10", 10), phase: "Terminating" },
      {
        ...sleeping("web-pr-11", 11),
        annotations: {
          "preview-bot.dev/wake-hosts": "web-pr-11.previews.example.test",
          "preview-bot.dev/asleep-since": "2026-12-01T10:00:00.000Z",
        },
      },
      sleeping("web-pr-12", 12),
    ];
    expect((await call("web-pr-10.previews.example.test")).status).toBe(404);
    expect((await call("web-pr-11.previews.example.test")).status).toBe(404);
    expect((await call("web-pr-12.previews.example.test")).status).toBe(503);
    namespaces = [{ ...sleeping("web-pr-12", 12), annotations: { "preview-bot.dev/repository": "acme/web" } }];
    expect((await call("web-pr-12.previews.example.test")).status).toBe(503); // still within the cache period
    door.refresh();
    expect((await call("web-pr-12.previews.example.test")).status).toBe(404);
  });

  it("a preview that wakes and falls asleep again within the resubmit period is woken again at once", async () => {
    submitted.length = 0;
    door.refresh();
    namespaces = [sleeping("web-pr-14", 14)];
    await call("web-pr-14.previews.example.test");
    expect(submitted.map((r) => r.deliveryId)).toEqual(["wake web-pr-14 2026-12-01T10:00:00.000Z"]);
    // Woken, then asleep again seconds later (resubmitMs is a minute here): a new sleep, a new wake.
    namespaces = [sleeping("web-pr-14", 14, { "preview-bot.dev/asleep-since": "2026-12-01T10:00:09.000Z" })];
    door.refresh();
    await call("web-pr-14.previews.example.test");
    expect(submitted.map((r) => r.deliveryId)).toEqual([
      "wake web-pr-14 2026-12-01T10:00:00.000Z",
      "wake web-pr-14 2026-12-01T10:00:09.000Z",
    ]);
    await call("web-pr-14.previews.example.test");
    expect(submitted).toHaveLength(2); // the same sleep: asked for once
  });

  it("the page says nothing about the preview it stands for", async () => {
    door.refresh();
    namespaces = [sleeping("web-pr-13", 13, { "preview-bot.dev/installation": "77" })];
    const { body } = await call("web-pr-13.previews.example.test");
    expect(body).toContain("Waking up the preview");
    for (const secretish of ["web-pr-13", "acme", "77", "previews.example.test"]) expect(body).not.toContain(secretish);
  });
});

describe("RecentAsks (the wake door's record of the wakes it asked for)", () => {
  it("holds only the asks of the last period, however many previews were asked for", () => {
    let now = 0;
    const asks = new RecentAsks(15_000, () => now);
    for (let i = 0; i < 1_000; i++) expect(asks.ask(`web-pr-${i} 1`)).toBe(true);
    expect(asks.size).toBe(1_000);
    now = 10_000;
    expect(asks.ask("web-pr-0 1")).toBe(false); // within the period: not due
    expect(asks.ask("web-pr-1000 1")).toBe(true);
    now = 15_000; // the first thousand are a period old
    expect(asks.ask("web-pr-1001 1")).toBe(true);
    expect(asks.size).toBe(2);
    expect(asks.ask("web-pr-0 1")).toBe(true); // due again
    asks.forget("web-pr-0 1");
    expect(asks.ask("web-pr-0 1")).toBe(true); // a failed ask is due at once
  });
});
