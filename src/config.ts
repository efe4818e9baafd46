/**
 * `.github/preview.yml`: the per-repository configuration. Strict (unknown keys are errors, so a typo is reported
 * instead of silently ignored), with defaults, read from the default branch so a PR cannot change the rules it is
 * judged by. A missing file means the repository is not enrolled.
 */
import { parse as parseYaml, YAMLParseError } from "yaml";
import { z } from "zod";
import { QUANTITY } from "./env.js";

export const CONFIG_PATH = ".github/preview.yml";

const DURATION_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `5m`, `2h`, `3d`, `1w` → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,6})(s|m|h|d|w)$/.exec(text.trim());
  return m ? Number(m[1]) * DURATION_UNITS[m[2]!]! : undefined;
}

const duration = (what: string) =>
  z
    .string()
    .transform((s, ctx) => {
      const ms = parseDuration(s);
      if (ms === undefined) {
        ctx.addIssue({ code: "custom", message: `${what}: expected a duration like "90s", "5m", "2h", "3d" or "1w", got "${s}"` });
        return z.NEVER;
      }
      return ms;
    });

const labelMap = z.record(
  z.string().regex(/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, "not a valid Kubernetes label key"),
  z.string().regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, "not a valid Kubernetes label value (≤ 63 chars of A-Z a-z 0-9 - _ .)"),
);
const annotationMap = z.record(z.string().min(1), z.string());

/** Namespace labels preview-bot sets itself (ownership, Pod Security): a repository may not set or override them. */
const RESERVED_NAMESPACE_LABEL = /^(pod-security\.kubernetes\.io\/|preview-bot\.dev\/|app\.kubernetes\.io\/managed-by$)/;
const namespaceLabels = labelMap.refine((labels) => !Object.keys(labels).some((k) => RESERVED_NAMESPACE_LABEL.test(k)), {
  message: "pod-security.kubernetes.io/*, preview-bot.dev/* and app.kubernetes.io/managed-by are set by preview-bot (Pod Security is guardrails.podSecurity)",
});
/** `2`, `"500m"`, `"4Gi"`: YAML numbers are read as quantities too. */
const quantity = z.union([z.string(), z.number()]).transform(String).pipe(z.string().regex(QUANTITY, 'must be a Kubernetes quantity such as "500m", "2" or "4Gi"'));

/** Name patterns may use {number} {branch} {owner} {repo} {sha} {shortSha}. */
const namePattern = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9{}-]+$/, "may contain only letters, digits, '-' and {placeholders}")
  .refine((s) => /\{(number|branch|sha|shortSha)\}/.test(s), "must contain {number}, {branch}, {sha} or {shortSha} so each PR gets its own name");

const permission = z.enum(["read", "triage", "write", "maintain", "admin"]);

/** Placeholders templates may use (naming.templateValues). */
export const TEMPLATE_PLACEHOLDERS = ["number", "branch", "sha", "shortSha", "owner", "repo", "namespace", "name", "host", "url", "database", "role", "secret"] as const;
const template = z.string().superRefine((text, ctx) => {
  for (const m of text.matchAll(/\{([a-zA-Z]+)\}/g)) {
    if (!(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(m[1]!)) {
      ctx.addIssue({ code: "custom", message: `unknown placeholder {${m[1]}}; known: ${TEMPLATE_PLACEHOLDERS.map((p) => `{${p}}`).join(" ")}` });
    }
  }
});

const repoPath = z.string().min(1).refine((p) => !p.split("/").includes("..") && !p.startsWith("/"), "must be a relative path inside the repository");

export const configSchema = z
  .object({
    /** Where the manifests are, relative to the repository root, at the PR's head commit. */
    manifests: z
      .object({
        path: repoPath,
        /** `kustomize` (a directory with kustomization.yaml) or `plain` (every *.yaml/*.yml/*.json in the directory). Default: detected. */
        type: z.enum(["kustomize", "plain"]).optional(),
        /** Objects to leave out of the preview, by kind and optional name. */
        exclude: z.array(z.object({ kind: z.string().min(1), name: z.string().min(1).optional() }).strict()).default([]),
      })
      .strict(),
    /** How names are formed. */
    names: z
      .object({
        namespace: namePattern.default("{repo}-pr-{number}"),
        /** First DNS label of the preview hostname; defaults to the namespace. */
        host: namePattern.optional(),
      })
      .strict()
      .default({ namespace: "{repo}-pr-{number}" }),
    /** Images pinned to the PR's build: every container image whose name matches gets the expanded tag. */
    images: z
      .array(
        z
          .object({
            name: z.string().min(1),
            newName: z.string().min(1).optional(),
            /** Tag template: {sha} {shortSha} {branch} {number}. */
            tag: template.pipe(z.string().min(1)).default("{sha}"),
          })
          .strict(),
      )
      .default([]),
    /** How the preview is reached. */
    route: z
      .object({
        /** Hostname pattern, e.g. `{name}.previews.example.com` ({name} is the host label). */
        host: z.string().regex(/^\{name\}(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/, 'must look like "{name}.previews.example.com"').optional(),
        /** Path-prefix routing instead: the shared base URL, and the prefix pattern (default `/{name}`). */
        baseUrl: z.url().optional(),
        pathPrefix: z.string().startsWith("/").optional(),
        /** HTTPRoutes to point at the preview (by name); default all in the render. */
        httpRoutes: z.array(z.string()).optional(),
        /** Gateway parentRefs to set on the HTTPRoutes; default: keep the manifests' own. */
        parentRefs: z
          .array(
            z
              .object({
                name: z.string().min(1),
                namespace: z.string().optional(),
                sectionName: z.string().optional(),
                group: z.string().optional(),
                kind: z.string().optional(),
                port: z.number().int().positive().optional(),
              })
              .strict(),
          )
          .optional(),
        /** Add `external-dns.alpha.kubernetes.io/hostname` to the routes. */
        externalDns: z.boolean().default(false),
        /** cert-manager: issuer name to annotate the routes with. */
        tls: z.object({ clusterIssuer: z.string().optional(), issuer: z.string().optional() }).strict().optional(),
        annotations: annotationMap.default({}),
        scheme: z.enum(["https", "http"]).default("https"),
      })
      .strict()
      .refine((r) => !(r.host && r.baseUrl), { message: "set either host or baseUrl, not both", path: ["host"] })
      .optional(),
    /** Extra labels/annotations on the preview namespace (e.g. a gateway access label). */
    namespace: z.object({ labels: namespaceLabels.default({}), annotations: annotationMap.default({}) }).strict().default({ labels: {}, annotations: {} }),
    /**
     * Stricter guardrails for this repository's previews (src/services/preview/guardrails.ts). The bot's settings are
     * the bounds: a looser value is lowered to the bot's, and the check run says so.
     */
    guardrails: z
      .object({
        podSecurity: z.enum(["baseline", "restricted"]).optional(),
        quota: z.object({ pods: z.number().int().min(1).optional(), cpu: quantity.optional(), memory: quantity.optional(), storage: quantity.optional() }).strict().optional(),
        egress: z.enum(["open", "restricted"]).optional(),
      })
      .strict()
      .default({}),
    /** `${VAR}` substitution in the rendered YAML (Flux post-build convention); values are templates. */
    variables: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "variable names are [A-Za-z_][A-Za-z0-9_]*"), template).default({}),
    /** Literal placeholder tokens in the manifests (e.g. `BRANCH_NAME`) and their replacement templates. */
    replacements: z.record(z.string().min(3, "replacement tokens must be at least 3 characters"), template).default({}),
    /** Health gate after apply. */
    health: z
      .object({
        timeout: duration("health.timeout").default(300_000),
        checks: z
          .array(
            z
              .object({
                path: z.string().startsWith("/"),
                status: z.number().int().min(100).max(599).default(200),
                timeout: duration("health.checks[].timeout").default(10_000),
              })
              .strict(),
          )
          .default([]),
      })
      .strict()
      .default({ timeout: 300_000, checks: [] }),
    /** Expire the preview this long after its last deploy (the sweeper tears it down). */
    ttl: duration("ttl").optional(),
    /** When to deploy. */
    trigger: z
      .object({
        /** `push`: on open/reopen/push; `label`: only while the PR has `label`; `command`: only by `/preview deploy`. */
        on: z.enum(["push", "label", "command"]).default("push"),
        label: z.string().min(1).default("preview"),
        /** Deploy only after these check runs (or workflow names) succeeded for the head commit. */
        afterChecks: z.array(z.string().min(1)).default([]),
        /** Deploy draft PRs automatically too. */
        drafts: z.boolean().default(true),
      })
      .strict()
      .default({ on: "push", label: "preview", afterChecks: [], drafts: true }),
    /** Cluster-scoped kinds allowed in a preview (refused otherwise). */
    allowClusterScoped: z.array(z.string()).default([]),
    /** Namespaces the bot must never touch (in addition to default and kube-*). */
    protectedNamespaces: z.array(z.string()).default([]),
    /** A PostgreSQL database and role per preview. */
    database: z
      .object({
        enabled: z.boolean().default(false),
        template: z.string().optional(),
        extensions: z.array(z.string().regex(/^[a-z0-9_-]+$/, "extension names are [a-z0-9_-]")).default([]),
        /** SQL file in the PR's commit, run as the preview role once, on creation. */
        seed: repoPath.optional(),
        /** Seed from the latest backup of this backup target instead. */
        seedFrom: z.string().optional(),
        connectionLimit: z.number().int().min(1).max(1000).default(20),
        secret: z
          .object({
            name: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a DNS-1123 name").default("preview-database"),
            keys: z
              .object({
                user: z.string().default("PGUSER"),
                password: z.string().default("PGPASSWORD"),
                database: z.string().optional(),
                host: z.string().optional(),
                port: z.string().optional(),
                url: z.string().optional(),
              })
              .strict()
              .default({ user: "PGUSER", password: "PGPASSWORD" }),
          })
          .strict()
          .default({ name: "preview-database", keys: { user: "PGUSER", password: "PGPASSWORD" } }),
        /** Take a backup of the preview database before it is dropped (needs backups configured). */
        finalBackup: z.boolean().default(false),
      })
      .strict()
      .default({ enabled: false, extensions: [], connectionLimit: 20, secret: { name: "preview-database", keys: { user: "PGUSER", password: "PGPASSWORD" } }, finalBackup: false }),
    /** After a healthy deploy, dispatch the repository's end-to-end workflow against the preview URL. */
    e2e: z
      .object({
        /** Workflow file name (e.g. `e2e.yml`) or id; it must have a `workflow_dispatch` trigger. */
        workflow: z.string().min(1),
        /** Inputs passed to the workflow; values are templates (`{url}`, `{sha}`, …). */
        inputs: z.record(z.string(), template).default({ preview_url: "{url}" }),
        /** How long to wait for the run to finish. */
        timeout: duration("e2e.timeout").default(1_200_000),
        /** A failing E2E run fails the check run (otherwise it is reported only). */
        required: z.boolean().default(true),
      })
      .strict()
      .optional(),
    /** Links shown in the sticky comment, relative to the preview URL (e.g. API docs at /docs). */
    links: z.array(z.object({ title: z.string().min(1).max(80), path: z.string().startsWith("/") }).strict()).default([]),
    /** Minimum repository permission per command. */
    permissions: z.partialRecord(z.enum(["deploy", "redeploy", "destroy", "status", "extend", "backup", "restore"]), permission).default({}),
    /** Slack channel for this repository's threads (overrides the bot default). */
    slack: z.object({ channel: z.string().min(1) }).strict().optional(),
  })
  .strict();

export type PreviewConfig = z.output<typeof configSchema>;

export type ConfigResult = { ok: true; config: PreviewConfig } | { ok: false; errors: string[] };

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), "");
}

/** Parse and validate the file's text. Errors name each bad field: `health.timeout: expected a duration ...`. */
export function parseConfig(text: string): ConfigResult {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, maxAliasCount: 50 });
  } catch (err) {
    const msg = err instanceof YAMLParseError ? err.message.split("\n")[0] : String(err);
    return { ok: false, errors: [`${CONFIG_PATH} is not valid YAML: ${msg}`] };
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return { ok: false, errors: [`${CONFIG_PATH} must be a mapping with at least "manifests: { path: ... }"`] };
  }
  const result = configSchema.safeParse(raw);
  if (result.success) return { ok: true, config: result.data };
  return {
    ok: false,
    errors: result.error.issues.map((i) => {
      const where = formatPath(i.path) || "(top level)";
      if (i.code === "unrecognized_keys") return `${where}: unknown field${i.keys.length > 1 ? "s" : ""} ${i.keys.map((k) => `"${k}"`).join(", ")}`;
      return `${where}: ${i.message}`;
    }),
  };
}
