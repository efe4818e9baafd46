import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { expandNamePattern, labelValue, pgIdentifier, previewNames } from "../../../src/services/preview/naming.js";
import type { PreviewRef } from "../../../src/services/shared/preview.js";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const PG_IDENT = /^[a-z0-9_]+$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
const SHA = "0123456789abcdef0123456789abcdef01234567";

const ref = (branch: string, number = 42, repo = "web", owner = "acme"): PreviewRef => ({
  owner,
  repo,
  number,
  branch,
  sha: SHA,
});

/** Branch names as people (and attackers) write them: unicode, slashes, dots, case, leading digits, up to 255 chars. */
const branchArb = fc.oneof(
  fc.string({ minLength: 1, maxLength: 255, unit: "grapheme" }),
  fc.stringMatching(/^[A-Za-z0-9._/-]{1,255}$/),
  fc.constantFrom(
    "feature/login",
    "Feature/Login",
    "feature-login",
    "login",
    "..",
    "a/../b",
    "1234",
    "-x-",
    "ÄÖÜ/ß",
    "🚀",
    "x".repeat(255),
  ),
);

describe("previewNames", () => {
  it("gives readable exact names for simple branches and patterns", () => {
    const n = previewNames(ref("login"), { namespace: "feature-{branch}", host: "{name}.previews.example.com" });
    expect(n.namespace).toBe("feature-login");
    expect(n.host).toBe("feature-login.previews.example.com");
    expect(n.url).toBe("https://feature-login.previews.example.com/");
    expect(n.database).toBe("feature_login");
    expect(n.role).toBe("feature_login_app");
    expect(n.key).toBe("acme/web#42");
    expect(previewNames(ref("x"), { namespace: "{repo}-pr-{number}" }).namespace).toBe("web-pr-42");
  });

  it("never doubles the prefix, and keeps the stripped name distinct from the plain branch", () => {
    const doubled = previewNames(ref("feature/login"), { namespace: "feature-{branch}" }).namespace;
    expect(doubled).toMatch(/^feature-login-[0-9a-f]{8}$/);
    expect(doubled).not.toContain("feature-feature");
    const plain = previewNames(ref("login"), { namespace: "feature-{branch}" }).namespace;
    expect(plain).toBe("feature-login");
    const dashed = previewNames(ref("feature-login"), { namespace: "feature-{branch}" }).namespace;
    expect(new Set([doubled, plain, dashed]).size).toBe(3);
  });

  it("is deterministic", () => {
    const a = previewNames(ref("Feature/ÜBER-long"), { namespace: "feature-{branch}" });
    const b = previewNames(ref("Feature/ÜBER-long"), { namespace: "feature-{branch}" });
    expect(a).toEqual(b);
  });

  it("supports path-prefix routing", () => {
    const n = previewNames(ref("x", 7), { namespace: "pr-{number}", baseUrl: "https://previews.example.com/" });
    expect(n.url).toBe("https://previews.example.com/pr-7/");
  });

  it("rejects unknown placeholders", () => {
    expect(() => expandNamePattern("pr-{nmber}", ref("x"))).toThrow(/unknown placeholder \{nmber\}/);
  });

  it("property: every name is valid and capped, whatever the branch", () => {
    fc.assert(
      fc.property(
        branchArb,
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.constantFrom(
          "feature-{branch}",
          "{branch}",
          "pr-{number}",
          "{repo}-{branch}-{number}",
          "preview-{owner}-{repo}-{branch}",
        ),
        (branch, number, pattern) => {
          const n = previewNames(ref(branch, number, "a-very-long-repository-name-that-goes-on-and-on-and-on"), {
            namespace: pattern,
          });
          expect(n.namespace).toMatch(DNS_LABEL);
          expect(n.namespace.length).toBeLessThanOrEqual(63);
          expect(n.hostLabel).toMatch(DNS_LABEL);
          expect(n.database).toMatch(PG_IDENT);
          expect(Buffer.byteLength(n.database)).toBeLessThanOrEqual(63);
          expect(n.role).toMatch(PG_IDENT);
          expect(Buffer.byteLength(n.role)).toBeLessThanOrEqual(63);
          expect(n.role).not.toBe(n.database);
          for (const v of Object.values(n.labels)) {
            expect(v).toMatch(LABEL_VALUE);
            expect(v.length).toBeLessThanOrEqual(63);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("property: distinct branches of one repository get distinct namespaces and databases", () => {
    fc.assert(
      fc.property(fc.uniqueArray(branchArb, { minLength: 2, maxLength: 40 }), (branches) => {
        const names = branches.map((b, i) => previewNames(ref(b, i + 1), { namespace: "feature-{branch}" }));
        expect(new Set(names.map((n) => n.namespace)).size).toBe(branches.length);
        expect(new Set(names.map((n) => n.database)).size).toBe(branches.length);
      }),
      { numRuns: 300 },
    );
  });

  it("property: distinct PRs get distinct names with a number pattern, even from one branch", () => {
    fc.assert(
      fc.property(
        branchArb,
        fc.uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 2, maxLength: 30 }),
        (branch, numbers) => {
          const names = numbers.map(
            (num) => previewNames(ref(branch, num), { namespace: "pr-{number}-{branch}" }).namespace,
          );
          expect(new Set(names).size).toBe(numbers.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("pgIdentifier and labelValue", () => {
  it("cut long identifiers with a hash and keep the suffix", () => {
    const id = pgIdentifier("x".repeat(63), "_app");
    expect(id.length).toBe(63);
    expect(id.endsWith("_app")).toBe(true);
    expect(pgIdentifier("y".repeat(63), "_app")).not.toBe(id);
  });
  it("makes label values safe and distinct", () => {
    expect(labelValue("acme.web")).toBe("acme.web");
    const a = labelValue("acme/web");
    expect(a).toMatch(LABEL_VALUE);
    expect(a).not.toBe(labelValue("acme_web"));
    expect(labelValue("_".repeat(100))).toMatch(/^[0-9a-f]{8}$/);
  });
});
