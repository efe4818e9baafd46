/**
 * The kinds preview-bot knows (src/services/preview/preflight/kinds.ts) walked against the bot's RBAC as shipped
 * (deploy/base/rbac.yaml): what a preview may contain and what the bot may do must never drift apart, or a render
 * passes and the apply then gets a 403.
 */
import { describe, expect, it } from "@jest/globals";
import { KNOWN_KINDS, PREVIEW_VERBS, guessResource } from "../../../../src/services/preview/preflight/kinds.js";
import {
  grantedResources,
  missingVerbs,
  parseRbacRules,
  readRbacRules,
} from "../../../../src/services/preview/preflight/rbac-rules.js";
import { APPLY_ORDER } from "../../../../src/services/cluster/support.js";
import { podSpecOf } from "../../../../src/services/preview/render/images.js";

const shipped = await readRbacRules();
const label = (k: { group: string; resource: string }) => `${k.resource}${k.group ? `.${k.group}` : ""}`;

describe("the kinds a preview may contain and the bot's RBAC as shipped", () => {
  it("reads deploy/base/rbac.yaml's preview-bot and preview-bot-previews", () => {
    expect(shipped.source).toBe("deploy/base/rbac.yaml (ClusterRole preview-bot + preview-bot-previews)");
    expect(shipped.rules.length).toBeGreaterThan(5);
  });

  it("grants every allowed kind each verb the bot uses on it (apply: get, create, patch; prune: list, delete)", () => {
    const short = KNOWN_KINDS.filter((k) => !k.refused)
      .map((k) => ({ kind: k.kind, missing: missingVerbs(shipped, k.group, k.resource, PREVIEW_VERBS) }))
      .filter((k) => k.missing.length > 0);
    expect(short).toEqual([]);
  });

  it("grants a refused kind nothing to create or change with", () => {
    const granted = KNOWN_KINDS.filter((k) => k.refused)
      .filter((k) => missingVerbs(shipped, k.group, k.resource, ["create", "patch"]).length < 2)
      .map((k) => k.kind);
    expect(granted).toEqual([]);
  });

  it("names every resource the ClusterRoles let the bot create (so each has a kind, a reason or a rule to remove)", () => {
    // Namespaces are the bot's own (the preview namespace itself); a Namespace in a render is dropped with a warning.
    const creatable = grantedResources(shipped).filter(
      (g) => (g.verbs.includes("create") || g.verbs.includes("*")) && !(g.group === "" && g.resource === "namespaces"),
    );
    const unknown = creatable.filter((g) => !KNOWN_KINDS.some((k) => k.group === g.group && k.resource === g.resource));
    expect(unknown.map(label)).toEqual([]);
    expect(creatable.some((g) => g.group === "*" || g.resource === "*")).toBe(false);
  });

  it("knows every kind the bot orders, reads pod specs of or waits for, and allows the ones it does not refuse", () => {
    const handled = new Set([
      ...APPLY_ORDER.filter((k) => !["Namespace", "CustomResourceDefinition"].includes(k)),
      ...KNOWN_KINDS.map((k) => k.kind).filter((kind) => podSpecOf({ apiVersion: "v1", kind, metadata: {}, spec: {} })),
      "ReplicationController",
    ]);
    const missing = [...handled].filter((kind) => !KNOWN_KINDS.some((k) => k.kind === kind));
    expect(missing).toEqual([]);
    // A kind the apply orders is one previews may contain.
    expect(KNOWN_KINDS.filter((k) => k.refused && APPLY_ORDER.includes(k.kind)).map((k) => k.kind)).toEqual([]);
  });

  it("matches RBAC's own rules: wildcards grant, resourceNames never grant a kind as a whole", () => {
    const rules = parseRbacRules(
      `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: r }
rules:
  - { apiGroups: ["example.com"], resources: ["*"], verbs: ["*"] }
  - { apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: ["one"] }
`,
      ["r"],
      "test.yaml",
    );
    expect(missingVerbs(rules, "example.com", "widgets", PREVIEW_VERBS)).toEqual([]);
    expect(missingVerbs(rules, "", "secrets", ["get"])).toEqual(["get"]);
    expect(() => parseRbacRules("kind: ClusterRole\nmetadata: { name: other }\n", ["r"], "test.yaml")).toThrow(
      'reading test.yaml: no ClusterRole "r" in it',
    );
  });

  it("guesses a custom kind's resource as kubectl does", () => {
    expect(["Certificate", "Ingress", "NetworkPolicy", "Gateway", "Box"].map(guessResource)).toEqual([
      "certificates",
      "ingresses",
      "networkpolicies",
      "gateways",
      "boxes",
    ]);
  });
});
