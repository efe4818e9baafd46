/**
 * Jest for mutation testing (stryker.config.mjs): the base config on the pure unit tests of the decision-making
 * modules. No global setup: these tests need no PostgreSQL, Azurite or control plane, so each mutant runs in
 * milliseconds.
 */
import base from "./jest.config.js";

const { globalSetup: _setup, globalTeardown: _teardown, ...rest } = base;

export default {
  ...rest,
  testMatch: [
    "<rootDir>/test/intake/parse.test.ts",
    "<rootDir>/test/config.test.ts",
    "<rootDir>/test/services/github/authz.test.ts",
    "<rootDir>/test/services/github/config-check.test.ts",
    "<rootDir>/test/services/preview/naming.test.ts",
    "<rootDir>/test/services/preview/triggers.test.ts",
    "<rootDir>/test/services/preview/reconcile/sweep-plan.test.ts",
    "<rootDir>/test/services/data/backups/backup-rules.test.ts",
    "<rootDir>/test/services/preview/guardrails/confine-objects.test.ts",
    "<rootDir>/test/services/preview/guardrails/object-rules.test.ts",
    "<rootDir>/test/services/preview/guardrails/pod-security.test.ts",
    "<rootDir>/test/services/preview/render/transform.test.ts",
  ],
};
