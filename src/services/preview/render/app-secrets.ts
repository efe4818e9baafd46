/**
 * The app's secrets in a preview, never committed and never chosen freely by the pull request (docs/app-secrets.md):
 * - copied: `secrets[]` with `from` names a Secret in a source namespace; only namespaces the operator lists in
 *   PREVIEW_SECRET_SOURCES (optionally per repository) are sources. The render checks the source is allowed and that
 *   the render has no Secret of the same name; the deploy's App secrets step reads and copies it (values never in
 *   the render, a log, the check run or a comment).
 * - External Secrets: `secrets[]` with `store` becomes an ExternalSecret (external-secrets.io/v1) reading from that
 *   ClusterSecretStore; every ExternalSecret or PushSecret in the render, generated or the manifests' own, may name a
 *   ClusterSecretStore only if PREVIEW_EXTERNAL_SECRET_STORES allows it for the repository (a ClusterSecretStore
 *   reaches whatever the operator's store can reach). A namespaced SecretStore holds only what the namespace holds,
 *   and stays allowed.
 * A pull request from a fork gets neither (its code would read them) unless PREVIEW_SECRETS_FOR_FORKS is on: the
 * copies are not made and ExternalSecrets reading a ClusterSecretStore are left out of the render, with a note each.
 */
import type { PreviewConfig } from "../../../config.js";
import { targetAllows } from "../../data/backups/targets.js";
import type { KubeObject } from "../../shared/preview.js";
import { describeObject } from "./cluster-scoped.js";

export interface AllowEntry {
  name: string;
  /** `owner/repo` or `owner/*`; undefined: every repository. */
  repos?: string[];
}

/** `name` or `name=owner/repo|owner/*` entries (the settings' form, already validated). */
export function parseAllowlist(entries: readonly string[]): AllowEntry[] {
  return entries.map((e) => {
    const [name, repos] = e.split("=", 2) as [string, string | undefined];
    return repos ? { name, repos: repos.split("|") } : { name };
  });
}

export function allows(list: readonly AllowEntry[], name: string, repository: string): boolean {
  return list.some((e) => e.name === name && (!e.repos || targetAllows({ allowedRepos: e.repos }, repository)));
}

export interface SecretAllowlists {
  sources: readonly AllowEntry[];
  stores: readonly AllowEntry[];
  /** PREVIEW_SECRETS_FOR_FORKS: a fork's preview gets the secrets too. Off: copies and ClusterSecretStore reads are left out. */
  forks?: boolean;
}

const ESO_GROUP = "external-secrets.io";
type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Rec) : undefined;

/** The ExternalSecrets `secrets[]` entries with a `store` ask for (named after the Secret they make). */
export function externalSecretsFromConfig(config: PreviewConfig): KubeObject[] {
  return config.secrets.flatMap((e) => {
    if (!e.store) return [];
    const data = Object.entries(e.data ?? {}).map(([secretKey, remote]) => {
      const [key, property] = remote.split("#", 2) as [string, string | undefined];
      return { secretKey, remoteRef: { key, ...(property ? { property } : {}) } };
    });
    return [
      {
        apiVersion: `${ESO_GROUP}/v1`,
        kind: "ExternalSecret",
        metadata: { name: e.name, annotations: { "preview-bot.dev/generated": "secrets" } },
        spec: {
          refreshInterval: "1h",
          secretStoreRef: { kind: "ClusterSecretStore", name: e.store },
          target: { name: e.name, creationPolicy: "Owner" },
          ...(data.length ? { data } : {}),
          ...(e.extract ? { dataFrom: [{ extract: { key: e.extract } }] } : {}),
        },
      },
    ];
  });
}

/** Every store an External Secrets object names: its secretStoreRef(s) and each data/dataFrom sourceRef.storeRef. */
function storeRefs(obj: KubeObject): Array<{ kind: string; name: string }> {
  const spec = asRec(obj.spec) ?? {};
  const refs: unknown[] = [
    spec.secretStoreRef,
    ...(Array.isArray(spec.secretStoreRefs) ? (spec.secretStoreRefs as unknown[]) : []),
  ];
  for (const list of [spec.data, spec.dataFrom])
    if (Array.isArray(list)) for (const d of list) refs.push(asRec(asRec(asRec(d)?.sourceRef)?.storeRef));
  return refs
    .map(asRec)
    .filter((r): r is Rec => r !== undefined)
    .map((r) => ({ kind: typeof r.kind === "string" ? r.kind : "SecretStore", name: String(r.name ?? "") }));
}

const isEsoObject = (obj: KubeObject): boolean =>
  obj.apiVersion.startsWith(`${ESO_GROUP}/`) && (obj.kind === "ExternalSecret" || obj.kind === "PushSecret");

/** Does a pull request get the app's secrets: not from a fork, unless the operator allows it. */
export const secretsFor = (fork: boolean | undefined, allow: Pick<SecretAllowlists, "forks">): boolean =>
  !fork || allow.forks === true;

/**
 * Refuse ExternalSecrets and PushSecrets that name a ClusterSecretStore the operator does not allow for this
 * repository (problems name the object and its file), and copies from a namespace it does not allow, or that a
 * Secret of the render would overwrite. For a fork (unless allowed), leave out what reads a ClusterSecretStore.
 * Returns the objects kept, notes on what will be copied at deploy, and warnings on what a fork goes without.
 */
export function checkAppSecrets(
  objects: readonly KubeObject[],
  config: PreviewConfig,
  target: { repository: string; fork?: boolean },
  allow: SecretAllowlists,
  origin: (o: KubeObject) => string | undefined,
  problems: string[],
): { objects: KubeObject[]; notes: string[]; warnings: string[] } {
  const { repository } = target;
  const notes: string[] = [];
  const warnings: string[] = [];
  const forkNote = "a pull request from a fork gets no app secrets (PREVIEW_SECRETS_FOR_FORKS)";
  const given = secretsFor(target.fork, allow);
  const kept = objects.filter((obj) => {
    if (given || !isEsoObject(obj) || !storeRefs(obj).some((r) => r.kind === "ClusterSecretStore")) return true;
    warnings.push(`${describeObject(obj)} left out: ${forkNote}`);
    return false;
  });
  for (const obj of kept) {
    if (!isEsoObject(obj)) continue;
    for (const ref of storeRefs(obj)) {
      if (ref.kind !== "ClusterSecretStore" || allows(allow.stores, ref.name, repository)) continue;
      const where = origin(obj) ? ` (in ${origin(obj)})` : "";
      problems.push(
        `${describeObject(obj)}${where} reads from ClusterSecretStore "${ref.name}", which preview-bot's operator does not allow for ${repository} (PREVIEW_EXTERNAL_SECRET_STORES${allow.stores.length ? `: ${allow.stores.map((s) => s.name).join(", ")}` : " is empty"})`,
      );
    }
  }
  const rendered = new Set(kept.filter((o) => o.kind === "Secret").map((o) => o.metadata.name));
  config.secrets.forEach((e, i) => {
    if (!e.from) return;
    const as = e.as ?? e.name;
    if (!allows(allow.sources, e.from, repository))
      problems.push(
        `secrets[${i}].from: namespace "${e.from}" is not a source preview-bot's operator allows for ${repository} (PREVIEW_SECRET_SOURCES${allow.sources.length ? `: ${allow.sources.map((s) => s.name).join(", ")}` : " is empty"})`,
      );
    else if (rendered.has(as))
      problems.push(
        `secrets[${i}]: the render has a Secret "${as}" too; the copy and it would overwrite each other (rename one with secrets[${i}].as)`,
      );
    else if (!given) warnings.push(`Secret "${as}" is not copied from ${e.from}/${e.name}: ${forkNote}`);
    else
      notes.push(
        `Secret "${as}" is copied at deploy from ${e.from}/${e.name}${e.keys ? ` (keys ${e.keys.join(", ")})` : ""}; its values are never shown`,
      );
  });
  return { objects: kept, notes, warnings };
}
