/**
 * The soak's bot: the real server (startServer → buildApp) in its own process, so the soak can kill it with SIGKILL
 * in the middle of a step and start it again. Settings come from the environment like production's; the parts a test
 * replaces are the Kubernetes client's target (the fault proxy, plain HTTP), GitHub's Octokit (no retry or throttling
 * plugin: the queue's retries carry transient failures, as in the e2e suites) and a fast pace.
 *
 * stdin, one command a line: `sweep` runs the sweeper once (what the schedule does every 10 minutes) and prints
 * `swept <json>`; `idle` prints `idle` once nothing is queued, running, waiting to start or waiting to be written.
 * Prints `ready <port>` once it serves.
 */
import { createInterface } from "node:readline";
import { KubeConfig } from "@kubernetes/client-node";
import { ProbotOctokit } from "probot";
import { loadEnv } from "../../../src/env.js";
import { createLogger } from "../../../src/logger.js";
import { startServer } from "../../../src/server.js";

const kc = new KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: "soak", server: process.env.SOAK_KUBE_URL!, skipTLSVerify: true }],
  users: [{ name: "soak" }],
  contexts: [{ name: "soak", cluster: "soak", user: "soak" }],
  currentContext: "soak",
});
const Octokit = ProbotOctokit.defaults((options: Record<string, any> = {}) => ({
  ...options,
  retry: { ...options.retry, enabled: false },
  throttle: { ...options.throttle, enabled: false },
}));

const env = loadEnv(process.env);
const running = await startServer({
  env,
  logger: createLogger({ level: env.LOG_LEVEL }),
  parts: {
    kubeConfig: kc,
    Octokit,
    pace: { pollMs: 100, healthIntervalMs: 100, rolloutFailFastMs: 5_000, e2ePollMs: 100 },
  },
  schedules: false,
});
const app = running.app!;
process.stdout.write(`ready ${running.port}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  const command = line.trim();
  try {
    if (command === "sweep") {
      const result = await app.sweeper.sweep();
      process.stdout.write(`swept ${JSON.stringify({ dispatched: result.dispatched, errors: result.errors })}\n`);
    } else if (command === "idle") {
      await app.idle();
      process.stdout.write("idle\n");
    }
  } catch (err) {
    process.stdout.write(`failed ${command}: ${String(err).replace(/\n/g, " ")}\n`);
  }
}
