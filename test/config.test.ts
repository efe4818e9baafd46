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

  it("takes a permission for every configurable action of the table, and only for those", () => {
    const r = parseConfig("manifests:\n  path: k8s\npermissions:\n  backups: write\n  restore: maintain\n");
    expect(r.ok && r.config.permissions).toEqual({ backups: "write", restore: "maintain" });
    const list = parseConfig("manifests:\n  path: k8s\npermissions:\n  list: write\n");
    expect(list.ok).toBe(false);
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
    // The file, the field the error is in and the offending line, not a message cut at "column M:" (issue 22).
    expect(parseConfig("manifests:\n  path: deploy\nhealth:\n  path: /\n   timeout: 5s\n")).toEqual({
      ok: false,
      errors: [
        '.github/preview.yml is not valid YAML (at health.path): Nested mappings are not allowed in compact mappings at line 4, column 9: "  path: /"',
      ],
    });
    expect(parseConfig("manifests:\n\tpath: deploy\n", "ci/preview.yml")).toEqual({
      ok: false,
      errors: [
        'ci/preview.yml is not valid YAML (at manifests): Tabs are not allowed as indentation at line 2, column 1: "\\tpath: deploy"',
      ],
    });
    expect(parseConfig("a: [1, 2\nb: 3\n")).toEqual({
      ok: false,
      errors: [
        '.github/preview.yml is not valid YAML (at a): Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1: "b: 3"',
      ],
    });
    const list = parseConfig("- a\n- b\n");
    expect(list.ok).toBe(false);
    if (!list.ok) expect(list.errors[0]).toMatch(/must be a mapping/);
  });

  it("refuses a YAML alias bomb instead of expanding it", () => {
    const bomb = [
      "a: &a [x,x,x,x,x,x,x,x,x,x]",
      ...Array.from(
        { length: 9 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`,
      ),
    ].join("\n");
    const r = parseConfig(bomb);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toMatch(/is not valid YAML: .*alias/i);
  });

  it("names unknown template placeholders in tags, variables and replacements", () => {
    const r = parseConfig(
      "manifests: {path: k}\nimages: [{name: app, tag: '{branch}-{commit}'}]\nvariables: {URL: '{url}', BAD: '{nope}'}\n",
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.join("\n")).toMatch(/^images\[0\]\.tag: unknown placeholder \{commit\}/m);
    expect(r.errors.join("\n")).toMatch(/^variables\.BAD: unknown placeholder \{nope\}/m);
    expect(r.errors.join("\n")).not.toMatch(/variables\.URL/);
  });

  it("rejects host and baseUrl together, and bad label values", () => {
    const r = parseConfig(
      "manifests: {path: k}\nroute: {host: '{name}.x.dev', baseUrl: 'https://x.dev'}\nnamespace: {labels: {ok: 'not ok!'}}\n",
    );
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
  it.each(["", "5", "5 minutes", "-1h", "1.5h", "9999999d"])("rejects %j", (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );
});

describe("parseConfig: the fields issue 13 added", () => {
  it("accepts a Helm chart's values, set and releaseName, and refuses them for other types", () => {
    const ok = parseConfig(
      'manifests:\n  path: chart\n  type: helm\n  values: [chart/values-preview.yaml]\n  set: { image.tag: "{sha}" }\n  releaseName: "web-{number}"\n',
    );
    expect(ok.ok && ok.config.manifests).toMatchObject({
      type: "helm",
      values: ["chart/values-preview.yaml"],
      set: { "image.tag": "{sha}" },
      releaseName: "web-{number}",
    });
    const bad = parseConfig("manifests:\n  path: k8s\n  type: kustomize\n  values: [v.yaml]\n");
    expect(!bad.ok && bad.errors).toEqual(["manifests.values: only for manifests.type: helm (this is kustomize)"]);
  });

  it("normalizes exclude entries: path globs as strings or {path}, objects by kind", () => {
    const r = parseConfig(
      "manifests:\n  path: k8s\n  exclude: [legacy/**, { path: all-in-one/** }, { kind: Secret, name: x }]\n",
    );
    expect(r.ok && r.config.manifests.exclude).toEqual([
      { path: "legacy/**" },
      { path: "all-in-one/**" },
      { kind: "Secret", name: "x" },
    ]);
    const bad = parseConfig("manifests:\n  path: k8s\n  exclude: [{ name: x }, ../up]\n");
    expect(!bad.ok && bad.errors).toEqual([
      "manifests.exclude[0]: give either kind (and optionally name) or a path glob",
      "manifests.exclude[0].name: name needs a kind",
      "manifests.exclude[1].path: must be a relative path glob (no leading / or ..)",
    ]);
  });

  it("takes route.expose with a port number or name, and image prefixes", () => {
    const r = parseConfig(
      'manifests: { path: k8s }\nroute:\n  host: "{name}.p.example.com"\n  kind: ingress\n  expose: { service: web, port: http }\nimages:\n  - name: ghcr.io/acme/*\n    newName: mirror.example.com/acme/*\n',
    );
    expect(r.ok && [r.config.route?.expose, r.config.route?.kind, r.config.images[0]]).toEqual([
      [{ service: "web", port: "http" }],
      "ingress",
      { name: "ghcr.io/acme/*", newName: "mirror.example.com/acme/*", tag: "{sha}" },
    ]);
    const bad = parseConfig(
      "manifests: { path: k8s }\nimages:\n  - name: ghcr.io/acme/*\n    newName: mirror.example.com/app\n",
    );
    expect(!bad.ok && bad.errors[0]).toMatch(/^images\[0\]\.newName: with a prefix name/);
  });

  it("takes images[].wait, paths and baseTag, and names what is wrong with them", () => {
    const r = parseConfig(
      'manifests: { path: k8s }\nimages:\n  - name: ghcr.io/acme/web\n    wait: 20m\n    paths: ["services/web/**", Dockerfile]\n    baseTag: "{branch}-{sha}"\n',
    );
    expect(r.ok && r.config.images[0]).toEqual({
      name: "ghcr.io/acme/web",
      tag: "{sha}",
      wait: 1_200_000,
      paths: ["services/web/**", "Dockerfile"],
      baseTag: "{branch}-{sha}",
    });
    const bad = parseConfig(
      "manifests: { path: k8s }\nimages:\n  - { name: ghcr.io/a/b, wait: 2h }\n  - { name: ghcr.io/a/c, paths: [../x] }\n  - { name: ghcr.io/a/d, baseTag: main }\n  - { name: ghcr.io/a/e, wait: soon, paths: [] }\n",
    );
    expect(!bad.ok && bad.errors).toEqual([
      "images[0].wait: at most 45m (a deploy must finish within the job's hour)",
      "images[1].paths[0]: must be a path glob relative to the repository root (no leading / or ..)",
      "images[2].baseTag: only used with paths (the base branch's image is reused when the PR changes none of them)",
      'images[3].wait: expected a duration like "90s", "5m", "2h", "3d" or "1w", got "soon"',
      "images[3].paths: list at least one path glob, or leave paths out",
    ]);
  });

  it("suggests the nearest known key for a typo, at any depth, and names the file it read", () => {
    const r = parseConfig(
      "manifests: { path: k8s }\nroute:\n  hots: x\n  expose: { service: web, prot: 80 }\n",
      "ci/preview.yml",
    );
    expect(!r.ok && r.errors).toEqual(
      expect.arrayContaining([
        'route: unknown field "hots" (did you mean "host"?)',
        'route.expose: unknown field "prot" (did you mean "port"?)',
      ]),
    );
    const yaml = parseConfig("a: [", "ci/preview.yml");
    expect(!yaml.ok && yaml.errors[0]).toMatch(/^ci\/preview\.yml is not valid YAML/);
  });
});

describe("parseConfig: sleep.after", () => {
  const sleepAfter = (value: string) => parseConfig(`manifests:\n  path: k8s\nsleep:\n  after: ${value}\n`);

  it("takes a duration or never, and is absent unless written", () => {
    expect(sleepAfter("30m")).toMatchObject({ ok: true, config: { sleep: { after: 1_800_000 } } });
    expect(sleepAfter("never")).toMatchObject({ ok: true, config: { sleep: { after: "never" } } });
    const none = parseConfig("manifests:\n  path: k8s\n");
    expect(none.ok && none.config.sleep).toBeUndefined();
  });

  it.each(["soon", "0m", "0s", "-1h", "1.5h"])("names the field when it reads %j", (value) => {
    const r = sleepAfter(value);
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.errors).toEqual([expect.stringMatching(new RegExp(`^sleep\\.after: .*"${value.replace(".", "\\.")}"`))]);
  });

  it("names an unknown key under sleep", () => {
    const r = parseConfig("manifests:\n  path: k8s\nsleep:\n  afer: 1h\n");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.join("\n")).toMatch(/^sleep: unknown field "afer" \(did you mean "after"\?\)$/m);
  });
});

describe("parseConfig: manifests.set typed like --set (issue 22)", () => {
  it("takes YAML booleans, numbers and null in manifests.set as --set would type them", () => {
    const r = parseConfig(
      "manifests:\n  path: chart\n  type: helm\n  set: { ingress.enabled: false, replicaCount: 2, podinfo.tag: null, image.tag: '{sha}' }\n",
    );
    expect(r.ok && r.config.manifests.set).toEqual({
      "ingress.enabled": "false",
      replicaCount: "2",
      "podinfo.tag": "null",
      "image.tag": "{sha}",
    });
    const bad = parseConfig("manifests:\n  path: chart\n  type: helm\n  set: { a: [1] }\n");
    expect(!bad.ok && bad.errors[0]).toMatch(/^manifests\.set\.a: /);
  });
});

describe("parseConfig: secrets and previewEnv (issue 22)", () => {
  it("takes copies (from) and External Secrets (store), and names each wrong field", () => {
    const ok = parseConfig(
      "manifests: { path: k8s }\nsecrets:\n  - { name: stripe, from: app-secrets, keys: [api-key] }\n  - { name: db, from: app-secrets, as: db-creds }\n  - { name: oauth, store: vault, data: { client-id: apps/oauth#id }, extract: apps/common }\n",
    );
    expect(ok.ok && ok.config.secrets).toEqual([
      { name: "stripe", from: "app-secrets", keys: ["api-key"] },
      { name: "db", from: "app-secrets", as: "db-creds" },
      { name: "oauth", store: "vault", data: { "client-id": "apps/oauth#id" }, extract: "apps/common" },
    ]);
    expect(ok.ok && ok.config.previewEnv).toBe(true);
    const bad = parseConfig(
      'manifests: { path: k8s }\nsecrets:\n  - { name: a, from: ns, store: vault, data: { k: x } }\n  - { name: b }\n  - { name: c, store: vault }\n  - { name: d, store: vault, as: e, data: { k: x } }\n  - { name: Bad_Name, from: "../x" }\n  - { name: f, from: ns, keys: ["a b"] }\n  - { name: g, from: ns, as: stripe }\n  - { name: stripe, from: ns }\n',
    );
    expect(!bad.ok && bad.errors).toEqual([
      "secrets[0]: give either from (copy a Secret) or store (External Secrets)",
      "secrets[0].data: only with store",
      "secrets[1]: give either from (copy a Secret) or store (External Secrets)",
      "secrets[2]: with store, give data (keys) or extract (a remote key)",
      "secrets[3].as: only with from",
      "secrets[4].name: must be a DNS-1123 name",
      "secrets[4].from: must be a namespace name",
      "secrets[5].keys[0]: a Secret key ([-._a-zA-Z0-9]+)",
      'secrets[7]: a Secret "stripe" comes from secrets[6] too',
    ]);
    const typo = parseConfig("manifests: { path: k8s }\nsecrets:\n  - { name: a, form: ns }\n");
    expect(!typo.ok && typo.errors).toContain('secrets[0]: unknown field "form" (did you mean "from"?)');
  });

  it("takes previewEnv: false, and refuses anything but a boolean", () => {
    const off = parseConfig("manifests: { path: k8s }\npreviewEnv: false\n");
    expect(off.ok && off.config.previewEnv).toBe(false);
    const bad = parseConfig('manifests: { path: k8s }\npreviewEnv: "no"\n');
    expect(!bad.ok && bad.errors[0]).toMatch(/^previewEnv: /);
  });
});
