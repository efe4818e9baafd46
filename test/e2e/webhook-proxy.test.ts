/**
 * Local development through a webhook proxy (WEBHOOK_PROXY_URL), as with any Probot app: a local server speaking
 * smee's protocol (server-sent events, each carrying a delivery's headers and JSON body) stands in for smee.io.
 * The real bot subscribes to it, forwards a real signed `pull_request` payload to its own webhook path and deploys
 * exactly as it does for a direct delivery; a delivery with a bad signature is still refused; the proxy is named
 * in the log without its token; stopping the bot closes the subscription; a proxy that refuses is reported.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createServer, type Server, type ServerResponse } from "node:http";
import { startHarness, pull, prEvent, INSTALLATION, OWNER, REPO, SECRET, type Harness } from "../support/e2e-bot.js";
import { deliver, fakeGitHub, signPayload } from "../support/github-fake.js";
import { createLogger } from "../../src/logger.js";
import { startWebhookProxy } from "../../src/webhook-proxy.js";

const TOKEN = "proxy-channel-token-5f2a9c";
const CONFIG = `manifests: { path: k8s }\nnames: { namespace: "proxied-{number}" }\n`;
const CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: app }\ndata: { a: b }\n";

/** A smee-style channel: GET /channel?token=… streams events; `publish` sends one delivery to every subscriber. */
async function startSmee() {
  const subscribers = new Set<ServerResponse>();
  const waiters: Array<() => void> = [];
  const changed = () => waiters.splice(0).forEach((w) => w());
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (req.method !== "GET" || url.pathname !== "/channel") return void res.writeHead(404).end();
    if (url.searchParams.get("token") !== TOKEN) return void res.writeHead(403).end();
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.write("event: ready\ndata: {}\n\n");
    subscribers.add(res);
    changed();
    req.on("close", () => {
      subscribers.delete(res);
      changed();
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as { port: number }).port;
  const until = async (what: string, test: () => boolean) => {
    const deadline = Date.now() + 20_000;
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`the proxy channel: gave up waiting for ${what}`);
      await new Promise<void>((ok) => {
        waiters.push(ok);
        setTimeout(ok, 200).unref();
      });
    }
  };
  return {
    url: `http://127.0.0.1:${port}/channel?token=${TOKEN}`,
    subscribers: () => subscribers.size,
    until,
    /** What smee.io sends: the delivery's request headers (lower-case) and its parsed JSON body. */
    publish(event: string, payload: unknown, signature?: string) {
      const body = JSON.stringify(payload);
      const message = {
        host: `127.0.0.1:${port}`,
        accept: "*/*",
        "user-agent": "GitHub-Hookshot/abc1234",
        "content-type": "application/json",
        "x-github-delivery": crypto.randomUUID(),
        "x-github-event": event,
        "x-github-hook-id": "48151623",
        "x-github-hook-installation-target-id": "123",
        "x-github-hook-installation-target-type": "integration",
        "x-hub-signature-256": signature ?? signPayload(SECRET, body),
        body: payload,
        query: {},
        timestamp: Date.now(),
      };
      for (const res of subscribers) res.write(`data: ${JSON.stringify(message)}\n\n`);
    },
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

let smee: Awaited<ReturnType<typeof startSmee>>;
let h: Harness;
let gh: ReturnType<typeof fakeGitHub>;
let stopped = false;
const lines: string[] = [];
const logged = (re: RegExp) => lines.some((l) => re.test(l));

beforeAll(async () => {
  smee = await startSmee();
  h = await startHarness({ env: { WEBHOOK_PROXY_URL: smee.url, PREVIEW_DATABASE_URL: "" }, logLines: lines });
  await smee.until("the bot to subscribe", () => smee.subscribers() === 1);
  gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: CONFIG });
});

afterAll(async () => {
  if (!stopped) await h?.stop();
  await smee?.close();
});

/** Wait for smee-client's `POST <target> - <status>` line: the bot has answered the forwarded delivery. */
async function forwarded(count: number): Promise<string[]> {
  const posts = () => lines.filter((l) => /POST http:\/\/127\.0\.0\.1:\d+\/api\/github\/webhooks - \d{3}/.test(l));
  await smee.until(`${count} forwarded deliveries`, () => posts().length >= count);
  await h.bot.app!.idle();
  return posts().map((l) => / - (\d{3})/.exec(l)![1]!);
}

describe("webhooks through WEBHOOK_PROXY_URL", () => {
  it("logs where it forwards from and to, on the port it listens on, without the proxy's token", () => {
    expect(
      logged(
        new RegExp(
          `forwarding GitHub webhooks from http://127\\.0\\.0\\.1:\\d+/channel to http://127\\.0\\.0\\.1:${h.bot.port}/api/github/webhooks`,
        ),
      ),
    ).toBe(true);
    expect(lines.join("\n")).not.toContain(TOKEN);
  });

  it("deploys a proxied pull_request delivery exactly as a direct one", async () => {
    const [viaProxy, direct] = ["a".repeat(40), "d".repeat(40)];
    gh.state.pulls.set(71, pull({ number: 71, sha: viaProxy }));
    gh.state.pulls.set(72, pull({ number: 72, sha: direct }));
    for (const sha of [viaProxy, direct]) gh.state.tarballs.set(sha, await h.tarball(sha, { "k8s/cm.yaml": CM }));

    smee.publish("pull_request", prEvent("opened", gh.state.pulls.get(71)!));
    expect(await forwarded(1)).toEqual(["200"]);
    const proxiedWrites = gh.state.writes.splice(0);
    expect(await h.send("pull_request", prEvent("opened", gh.state.pulls.get(72)!))).toBe(200);

    expect(gh.state.checkRuns.find((r) => r.head_sha === viaProxy)?.conclusion).toBe("success");
    expect(h.fake.get("v1", "ConfigMap", "proxied-71", "app")).toBeDefined();
    expect(gh.sticky(71)).toHaveLength(1);
    // Same GitHub writes, in the same order, for both (ids and PR numbers aside).
    const shape = (writes: typeof proxiedWrites) => writes.map((w) => `${w.method} ${w.path.replace(/\d+/g, "N")}`);
    expect(shape(proxiedWrites).length).toBeGreaterThan(2);
    expect(shape(proxiedWrites)).toEqual(shape(gh.state.writes));
  });

  it("still refuses a proxied delivery whose signature is wrong", async () => {
    gh.state.writes.splice(0);
    const sha = "b".repeat(40);
    gh.state.pulls.set(73, pull({ number: 73, sha }));
    gh.state.tarballs.set(sha, await h.tarball(sha, { "k8s/cm.yaml": CM }));
    const payload = prEvent("opened", gh.state.pulls.get(73)!);
    smee.publish("pull_request", payload, signPayload("not-the-webhook-secret", JSON.stringify(payload)));
    expect((await forwarded(2))[1]).toBe("400");
    expect(gh.state.checkRuns.find((r) => r.head_sha === sha)).toBeUndefined();
    expect(gh.state.writes).toEqual([]);
    // The same bytes with the right signature are accepted: the refusal was the signature's.
    const direct = await deliver(`http://127.0.0.1:${h.bot.port}`, SECRET, "pull_request", payload);
    expect(direct.status).toBe(200);
    await h.bot.app!.idle();
  });

  it("closes the subscription when the bot stops", async () => {
    stopped = true;
    await h.stop();
    await smee.until("the bot to unsubscribe", () => smee.subscribers() === 0);
    expect(smee.subscribers()).toBe(0);
  });
});

describe("a webhook proxy that refuses the subscription", () => {
  it("is reported with its status and that it will not be retried, without the token", async () => {
    const out: string[] = [];
    const logger = createLogger({
      level: "info",
      destination: { write: (l: string) => void out.push(l) } as unknown as NodeJS.WritableStream,
    });
    const wrongToken = smee.url.replace(TOKEN, "wrong-token-0123456789");
    const proxy = await startWebhookProxy({
      source: wrongToken,
      target: "http://127.0.0.1:9/api/github/webhooks",
      logger,
    });
    try {
      await smee.until("the refusal to be logged", () => out.some((l) => l.includes("answered HTTP 403")));
      expect(out.join("\n")).toMatch(
        /webhook proxy http:\/\/127\.0\.0\.1:\d+\/channel failed; it answered HTTP 403, so it is not retried/,
      );
      expect(out.join("\n")).not.toContain("wrong-token-0123456789");
    } finally {
      await proxy.close();
    }
  });
});
