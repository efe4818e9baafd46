/**
 * The sign-in and the page in a real browser (Debian's chromium through playwright-core), with a real nginx in front
 * of the previews configured as ingress-nginx configures `auth-url` / `auth-signin`, and the loopback GitHub:
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
import { startPageHarness, type PageHarness } from "../support/page-harness.js";
import {
  CANARY,
  MemoryPageData,
  SAMPLE_REPOS,
  sampleBackups,
  sampleHosts,
  samplePreviews,
} from "../support/page-sample.js";
import { ROOT } from "../support/paths.js";

const SHOTS =
  process.env.UPDATE_SCREENSHOTS === "1"
    ? path.join(ROOT, "docs", "screenshots")
    : mkdtempSync(path.join(tmpdir(), "page-shots-"));

describeWithBrowser("the preview page in a real browser, behind nginx", ["nginx"], () => {
  let browser: Browser;
  let h: PageHarness;
  let gateway: NginxGateway;
  let app: Server;
  const appCookies: string[] = [];
  const now = Date.now();
  const data = new MemoryPageData([], sampleBackups(now));
  let hosts: ReturnType<typeof sampleHosts> = () => undefined;

  beforeAll(async () => {
    registerSecret(CANARY);
    app = createServer((req, res) => {
      appCookies.push(req.headers.cookie ?? "");
      res
        .writeHead(200, { "content-type": "text/html" })
        .end(
          `<!doctype html><title>app</title><h1>Preview app at ${req.headers.host?.replace(/[^a-z0-9.:-]/g, "")}</h1>`,
        );
    });
    await new Promise<void>((ok) => app.listen(0, "127.0.0.1", ok));
    h = await startPageHarness({ data, previewForHost: (host) => hosts(host), admins: [] });
    gateway = await startNginxGateway({
      botPort: h.port,
      botUrl: h.botUrl,
      appPort: (app.address() as { port: number }).port,
      serverName: "*.previews.localhost",
    });
    for (const p of samplePreviews(now, 16, "previews.localhost"))
      data.list.push({
        ...p,
        url: p.url!.replace("https://", "http://").replace(".localhost/", `.localhost:${gateway.port}/`),
      });
    hosts = sampleHosts(data.list);
    for (const r of SAMPLE_REPOS) h.github.repo(r.full, r.private, ["rita"]);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await h?.close();
    await new Promise<void>((ok) => (app ? app.close(() => ok()) : ok()));
  });

  const webUrl = () => data.list.find((p) => p.owner === "acme" && p.repo === "web")!.url!;

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
    expect(await page.getByRole("columnheader", { name: "Last deploy" }).count()).toBe(1);
    expect(await page.getByRole("heading", { name: "Backups" }).count()).toBe(1);
    expect(await page.getByText("ops-metrics").count()).toBe(0); // admins only
    expect(await page.getByText("acme-prod").count()).toBe(1);
    await page.screenshot({ path: path.join(SHOTS, "previews-list.png"), fullPage: true });

    const failed = data.list.find((p) => p.state === "failed")!;
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
    const r = await page.goto(`${h.botUrl}/previews/acme/web/${data.list.find((p) => p.repo === "web")!.number}`);
    expect(r?.status()).toBe(403);
    const list = await page.goto(`${h.botUrl}/previews`);
    expect(list?.status()).toBe(200);
    expect(await page.locator("main").textContent()).not.toContain("acme/web");
    expect(await page.locator("main").textContent()).toContain("globex/shop");
    expect(appCookies.length).toBe(seen);
    await ctx.close();
  });
});
