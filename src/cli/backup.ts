/**
 * `preview-bot backup ...` — run, list, verify, prune and restore backups by hand. Reads the same settings as the
 * bot (BACKUP_TARGETS_FILE / BACKUP_TARGETS, AZURE_STORAGE_ACCOUNT_URL / AZURE_STORAGE_CONNECTION_STRING,
 * PG_BIN_DIR, BACKUP_SCRATCH_URL). Prints no secret: connections are shown as user@host:port/db.
 */
import { earlyVariable, loadEnv, variablesOf } from "../env.js";
import { parseArgs } from "node:util";
import { createLogger, redactText } from "../logger.js";
import { formatBytes, formatDuration } from "../services/shared/format.js";
import {
  blobStoreFromEnv,
  connectionFromUrl,
  findTarget,
  formatBackupFailure,
  formatBackupSuccess,
  listBackups,
  loadTargets,
  pruneBackups,
  restoreBackup,
  runBackupJob,
  targetConnection,
  verifyBackup,
  type BackupResult,
} from "../services/data/backups/index.js";

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
}

const BACKUP_HELP = `Usage: preview-bot backup <command> [options]

Commands:
  run <target>                          back up now (then verify if the target says so, then apply retention)
  list <target>                         list the target's backups, newest first
  verify <target> [blob]                restore a backup (default: latest) into a scratch database and check it
  prune <target> [--dry-run]            delete backups outside the retention policy (--dry-run: only list them)
  restore <target> <blob|latest> --to <url> | --to-env <VAR>
                                        restore into an existing, empty database

Settings (environment):
  BACKUP_TARGETS_FILE / BACKUP_TARGETS  targets (YAML/JSON file, or inline JSON)
  AZURE_STORAGE_ACCOUNT_URL             blob account, Workload Identity / DefaultAzureCredential
  AZURE_STORAGE_CONNECTION_STRING       development (Azurite)
  PG_BIN_DIR                            directory of pg_dump/pg_restore (default: PATH, then newest /usr/lib/postgresql)
  BACKUP_SCRATCH_URL                    server for verification scratch databases (default: the target's own)
`;

/** Returns the process exit code: 0 ok, 1 failed, 2 usage error. */
export async function runBackupCli(argv: string[], io: CliIo): Promise<number> {
  const settings = loadEnv(io.env);
  // The variables the targets name (passwordEnv, --to-env) and the tools read, as the settings were loaded from.
  const env = variablesOf(settings);
  const out = (s: string) => io.stdout.write(`${redactText(s)}\n`);
  const err = (s: string) => io.stderr.write(`${redactText(s)}\n`);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: "boolean", short: "h" },
        "dry-run": { type: "boolean" },
        to: { type: "string" },
        "to-env": { type: "string" },
      },
    });
  } catch (e) {
    err(`${(e as Error).message}\n\n${BACKUP_HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, targetName, third] = positionals;
  if (values.help || !command) {
    (values.help ? out : err)(BACKUP_HELP);
    return values.help ? 0 : 2;
  }
  const usage = (msg: string) => {
    err(`${msg}\n\n${BACKUP_HELP}`);
    return 2;
  };
  if (!["run", "list", "verify", "prune", "restore"].includes(command)) return usage(`unknown command "${command}"`);
  if (!targetName) return usage(`${command}: missing <target>`);
  const logger = createLogger({
    level: io.env?.LOG_LEVEL ?? earlyVariable("LOG_LEVEL") ?? "warn",
    destination: io.stderr,
  });
  try {
    const target = findTarget(loadTargets(env), targetName);
    const store = blobStoreFromEnv(env);
    const deps = { store, env, logger };
    const scratch = () =>
      env.BACKUP_SCRATCH_URL ? connectionFromUrl(env.BACKUP_SCRATCH_URL) : targetConnection(target, env);
    switch (command) {
      case "run": {
        let failure: Error | undefined;
        let success: BackupResult | undefined;
        await runBackupJob(target, {
          ...deps,
          scratch: env.BACKUP_SCRATCH_URL ? connectionFromUrl(env.BACKUP_SCRATCH_URL) : undefined,
          events: {
            onSuccess: (r) => void (success = r),
            onFailure: (_t, e) => void (failure = e),
            onMissed: () => {},
          },
        });
        if (failure || !success) {
          err(formatBackupFailure(target.name, failure ?? new Error("no result")));
          return 1;
        }
        out(formatBackupSuccess(success));
        return 0;
      }
      case "list": {
        const all = await listBackups(store, target);
        if (!all.length) out(`no backups of ${target.name} in container ${target.container}`);
        for (const b of all)
          out(
            `${b.time.toISOString()}  ${formatBytes(b.size).padStart(10)}  ${b.verified ? "verified" : "-       "}  ${b.name}`,
          );
        return 0;
      }
      case "verify": {
        const v = await verifyBackup(target, third ?? "latest", scratch(), deps);
        out(
          `verified ${v.blobName}: ${v.tables} tables, ${v.exactChecked} exact row counts matched, restore took ${v.restoreMs} ms`,
        );
        return 0;
      }
      case "prune": {
        const r = await pruneBackups(target, target.retention, { ...deps, dryRun: !!values["dry-run"] });
        for (const k of r.kept) out(`keep    ${k.name}  (${k.reasons.join(", ")})`);
        for (const p of r.pruned) out(`${r.dryRun ? "would prune" : "pruned"}  ${p}`);
        for (const e of r.errors) err(`error   ${e}`);
        return r.errors.length ? 1 : 0;
      }
      case "restore": {
        if (!third) return usage("restore: missing <blob|latest>");
        const url = values.to ?? (values["to-env"] ? env[values["to-env"]] : undefined);
        if (!url) return usage("restore: give --to <postgres url> or --to-env <VARIABLE holding it>");
        const r = await restoreBackup(target, third, url, deps);
        out(
          `restored ${r.blobName} (${formatBytes(r.bytes)}) into database ${r.database} in ${formatDuration(r.durationMs)}`,
        );
        return 0;
      }
    }
    return 2;
  } catch (e) {
    err(`backup ${command} ${targetName}: ${(e as Error).message}`);
    return 1;
  }
}
