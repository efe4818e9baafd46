/**
 * preview-sandbox (tools/sandbox), the process sandbox the renderer runs PR content in (issue 20), run for real in
 * both modes: namespaces, and Landlock + seccomp where unshare is refused as in a pod (deny-unshare, launcher uid
 * 65534). Each protection has a control: the same attempt by uid 65534 without the sandbox succeeds, so a test
 * fails if the protection goes away. Every run is bounded by the sandbox's own limits.
 *
 * Longer than 300 lines: the list of cases, times two modes, with their controls, reads best as
 * one matrix (the runner and workspace are in test/support/sandbox.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import dgram from "node:dgram";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import {
  DENY_UNSHARE,
  makeWorkspace,
  MODES,
  NOBODY,
  NODE,
  NODE_ENV,
  NODE_READ,
  runSandbox,
  SANDBOX,
  startSandbox,
  UNCONFINED,
  type SandboxMode,
  type Workspace,
} from "../support/sandbox.js";
import { describeWithTools, TOOLS_BIN } from "../support/tools.js";
import { waitFor } from "../support/wait.js";

// The landlock mode's launcher runs as uid 65534, as a pod's would: switching to it needs root (as CI has).
const describeSuite =
  process.getuid?.() === 0
    ? describeWithTools
    : (_tools: readonly string[], name: string, fn: () => void) => {
        if (process.env.CI === "true") throw new Error(`${name}: under CI=true this suite must run as root`);
        console.warn(`${name}: skipped: needs root (to run the launcher as uid ${NOBODY})`);
        describe.skip(name, fn);
      };

const READ_FILES = `const fs = require("fs"), r = {};
  for (const p of JSON.parse(process.argv[1] || fs.readFileSync(0, "utf8")))
    try { r[p] = "read:" + fs.readFileSync(p, "utf8"); } catch (e) { r[p] = e.code; }
  console.log(JSON.stringify(r));`;
const SIGNAL = `const r = {};
  for (const p of JSON.parse(process.argv[1] || require("fs").readFileSync(0, "utf8")))
    try { process.kill(p, 0); process.kill(p, "SIGTERM"); r[p] = "signalled"; } catch (e) { r[p] = e.code; }
  console.log(JSON.stringify(r));`;
const TCP = `const s = require("net").connect(Number(process.argv[1]), "127.0.0.1");
  s.on("connect", () => { console.log("connected"); s.end(); }); s.on("error", (e) => console.log(e.code));`;
const UDP = `const s = require("dgram").createSocket("udp4").on("error", (e) => console.log(e.code));
  s.send("from-the-sandbox", Number(process.argv[1]), "127.0.0.1", (e) => { console.log(e ? e.code : "sent"); s.close(); });`;
// A detached (setsid) child starts a detached grandchild, whose last argument is "<token>:grandchild", and exits;
// the program then waits for stdin's end.
const DOUBLE_FORK = `const cp = require("child_process"), token = process.argv[1];
  const grandchild = 'require("child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", process.argv[1] + ":grandchild"], { detached: true, stdio: "ignore" }).unref()';
  cp.spawn(process.execPath, ["-e", grandchild, token], { detached: true, stdio: "ignore" })
    .on("exit", () => { console.log("middle exited"); process.stdin.resume(); });`;

/** The host pids of the double-fork's grandchild tagged `token`. */
function grandchildren(token: string): number[] {
  const tag = `${token}:grandchild`;
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").includes(tag);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function tcpServer() {
  const peers: number[] = [];
  const server = net.createServer((s) => (peers.push(s.remotePort!), s.destroy()));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return { port, peers, close: () => server.close() };
}

async function udpServer() {
  const received: string[] = [];
  const socket = dgram.createSocket("udp4").on("message", (m) => received.push(m.toString()));
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
  return { port: socket.address().port, received, close: () => socket.close() };
}

describeSuite(["preview-sandbox", "deny-unshare", "helm", "kustomize"], "preview-sandbox", () => {
  let ws: Workspace;
  let bot: ChildProcess; // stands for the bot: same uid as the sandboxed program, a secret in its environment
  const launcherEnv = () => ({
    PATH: process.env.PATH ?? "",
    GITHUB_PRIVATE_KEY: ws.canary,
    WEBHOOK_SECRET: ws.canary,
  });
  const tool = (name: string) => realpathSync(path.join(TOOLS_BIN, name));
  const outside = () => [
    ws.token,
    path.join(ws.checkout, "leak"),
    path.join(ws.checkout, "chain"),
    `/proc/${bot.pid}/environ`,
  ];

  beforeAll(async () => {
    ws = makeWorkspace();
    bot = spawn(NODE, ["-e", "setInterval(() => {}, 1000)"], {
      uid: NOBODY,
      gid: NOBODY,
      env: { BOT_KEY: ws.canary },
      stdio: "ignore",
    });
    await waitFor("the stand-in bot", () => bot.pid !== undefined && existsSync(`/proc/${bot.pid}/environ`));
  });
  afterAll(() => {
    bot?.kill("SIGKILL");
    ws?.cleanup();
  });

  /** The flags every node run gets: node's read paths, the checkout, the scratch directory, a minimal env. */
  const nodeFlags = (extra: string[] = []) => [
    ...NODE_READ.flatMap((p) => ["--read", p]),
    ...["--read", ws.checkout, "--write", ws.scratch, "--cwd", ws.checkout],
    ...[...NODE_ENV, `HOME=${ws.scratch}`, `TMPDIR=${ws.scratch}`].flatMap((e) => ["--env", e]),
    ...extra,
  ];
  const node = (mode: SandboxMode, script: string, arg = "", extra: string[] = [], stdin = "") =>
    runSandbox(mode, nodeFlags(extra), [NODE, "-e", script, arg], launcherEnv(), stdin);

  describe("controls: uid 65534 without the sandbox", () => {
    it("reads the token (directly and through both links) and the stand-in bot's environment", async () => {
      const run = await node(UNCONFINED, READ_FILES, JSON.stringify(outside()));
      const got = JSON.parse(run.stdout) as Record<string, string>;
      for (const p of outside()) expect(got[p]).toContain(ws.canary);
      const helm = await runSandbox(
        UNCONFINED,
        [],
        [tool("helm"), "template", "x", path.join(ws.checkout, "hostile-chart")],
        { HOME: ws.scratch },
      );
      expect(helm.stdout).toContain(ws.canary);
    });

    it("signals a process of its uid, connects over TCP and sends UDP to 127.0.0.1", async () => {
      const victim = spawn(NODE, ["-e", "setInterval(() => {}, 1000)"], { uid: NOBODY, gid: NOBODY, stdio: "ignore" });
      const ended = new Promise((r) => victim.on("exit", r));
      const signal = await node(UNCONFINED, SIGNAL, JSON.stringify([victim.pid]));
      expect(JSON.parse(signal.stdout)).toEqual({ [victim.pid!]: "signalled" });
      await ended;
      const [tcp, udp] = [await tcpServer(), await udpServer()];
      try {
        expect((await node(UNCONFINED, TCP, String(tcp.port))).stdout.trim()).toBe("connected");
        expect((await node(UNCONFINED, UDP, String(udp.port))).stdout.trim()).toBe("sent");
        await waitFor("the datagram", () => udp.received.includes("from-the-sandbox"));
      } finally {
        tcp.close();
        udp.close();
      }
    });

    it("leaves a double-forked grandchild running after it exits", async () => {
      const token = `grandchild-${randomUUID()}`;
      const s = startSandbox(UNCONFINED, [], [NODE, "-e", DOUBLE_FORK, token], launcherEnv());
      await waitFor("the middle process to exit", () => s.stdout().includes("middle exited"));
      s.child.stdin!.end();
      await s.done;
      const survivors = grandchildren(token);
      expect(survivors).toHaveLength(1);
      process.kill(survivors[0]!, "SIGKILL");
    });
  });

  describe.each(MODES)("$name", (mode) => {
    it("runs node -e and reports the isolation in force", async () => {
      const run = await node(mode, "console.log(6 * 7)");
      expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({
        status: 0,
        stdout: "42\n",
        stderr: "",
      });
      expect(run.start).toMatchObject({
        isolation: mode.isolation,
        seccomp: { enforced: true },
        noNewPrivs: true,
        uid: NOBODY,
        groups: [],
      });
      expect(run.exit).toMatchObject({ reason: "exited", status: 0, survivors: 0 });
      if (mode.isolation === "landlock") {
        expect(run.start).toMatchObject({ requested: "auto", namespaces: null, landlock: { fs: true } });
        expect(run.start!.fallback).toMatch(/^namespaces refused: clone\(.*operation not permitted/);
      } else {
        expect(run.start!.namespaces).toMatchObject({
          user: true,
          pid: true,
          mount: true,
          net: true,
          ipc: true,
          uts: true,
        });
      }
    });

    it("gives the program the environment it was given and nothing of the launcher's", async () => {
      const run = await node(mode, "console.log(JSON.stringify(process.env))");
      expect(JSON.parse(run.stdout)).toEqual({ OPENSSL_CONF: "/dev/null", HOME: ws.scratch, TMPDIR: ws.scratch });
    });

    it("cannot read the token, directly or through links, nor /proc/<pid>/environ of the bot, launcher or test runner", async () => {
      const s = startSandbox(mode, nodeFlags(), [NODE, "-e", READ_FILES], launcherEnv());
      const paths = [...outside(), `/proc/${s.child.pid}/environ`, `/proc/${process.pid}/environ`];
      s.child.stdin!.end(JSON.stringify(paths));
      const run = await s.done;
      expect(run.status).toBe(0);
      const got = JSON.parse(run.stdout) as Record<string, string>;
      for (const p of paths) expect({ p, got: got[p] }).toEqual({ p, got: expect.stringMatching(/^E[A-Z]+$/) });
      expect(run.stdout).not.toContain(ws.canary);
    });

    it("cannot signal the bot or the launcher", async () => {
      const s = startSandbox(mode, nodeFlags(), [NODE, "-e", SIGNAL], launcherEnv());
      s.child.stdin!.end(JSON.stringify([bot.pid, s.child.pid]));
      const run = await s.done;
      expect(run.status).toBe(0);
      expect(Object.values(JSON.parse(run.stdout) as Record<string, string>)).toEqual([
        expect.stringMatching(/^(EPERM|ESRCH)$/),
        expect.stringMatching(/^(EPERM|ESRCH)$/),
      ]);
      expect(bot.exitCode).toBeNull();
      expect(() => process.kill(bot.pid!, 0)).not.toThrow();
    });

    it("cannot connect to a TCP listener or send UDP on 127.0.0.1", async () => {
      const [tcp, udp] = [await tcpServer(), await udpServer()];
      try {
        expect((await node(mode, TCP, String(tcp.port))).stdout.trim()).toMatch(/^E[A-Z]+$/);
        expect((await node(mode, UDP, String(udp.port))).stdout.trim()).toMatch(/^E[A-Z]+$/);
        // Markers sent after the attempts arrive after anything the attempts had sent (loopback keeps order).
        const marker = net.connect(tcp.port, "127.0.0.1");
        await new Promise((r) => marker.on("connect", r));
        await waitFor("the TCP marker", () => tcp.peers.includes(marker.localPort!));
        expect(tcp.peers).toEqual([marker.localPort]);
        marker.destroy();
        const sender = dgram.createSocket("udp4");
        sender.send("marker", udp.port, "127.0.0.1", () => sender.close());
        await waitFor("the UDP marker", () => udp.received.includes("marker"));
        expect(udp.received).toEqual(["marker"]);
      } finally {
        tcp.close();
        udp.close();
      }
    });

    it("ends a double-forked grandchild in its own session when the program exits", async () => {
      const token = `grandchild-${randomUUID()}`;
      const s = startSandbox(mode, nodeFlags(), [NODE, "-e", DOUBLE_FORK, token], launcherEnv());
      await waitFor("the middle process to exit", () => s.stdout().includes("middle exited"));
      let pid = 0;
      await waitFor("the grandchild on the host", () => (pid = grandchildren(token)[0] ?? 0) > 0);
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      expect(Number(stat[3])).toBe(pid); // field 6, session: it is its own session's leader (setsid)
      s.child.stdin!.end();
      const run = await s.done;
      const left = grandchildren(token);
      left.forEach((p) => process.kill(p, "SIGKILL")); // a failing run must not leave it behind
      expect(run.exit).toMatchObject({ reason: "exited", status: 0, survivors: 0 });
      expect(left).toEqual([]);
    });

    it("ends the whole tree (143) when the launcher gets SIGTERM", async () => {
      const token = `grandchild-${randomUUID()}`;
      const s = startSandbox(mode, nodeFlags(), [NODE, "-e", DOUBLE_FORK, token], launcherEnv());
      await waitFor("the grandchild on the host", () => grandchildren(token).length > 0);
      s.child.kill("SIGTERM");
      const run = await s.done;
      const left = grandchildren(token);
      left.forEach((p) => process.kill(p, "SIGKILL"));
      expect({ status: run.status, reason: run.exit?.reason, left }).toEqual({
        status: 143,
        reason: "terminated",
        left: [],
      });
    });

    it.each([
      ["CPU time", ["--cpu-seconds", "1"], "for (;;) {}", 121, "cpu"],
      ["wall time", ["--wall-seconds", "1"], "setInterval(() => {}, 1000)", 124, "timeout"],
      [
        "memory",
        ["--memory-bytes", "200000000"],
        "const a = []; for (let i = 0; i < 50; i++) a.push(Buffer.alloc(10e6, 1)); setInterval(() => {}, 1000)",
        122,
        "memory",
      ],
      [
        "process count",
        ["--max-procs", "4"],
        "for (let i = 0; i < 8; i++) require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']); setInterval(() => {}, 1000)",
        120,
        "procs",
      ],
      [
        "output",
        ["--max-output", "1000"],
        "process.stdout.write('x'.repeat(1e6)); setInterval(() => {}, 1000)",
        123,
        "output",
      ],
    ])(
      "ends the tree at the %s limit with its status",
      async (_name, flags, script, status, reason) => {
        const wall = flags[0] === "--wall-seconds" ? [] : ["--wall-seconds", "60"];
        const run = await node(mode, script, "", [...flags, ...wall]);
        expect({ status: run.status, reason: run.exit?.reason, survivors: run.exit?.survivors }).toEqual({
          status,
          reason,
          survivors: 0,
        });
        expect(run.stderr).toMatch(/^preview-sandbox: .*limit.*; killed the process tree$/m);
        if (reason === "output") expect(run.stdout).toBe("x".repeat(1000));
      },
      90_000,
    );

    it("runs helm template and kustomize build with only the checkout, the scratch and the binary visible", async () => {
      const flags = (bin: string) => [
        ...["--read", ws.checkout, "--write", ws.scratch, "--cwd", ws.checkout, "--read", path.dirname(bin)],
        ...[`HOME=${ws.scratch}`, `TMPDIR=${ws.scratch}`].flatMap((e) => ["--env", e]),
      ];
      const chart = "helm-chart-app/deploy/chart";
      const helm = await runSandbox(
        mode,
        flags(tool("helm")),
        [tool("helm"), "template", "demo", chart, "-f", `${chart}/values-preview.yaml`],
        launcherEnv(),
      );
      expect({ status: helm.status, stderr: helm.stderr }).toEqual({ status: 0, stderr: "" });
      expect(helm.stdout).toMatch(/^kind: Deployment$/m);
      const kustomize = await runSandbox(
        mode,
        flags(tool("kustomize")),
        [tool("kustomize"), "build", "kustomize-shop/deploy/overlays/preview"],
        launcherEnv(),
      );
      expect({ status: kustomize.status, stderr: kustomize.stderr }).toEqual({ status: 0, stderr: "" });
      expect(kustomize.stdout).toMatch(/name: shop-settings-/);
      const hostile = await runSandbox(
        mode,
        flags(tool("helm")),
        [tool("helm"), "template", "x", "hostile-chart"],
        launcherEnv(),
      );
      expect(hostile.stdout + hostile.stderr).not.toContain(ws.canary);
    });
  });

  it("landlock mode under a root launcher runs the program as 65534 with no groups, locked in all the same", async () => {
    const root: SandboxMode = {
      name: "root landlock",
      isolation: "landlock",
      command: [SANDBOX, "--isolation", "landlock"],
    };
    const script = `${READ_FILES.replace("process.argv[1] ||", "")}; console.log(process.getuid(), process.getgid(), process.getgroups().join())`;
    const run = await node(root, script, "", [], JSON.stringify(outside()));
    expect(run.start).toMatchObject({ isolation: "landlock", uid: NOBODY, groups: [] });
    const [files, ids] = run.stdout.trim().split("\n");
    expect(ids).toBe(`${NOBODY} ${NOBODY} ${NOBODY}`); // node always lists the egid among the groups
    expect(Object.values(JSON.parse(files!) as Record<string, string>)).toEqual(
      outside().map(() => expect.stringMatching(/^E[A-Z]+$/)),
    );
  });

  describe("where namespaces are refused", () => {
    const refusing = (...flags: string[]): SandboxMode => ({
      name: "refusing",
      isolation: "none",
      command: [DENY_UNSHARE, ...flags, "--", SANDBOX],
    });

    it("auto refuses to run (125) when Landlock is missing too, and says why", async () => {
      const run = await node(refusing("--uid", String(NOBODY), "--deny-landlock"), "console.log('ran')");
      expect({ status: run.status, stdout: run.stdout, start: run.start }).toEqual({
        status: 125,
        stdout: "",
        start: undefined,
      });
      expect(run.refused?.reason).toMatch(
        /namespaces refused: .*; landlock: not available in this kernel; refusing to run unconfined/,
      );
    });

    it("--isolation namespaces refuses (125) instead of falling back", async () => {
      const run = await node(refusing("--uid", String(NOBODY)), "console.log('ran')", "", [
        "--isolation",
        "namespaces",
      ]);
      expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 125, stdout: "" });
    });

    it("--isolation none runs only when asked for, and says so loudly", async () => {
      const run = await node(refusing("--uid", String(NOBODY), "--deny-landlock"), "console.log('ran')", "", [
        "--isolation",
        "none",
      ]);
      expect({ status: run.status, stdout: run.stdout }).toEqual({ status: 0, stdout: "ran\n" });
      expect(run.start).toMatchObject({
        isolation: "none",
        warning: expect.stringMatching(/^NO ISOLATION/),
        landlock: null,
        namespaces: null,
      });
      expect(run.stderr).toMatch(/WARNING: --isolation none/);
    });
  });
});
