/**
 * `preview-bot sweep [--dry-run]`: one reconcile pass by hand, built from the environment exactly as the server
 * builds itself (buildApp: cluster, databases, queue, runner), started only to run what it queued. Open pull requests
 * come from the GitHub App's installations. Without --dry-run the deploys and removals are queued and, with the
 * embedded queue, run here before the command returns; with DATABASE_URL they are queued for the running replicas (and
 * this process).
 */
import { describeError } from "../services/shared/format.js";
import { parseArgs } from "node:util";
import { buildApp } from "../deps.js";
import { githubConfigured, loadEnv, secretValues } from "../env.js";
import { createLogger, redactText, registerSecret } from "../logger.js";
import type { CliIo } from "./backup.js";

const SWEEP_HELP = `Usage: preview-bot sweep [--dry-run]

Compare the open pull requests of enrolled repositories with the previews that exist (namespaces labelled
app.kubernetes.io/managed-by=preview-bot, databases carrying preview-bot's mark) and fix the drift: deploy what
is missing or stale, remove previews of closed pull requests and expired ones.

  --dry-run   list what would be done; change nothing

Settings: the bot's own (APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET, KUBECONFIG or in-cluster,
PREVIEW_DATABASE_URL, DATABASE_URL).`;

/** Returns the process exit code: 0 ok, 1 sweep failed or had errors, 2 usage error. */
export async function runSweepCli(argv: string[], io: CliIo): Promise<number> {
  let dryRun: boolean;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { help: { type: "boolean", short: "h" }, "dry-run": { type: "boolean" } },
    });
    if (values.help) {
      io.stdout.write(`${SWEEP_HELP}\n`);
      return 0;
    }
    dryRun = Boolean(values["dry-run"]);
  } catch (err) {
    io.stderr.write(`${describeError(err)}\n\n${SWEEP_HELP}\n`);
    return 2;
  }
  const env = loadEnv(io.env);
  for (const s of secretValues(env)) registerSecret(s);
  if (!githubConfigured(env)) {
    io.stderr.write(
      "preview-bot sweep needs the GitHub App's credentials (APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET) to list open pull requests\n",
    );
    return 2;
  }
  // Built, nothing started: a dry run reads and prints, and nothing else runs (no schedule, no job).
  const app = buildApp(env, { logger: createLogger({ level: env.LOG_LEVEL }) });
  try {
    const result = await app.sweeper.sweep({ dryRun });
    io.stdout.write(`${redactText(result.text)}\n`);
    if (!dryRun && result.dispatched.length) {
      io.stdout.write(`waiting for ${result.dispatched.length} queued job(s)…\n`);
      await app.start({ schedules: false, lease: false });
      await app.idle();
    }
    return result.errors.length ? 1 : 0;
  } catch (err) {
    io.stderr.write(`${redactText(describeError(err))}\n`);
    return 1;
  } finally {
    await app.close();
  }
}
