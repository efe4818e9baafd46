/**
 * `secrets` in the render: External Secrets entries become ExternalSecret objects (built as objects, so a remote key
 * is a value, never YAML); every ExternalSecret or PushSecret may read only a ClusterSecretStore the operator allows
 * for the repository; copies only from an allowed namespace, never over a Secret of the render; a fork's preview
 * gets neither unless allowed. Every refusal names the field or the object and its file.
 */
import { describe, expect, it } from "@jest/globals";
import { parseConfig } from "../../../../src/config.js";
import { loadEnv } from "../../../../src/env.js";
import { parseAllowlist, type SecretAllowlists } from "../../../../src/services/preview/render/app-secrets.js";
import { RenderError, previewNamesFor, transformObjects } from "../../../../src/services/preview/render/index.js";
import type { KubeObject, PreviewRef } from "../../../../src/services/shared/preview.js";

const ref: PreviewRef = { owner: "acme", repo: "shop", number: 42, branch: "feat/x", sha: "ab".repeat(20) };

function render(yaml: string, objects: KubeObject[], allow: SecretAllowlists, r: PreviewRef = ref) {
  const parsed = parseConfig(`manifests: { path: deploy }\n${yaml}`);
  if (!parsed.ok) throw new Error(parsed.errors.join("\n"));
  const names = previewNamesFor(r, parsed.config);
  return { names, ...transformObjects(objects, { config: parsed.config, ref: r, names, secrets: allow }) };
}
const problems = (f: () => unknown): readonly string[] => {
  try {
    f();
  } catch (err) {
    if (err instanceof RenderError) return err.problems;
    throw err;
  }
  throw new Error("expected a RenderError");
};
const allow = (sources: string[], stores: string[] = [], forks = false): SecretAllowlists => ({
  sources: parseAllowlist(sources),
  stores: parseAllowlist(stores),
  forks,
});
const externalSecret = (name: string, store: Record<string, unknown>): KubeObject => ({
  apiVersion: "external-secrets.io/v1",
  kind: "ExternalSecret",
  metadata: { name },
  spec: { secretStoreRef: store, target: { name }, dataFrom: [{ extract: { key: "x" } }] },
});

describe("secrets: External Secrets", () => {
  it("makes an ExternalSecret per store entry, in the preview namespace, the remote key a plain value", () => {
    const hostile = 'apps/oauth\n  injected: "yes"#id';
    const { objects, names } = render(
      `secrets:\n  - name: oauth\n    store: vault\n    data: { client-id: ${JSON.stringify(hostile)} }\n    extract: apps/common\n`,
      [],
      allow([], ["vault"]),
    );
    const es = objects.find((o) => o.kind === "ExternalSecret")!;
    expect(es.metadata.namespace).toBe(names.namespace);
    expect(es.spec).toEqual({
      refreshInterval: "1h",
      secretStoreRef: { kind: "ClusterSecretStore", name: "vault" },
      target: { name: "oauth", creationPolicy: "Owner" },
      data: [{ secretKey: "client-id", remoteRef: { key: 'apps/oauth\n  injected: "yes"', property: "id" } }],
      dataFrom: [{ extract: { key: "apps/common" } }],
    });
  });

  it("refuses a ClusterSecretStore the operator does not allow for this repository, naming the object and its source", () => {
    const out = problems(() =>
      render(
        "secrets:\n  - { name: oauth, store: vault, extract: apps/common }\n",
        [
          externalSecret("mine", { kind: "ClusterSecretStore", name: "prod-vault" }),
          // A namespaced SecretStore reaches only what the namespace holds: allowed.
          externalSecret("local", { kind: "SecretStore", name: "in-ns" }),
        ],
        allow([], ["vault=other/*"]),
      ),
    );
    expect(out).toEqual([
      'ExternalSecret "mine" reads from ClusterSecretStore "prod-vault", which preview-bot\'s operator does not allow for acme/shop (PREVIEW_EXTERNAL_SECRET_STORES: vault)',
      'ExternalSecret "oauth" (in secrets (.github/preview.yml)) reads from ClusterSecretStore "vault", which preview-bot\'s operator does not allow for acme/shop (PREVIEW_EXTERNAL_SECRET_STORES: vault)',
    ]);
    // Per-repository entries: acme/* opens it to this repository.
    const ok = render("secrets:\n  - { name: oauth, store: vault, extract: a }\n", [], allow([], ["vault=acme/*"]));
    expect(ok.objects.map((o) => o.kind)).toEqual(["ExternalSecret"]);
  });

  it("checks every store reference: sourceRef.storeRef in data and dataFrom, and PushSecrets", () => {
    const sneaky: KubeObject = {
      apiVersion: "external-secrets.io/v1",
      kind: "ExternalSecret",
      metadata: { name: "sneaky" },
      spec: {
        secretStoreRef: { kind: "SecretStore", name: "local" },
        dataFrom: [{ extract: { key: "k" }, sourceRef: { storeRef: { kind: "ClusterSecretStore", name: "prod" } } }],
      },
    };
    const push: KubeObject = {
      apiVersion: "external-secrets.io/v1alpha1",
      kind: "PushSecret",
      metadata: { name: "out" },
      spec: { secretStoreRefs: [{ kind: "ClusterSecretStore", name: "prod" }] },
    };
    expect(problems(() => render("", [sneaky, push], allow([])))).toEqual([
      'ExternalSecret "sneaky" reads from ClusterSecretStore "prod", which preview-bot\'s operator does not allow for acme/shop (PREVIEW_EXTERNAL_SECRET_STORES is empty)',
      'PushSecret "out" reads from ClusterSecretStore "prod", which preview-bot\'s operator does not allow for acme/shop (PREVIEW_EXTERNAL_SECRET_STORES is empty)',
    ]);
  });
});

describe("secrets: copies", () => {
  it("notes what is copied at deploy (no values: the render never has them)", () => {
    const { notes, objects } = render(
      "secrets:\n  - { name: stripe, from: app-secrets, keys: [api-key] }\n  - { name: db, from: shared, as: db-creds }\n",
      [],
      allow(["app-secrets=acme/shop", "shared"]),
    );
    expect(objects).toEqual([]);
    expect(notes).toEqual([
      'Secret "stripe" is copied at deploy from app-secrets/stripe (keys api-key); its values are never shown',
      'Secret "db-creds" is copied at deploy from shared/db; its values are never shown',
    ]);
  });

  it("refuses a source namespace the operator does not allow, and a copy over a Secret of the render", () => {
    const own: KubeObject = { apiVersion: "v1", kind: "Secret", metadata: { name: "stripe" }, stringData: { a: "b" } };
    expect(
      problems(() =>
        render(
          "secrets:\n  - { name: stripe, from: app-secrets }\n  - { name: x, from: kube-system }\n",
          [own],
          allow(["app-secrets", "kube-system=other/repo"]),
        ),
      ),
    ).toEqual([
      'secrets[0]: the render has a Secret "stripe" too; the copy and it would overwrite each other (rename one with secrets[0].as)',
      'secrets[1].from: namespace "kube-system" is not a source preview-bot\'s operator allows for acme/shop (PREVIEW_SECRET_SOURCES: app-secrets, kube-system)',
    ]);
  });
});

describe("secrets: forks", () => {
  const yaml = "secrets:\n  - { name: stripe, from: app-secrets }\n  - { name: oauth, store: vault, extract: a }\n";
  const fork = { ...ref, fork: true };

  it("gives a fork's preview no copies and no ClusterSecretStore reads, and says so", () => {
    const { objects, notes, warnings } = render(yaml, [], allow(["app-secrets"], ["vault"]), fork);
    expect(objects).toEqual([]);
    expect(notes).toEqual([]);
    expect(warnings).toEqual([
      'ExternalSecret "oauth" left out: a pull request from a fork gets no app secrets (PREVIEW_SECRETS_FOR_FORKS)',
      'Secret "stripe" is not copied from app-secrets/stripe: a pull request from a fork gets no app secrets (PREVIEW_SECRETS_FOR_FORKS)',
    ]);
  });

  it("gives them when the operator allows forks", () => {
    const { objects, notes } = render(yaml, [], allow(["app-secrets"], ["vault"], true), fork);
    expect(objects.map((o) => o.metadata.name)).toEqual(["oauth"]);
    expect(notes).toEqual(['Secret "stripe" is copied at deploy from app-secrets/stripe; its values are never shown']);
  });
});

describe("settings: PREVIEW_SECRET_SOURCES, PREVIEW_EXTERNAL_SECRET_STORES", () => {
  const base = { APP_ID: "1", PRIVATE_KEY: "k", WEBHOOK_SECRET: "s" };
  it("takes names, optionally opened to some repositories, and names the setting when an entry is wrong", () => {
    const env = loadEnv({ ...base, PREVIEW_SECRET_SOURCES: "app-secrets, shared=acme/shop|acme/*" });
    expect(parseAllowlist(env.PREVIEW_SECRET_SOURCES)).toEqual([
      { name: "app-secrets" },
      { name: "shared", repos: ["acme/shop", "acme/*"] },
    ]);
    expect(() => loadEnv({ ...base, PREVIEW_EXTERNAL_SECRET_STORES: "vault=acme" })).toThrow(
      /PREVIEW_EXTERNAL_SECRET_STORES/,
    );
  });
});
