#!/usr/bin/env node
/**
 * `preview-bot <command>`: the server and the offline tools.
 *   preview-bot start                      run the bot (same as `npm start`)
 *   preview-bot render --dir … --pr … …    print exactly the YAML a PR's preview would apply (dry run, no cluster)
 *   preview-bot sweep [--dry-run]
 *   preview-bot backup run|list|verify|prune|restore …
 *   preview-bot renderer                   the renderer workload (RENDERER_URL points the bot at it)
 */
import { describeError } from "./services/shared/format.js";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";

const USAGE = `usage: preview-bot <command> [options]

commands:
  start     run the bot (GitHub webhooks, Slack, /healthz, /metrics on one port)
  render    print the YAML that would be applied for a pull request (no cluster needed)
  sweep     reconcile previews with open pull requests now (--dry-run lists what it would do)
  backup    run|list|verify|prune|restore database backups in Azure Blob Storage
  renderer  serve renders for the bot (the renderer workload: no secrets, sandboxed renders)
  help      this text

Run "preview-bot <command> --help" for a command's options.`;

export async function runCli(argv: string[], io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "start": {
      const { startServer } = await import("./server.js");
      await startServer();
      return -1; // keep running
    }
    case "render": {
      const { runRenderCli } = await import("./cli/render.js");
      return runRenderCli(rest, io);
    }
    case "sweep": {
      const { runSweepCli } = await import("./cli/sweep.js");
      return runSweepCli(rest, io);
    }
    case "renderer": {
      const { runRendererCli } = await import("./cli/renderer.js");
      return runRendererCli(rest, io);
    }
    case "backup": {
      const { runBackupCli } = await import("./cli/backup.js");
      return runBackupCli(rest, io);
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      io.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      io.stderr.write(`unknown command "${command.slice(0, 40)}"\n\n${USAGE}\n`);
      return 2;
  }
}

/**
 * Whether this module is the program being run. `npx preview-bot`, a global install and node_modules/.bin start it
 * through a symlink, so both sides are compared after resolving links.
 */
export function isEntryPoint(argv1: string | undefined, moduleUrl: string): boolean {
  if (!argv1) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

if (isEntryPoint(process.argv[1], import.meta.url)) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${describeError(err)}\n`);
      process.exitCode = 1;
    },
  );
}
