/**
 * The sign-in and the page in a real browser (Debian's chromium through playwright-core), with a real nginx in front
 * of the previews configured as ingress-nginx configures `auth-url` / `auth-signin`, and the loopback GitHub. The bot
 * is the whole bot as production builds it (startServer → buildApp, through page-bot.ts): its previews are read from
 * the cluster's namespaces as the deploy writes them (page-cluster.ts), their pods' logs from the API server, some of
 * their databases provisioned on the test PostgreSQL by the bot's own database part, and the backup targets from real
 * Azurite after a real backup of the test PostgreSQL by the bot's own backup service.
 *
 * - an anonymous visitor of a protected preview is sent to GitHub; signed in as a reader they land on the preview,
 *   whose app never receives the bot's session cookie (only its own host's sealed access cookie);
 * - the reader sees the list and a preview's page with its logs, redacted (a canary registered with the logger never
 *   shows); a non-reader is refused (403) at the preview and on its page;
 * - cookies are HttpOnly and SameSite=Lax, Secure when configured (and not when the bot runs on http://localhost);
 * - screenshots of the list and a preview page (into docs/screenshots/ with UPDATE_SCREENSHOTS=1).
 */
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { registerSecret } from "../../src/logger.js";
import { describeWithBrowser, launchChromium } from "../support/browser.js";
import { startNginxGateway, type NginxGateway } from "../support/nginx-gateway.js";
import { parseConfig } from "../../src/config.js";
import { previewNamesFor } from "../../src/services/preview/naming.js";
import type { PagePreview } from "../../src/services/shared/page-data.js";
import type { PreviewNames } from "../../src/services/shared/preview.js";
import { startAzurite, type TestAzurite } from "../support/azurite.js";
import { startPageBot, type PageBot } from "../support/page-bot.js";
import { seedPreview } from "../support/page-cluster.js";
import { CANARY, SAMPLE_REPOS, sampleLogs, samplePreviews } from "../support/page-sample.js";
import { ROOT } from "../support/paths.js";

const SHOTS =
  process.env.UPDATE_SCREENSHOTS === "1"
    ? path.join(ROOT, "docs", "screenshots")
    : mkdtempSync(path.join(tmpdir(), "page-shots-"));

describeWithBrowser("the preview page in a real browser, behind nginx", ["nginx"], () => {
  let browser: Browser;
  let h: PageBot;
  let azurite: TestAzurite;
  let gateway: NginxGateway;
  let app: Server;
  const appCookies: string[] = [];
  const now = Date.now();
  const previews: PagePreview[] = [];
  const databases: PreviewNames[] = [];

  beforeAll(async () => {
    registerSecret(CANARY);
    // Backup targets as an operator writes them: one for acme's repositories (backed up below, verified by a
    // restore), one for globex's never backed up yet, and one with no allowed repositories (admins only).
    azurite = await startAzurite();
    const u = new URL(process.env.TEST_PG_URL!);
    const target = (name: string, schedule: string, allowedRepos?: string[]) => ({
      name,
      host: u.hostname,
      port: Number(u.port),
      database: "postgres",
      user: u.username,
      passwordEnv: "PAGE_BACKUP_PW",
      schedule,
      container: `${name}-backups`,
      ...(allowedRepos ? { allowedRepos } : {}),
    });
    const targets = [
      { ...target("acme-prod", "15 */6 * * *", ["acme/web", "acme/api"]), verify: true },
      target("globex-catalog", "0 4 * * *", ["globex/*"]),
      target("ops-metrics", "0 * * * *"),
    ];
    app = createServer((req, res) => {
      appCookies.push(req.headers.cookie ?? "");
      res
        .writeHead(200, { "content-type": "text/html" })
        .end(
          `<!doctype html><title>app</title><h1>Preview app at ${req.headers.host?.replace(/[^a-z0-9.:-]/g, "")}</h1>`,
        );
    });
    await new Promise<void>((ok) => app.listen(0, "127.0.0.1", ok));
    h = await startPageBot({
      env: {
        AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString,
        BACKUP_TARGETS: JSON.stringify(targets),
        PAGE_BACKUP_PW: decodeURIComponent(u.password),
        ...(process.env.TEST_PG_BIN_DIR ? { PG_BIN_DIR: process.env.TEST_PG_BIN_DIR } : {}),
      },
    });
    await h.harness.bot.app!.backups!.run({ target: "acme-prod", trigger: "schedule" });
    gateway = await startNginxGateway({
      botPort: h.port,
      botUrl: h.botUrl,
      appPort: (app.address() as { port: number }).port,
      serverName: "*.previews.localhost",
    });
    const parsed = parseConfig(JSON.stringify({ manifests: { path: "deploy" } }));
    if (!parsed.ok) throw new Error(parsed.errors.join("; "));
    for (const sample of samplePreviews(now, 16, "previews.localhost")) {
      const p: PagePreview = {
        ...sample,
        url: sample.url!.replace("https://", "http://").replace(".localhost/", `.localhost:${gateway.port}/`),
      };
      delete p.database; // the database column shows what the bot's database part lists
      previews.push(p);
      seedPreview(h.harness.fake, p, sampleLogs(p));
      if (sample.database && databases.length < 4) {
        const ref = { owner: p.owner, repo: p.repo, number: p.number, branch: p.branch!, sha: p.sha!, fork: false };
        const names = previewNamesFor(ref, parsed.config);
        await h.harness.bot.app!.databases!.provision(names);
        databases.push(names);
      }
    }
    for (const r of SAMPLE_REPOS) h.github.repo(r.full, r.private, ["rita"]);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    for (const names of databases) await h.harness.bot.app!.databases!.drop(names);
    await browser?.close();
    await gateway?.close();
    await h?.close();
    await azurite?.stop();
    await new Promise<void>((ok) => (app ? app.close(() => ok()) : ok()));
  }, 60_000);

  const webUrl = () => previews.find((p) => p.owner === "acme" && p.repo === "web")!.url!;

  async function signInOnGitHub(page: Page, login: string): Promise<void> {
    expect(await page.getByRole("heading", { name: "Authorize preview-bot" }).count()).toBe(1);
    await page.getByLabel("Sign in as").fill(login);
    await page.getByRole("button", { name: "Authorize" }).click();
  }

  it("sends an anonymous visitor of a protected preview to GitHub, and a reader on to the preview", async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(webUrl());
    expect(new URL(page.url()).host).toBe(new URL(h.github.url).host);
    await signInOnGitHub(page, "rita");
    await page.waitForURL((u) => u.hostname.endsWith(".previews.localhost"));
    expect(await page.locator("h1").textContent()).toBe(`Preview app at ${new URL(webUrl()).host}`);
    // ingress-nginx cannot strip the grant (its auth answer only passes or fails): the first answer carries it.
    expect(new URL(page.url()).hostname).toBe(new URL(webUrl()).hostname);

    await page.reload();
    expect(await page.locator("h1").textContent()).toContain("Preview app at");
    const cookies = await ctx.cookies();
    const session = cookies.find((c) => c.name === "__Host-preview-bot-session")!;
    const access = cookies.find((c) => c.name === "__Host-preview-bot-access")!;
    expect(session).toMatchObject({
      domain: "bot.localhost",
      httpOnly: true,
      secure: true,
      sameSite: "Lax",
      path: "/",
    });
    expect(access).toMatchObject({ domain: new URL(webUrl()).hostname, httpOnly: true, secure: true, sameSite: "Lax" });
    // The preview's app saw its own host's cookie, never the bot's session.
    expect(appCookies.some((c) => c.includes("__Host-preview-bot-access="))).toBe(true);
    expect(appCookies.join("\n")).not.toContain("preview-bot-session");
    await ctx.close();
  });

  it("shows a reader the list and a preview's page with redacted logs", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    const page = await ctx.newPage();
    await page.goto(`${h.botUrl}/previews`);
    await signInOnGitHub(page, "rita");
    await page.waitForURL(`${h.botUrl}/previews`);
    expect(await page.getByRole("heading", { level: 1, name: "Previews you can read" }).count()).toBe(1);
    const rows = page.locator("table").first().locator("tbody tr");
    expect(await rows.count()).toBe(16);
    for (const names of databases) {
      const row = rows.filter({ has: page.getByRole("link", { name: names.key.replace("#", " #"), exact: true }) });
      expect(await row.locator("td").nth(5).innerText()).toBe(names.database);
    }
    expect(await page.getByRole("columnheader", { name: "Last deploy" }).count()).toBe(1);
    expect(await page.getByRole("heading", { name: "Backups" }).count()).toBe(1);
    expect(await page.getByText("ops-metrics").count()).toBe(0); // admins only
    // The real backup just taken (and verified by a restore); globex's target has none yet.
    const backups = page.getByRole("region", { name: "Backups" }).locator("tbody tr");
    expect(await backups.count()).toBe(2);
    const cells = async (name: string) =>
      (await backups.filter({ hasText: name }).innerText()).split("\t").map((c) => c.trim());
    expect(await cells("acme-prod")).toEqual([
      "acme-prod",
      expect.stringMatching(/ ago$/),
      expect.stringMatching(/^[\d.]+ [KM]?B$/),
      expect.stringMatching(/ ago$/),
      expect.stringMatching(/^in /),
    ]);
    expect((await cells("globex-catalog")).slice(0, 4)).toEqual(["globex-catalog", "—", "—", "not verified"]);
    await page.screenshot({ path: path.join(SHOTS, "previews-list.png"), fullPage: true });

    const failed = previews.find((p) => p.state === "failed")!;
    await page.getByRole("link", { name: `${failed.owner}/${failed.repo} #${failed.number}` }).click();
    await page.waitForURL(`${h.botUrl}/previews/${failed.owner}/${failed.repo}/${failed.number}`);
    expect(await page.getByRole("heading", { name: "Recent logs" }).count()).toBe(1);
    const text = (await page.locator("main").textContent()) ?? "";
    expect(text).toContain("ImagePullBackOff");
    expect(text).toContain("[REDACTED]");
    expect(text).toContain("listening on :8080");
    expect(await page.content()).not.toContain(CANARY);
    await page.screenshot({ path: path.join(SHOTS, "preview-page.png"), fullPage: true });

    // Narrow screens: the page still reads; only the wide tables scroll, inside their own labelled regions.
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate<number>(
      "document.documentElement.scrollWidth - document.documentElement.clientWidth",
    );
    const wide = await page.evaluate<string[]>(
      "[...document.querySelectorAll('body *')].filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))",
    );
    expect({ overflow, wide }).toEqual({ overflow: 0, wide: [] });
    await page.screenshot({ path: path.join(SHOTS, "preview-page-narrow.png") });
    await ctx.close();
  });

  it("refuses a non-reader at the preview and on its page (403)", async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(webUrl());
    await signInOnGitHub(page, "nate");
    await page.waitForLoadState("load");
    expect(await page.locator("h1").textContent()).toBe("You can't open this preview");
    const seen = appCookies.length;
    const r = await page.goto(`${h.botUrl}/previews/acme/web/${previews.find((p) => p.repo === "web")!.number}`);
    expect(r?.status()).toBe(403);
    const list = await page.goto(`${h.botUrl}/previews`);
    expect(list?.status()).toBe(200);
    expect(await page.locator("main").textContent()).not.toContain("acme/web");
    expect(await page.locator("main").textContent()).toContain("globex/shop");
    expect(appCookies.length).toBe(seen);
    await ctx.close();
  });
});
