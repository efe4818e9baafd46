/**
 * The Dockerfile, read as instructions (no Docker engine runs here; CI's image job builds and runs it): the runtime
 * stage runs what `npm start` and scripts/smoke-start.sh run, as a non-root user, on the port the server defaults
 * to, with only settings the code reads, and the build context keeps secrets out and what the build needs in.
 */
import { describe, expect, it } from "@jest/globals";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadEnv } from "../../src/env.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const read = (f: string) => readFileSync(path.join(ROOT, f), "utf8");

interface Instruction {
  op: string;
  args: string;
}
/** Instructions per stage, continuation lines joined, comments dropped. */
function stages(text: string): Array<{ from: string; name?: string; instructions: Instruction[] }> {
  const joined = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const out: Array<{ from: string; name?: string; instructions: Instruction[] }> = [];
  const globalArgs: Instruction[] = [];
  for (const line of joined) {
    const [op = "", ...rest] = line.split(/\s+/);
    const ins = { op: op.toUpperCase(), args: rest.join(" ") };
    if (ins.op === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      out.push({ from: m?.[1] ?? "", ...(m?.[2] ? { name: m[2] } : {}), instructions: [] });
    } else if (out.length === 0) globalArgs.push(ins);
    else out[out.length - 1]!.instructions.push(ins);
  }
  out.forEach(
    (s) =>
      (s.from = s.from.replace(
        /^\$\{(\w+)\}$/,
        (_, n: string) => globalArgs.find((a) => a.op === "ARG" && a.args.startsWith(`${n}=`))?.args.split("=")[1] ?? n,
      )),
  );
  return out;
}

const dockerfile = read("Dockerfile");
const all = stages(dockerfile);
const runtime = all[all.length - 1]!;
const get = (op: string) => runtime.instructions.filter((i) => i.op === op);
const knownSettings = (): Set<string> => {
  const envTs = read("src/env.ts");
  const names = new Set([...envTs.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!));
  for (const m of read("src/services/data/backups/pg-tools.ts").matchAll(/\benv\.([A-Z][A-Z0-9_]*)\b/g))
    names.add(m[1]!);
  return names;
};

describe("Dockerfile", () => {
  it("builds every stage from an official image pinned by tag: Node 24 slim, and Go for the sandbox", () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    // the Go release tools/sandbox/go.mod names (major.minor), the one .tools/bin's preview-sandbox is built with
    const go = /^go (\d+\.\d+)/m.exec(read("tools/sandbox/go.mod"))![1];
    for (const s of all) expect(s.from).toBe(s.name === "sandbox" ? `golang:${go}-bookworm` : "node:24-bookworm-slim");
  });

  it("builds preview-sandbox statically from tools/sandbox with its pinned modules, into /usr/local/bin", () => {
    const sandbox = all.find((s) => s.name === "sandbox")!;
    const of = (op: string) => sandbox.instructions.filter((i) => i.op === op).map((i) => i.args);
    expect(of("COPY")).toEqual(["tools/sandbox/go.mod tools/sandbox/go.sum ./", "tools/sandbox/ ./"]);
    expect(of("RUN").join("\n")).toMatch(
      /go mod verify[\s\S]*CGO_ENABLED=0 go build -trimpath .* -o \/out\/preview-sandbox \./,
    );
    expect(get("COPY").map((i) => i.args)).toContain(
      "--from=sandbox /out/preview-sandbox /usr/local/bin/preview-sandbox",
    );
  });

  it("runs the same entry point as npm start and scripts/smoke-start.sh", () => {
    expect(get("CMD").map((i) => JSON.parse(i.args) as string[])).toEqual([["node", "dist/server.js"]]);
    const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe("sh scripts/node.sh dist/server.js");
    expect(read("scripts/smoke-start.sh")).toMatch(/^\s+sh scripts\/node\.sh dist\/server\.js /m);
    expect(read(".ci/run")).toMatch(/npm run build\nbash scripts\/smoke-start\.sh/);
  });

  it("runs as the non-root node user (uid 1000), stopped with SIGTERM", () => {
    expect(get("USER").map((i) => i.args)).toEqual(["1000:1000"]);
    expect(get("STOPSIGNAL").map((i) => i.args)).toEqual(["SIGTERM"]);
  });

  it("exposes and sets the port the server defaults to, and health-checks /healthz without curl", () => {
    const port = String(loadEnv({}).PORT);
    expect(get("EXPOSE").map((i) => i.args)).toEqual([port]);
    expect(
      get("ENV")
        .map((i) => i.args)
        .join(" "),
    ).toMatch(new RegExp(`\\bPORT=${port}\\b`));
    const health = get("HEALTHCHECK")
      .map((i) => i.args)
      .join(" ");
    expect(health).toContain("/healthz");
    expect(health).toContain("process.env.PORT");
    expect(health).not.toMatch(/curl|wget/);
  });

  it("sets only settings the code reads, pg_dump's directory from the selectable PG_MAJOR among them", () => {
    const env = get("ENV")
      .map((i) => i.args)
      .join(" ");
    const names = [...env.matchAll(/\b([A-Z][A-Z0-9_]*)=/g)].map((m) => m[1]!);
    expect(names).toEqual(expect.arrayContaining(["NODE_ENV", "PORT", "PG_BIN_DIR"]));
    expect(names.filter((n) => !knownSettings().has(n))).toEqual([]);
    expect(env).toContain("PG_BIN_DIR=/usr/lib/postgresql/${PG_MAJOR}/bin");
    expect(get("ARG").map((i) => i.args)).toContain("PG_MAJOR=17");
  });

  it("installs the PostgreSQL client from PGDG's pinned suite, trusted only through its checked key", () => {
    const run = get("RUN")
      .map((i) => i.args)
      .join("\n");
    expect(run).toMatch(
      /deb \[signed-by=\/usr\/share\/postgresql-common\/pgdg\/apt\.postgresql\.org\.asc\] https:\/\/apt\.postgresql\.org\/pub\/repos\/apt bookworm-pgdg main/,
    );
    expect(run).toContain('"postgresql-client-${PG_MAJOR}"');
    expect(dockerfile).toContain("PGDG_KEY_FINGERPRINT=B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8");
    expect(dockerfile).not.toMatch(/apt-key|trusted=yes/);
  });

  it("verifies kustomize's sha256 for the target architecture before installing it", () => {
    const tools = all.find((s) => s.name === "tools")!;
    const run = tools.instructions
      .filter((i) => i.op === "RUN")
      .map((i) => i.args)
      .join("\n");
    expect(run).toMatch(/TARGETARCH/);
    expect(run).toMatch(/sha256sum -c/);
    expect(run.indexOf("sha256sum -c")).toBeLessThan(run.indexOf("tar -xzf"));
    for (const arch of ["AMD64", "ARM64"])
      expect(dockerfile).toMatch(new RegExp(`ARG KUSTOMIZE_SHA256_${arch}=[0-9a-f]{64}\\n`));
  });

  it("verifies helm's sha256 for the target architecture before installing it, at the version the tests build", () => {
    const tools = all.find((s) => s.name === "tools")!;
    const run = tools.instructions
      .filter((i) => i.op === "RUN")
      .map((i) => i.args)
      .join("\n");
    const helm = run.slice(run.indexOf("HELM_SHA256_AMD64"));
    expect(helm).toMatch(
      /curl -fsSL -o \/tmp\/helm\.tar\.gz .*echo "\$\{sum\}\s+\/tmp\/helm\.tar\.gz" \| sha256sum -c -;\s+tar -xzf \/tmp\/helm\.tar\.gz/s,
    );
    for (const arch of ["AMD64", "ARM64"])
      expect(dockerfile).toMatch(new RegExp(`ARG HELM_SHA256_${arch}=[0-9a-f]{64}\\n`));
    expect(get("COPY").map((i) => i.args)).toContain("--from=tools /usr/local/bin/helm /usr/local/bin/helm");
    // One version everywhere: the image ships what tools/*/go.mod pins for the tests.
    expect(dockerfile).toContain(`ARG HELM_VERSION=${/helm\.sh\/helm\/v3 v(\S+)/.exec(read("tools/helm/go.mod"))![1]}`);
    expect(dockerfile).toContain(
      `ARG KUSTOMIZE_VERSION=${/sigs\.k8s\.io\/kustomize\/kustomize\/v5 v(\S+)/.exec(read("tools/kustomize/go.mod"))![1]}`,
    );
  });

  it("puts the CLI on PATH as preview-bot", () => {
    expect(
      get("RUN")
        .map((i) => i.args)
        .join("\n"),
    ).toContain("ln -s /app/dist/cli.js /usr/local/bin/preview-bot");
  });

  it("ships production dependencies only", () => {
    const deps = all.find((s) => s.name === "deps")!;
    expect(
      deps.instructions
        .filter((i) => i.op === "RUN")
        .map((i) => i.args)
        .join(" "),
    ).toContain("npm ci --omit=dev");
    expect(get("COPY").map((i) => i.args)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/--from=deps .*\/app\/node_modules/),
        expect.stringMatching(/--from=build .*\/app\/dist/),
      ]),
    );
  });

  it("keeps secrets and local state out of the build context but lets in what the build copies", () => {
    const ignored = read(".dockerignore")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    expect(ignored).toEqual(expect.arrayContaining([".env", "*.pem", ".git", "node_modules", ".tools"]));
    const sources = all
      .flatMap((s) => s.instructions)
      .filter((i) => i.op === "COPY" && !i.args.includes("--from="))
      .flatMap((i) =>
        i.args
          .replace(/--\S+\s+/g, "")
          .split(/\s+/)
          .slice(0, -1),
      );
    expect(sources).toEqual(expect.arrayContaining(["package.json", "package-lock.json", "src", "app.yml"]));
    for (const src of sources) {
      expect(existsSync(path.join(ROOT, src))).toBe(true);
      const hit = ignored.find((p) => p === src || (p.startsWith("*") && src.endsWith(p.slice(1))));
      expect({ src, ignoredBy: hit }).toEqual({ src, ignoredBy: undefined });
    }
  });
});
