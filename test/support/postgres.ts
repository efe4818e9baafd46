/**
 * A real PostgreSQL server for the test run: `initdb` + `pg_ctl` into a temporary directory, on a free loopback
 * port, as the `postgres` OS user when we are root (PostgreSQL refuses to run as root). Password authentication
 * (scram-sha-256) everywhere, so tests that log in with provisioned roles exercise the real auth path.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestPostgres {
  /** Superuser URL, e.g. postgres://postgres:pw@127.0.0.1:5433/postgres */
  url: string;
  port: number;
  dataDir: string;
  binDir: string;
  stop(): void;
  /** Stop the server at once (`-m immediate`: connections are cut, as in a crash) and start it again, same port. */
  restart(): void;
}

/** Newest `/usr/lib/postgresql/<major>/bin` (Debian keeps initdb/pg_ctl off PATH), or PG_BIN_DIR. */
function findPostgresBinDir(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => existsSync(join(root, d, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0) {
    throw new Error(
      "PostgreSQL server binaries not found under /usr/lib/postgresql: run `apt-get install -y postgresql` (.ci/run does)",
    );
  }
  return join(root, majors[0]!, "bin");
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startPostgres(): Promise<TestPostgres> {
  const binDir = findPostgresBinDir();
  const base = mkdtempSync(join(tmpdir(), "preview-bot-pg-"));
  const dataDir = join(base, "data");
  const pwFile = join(base, "pw");
  const password = `pw${Math.random().toString(36).slice(2)}`;
  writeFileSync(pwFile, password);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    chmodSync(base, 0o777);
    execFileSync("chown", ["-R", "postgres:postgres", base]);
  }
  const run = (cmd: string, args: string[]) => {
    const full = join(binDir, cmd);
    const r = asRoot
      ? spawnSync("runuser", ["-u", "postgres", "--", full, ...args], { encoding: "utf8" })
      : spawnSync(full, args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}`);
  };
  run("initdb", [
    "-D",
    dataDir,
    "-U",
    "postgres",
    "--auth=scram-sha-256",
    `--pwfile=${pwFile}`,
    "-E",
    "UTF8",
    "--locale=C",
  ]);
  const port = await freePort();
  const opts = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${base} -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  run("pg_ctl", ["-D", dataDir, "-o", opts, "-l", join(base, "log"), "-w", "-t", "60", "start"]);
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    dataDir,
    binDir,
    restart() {
      run("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
      run("pg_ctl", ["-D", dataDir, "-o", opts, "-l", join(base, "log"), "-w", "-t", "60", "start"]);
    },
    stop() {
      try {
        run("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    },
  };
}
