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
 *  - `image gate: added time per deploy (seed overlay, 4 images)`: the images the seed overlay pins — the
 *    kubernetesmooc `feature` overlay (test/fixtures/kubernetesmooc) built with kustomize and put through the bot's
 *    transforms with examples/kubernetesmooc/preview.yml, its `images[]` renamed into the loopback registry — resolved
 *    concurrently, as a deploy would, p50/p95 over --deploys N (default 50): warm (the bot's client lives across
 *    deploys) and cold (first deploy after start).
 *  - `image gate: the Images step on the seed overlay`: the deploy's whole Images step (dist/…/steps/images.js: plan,
 *    one HEAD per image, digests pinned into the rendered objects, the report), warm and cold, over the same N: what
 *    the step adds to a deploy whose images are all pushed.
 * Also printed: the manifest GETs the registry saw from the resolver during the run (target 0).
 *
 * Loopback numbers: the floor of the gate's own cost. A real registry adds its round trips (two for a cold token).
 */
import { join } from "node:path";
import { benchScript } from "./support/script.mjs";

const { root, opts, dist, support } = benchScript(import.meta.url, {
  warm: { type: "string", default: "200" },
  cold: { type: "string", default: "50" },
  deploys: { type: "string", default: "50" },
});
const { createRegistryClient } = await import(dist("services/registry/registry-client.js"));
const { parseDockerConfig } = await import(dist("services/registry/docker-config.js"));
const { startRegistry, REGISTRY_BINARY } = await import(support("registry.ts"));
const { existsSync, readFileSync } = await import("node:fs");
const { execFileSync } = await import("node:child_process");
const { parseConfig } = await import(dist("config.js"));
const { parseManifests, previewNamesFor, transformObjects } = await import(dist("services/preview/render/index.js"));
const { imagesStep } = await import(dist("services/preview/deploy/steps/images.js"));
const { newReport } = await import(dist("services/preview/context.js"));

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

const SHA = "0123abc".padEnd(40, "0");
const BRANCH = "feature-x";
/** The seed overlay as a deploy renders it: kustomize, then the bot's transforms with the example's config. */
function renderSeed(host) {
  const kustomize = join(root, ".tools", "bin", "kustomize");
  const overlay = join(root, "test", "fixtures", "kubernetesmooc", "manifests", "overlays", "feature");
  const yaml = execFileSync(kustomize, ["build", overlay], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const example = readFileSync(join(root, "examples", "kubernetesmooc", "preview.yml"), "utf8").replace(
    /^( {2}- name: kubemooc\.azurecr\.io\/([a-z-]+)\n)/gm,
    (_, line, image) => `${line}    newName: ${host}/team/${image}\n`,
  );
  const parsed = parseConfig(example);
  if (!parsed.ok) throw new Error(`examples/kubernetesmooc/preview.yml: ${parsed.errors.join("; ")}`);
  const ref = { owner: "rjpalt", repo: "KubernetesMOOC", number: 7, branch: BRANCH, sha: SHA };
  const names = previewNamesFor(ref, parsed.config);
  const { objects, pinned } = transformObjects(parseManifests(yaml, "kustomize build"), {
    config: parsed.config,
    ref,
    names,
  });
  return { config: parsed.config, ref, names, objects, pinned };
}

const password = `bench-${Date.now()}`;
const registry = await startRegistry({ users: { bench: password }, privatePrefixes: ["team/"] });
try {
  const seed = renderSeed(registry.host);
  const images = seed.pinned.map((p) => p.repository.slice(registry.host.length + 1));
  for (const [i, p] of seed.pinned.entries())
    await registry.push(p.repository.slice(registry.host.length + 1), p.tag, { seed: i + 1 });
  const refs = seed.pinned.map((p) => p.image);
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

  /** One deploy's Images step over the rendered seed overlay (a fresh copy of the objects each time). */
  const stepOnce = async (client) => {
    const ctx = {
      deps: { images: { registry: client, defaultWaitMs: 60_000, pollMs: 1_000, maxPollMs: 1_000 } },
      job: {
        installationId: 1,
        owner: seed.ref.owner,
        repo: seed.ref.repo,
        number: 7,
        trigger: "bench",
        source: "webhook",
        action: "deploy",
      },
      pull: { baseBranch: "main", baseSha: SHA },
      config: seed.config,
      ref: seed.ref,
      names: seed.names,
      report: newReport("deploy", seed.ref, seed.names, "bench"),
      park: (wait) => wait(),
      objects: structuredClone(seed.objects),
      pinned: seed.pinned,
    };
    await imagesStep.run(ctx, () => {});
    if (ctx.report.images?.length !== seed.pinned.length)
      throw new Error("bench: the Images step resolved too few images");
  };
  const stepClient = newClient();
  await stepOnce(stepClient);
  const stepWarm = [];
  const stepCold = [];
  for (let i = 0; i < Number(opts.deploys); i++) stepWarm.push(await timed(() => stepOnce(stepClient)));
  for (let i = 0; i < Number(opts.deploys); i++) stepCold.push(await timed(() => stepOnce(newClient())));

  const ours = registry.log().filter((e) => e.ua === UA);
  const manifestGets = ours.filter((e) => e.path.includes("/manifests/") && e.method === "GET").length;
  const heads = ours.filter((e) => e.path.includes("/manifests/") && e.method === "HEAD").length;
  console.log("| benchmark | measured |\n|---|---|");
  console.log(
    `| image gate: manifest HEAD per image | warm (token cached, 1 HEAD): p50 **${ms(pct(warm, 50))}**, p95 **${ms(pct(warm, 95))}** over ${warm.length}; cold (new client: HEAD 401, token, HEAD): p50 ${ms(pct(cold, 50))}, p95 ${ms(pct(cold, 95))} over ${cold.length} (loopback registry, preview-registry go-containerregistry ${registry.version}) |`,
  );
  console.log(
    `| image gate: added time per deploy (seed overlay, ${refs.length} images) | warm: p50 **${ms(pct(deployWarm, 50))}**, p95 **${ms(pct(deployWarm, 95))}**; cold: p50 ${ms(pct(deployCold, 50))}, p95 ${ms(pct(deployCold, 95))} over ${deployWarm.length} deploys each (${refs.length} concurrent resolutions: ${images.map((i) => i.replace(/^team\//, "")).join(", ")}) |`,
  );
  console.log(
    `| image gate: the Images step on the seed overlay (${seed.objects.length} objects, ${refs.length} images) | warm: p50 **${ms(pct(stepWarm, 50))}**, p95 **${ms(pct(stepWarm, 95))}**; cold: p50 ${ms(pct(stepCold, 50))}, p95 ${ms(pct(stepCold, 95))} over ${stepWarm.length} deploys each (plan, HEADs, digests pinned, report) |`,
  );
  console.log(`\nmanifest requests from the resolver: ${heads} HEAD, ${manifestGets} GET (target 0 GET)`);
  if (manifestGets > 0) process.exitCode = 1;
} finally {
  await registry.stop();
}
