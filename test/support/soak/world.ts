/**
 * The soak's world: its own real PostgreSQL (the bot's state and the preview databases; restartable), its own real
 * control plane (etcd, kube-apiserver, controller-manager; the API server restartable), a fault proxy in front of the
 * API server, GitHub and Slack on loopback with faults, and the bot itself as a child process (bot-child.ts) that the
 * soak kills with SIGKILL and starts again. Everything on loopback, everything stopped by `stop()`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { c as tarCreate } from "tar";
import { writeTsImportHook } from "../azurite.js";
import { startControlPlane, type ControlPlane } from "../kube-real/control-plane.js";
import { ROOT, TOOLS_BIN } from "../paths.js";
import { startPostgres, type TestPostgres } from "../postgres.js";
import { startSoakGitHub, type SoakGitHub } from "./github-server.js";
import { startKubeProxy, startSoakSlack, type KubeProxy, type SoakSlack } from "./side-servers.js";

const SOAK_SECRET = "soak-webhook-secret";
export const OWNER = "soak-org";
const INSTALLATION = 7;

/** A small, fast, seeded random source (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface SoakWorldOptions {
  seed: number;
  repos: string[];
  caps: { total: number; perRepo: number };
  /** Where the bot's log goes (one file across restarts). */
  logFile?: string;
}

export interface SoakBot {
  port: number;
  /** Run a stdin command (`sweep`, `idle`) and resolve with its answer line; rejects if the bot dies first. */
  command(command: "sweep" | "idle", timeoutMs?: number): Promise<string>;
  kill(): Promise<void>;
}

export interface SoakWorld {
  random: () => number;
  dir: string;
  pg: TestPostgres;
  state: pg.Pool;
  plane: ControlPlane;
  proxy: KubeProxy;
  github: SoakGitHub;
  slack: SoakSlack;
  bot(): SoakBot | undefined;
  startBot(): Promise<SoakBot>;
  /** POST a signed delivery to the bot; false when it could not be delivered (the bot is down: it is lost). */
  deliver(event: string, payload: unknown): Promise<boolean>;
  tarball(repo: string, sha: string, files: Record<string, string>): Promise<Buffer>;
  stop(): Promise<void>;
}

export async function startSoakWorld(o: SoakWorldOptions): Promise<SoakWorld> {
  const random = seeded(o.seed);
  const dir = mkdtempSync(join(tmpdir(), "preview-bot-soak-"));
  chmodSync(dir, 0o755); // the sandboxed renderer runs as an unprivileged uid when the tests run as root
  const cleanups: Array<() => Promise<void> | void> = [() => rmSync(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    const postgres = await startPostgres();
    cleanups.push(() => postgres.stop());
    const admin = new pg.Client({ connectionString: postgres.url });
    await admin.connect();
    await admin.query("create database soak_state");
    await admin.end();
    const stateUrl = new URL(postgres.url);
    stateUrl.pathname = "/soak_state";
    const state = new pg.Pool({ connectionString: stateUrl.toString(), max: 2 });
    state.on("error", () => undefined); // a PostgreSQL restart drops idle connections
    cleanups.push(() => state.end());

    const plane = await startControlPlane({ pods: false });
    cleanups.push(() => plane.stop());
    const proxy = await startKubeProxy({ server: plane.server, caData: plane.caData, token: plane.adminToken, random });
    cleanups.push(() => proxy.close());
    const config = `manifests: { path: k8s }\nnames: { namespace: "{repo}-{number}" }\ndatabase: { enabled: true }\nhealth: { timeout: 60s }\n`;
    const github = await startSoakGitHub({
      owner: OWNER,
      repos: o.repos,
      config,
      installationId: INSTALLATION,
      appId: 123,
      random,
    });
    cleanups.push(() => github.close());
    const slack = await startSoakSlack(random);
    cleanups.push(() => slack.close());

    const privateKey = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs1", format: "pem" },
    }).privateKey;
    const hook = pathToFileURL(writeTsImportHook(dir)).href;
    const workDir = join(dir, "work");
    mkdirSync(workDir);
    const log = createWriteStream(o.logFile ?? join(dir, "bot.log"), { flags: "a" });
    cleanups.push(() => new Promise<void>((r) => log.end(r)));
    let current: (SoakBot & { child: ChildProcess }) | undefined;

    const startBot = async (): Promise<SoakBot> => {
      const env: NodeJS.ProcessEnv = {
        PATH: `${TOOLS_BIN}:${process.env.PATH}`,
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: (process.env.SOAK_LOG_LEVEL ?? "warn") as "warn",
        APP_ID: "123",
        PRIVATE_KEY: privateKey,
        WEBHOOK_SECRET: SOAK_SECRET,
        GHE_HOST: github.host,
        GHE_PROTOCOL: "http",
        DATABASE_URL: stateUrl.toString(),
        PREVIEW_DATABASE_URL: postgres.url,
        SLACK_BOT_TOKEN: "xoxb-soak",
        SLACK_SIGNING_SECRET: "soak-slack-secret",
        SLACK_DEFAULT_CHANNEL: "C0SOAK",
        SLACK_API_URL: slack.url,
        MAX_PREVIEWS: String(o.caps.total),
        MAX_PREVIEWS_PER_REPO: String(o.caps.perRepo),
        JOB_CONCURRENCY: "4",
        NAMESPACE_DELETE_TIMEOUT: "120",
        WORK_DIR: workDir,
        SOAK_KUBE_URL: proxy.url,
      };
      const child: ChildProcess = spawn(
        process.execPath,
        [
          "--no-warnings",
          "--experimental-transform-types",
          "--import",
          hook,
          join(ROOT, "test/support/soak/bot-child.ts"),
        ],
        {
          cwd: ROOT,
          stdio: ["pipe", "pipe", "pipe"],
          env,
        },
      );
      child.stderr!.pipe(log, { end: false });
      let out = "";
      const waiters: Array<() => void> = [];
      child.stdout!.on("data", (c: Buffer) => {
        log.write(c); // the logger writes to stdout too: its lines go to the log, the parser skips them
        out += c.toString();
        for (const w of waiters.splice(0)) w();
      });
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      const next = (match: (line: string) => boolean, what: string, timeoutMs: number) =>
        new Promise<string>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`the soak's bot did not answer ${what} within ${timeoutMs} ms`)),
            timeoutMs,
          );
          const check = () => {
            const lines = out.split("\n");
            const i = lines.findIndex(match);
            if (i >= 0) {
              out = lines.slice(i + 1).join("\n");
              clearTimeout(timer);
              return resolve(lines[i]!);
            }
            waiters.push(check);
          };
          void exited.then(() => {
            clearTimeout(timer);
            reject(new Error(`the soak's bot exited before answering ${what}`));
          });
          check();
        });
      const ready = await next((l) => l.startsWith("ready "), "ready", 120_000);
      let chain = Promise.resolve("");
      const bot = {
        child,
        port: Number(ready.split(" ")[1]),
        command(command: "sweep" | "idle", timeoutMs = 600_000) {
          chain = chain
            .catch(() => "")
            .then(() => {
              child.stdin!.write(`${command}\n`);
              return next(
                (l) => l.startsWith(command === "sweep" ? "swept" : "idle") || l.startsWith("failed "),
                command,
                timeoutMs,
              );
            });
          return chain;
        },
        async kill() {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGKILL");
            await exited;
          }
        },
      };
      current = bot;
      return bot;
    };
    cleanups.push(() => current?.kill());

    return {
      random,
      dir,
      pg: postgres,
      state,
      plane,
      proxy,
      github,
      slack,
      bot: () => current,
      startBot,
      async deliver(event, payload) {
        const port = current?.port;
        if (!port) return false;
        const body = JSON.stringify(payload);
        try {
          const res = await fetch(`http://127.0.0.1:${port}/api/github/webhooks`, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "x-github-event": event,
              "x-github-delivery": randomUUID(),
              "x-hub-signature-256": `sha256=${createHmac("sha256", SOAK_SECRET).update(body).digest("hex")}`,
              "user-agent": "GitHub-Hookshot/soak",
            },
            body,
            signal: AbortSignal.timeout(30_000),
          });
          await res.arrayBuffer();
          return res.ok;
        } catch {
          return false; // the bot is down or died mid-request: GitHub's delivery failed
        }
      },
      async tarball(repo, sha, files) {
        const root = mkdtempSync(join(dir, "repo-"));
        const top = `${OWNER}-${repo}-${sha.slice(0, 7)}`;
        for (const [path, text] of Object.entries(files)) {
          mkdirSync(join(root, top, path, ".."), { recursive: true });
          writeFileSync(join(root, top, path), text);
        }
        const chunks: Buffer[] = [];
        for await (const chunk of tarCreate({ gzip: true, cwd: root, portable: true }, [top]) as AsyncIterable<Buffer>)
          chunks.push(chunk);
        rmSync(root, { recursive: true, force: true });
        return Buffer.concat(chunks);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
