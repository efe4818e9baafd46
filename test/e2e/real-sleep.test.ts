/**
 * Sleep and wake through the whole bot on the real control plane: signed `/preview` comments into the production
 * server (GitHub on nock), the bot's KubeConfig on this run's kube-apiserver (kwok pods becoming Ready). A deploy
 * records the repository's `sleep.after`; `/preview sleep` scales the preview to 0 and points its HTTPRoute at the
 * bot's Service; the sticky comment says asleep, with its cost; a link unfurler at the preview's host gets the waking
 * page and wakes nothing; a browser gets it too and wakes the preview (replicas, readiness, route back).
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { request, type IncomingHttpHeaders } from "node:http";
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { commentEvent, startHarness, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub, type FakePull } from "../support/github-fake.js";
import { describeWithRealCluster } from "../support/kube-real/index.js";
import { waitFor } from "../support/wait.js";

const OWNER = "octo-sleep";
const REPO = "shop";
const INSTALLATION = 43;
const SHA = "5".repeat(40);

describeWithRealCluster("a preview that sleeps and wakes, through the bot, on the real control plane", (cluster) => {
  const id = randomBytes(3).toString("hex");
  const PR = 100 + Math.floor(Math.random() * 800);
  const NS = `sleep-${id}-${PR}`;
  const HOST = `${NS}.previews.example.test`;
  const BOT_NS = `bot-${id}`;
  const CONFIG = `
manifests: { path: deploy }
names: { namespace: "sleep-${id}-{number}" }
route:
  host: "{name}.previews.example.test"
  expose: { service: web, port: 80 }
  parentRefs: [{ name: previews, namespace: gateway-system }]
  scheme: https
trigger: { on: command }
database: { enabled: false }
sleep: { after: 2h }
`;
  const MANIFESTS = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          image: ghcr.io/octo-sleep/shop:latest
          resources: { requests: { cpu: 500m, memory: 512Mi } }
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080 }]
`;
  let h: Harness;
  let kc: KubeConfig;
  let gh: ReturnType<typeof fakeGitHub>;
  const logLines: string[] = [];

  const pull = (): FakePull => ({
    number: PR,
    title: "Sleepy",
    branch: "feature/sleep",
    sha: SHA,
    state: "open",
    fork: false,
    draft: false,
    labels: [],
    author: "wes-write",
    files: ["src/a.ts"],
  });
  const comment = async (body: string) => {
    const event = commentEvent(body, "wes-write", {
      owner: OWNER,
      repo: REPO,
      number: PR,
      installationId: INSTALLATION,
    });
    expect(await h.send("issue_comment", event)).toBe(200);
  };
  const replies = () =>
    gh
      .writes("POST", /\/issues\/\d+\/comments$/)
      .map((w) => w.body.body as string)
      .filter((b) => !b.includes("preview-bot:sticky"));
  /** The sticky comment, markdown escapes out. */
  const sticky = () => (gh.sticky(PR).at(-1)?.body ?? "").replace(/\\([()_*[\]|<>])/g, "$1");
  const replicas = async () =>
    (await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: "web", namespace: NS })).spec?.replicas;
  const annotations = async () =>
    (await kc.makeApiClient(CoreV1Api).readNamespace({ name: NS })).metadata?.annotations ?? {};
  const backends = async () => {
    const list = (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
      group: "gateway.networking.k8s.io",
      version: "v1",
      namespace: NS,
      plural: "httproutes",
    })) as { items: Array<{ spec: { rules: Array<{ backendRefs?: Array<{ name: string; namespace?: string }> }> } }> };
    expect(list.items).toHaveLength(1); // the one route.expose generates
    return list.items[0]!.spec.rules.flatMap((r) => (r.backendRefs ?? []).map((b) => `${b.namespace ?? NS}/${b.name}`));
  };
  /** A request to the bot as the preview's host, with this User-Agent. */
  const visit = (userAgent: string) =>
    new Promise<{ status: number; headers: IncomingHttpHeaders; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: h.bot.port,
          path: "/some/page?x=1",
          headers: { host: HOST, "user-agent": userAgent },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (c: string) => (text += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        },
      );
      req.on("error", reject).end();
    });

  beforeAll(async () => {
    kc = cluster().kubeConfig();
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: BOT_NS } } });
    h = await startHarness({
      kubeConfig: kc,
      rolloutFailFastMs: 120_000,
      logLines,
      env: {
        PREVIEW_BOT_SERVICE: `${BOT_NS}/preview-bot:80`,
        PREVIEW_COST_CPU_HOUR: "0.04",
        PREVIEW_COST_MEMORY_GIB_HOUR: "0.005",
        PREVIEW_COST_CURRENCY: "EUR",
      },
    });
    gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: CONFIG });
    gh.state.tarballs.set(SHA, await h.tarball(SHA, { "deploy/app.yaml": MANIFESTS }));
    gh.state.pulls.set(PR, pull());
    gh.state.roles.set("wes-write", "write");
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
    const core = kc?.makeApiClient(CoreV1Api);
    await Promise.all([NS, BOT_NS].map((name) => core?.deleteNamespace({ name }).catch(() => undefined)));
  });

  it("a deploy records the repository's sleep.after and the last activity; the sticky comment says when it sleeps", async () => {
    await comment("/preview deploy");
    expect(await replicas()).toBe(2);
    const a = await annotations();
    expect(a["preview-bot.dev/sleep-after"]).toBe("2h");
    expect(Date.parse(a["preview-bot.dev/last-activity"]!)).toBeGreaterThan(Date.now() - 10 * 60_000);
    expect(sticky()).toContain("sleeps after 2h without activity");
    expect(sticky()).toMatch(/Cost so far:.*EUR \(estimate from requests × prices; asleep 0 %/);
  }, 300_000);

  it("/preview sleep: replicas 0 and recorded, the route at the bot's Service, the sticky comment says asleep", async () => {
    const before = replies().length;
    await comment("/preview sleep");
    expect(await replicas()).toBe(0);
    const a = await annotations();
    expect(a["preview-bot.dev/asleep-since"]).toBeDefined();
    expect(a["preview-bot.dev/wake-hosts"]).toBe(HOST);
    expect(await backends()).toEqual([`${BOT_NS}/preview-bot`]);
    expect(replies().slice(before).join("\n")).toContain("is asleep: 1 workload scaled to 0");
    expect(sticky()).toContain("😴 Preview asleep");
    expect(sticky()).toMatch(/asleep since .* UTC/);
  }, 120_000);

  it("a link unfurler at the preview's host gets the waking page and wakes nothing; a browser wakes it", async () => {
    // The door looks at the sleeping hosts at most every 2 s: until it has seen this one, the host is not its own.
    await waitFor(
      "the wake door to know the sleeping host",
      async () => (await visit("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)")).status === 503,
    );
    const unfurled = await visit("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)");
    expect(unfurled.status).toBe(503);
    expect(unfurled.headers["retry-after"]).toBe("3");
    const page = unfurled.text;
    expect(page).toContain("Waking up the preview");
    expect(page).toContain('http-equiv="refresh"');
    const browser = await visit("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36");
    expect(browser.status).toBe(503);
    await waitFor(
      "the preview to wake",
      async () => (await annotations())["preview-bot.dev/asleep-since"] === undefined,
      120_000,
    );
    await h.bot.app!.idle();
    expect(await replicas()).toBe(2);
    expect(await backends()).toEqual([`${NS}/web`]);
    // One wake, asked for by the browser: had the unfurler asked first, the door would have logged its User-Agent.
    const wakes = logLines.filter((l) => l.includes("a visitor is waking the preview"));
    expect(wakes).toHaveLength(1);
    expect(wakes[0]).toContain("Mozilla/5.0");
    expect(sticky()).toContain("Preview ready");
    expect(sticky()).toContain("sleeps after 2h without activity");
    expect(Number((await annotations())["preview-bot.dev/asleep-ms"])).toBeGreaterThan(0);
  }, 180_000);

  it("the host of an awake preview is no longer the wake door's: it falls through to the bot's 404", async () => {
    await waitFor("the wake door to forget the host", async () => (await visit("Mozilla/5.0")).status === 404);
  });

  it("/preview wake of an awake preview says so", async () => {
    const before = replies().length;
    await comment("/preview wake");
    expect(replies().slice(before).join("\n")).toContain("is awake.");
    expect(replies().slice(before).join("\n")).not.toContain("workload back");
    expect(await replicas()).toBe(2);
  }, 60_000);
});
