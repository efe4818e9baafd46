/**
 * Mutation testing (StrykerJS) on the modules that make decisions: `npm run test:mutation`. A report, not a CI gate:
 * the score per module goes in the README, survivors that matter get a test, the rest are explained there.
 * Runs Jest in native ESM mode like `npm test`, on the unit tests of those modules (jest.mutation.config.js).
 */
export default {
  testRunner: "jest",
  testRunnerNodeArgs: ["--experimental-vm-modules"],
  jest: { configFile: "jest.mutation.config.js", enableFindRelatedTests: false },
  checkers: [],
  mutate: [
    "src/intake/parse.ts",
    "src/services/github/authz.ts",
    "src/services/preview/naming.ts",
    "src/services/preview/triggers.ts",
    "src/config.ts",
    "src/services/preview/reconcile/sweep-plan.ts",
    // The retention decision; pruneBackups (the deletes) is tested on Azurite in backup-azurite.test.ts.
    "src/services/data/backups/retention.ts:1-68",
    "src/services/preview/guardrails/object-rules.ts",
    "src/services/preview/guardrails/pod-security.ts",
    "src/services/preview/guardrails/confine-objects.ts",
  ],
  coverageAnalysis: "perTest",
  // Module-level code (the config schema, regexes, tables) re-runs every test per mutant: 18% of the mutants, 80% of
  // the time. They are reported as ignored; the schema itself is covered by the config tests.
  ignoreStatic: true,
  // Re-runs only mutants whose code or covering tests changed since the last run (reports/stryker-incremental.json).
  incremental: true,
  incrementalFile: "reports/stryker-incremental.json",
  concurrency: 2,
  // Jest in ESM mode grows each worker by gigabytes over hundreds of runs; a fresh worker every 25 mutants stays fast.
  maxTestRunnerReuse: 25,
  timeoutMS: 30000,
  reporters: ["clear-text", "progress", "json", "html"],
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  htmlReporter: { fileName: "reports/mutation/mutation.html" },
  thresholds: { high: 80, low: 60, break: null },
  ignorePatterns: [".tools", "dist", "reports", "coverage", ".data"],
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
};
