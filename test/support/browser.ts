/**
 * A real browser for tests: Debian's `chromium` (installed by .ci/run; nothing downloads a browser) driven by
 * playwright-core, with the flags that work on these machines (no sandbox as root, no background networking: the
 * closed network refuses Chromium's own connections) and a fresh profile per launch (Playwright makes one). Every
 * `*.localhost` name resolves to 127.0.0.1, so tests can give the bot and each preview their own host.
 *
 * `describeWithBrowser` skips with the reason when chromium (or another program the suite names) is missing, and
 * fails instead under CI=true.
 */
import { describe, it } from "@jest/globals";
import { accessSync, constants } from "node:fs";
import path from "node:path";
import { chromium, type Browser } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--host-resolver-rules=MAP *.localhost 127.0.0.1",
];

/** Absolute path of a program on PATH or in /usr/sbin (nginx lives there), or undefined. */
export function programPath(name: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? "").split(path.delimiter), "/usr/sbin", "/usr/bin"]) {
    try {
      const p = path.join(dir, name);
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, timeout: 120_000 });
}

export function describeWithBrowser(name: string, programs: readonly string[], fn: () => void): void {
  const missing: string[] = [];
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    missing.push("chromium");
  }
  for (const p of programs) if (!programPath(p)) missing.push(p);
  if (missing.length === 0) return describe(name, fn);
  const why = `${missing.join(", ")} not installed (Debian packages: apt-get install ${missing.join(" ")}; .ci/run installs them)`;
  if (process.env.CI === "true") {
    describe(name, () => {
      it("has a browser", () => {
        throw new Error(`under CI=true a missing browser fails the suite: ${why}`);
      });
    });
    return;
  }
  console.warn(`${name}: skipped: ${why}`);
  describe.skip(`${name} [skipped: ${why}]`, fn);
}
