// ESLint (flat config). TypeScript (src/, test/) gets typescript-eslint's type-aware `recommendedTypeChecked` plus a
// few rules of `strictTypeChecked` that fit this code; bench/ and the config files (JavaScript) get the JavaScript
// rules without type information. Formatting is Prettier's (`npm run format:check`): eslint-config-prettier, last,
// turns off every rule that would fight it. `npm run lint` runs this, then knip (dead exports, files, dependencies).
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import { defineConfig } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
  {
    ignores: ["dist/", "coverage/", "reports/", ".stryker-tmp/", ".tools/", "node_modules/", "test/fixtures/"],
  },
  { linterOptions: { reportUnusedDisableDirectives: "error" } },
  {
    files: ["**/*.ts"],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A promise nobody awaits or handles loses its error; write `void` and say why where that is the intent.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      // A new member of a union (an action, a state, an outcome) must be handled wherever the union is switched on.
      "@typescript-eslint/switch-exhaustiveness-check": [
        "error",
        { allowDefaultCaseForExhaustiveSwitch: true, requireDefaultForNonUnion: false },
      ],
      // Unused variables and imports; a leading underscore marks one that is unused on purpose (a parameter a
      // signature needs, a property taken out of a rest spread).
      "@typescript-eslint/no-unused-vars": [
        "error",
        {
          argsIgnorePattern: "^_",
          varsIgnorePattern: "^_",
          caughtErrorsIgnorePattern: "^_",
          destructuredArrayIgnorePattern: "^_",
          ignoreRestSiblings: true,
        },
      ],
      // From strictTypeChecked, where they fit this code:
      "@typescript-eslint/return-await": ["error", "in-try-catch"], // a promise returned inside try escapes catch
      "@typescript-eslint/no-deprecated": "error",
      "@typescript-eslint/no-unnecessary-template-expression": "error",
      // Off, with reasons:
      // - An `async` method without `await` is how a memory store or a fake implements a Promise-returning interface
      //   (and it turns a throw into a rejection, as callers expect); the rule would ask for `Promise.resolve` noise.
      "@typescript-eslint/require-await": "off",
      // - The values it flags are parsed YAML/JSON (`unknown`, narrowed to `{}` by `??` or `!== undefined`) turned into
      //   text for a message on purpose with `String(…)`; an object there reads `[object Object]`, which is acceptable.
      "@typescript-eslint/no-base-to-string": "off",
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      // Tests read raw payloads (webhook bodies, Kubernetes objects, recorded API requests) as `any` where typing
      // them would only restate the fixture; `any` stays out of src/.
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      // The fakes model a subset of a real API on purpose: their `default` answers everything else ("not supported").
      "@typescript-eslint/switch-exhaustiveness-check": [
        "error",
        { allowDefaultCaseForExhaustiveSwitch: true, considerDefaultExhaustiveForUnions: true },
      ],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
    rules: {
      "no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", ignoreRestSiblings: true }],
    },
  },
  prettier,
);
