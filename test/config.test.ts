import { describe, expect, it } from "@jest/globals";
import { parseConfig, parseDuration } from "../src/config.js";

describe("parseConfig", () => {
  it("fills defaults for a minimal file", () => {
    const r = parseConfig("manifests:\n  path: k8s/overlays/preview\n");
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.names.namespace).toBe("{repo}-pr-{number}");
    expect(r.config.trigger).toEqual({ on: "push", label: "preview", afterChecks: [], drafts: true });
    expect(r.config.health.timeout).toBe(300_000);
    expect(r.config.database.enabled).toBe(false);
    expect(r.config.database.secret.keys).toEqual({ user: "PGUSER", password: "PGPASSWORD" });
  });

  it("names every bad field, including unknown keys and nested ones", () => {
    const r = parseConfig(
      [
        "manifests:",
        "  path: ../outside",
        "  typo: 1",
        "names:",
        "  namespace: preview",
        "health:",
        "  timeout: soon",
        "trigger:",
        "  on: always",
        "images:",
        "  - tag: latest",
        "surprise: true",
      ].join("\n"),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const text = r.errors.join("\n");
    expect(text).toMatch(/^manifests\.path: must be a relative path inside the repository$/m);
    expect(text).toMatch(/^manifests: unknown field "typo" \(did you mean "type"\?\)$/m);
    expect(text).toMatch(/^names\.namespace: must contain \{number\}/m);
    expect(text).toMatch(/^health\.timeout: expected a duration like "90s".*got "soon"/m);
    expect(text).toMatch(/^trigger\.on: /m);
    expect(text).toMatch(/^images\[0\]\.name: /m);
    expect(text).toMatch(/^\(top level\): unknown field "surprise"; known: manifests, names, images, route/m);
  });

  it("reports YAML syntax errors and non-mapping documents", () => {
    const bad = parseConfig("manifests: [unclosed");
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors[0]).toMatch(/is not valid YAML/);
    const list = parseConfig("- a\n- b\n");
    expect(list.ok).toBe(false);
    if (!list.ok) expect(list.errors[0]).toMatch(/must be a mapping/);
  });

  it("refuses a YAML alias bomb instead of expanding it", () => {
    const bomb = ["a: &a [x,x,x,x,x,x,x,x,x,x]", ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`)].join("\n");
    const r = parseConfig(bomb);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toMatch(/is not valid YAML: .*alias/i);
  });

  it("names unknown template placeholders in tags, variables and replacements", () => {
    const r = parseConfig("manifests: {path: k}\nimages: [{name: app, tag: '{branch}-{commit}'}]\nvariables: {URL: '{url}', BAD: '{nope}'}\n");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.join("\n")).toMatch(/^images\[0\]\.tag: unknown placeholder \{commit\}/m);
    expect(r.errors.join("\n")).toMatch(/^variables\.BAD: unknown placeholder \{nope\}/m);
    expect(r.errors.join("\n")).not.toMatch(/variables\.URL/);
  });

  it("rejects host and baseUrl together, and bad label values", () => {
    const r = parseConfig("manifests: {path: k}\nroute: {host: '{name}.x.dev', baseUrl: 'https://x.dev'}\nnamespace: {labels: {ok: 'not ok!'}}\n");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.join("\n")).toMatch(/route\.host: set either host or baseUrl/);
    expect(r.errors.join("\n")).toMatch(/namespace\.labels\.ok: not a valid Kubernetes label value/);
  });
});

describe("parseDuration", () => {
  it.each([
    ["90s", 90_000],
    ["5m", 300_000],
    ["2h", 7_200_000],
    ["3d", 259_200_000],
    ["1w", 604_800_000],
  ])("%s → %d ms", (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(["", "5", "5 minutes", "-1h", "1.5h", "9999999d"])("rejects %j", (text) => expect(parseDuration(text)).toBeUndefined());
});
