#!/usr/bin/env node
/**
 * `npm run bench -- registry`: the image gate's cost, against the real loopback registry (preview-registry from
 * `bash tools/build.sh`: go-containerregistry's registry behind a Docker token-auth front), with the resolver as built
 * (dist/services/registry/registry-client.js) and a dockerconfigjson credential for a private repository.
 *
 * Rows:
 *  - `image gate: manifest HEAD per image`: one resolution's latency, p50/p95. Warm: one client, token cached, so one
 *    HEAD each (--warm N, default 200). Cold: a new client each time, so HEAD → 401 → token (Basic) → HEAD
 *    (--cold N, default 50).
 *  - `image gate: added time per deploy (seed overlay, 4 images)`: the four images the seed example pins
 *    (examples/kubernetesmooc: todo-app-be, -fe, -cron, broadcaster) resolved concurrently, as a deploy would, p50/p95
 *    over --deploys N (default 50): warm (the bot's client lives across deploys) and cold (first deploy after start).
 * Also printed: the manifest GETs the registry saw from the resolver during the run (target 0).
 *
 * Loopback numbers: the floor of the gate's own cost. A real registry adds its round trips (two for a cold token).
 */
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { rerunWithTypeScript } from "./support/typescript.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const argv = process.argv.slice(2);
rerunWithTypeScript(import.meta.url, argv, root);

const { values: opts } = parseArgs({
  args: argv,
  options: {
    warm: { type: "string", default: "200" },
    cold: { type: "string", default: "50" },
    deploys: { type: "string", default: "50" },
    "no-build": { type: "boolean" },
  },
});
const dist = (p) => pathToFileURL(join(root, "dist", p)).href;
const { createRegistryClient } = await import(dist("services/registry/registry-client.js"));
const { parseDockerConfig } = await import(dist("services/registry/docker-config.js"));
const { startRegistry, REGISTRY_BINARY } = await import(
  pathToFileURL(join(root, "test", "support", "registry.ts")).href
);
const { existsSync } = await import("node:fs");

if (!existsSync(REGISTRY_BINARY)) {
  console.error(`${REGISTRY_BINARY} is missing: run \`bash tools/build.sh\``);
  process.exit(1);
}

const UA = "preview-bot bench";
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => `${x.toFixed(2)} ms`;
const timed = async (fn) => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};

const password = `bench-${Date.now()}`;
const registry = await startRegistry({ users: { bench: password }, privatePrefixes: ["team/"] });
try {
  const images = ["todo-app-be", "todo-app-fe", "todo-app-cron", "broadcaster"].map((n) => `team/${n}`);
  for (const [i, repo] of images.entries()) await registry.push(repo, "feature-x-0123abc", { seed: i + 1 });
  const refs = images.map((repo) => `${registry.host}/${repo}:feature-x-0123abc`);
  const credentials = parseDockerConfig(
    JSON.stringify({ auths: { [registry.host]: { username: "bench", password } } }),
    "bench",
  );
  const newClient = () => createRegistryClient({ credentials, userAgent: UA });
  const expectFound = (r) => {
    if (r.outcome !== "found") throw new Error(`bench: ${r.image}: ${r.outcome}: ${r.message}`);
  };

  const warmClient = newClient();
  expectFound(await warmClient.resolve(refs[0]));
  const warm = [];
  for (let i = 0; i < Number(opts.warm); i++)
    warm.push(await timed(async () => expectFound(await warmClient.resolve(refs[0]))));
  const cold = [];
  for (let i = 0; i < Number(opts.cold); i++)
    cold.push(await timed(async () => expectFound(await newClient().resolve(refs[0]))));

  const deployWarm = [];
  const deployClient = newClient();
  for (const r of refs) expectFound(await deployClient.resolve(r));
  for (let i = 0; i < Number(opts.deploys); i++) {
    deployWarm.push(
      await timed(async () => (await Promise.all(refs.map((r) => deployClient.resolve(r)))).forEach(expectFound)),
    );
  }
  const deployCold = [];
  for (let i = 0; i < Number(opts.deploys); i++) {
    const c = newClient();
    deployCold.push(await timed(async () => (await Promise.all(refs.map((r) => c.resolve(r)))).forEach(expectFound)));
  }

  const ours = registry.log().filter((e) => e.ua === UA);
  const manifestGets = ours.filter((e) => e.path.includes("/manifests/") && e.method === "GET").length;
  const heads = ours.filter((e) => e.path.includes("/manifests/") && e.method === "HEAD").length;
  console.log("| benchmark | measured |\n|---|---|");
  console.log(
    `| image gate: manifest HEAD per image | warm (token cached, 1 HEAD): p50 **${ms(pct(warm, 50))}**, p95 **${ms(pct(warm, 95))}** over ${warm.length}; cold (new client: HEAD 401, token, HEAD): p50 ${ms(pct(cold, 50))}, p95 ${ms(pct(cold, 95))} over ${cold.length} (loopback registry, preview-registry go-containerregistry ${registry.version}) |`,
  );
  console.log(
    `| image gate: added time per deploy (seed overlay, 4 images) | warm: p50 **${ms(pct(deployWarm, 50))}**, p95 **${ms(pct(deployWarm, 95))}**; cold: p50 ${ms(pct(deployCold, 50))}, p95 ${ms(pct(deployCold, 95))} over ${deployWarm.length} deploys each (4 concurrent resolutions) |`,
  );
  console.log(`\nmanifest requests from the resolver: ${heads} HEAD, ${manifestGets} GET (target 0 GET)`);
  if (manifestGets > 0) process.exitCode = 1;
} finally {
  await registry.stop();
}
