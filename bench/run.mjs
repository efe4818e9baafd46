#!/usr/bin/env node
/**
 * `npm run bench`: every benchmark in bench/ (not tests: they print tables of ratios measured in one run, with
 * absolute figures for context). `npm run bench -- backup` runs one; other arguments pass through, e.g.
 * `npm run bench -- backup --size-mb 256`.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const all = readdirSync(here)
  .filter((f) => f.endsWith(".mjs") && f !== "run.mjs")
  .sort();
const [first, ...rest] = process.argv.slice(2);
const chosen = first && !first.startsWith("-") ? all.filter((f) => f === `${first}.mjs`) : all;
const args = first && !first.startsWith("-") ? rest : process.argv.slice(2);
if (chosen.length === 0) {
  console.error(`no benchmark "${first}"; have: ${all.map((f) => f.replace(/\.mjs$/, "")).join(", ")}`);
  process.exit(2);
}
let failed = 0;
for (const file of chosen) {
  console.log(`\n## ${file.replace(/\.mjs$/, "")}\n`);
  const r = spawnSync(process.execPath, [join(here, file), "--no-build", ...args], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
