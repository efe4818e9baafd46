/**
 * `preview-bot sweep [--dry-run]`: one reconcile pass by hand, built from the environment exactly as the server
 * builds itself (buildDeps: cluster, databases, queue, runner). Open pull requests come from the GitHub App's
 * installations. Without --dry-run the deploys and removals are queued and, with the embedded queue, run here
 * before the command returns; with DATABASE_URL they are queued for the running replicas (and this process).
 */
import { parseArgs } from "node:util";
import { buildDeps, createProbotApp } from "../deps.js";
import { githubConfigured, loadEnv, secretValues } from "../env.js";
import { createLogger, redactText, registerSecret } from "../logger.js";
import { createMetrics } from "../services/metrics.js";
import type { CliIo } from "./backup.js";

export const SWEEP_HELP = `Usage: preview-bot sweep [--dry-run]

Compare the open pull requests of enrolled repositories with the previews that exist (namespaces labelled
app.kubernetes.io/managed-by=preview-bot, databases carrying preview-bot's mark) and fix the drift: deploy what
is missing or stale, remove previews of closed pull requests and expired ones.

  --dry-run   list what would be done; change nothing

Settings: the bot's own (APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET, KUBECONFIG or in-cluster,
PREVIEW_DATABASE_URL, DATABASE_URL).`;

/** Returns the process exit code: 0 ok, 1 sweep failed or had errors, 2 usage error. */
export async function runSweepCli(argv: string[], io: CliIo): Promise<number> {
  let dryRun = false;
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
    io.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${SWEEP_HELP}\n`);
    return 2;
  }
  const env = loadEnv(io.env ?? process.env);
  for (const s of secretValues(env)) registerSecret(s);
  if (!githubConfigured(env)) {
    io.stderr.write(
      "preview-bot sweep needs the GitHub App's credentials (APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET) to list open pull requests\n",
    );
    return 2;
  }
  const logger = createLogger({ level: env.LOG_LEVEL });
  const probot = createProbotApp(env, logger);
  const deps = buildDeps(env, logger, probot, createMetrics());
  try {
    const result = await deps.sweeper.sweep({ dryRun });
    io.stdout.write(`${redactText(result.text)}\n`);
    if (!dryRun && result.dispatched.length) {
      io.stdout.write(`waiting for ${result.dispatched.length} queued job(s)…\n`);
      await deps.queue.onIdle();
    }
    return result.errors.length ? 1 : 0;
  } catch (err) {
    io.stderr.write(
      `${redactText(err instanceof Error ? `${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ""}` : String(err))}\n`,
    );
    return 1;
  } finally {
    await deps.close();
  }
}
