/**
 * Every name a preview uses comes from here, and nowhere else: deploy and teardown cannot drift apart (the setup
 * this replaces computed the namespace one way in its deploy workflow and another way in its cleanup function).
 *
 * Rules, and why the numbers are what they are:
 * - Kubernetes namespaces and hostname labels are DNS-1123 labels: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, ≤ 63 chars.
 * - PostgreSQL identifiers are ≤ 63 bytes (NAMEDATALEN - 1); we keep them to `[a-z0-9_]` so they read the same
 *   quoted or not (they are always quoted anyway).
 * - Label values are ≤ 63 chars of `[A-Za-z0-9._-]`, alphanumeric at both ends.
 * - Whenever a name is not a verbatim copy of its input (a branch was lower-cased, had `/` or unicode replaced, a
 *   doubled prefix dropped, or the result was cut to length), an 8-hex-char hash of the *raw* input is appended.
 *   That keeps distinct branches distinct (`Feature/A` vs `feature-a`, two 255-char branches sharing a prefix),
 *   32 bits making an accidental clash among one repository's open PRs vanishingly unlikely. 9 characters
 *   (`-` + 8) are reserved for it, so the readable part of a cut name is at most 54 characters.
 *
 * Pure: no I/O, no clock, no randomness.
 */
import { createHash } from "node:crypto";
import {
  BRANCH_ANNOTATION,
  MANAGED_BY,
  PR_LABEL,
  REPO_LABEL,
  REPOSITORY_ANNOTATION,
  SHA_ANNOTATION,
} from "../shared/labels.js";
import type { PreviewConfig } from "../../config.js";
import type { ExtraUrl, PreviewNames, PreviewRef } from "../shared/preview.js";
import { previewKey } from "../shared/preview.js";

const MAX_LABEL = 63;
const HASH_LEN = 8;

function shortHash(input: string, length = HASH_LEN): string {
  return createHash("sha256").update(input, "utf8").digest("hex").slice(0, length);
}

/**
 * Lower-case DNS-1123 slug of arbitrary text. `lossless` is true only when the text already was one (so the slug
 * identifies the input on its own).
 */
function slugify(text: string): { slug: string; lossless: boolean } {
  const slug = text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return { slug, lossless: slug === text };
}

/**
 * Cap a DNS-1123 label at `max` characters. When `exact` is false or the label is too long, append `-<hash of raw>`
 * (cutting the readable part so the whole fits). Always returns a valid, non-empty label.
 */
export function capLabel(label: string, raw: string, exact: boolean, max = MAX_LABEL): string {
  const clean = label.replace(/^-+|-+$/g, "");
  if (exact && clean.length > 0 && clean.length <= max) return clean;
  const hash = shortHash(raw);
  const room = max - hash.length - 1;
  const head = clean.slice(0, room).replace(/-+$/g, "");
  return head ? `${head}-${hash}` : `p-${hash}`.slice(0, max);
}

export interface NameTemplates {
  /** Namespace pattern, e.g. `pr-{number}`, `feature-{branch}`, `{repo}-pr-{number}`. */
  namespace: string;
  /** Hostname label pattern; defaults to the namespace. */
  hostLabel?: string;
  /** Full hostname pattern, e.g. `{name}.previews.example.com` (`{name}` is the host label). */
  host?: string;
  /** Names of the preview's further URLs (route.expose after the first): each gets `{name}-<name>` as host label. */
  extraUrls?: readonly string[];
  /**
   * Path-prefix routing instead of hostnames: base URL and prefix pattern, e.g. `https://previews.example.com` +
   * `/{name}`.
   */
  baseUrl?: string;
  pathPrefix?: string;
  /** Database-credentials Secret name. */
  secret?: string;
  /** Scheme for the preview URL (`https` unless TLS is off). */
  scheme?: "https" | "http";
}

const PLACEHOLDER = /\{([a-zA-Z]+)\}/g;

/**
 * Expand a name pattern into a DNS-1123 label. `{branch}`, `{owner}`, `{repo}` are slugged; if the slug already
 * starts with the literal text in front of the placeholder (pattern `feature-{branch}`, branch `feature/login`),
 * that doubled prefix is dropped. Any change from the raw value marks the result inexact, which adds the hash.
 */
export function expandNamePattern(pattern: string, ref: PreviewRef): string {
  let exact = true;
  const values: Record<string, string> = {
    number: String(ref.number),
    sha: ref.sha.toLowerCase(),
    shortSha: ref.sha.slice(0, 7).toLowerCase(),
    owner: ref.owner,
    repo: ref.repo,
    branch: ref.branch,
  };
  let out = "";
  let last = 0;
  for (const m of pattern.matchAll(PLACEHOLDER)) {
    const literal = pattern.slice(last, m.index);
    out += literal;
    last = m.index + m[0].length;
    const name = m[1]!;
    const raw = values[name];
    if (raw === undefined) throw new Error(`unknown placeholder {${name}} in name pattern "${pattern}"`);
    let { slug, lossless } = slugify(raw);
    const prefix = slugify(out).slug;
    if (prefix && (slug === prefix || slug.startsWith(`${prefix}-`))) {
      // never `feature-feature-login`
      slug = slug.slice(prefix.length).replace(/^-+/, "");
      lossless = false;
    }
    if (!lossless) exact = false;
    out += slug;
  }
  out += pattern.slice(last);
  const { slug: whole, lossless } = slugify(out);
  // The hash input is the preview's identity, so two PRs never share an inexact name.
  return capLabel(whole, `${previewKey(ref)}\u0000${ref.branch}\u0000${pattern}`, exact && lossless);
}

/** PostgreSQL identifier from a DNS label: `[a-z0-9_]`, ≤ 63 bytes, hash-suffixed when cut. */
export function pgIdentifier(label: string, suffix = ""): string {
  const base = label.replace(/-/g, "_");
  const full = `${base}${suffix}`;
  if (full.length <= MAX_LABEL) return full;
  const hash = shortHash(full);
  return `${base.slice(0, MAX_LABEL - suffix.length - hash.length - 1)}_${hash}${suffix}`;
}

/** A Kubernetes label value: ≤ 63 chars of `[A-Za-z0-9._-]`, alphanumeric at both ends; hash-suffixed when changed. */
export function labelValue(text: string): string {
  const cleaned = text.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
  if (cleaned === text && cleaned.length > 0 && cleaned.length <= MAX_LABEL) return cleaned;
  const hash = shortHash(text);
  const head = cleaned.slice(0, MAX_LABEL - hash.length - 1).replace(/[^A-Za-z0-9]+$/g, "");
  return head ? `${head}_${hash}` : hash;
}

/** Repository label value (`owner.repo`, label-safe). */
export function repoLabel(owner: string, repo: string): string {
  return labelValue(`${owner}.${repo}`);
}

/** Ownership labels: everything the bot creates for this PR carries them; prune and sweep select by them. */
export function ownershipLabels(owner: string, repo: string, number: number): Record<string, string> {
  return { ...MANAGED_BY, [REPO_LABEL]: repoLabel(owner, repo), [PR_LABEL]: String(number) };
}

export function previewNames(ref: PreviewRef, templates: NameTemplates): PreviewNames {
  const key = previewKey(ref);
  const namespace = expandNamePattern(templates.namespace, ref);
  const hostLabel = templates.hostLabel ? expandNamePattern(templates.hostLabel, ref) : namespace;
  const scheme = templates.scheme ?? "https";
  const located = locate(templates, hostLabel, scheme);
  const { host, url } = located;
  // Each further URL of route.expose: the host label with the entry's name after it, cut (and hashed) to fit.
  const extraUrls = (templates.extraUrls ?? []).flatMap((name): ExtraUrl[] => {
    const label = capLabel(`${hostLabel}-${name}`, `${key}/${name}`, true);
    const at = locate(templates, label, scheme);
    return at.url ? [{ name, hostLabel: label, ...at, url: at.url }] : [];
  });
  const database = pgIdentifier(namespace);
  const role = pgIdentifier(namespace, "_app");
  return {
    key,
    namespace,
    hostLabel,
    ...(host ? { host } : {}),
    ...(url ? { url } : {}),
    database,
    role,
    secret: templates.secret ?? "preview-database",
    labels: ownershipLabels(ref.owner, ref.repo, ref.number),
    annotations: {
      [REPOSITORY_ANNOTATION]: `${ref.owner}/${ref.repo}`,
      [BRANCH_ANNOTATION]: ref.branch,
      [SHA_ANNOTATION]: ref.sha,
    },
    environment: `preview/${namespace}`,
    ...(extraUrls.length ? { extraUrls } : {}),
  };
}

/** Where a host label is reached: its host and URL (host routing), or its prefix and URL (path-prefix routing). */
function locate(
  templates: NameTemplates,
  label: string,
  scheme: string,
): { host?: string; pathPrefix?: string; url?: string } {
  if (templates.host) {
    const host = templates.host.replace(/\{name\}/g, label).toLowerCase();
    return { host, url: `${scheme}://${host}/` };
  }
  if (templates.baseUrl) {
    const prefix = (templates.pathPrefix ?? "/{name}").replace(/\{name\}/g, label);
    const pathPrefix = `${prefix.startsWith("/") ? "" : "/"}${prefix}`.replace(/\/+$/, "");
    return { pathPrefix, url: `${templates.baseUrl.replace(/\/+$/, "")}${pathPrefix}/` };
  }
  return {};
}

/** Template values for `${VAR}` / replacement templates in the rendered manifests (see config `variables`). */
export function templateValues(ref: PreviewRef, names: PreviewNames): Record<string, string> {
  return {
    number: String(ref.number),
    branch: slugify(ref.branch).slug || names.hostLabel,
    sha: ref.sha,
    shortSha: ref.sha.slice(0, 7),
    owner: ref.owner,
    repo: ref.repo,
    namespace: names.namespace,
    name: names.hostLabel,
    host: names.host ?? "",
    url: names.url ?? "",
    database: names.database,
    role: names.role,
    secret: names.secret,
  };
}

/** Expand `{placeholder}` templates (image tags, variables) from `templateValues`; unknown placeholders throw. */
export function expandTemplate(template: string, values: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    const v = values[name];
    if (v === undefined)
      throw new Error(
        `unknown placeholder {${name}} in "${template}"; known: ${Object.keys(values)
          .map((k) => `{${k}}`)
          .join(", ")}`,
      );
    return v;
  });
}

/** The naming templates a repository's `.github/preview.yml` asks for. */
function nameTemplatesFromConfig(config: PreviewConfig): NameTemplates {
  const route = config.route;
  return {
    namespace: config.names.namespace,
    ...(config.names.host ? { hostLabel: config.names.host } : {}),
    ...(route?.host ? { host: route.host } : {}),
    ...(route?.baseUrl ? { baseUrl: route.baseUrl } : {}),
    ...(route?.expose && route.expose.length > 1
      ? { extraUrls: route.expose.slice(1).map((e) => e.name ?? e.service) }
      : {}),
    ...(route?.pathPrefix ? { pathPrefix: route.pathPrefix } : {}),
    secret: config.database.secret.name,
    scheme: route?.scheme ?? "https",
  };
}

/** `previewNames(ref, nameTemplatesFromConfig(config))`: every name of a preview, as its repository configures them. */
export function previewNamesFor(ref: PreviewRef, config: PreviewConfig): PreviewNames {
  return previewNames(ref, nameTemplatesFromConfig(config));
}
