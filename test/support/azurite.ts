/**
 * A real Azurite blob service for tests and benchmarks: `azurite-blob` from node_modules/.bin, in memory, on a
 * free loopback port read from its stdout. Optionally HTTPS with a self-signed certificate and `--oauth basic`
 * (the Workload Identity path needs bearer tokens, which Azurite only accepts over HTTPS).
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** Azurite's well-known development account and key (public, documented by Microsoft). */
const DEV_ACCOUNT = "devstoreaccount1";
export const DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface TestAzurite {
  port: number;
  /** http(s)://127.0.0.1:port/devstoreaccount1 */
  accountUrl: string;
  connectionString: string;
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  /** Serve HTTPS with this certificate and key (PEM files) and accept OAuth bearer tokens (`--oauth basic`). */
  tls?: { certFile: string; keyFile: string };
}

const ROOT = resolve(import.meta.dirname, "..", "..");

export async function startAzurite(opts: AzuriteOptions = {}): Promise<TestAzurite> {
  const cwd = mkdtempSync(join(tmpdir(), "preview-bot-azurite-"));
  const args = [
    "--inMemoryPersistence",
    "--blobHost",
    "127.0.0.1",
    "--blobPort",
    "0",
    "--skipApiVersionCheck",
    "--disableTelemetry",
  ];
  if (opts.tls) args.push("--cert", opts.tls.certFile, "--key", opts.tls.keyFile, "--oauth", "basic");
  const child: ChildProcess = spawn(join(ROOT, "node_modules", ".bin", "azurite-blob"), args, {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const port = await new Promise<number>((resolvePort, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`azurite did not start within 120 s: ${seen}`)), 120_000);
    const onData = (b: Buffer) => {
      seen += b.toString();
      const m = /listens on https?:\/\/127\.0\.0\.1:(\d+)/.exec(seen);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`azurite exited (${code}) before listening: ${seen}`));
    });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  const scheme = opts.tls ? "https" : "http";
  const accountUrl = `${scheme}://127.0.0.1:${port}/${DEV_ACCOUNT}`;
  return {
    port,
    accountUrl,
    connectionString: `DefaultEndpointsProtocol=${scheme};AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=${accountUrl};`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 5000)))]);
        clearTimeout(timer);
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }
      rmSync(cwd, { recursive: true, force: true });
    },
  };
}

/** A self-signed certificate for 127.0.0.1/localhost, made with the machine's openssl. */
export function selfSignedCert(dir: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "2",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ],
    { stdio: "ignore" },
  );
  return { certFile, keyFile };
}

/**
 * A module-resolution hook that lets a plain `node` child import the TypeScript sources (Node 24 strips types;
 * our imports say `.js`, so a miss is retried as `.ts`). Returns the file to pass to `node --import`.
 */
export function writeTsImportHook(dir: string): string {
  const file = join(dir, "ts-import-hook.mjs");
  writeFileSync(
    file,
    `import { registerHooks } from "node:module";
registerHooks({
  resolve(specifier, context, next) {
    try { return next(specifier, context); } catch (err) {
      if (/^\\.{1,2}\\//.test(specifier) && specifier.endsWith(".js")) return next(specifier.slice(0, -3) + ".ts", context);
      throw err;
    }
  },
});
`,
  );
  return file;
}
