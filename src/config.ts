/**
 * `.github/preview.yml`: the per-repository configuration. Strict (unknown keys are errors, so a typo is reported
 * instead of silently ignored), with defaults, read from the default branch so a PR cannot change the rules it is
 * judged by. A missing file means the repository is not enrolled.
 *
 * Longer than 300 lines: the schema is one object with a doc comment per field (the README's reference mirrors
 * it), and the error formatting ("did you mean") reads that same schema; apart, they would drift.
 */
import { isMap, isScalar, isSeq, parseDocument } from "yaml";
import { z } from "zod";
import { CONFIGURABLE_ACTIONS } from "./actions.js";
import { QUANTITY } from "./env.js";
import { yamlErrorLine } from "./yaml-error-line.js";

export const CONFIG_PATH = ".github/preview.yml";

const DURATION_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `5m`, `2h`, `3d`, `1w` → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,6})(s|m|h|d|w)$/.exec(text.trim());
  return m ? Number(m[1]) * DURATION_UNITS[m[2]!]! : undefined;
}

/** The field's path is added by the error formatter; messages never repeat it. */
const duration = z.string().transform((s, ctx) => {
  const ms = parseDuration(s);
  if (ms === undefined) {
    ctx.addIssue({ code: "custom", message: `expected a duration like "90s", "5m", "2h", "3d" or "1w", got "${s}"` });
    return z.NEVER;
  }
  return ms;
});

/** `sleep.after`: `never`, or an idle period longer than 0 (`0m` would read as "never" and lift the bot's bound). */
const sleepAfter = z.string().transform((s, ctx): number | "never" => {
  if (s.trim() === "never") return "never";
  const ms = parseDuration(s);
  if (!ms) {
    ctx.addIssue({
      code: "custom",
      message: `expected "never" or a duration longer than 0 like "30m", "2h" or "1d", got "${s}"`,
    });
    return z.NEVER;
  }
  return ms;
});

const labelMap = z.record(
  z
    .string()
    .regex(
      /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
      "not a valid Kubernetes label key",
    ),
  z
    .string()
    .regex(
      /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/,
      "not a valid Kubernetes label value (≤ 63 chars of A-Z a-z 0-9 - _ .)",
    ),
);
const annotationMap = z.record(z.string().min(1), z.string());

/** Namespace labels preview-bot sets itself (ownership, Pod Security): a repository may not set or override them. */
const RESERVED_NAMESPACE_LABEL =
  /^(pod-security\.kubernetes\.io\/|preview-bot\.dev\/|app\.kubernetes\.io\/managed-by$)/;
const namespaceLabels = labelMap.refine(
  (labels) => !Object.keys(labels).some((k) => RESERVED_NAMESPACE_LABEL.test(k)),
  {
    error:
      "pod-security.kubernetes.io/*, preview-bot.dev/* and app.kubernetes.io/managed-by are set by preview-bot (Pod Security is guardrails.podSecurity)",
  },
);
/** `2`, `"500m"`, `"4Gi"`: YAML numbers are read as quantities too. */
const quantity = z
  .union([z.string(), z.number()])
  .transform(String)
  .pipe(z.string().regex(QUANTITY, 'must be a Kubernetes quantity such as "500m", "2" or "4Gi"'));

/** Name patterns may use {number} {branch} {owner} {repo} {sha} {shortSha}. */
const namePattern = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9{}-]+$/, "may contain only letters, digits, '-' and {placeholders}")
  .refine(
    (s) => /\{(number|branch|sha|shortSha)\}/.test(s),
    "must contain {number}, {branch}, {sha} or {shortSha} so each PR gets its own name",
  );

const permission = z.enum(["read", "triage", "write", "maintain", "admin"]);

/** Placeholders templates may use (naming.templateValues). */
const TEMPLATE_PLACEHOLDERS = [
  "number",
  "branch",
  "sha",
  "shortSha",
  "owner",
  "repo",
  "namespace",
  "name",
  "host",
  "url",
  "database",
  "role",
  "secret",
] as const;
const template = z.string().superRefine((text, ctx) => {
  for (const m of text.matchAll(/\{([a-zA-Z]+)\}/g)) {
    if (!(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(m[1]!)) {
      ctx.addIssue({
        code: "custom",
        message: `unknown placeholder {${m[1]}}; known: ${TEMPLATE_PLACEHOLDERS.map((p) => `{${p}}`).join(" ")}`,
      });
    }
  }
});

/** A path glob relative to the manifests directory: `*`, `**`, `?`, `[abc]`, `{a,b}`; no `..`. */
const pathGlob = z
  .string()
  .min(1)
  .refine(
    (p) => !p.split("/").includes("..") && !p.startsWith("/"),
    "must be a relative path glob (no leading / or ..)",
  );
/** `legacy/**`, `{path: "legacy/**"}` or `{kind: Secret, name?: x}`; normalized to the object form. */
const excludeEntry = z.preprocess(
  (v) => (typeof v === "string" ? { path: v } : v),
  z
    .object({ kind: z.string().min(1).optional(), name: z.string().min(1).optional(), path: pathGlob.optional() })
    .strict()
    .refine(
      (e) => (e.kind !== undefined) !== (e.path !== undefined),
      "give either kind (and optionally name) or a path glob",
    )
    .refine((e) => e.name === undefined || e.kind !== undefined, { error: "name needs a kind", path: ["name"] }),
);
/** `v1`, `policy/v1`, `monitoring.coreos.com/v1/ServiceMonitor`: what `helm template --api-versions` takes. */
const API_VERSION = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?v[0-9]+((alpha|beta)[0-9]+)?(\/[A-Z][A-Za-z0-9]*)?$/;
const API_VERSION_HINT = 'an API version like "policy/v1" or "monitoring.coreos.com/v1/ServiceMonitor"';
const dnsName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a DNS-1123 name")
  .max(253);
const dnsLabelName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a namespace name")
  .max(63);
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const SECRET_KEY_HINT = "a Secret key ([-._a-zA-Z0-9]+)";
const SET_KEY = /^[A-Za-z0-9_-]+(\[\d+\])*(\.[A-Za-z0-9_-]+(\[\d+\])*)*$/;
/** An image repository without tag or digest; a trailing `/*` makes it a prefix. */
const imageName = z
  .string()
  .min(1)
  .regex(
    /^[a-z0-9]([a-z0-9._:-]*[a-z0-9])?(\/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*(\/\*)?$/,
    'an image repository without tag, e.g. "ghcr.io/org/app" or "ghcr.io/org/*"',
  );
/** One URL of the preview: the Service and port it leads to, and the name its host label ends in (default the Service's). */
const exposeEntry = z
  .object({
    service: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be the name of a Service in the manifests"),
    port: z.union([
      z.number().int().min(1).max(65535),
      z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "a port name (or number)"),
    ]),
    name: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "a DNS label (a-z 0-9 -)")
      .max(30)
      .optional(),
  })
  .strict();
/** A path glob relative to the repository root (`services/web/**`); no `..`. */
const repoGlob = z
  .string()
  .min(1)
  .refine(
    (p) => !p.split("/").includes("..") && !p.startsWith("/"),
    "must be a path glob relative to the repository root (no leading / or ..)",
  );
/** The longest `images[].wait`: a deploy job must end well within the durable queue's one-hour job limit. */
const IMAGE_WAIT_MAX_MS = 45 * 60_000;
/** `images[].baseTag` when not set: the base branch's name, as `{branch}` expands it. */
export const DEFAULT_BASE_TAG = "{branch}";
const repoPath = z
  .string()
  .min(1)
  .refine((p) => !p.split("/").includes("..") && !p.startsWith("/"), "must be a relative path inside the repository");

export const configSchema = z
  .object({
    /** Where the manifests are, relative to the repository root, at the PR's head commit. */
    manifests: z
      .object({
        path: repoPath,
        /**
         * `kustomize` (a directory with kustomization.yaml), `helm` (a chart directory with Chart.yaml) or `plain`
         * (every *.yaml/*.yml/*.json under the directory). Default: detected in that order.
         */
        type: z.enum(["kustomize", "helm", "plain"]).optional(),
        /** Path globs (relative to `path`) of the files to read; default all. Plain YAML and Helm templates. */
        include: z.array(pathGlob).default([]),
        /** What to leave out: `{kind, name?}` objects, or path globs (`legacy/**`, or `{path: ...}`). */
        exclude: z.array(excludeEntry).default([]),
        /** Helm: values files in the repository, applied in order (later wins). */
        values: z.array(repoPath).default([]),
        /**
         * Helm: `--set`-style values, `key.sub[0]: template`; applied after the values files. A YAML boolean, number
         * or null is taken as its text and typed as `--set` types it (`true`, `false`, integers, `null`).
         */
        set: z
          .record(
            z.string().regex(SET_KEY, 'a key like "image.tag" or "ingress.hosts[0].host"'),
            z.union([z.boolean(), z.number(), z.null()]).transform(String).or(template),
          )
          .default({}),
        /** Helm: the release name (a template); default the chart's name, the same in every preview. */
        releaseName: template.pipe(z.string().min(1).max(53)).optional(),
        /** Helm: the Kubernetes version charts are rendered for; default the cluster's (discovery). */
        kubeVersion: z
          .string()
          .regex(/^v?\d+\.\d+(\.\d+)?$/, 'a Kubernetes version such as "1.30" or "v1.30.2"')
          .optional(),
        /** Helm: API versions to render as served, on top of the cluster's (`monitoring.coreos.com/v1/ServiceMonitor`). */
        apiVersions: z.array(z.string().regex(API_VERSION, API_VERSION_HINT)).default([]),
      })
      .strict()
      .superRefine((m, ctx) => {
        if (m.type === undefined || m.type === "helm") return;
        for (const field of ["values", "set", "releaseName", "kubeVersion", "apiVersions"] as const) {
          const v = m[field];
          if (
            v !== undefined &&
            (Array.isArray(v) ? v.length > 0 : typeof v === "object" ? Object.keys(v).length > 0 : true)
          ) {
            ctx.addIssue({
              code: "custom",
              path: [field],
              message: `only for manifests.type: helm (this is ${m.type})`,
            });
          }
        }
      }),
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
            /** `registry/org/app`, or a prefix `registry/org/*` that pins every image under it. */
            name: imageName,
            /** Replace the repository (for a prefix name, a prefix too: `mirror.example/org/*`). */
            newName: imageName.optional(),
            /** Tag template: {sha} {shortSha} {branch} {number}. */
            tag: template.pipe(z.string().min(1)).default("{sha}"),
            /**
             * How long a deploy waits for the image to be pushed before it fails (the bot's IMAGE_WAIT by default).
             * At most 45m: a deploy job must end well within the job queue's one-hour limit.
             */
            wait: duration
              .refine((ms) => ms <= IMAGE_WAIT_MAX_MS, "at most 45m (a deploy must finish within the job's hour)")
              .optional(),
            /**
             * Path globs (relative to the repository root) of what this image is built from. When the pull request
             * changes none of them, the preview runs the base branch's image (`baseTag`) instead of waiting for a build.
             */
            paths: z.array(repoGlob).min(1, "list at least one path glob, or leave paths out").optional(),
            /** Tag template of the base branch's image, expanded for the base branch ({branch}, {sha}: the base's). */
            baseTag: template.pipe(z.string().min(1)).optional(),
          })
          .strict()
          .refine((i) => i.newName === undefined || i.name.endsWith("/*") === i.newName.endsWith("/*"), {
            error: 'with a prefix name ("registry/org/*"), newName must be a prefix too, and only then',
            path: ["newName"],
          })
          .refine((i) => i.baseTag === undefined || i.paths !== undefined, {
            error: "only used with paths (the base branch's image is reused when the PR changes none of them)",
            path: ["baseTag"],
          }),
      )
      .default([]),
    /** How the preview is reached. */
    route: z
      .object({
        /** Hostname pattern, e.g. `{name}.previews.example.com` ({name} is the host label). */
        host: z
          .string()
          .regex(/^\{name\}(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/, 'must look like "{name}.previews.example.com"')
          .optional(),
        /** Path-prefix routing instead: the shared base URL, and the prefix pattern (default `/{name}`). */
        baseUrl: z.url().optional(),
        pathPrefix: z.string().startsWith("/").optional(),
        /** `gateway` (HTTPRoute, the default) or `ingress`: what `expose` generates, and how TLS is served. */
        kind: z.enum(["gateway", "ingress"]).default("gateway"),
        /**
         * Generate the route: the Service (by name) and port (number or name) the preview URL leads to; a list gives
         * the preview several URLs, the first the primary (the deployment's URL), each other on a host label of its
         * own (`{name}-<name>`, e.g. `shop-pr-4-results.previews.example.com`).
         */
        expose: z
          .preprocess(
            (v) => (v !== null && typeof v === "object" && !Array.isArray(v) ? [v] : v),
            z.array(exposeEntry).min(1).max(10),
          )
          .superRefine((list, ctx) => {
            const seen = new Map<string, number>();
            list.forEach((e, i) => {
              const name = e.name ?? e.service;
              if (seen.has(name))
                ctx.addIssue({
                  code: "custom",
                  path: [i, "name"],
                  message: `"${name}" names route.expose[${seen.get(name)}] too: give each URL its own name`,
                });
              else seen.set(name, i);
            });
          })
          .optional(),
        /** Ingress class of the Ingresses (generated ones and the manifests'); default the cluster's default class. */
        ingressClassName: z.string().min(1).optional(),
        /**
         * Deprecated: every HTTPRoute gets the preview's hostnames now (a route with someone else's host is never
         * applied).
         */
        httpRoutes: z.array(z.string()).optional(),
        /**
         * Gateway parentRefs for every HTTPRoute; default the bot's PREVIEW_GATEWAY (never the manifests' own). When
         * the bot lists gateways (PREVIEW_GATEWAY, PREVIEW_ALLOWED_GATEWAYS), these must name one of them.
         */
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
        /**
         * TLS. On Ingresses: `spec.tls` with `secretName` (default `{name}-tls`) and the cert-manager issuer
         * annotation. On Gateway API, the shared Gateway's wildcard listener serves it (see docs/operations.md).
         */
        tls: z
          .object({
            clusterIssuer: z.string().min(1).optional(),
            issuer: z.string().min(1).optional(),
            secretName: template.pipe(z.string().min(1)).optional(),
          })
          .strict()
          .optional(),
        annotations: annotationMap.default({}),
        /** Scheme of the preview URL; default detected: `https` only when something serves TLS for the host. */
        scheme: z.enum(["https", "http"]).optional(),
      })
      .strict()
      .refine((r) => !(r.host && r.baseUrl), { error: "set either host or baseUrl, not both", path: ["host"] })
      .refine((r) => !(r.tls?.clusterIssuer && r.tls?.issuer), {
        error: "set either clusterIssuer or issuer, not both",
        path: ["tls"],
      })
      .optional(),
    /**
     * Who may open the preview URL: `public` (anyone with the URL) or `github` (visitors sign in with GitHub and must
     * read this repository; docs/preview-access.md). Default: `github` for a private repository, `public` otherwise.
     */
    access: z.enum(["public", "github"]).optional(),
    /** Extra labels/annotations on the preview namespace (e.g. a gateway access label). */
    namespace: z
      .object({ labels: namespaceLabels.default({}), annotations: annotationMap.default({}) })
      .strict()
      .default({ labels: {}, annotations: {} }),
    /**
     * Stricter guardrails for this repository's previews (src/services/preview/guardrails/). The bot's settings are
     * the bounds: a looser value is lowered to the bot's, and the check run says so.
     */
    guardrails: z
      .object({
        podSecurity: z.enum(["baseline", "restricted"]).optional(),
        quota: z
          .object({
            pods: z.number().int().min(1).optional(),
            cpu: quantity.optional(),
            memory: quantity.optional(),
            storage: quantity.optional(),
          })
          .strict()
          .optional(),
        egress: z.enum(["open", "restricted"]).optional(),
      })
      .strict()
      .default({}),
    /** `${VAR}` substitution in the rendered YAML (Flux post-build convention); values are templates. */
    variables: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "variable names are [A-Za-z_][A-Za-z0-9_]*"), template)
      .default({}),
    /** Literal placeholder tokens in the manifests (e.g. `BRANCH_NAME`) and their replacement templates. */
    replacements: z.record(z.string().min(3, "replacement tokens must be at least 3 characters"), template).default({}),
    /** Health gate after apply. */
    health: z
      .object({
        timeout: duration.default(300_000),
        checks: z
          .array(
            z
              .object({
                path: z.string().startsWith("/"),
                status: z.number().int().min(100).max(599).default(200),
                timeout: duration.default(10_000),
              })
              .strict(),
          )
          .default([]),
      })
      .strict()
      .default({ timeout: 300_000, checks: [] }),
    /**
     * Expire the preview this long after its last deploy (the sweeper tears it down). Unset: the bot's default
     * (PREVIEW_DEFAULT_TTL), if it has one; never longer than the bot's PREVIEW_MAX_TTL.
     */
    ttl: duration.optional(),
    /**
     * This repository's own limits on previews running at once; over them a deploy waits in line. They can only lower
     * the bot's (MAX_PREVIEWS_PER_REPO, MAX_PREVIEWS_PER_AUTHOR): a higher number has no effect.
     */
    caps: z
      .object({
        /** This repository's previews running at once. */
        maxPreviews: z.number().int().min(1).optional(),
        /** One author's previews of this repository running at once. */
        maxPreviewsPerAuthor: z.number().int().min(1).optional(),
      })
      .strict()
      .default({}),
    /**
     * Put the preview to sleep after this long without activity (a deploy, a command, a Slack button, a visitor
     * waking it): workloads scaled to 0, routes to the bot's wake page; the next visitor wakes it. Default and upper
     * bound: the bot's PREVIEW_SLEEP_AFTER; `never` keeps it awake only where the bot sets no default.
     */
    sleep: z.object({ after: sleepAfter.optional() }).strict().optional(),
    /** When to deploy. */
    trigger: z
      .object({
        /**
         * `push`: on open/reopen/push; `label`: only while the PR has `label`; `command`: only by `/preview deploy`.
         */
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
            name: z
              .string()
              .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a DNS-1123 name")
              .default("preview-database"),
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
      .default({
        enabled: false,
        extensions: [],
        connectionLimit: 20,
        secret: { name: "preview-database", keys: { user: "PGUSER", password: "PGPASSWORD" } },
        finalBackup: false,
      }),
    /**
     * The app's secrets, never committed: each entry is a Secret in the preview, either copied from a namespace the
     * bot's operator allows (`from`, PREVIEW_SECRET_SOURCES; read at deploy, never shown) or made by External
     * Secrets from a ClusterSecretStore the operator allows (`store`, PREVIEW_EXTERNAL_SECRET_STORES).
     */
    secrets: z
      .array(
        z
          .object({
            /** The Secret's name: in the source namespace (`from`), or the Secret External Secrets makes (`store`). */
            name: dnsName,
            /** Copy: the source namespace. */
            from: dnsLabelName.optional(),
            /** Copy: its name in the preview (default `name`). */
            as: dnsName.optional(),
            /** Copy: only these keys (default all). */
            keys: z.array(z.string().regex(SECRET_KEY, SECRET_KEY_HINT)).min(1).optional(),
            /** External Secrets: the ClusterSecretStore to read from. */
            store: dnsName.optional(),
            /** External Secrets: Secret key → remote key, `path/to/secret` or `path/to/secret#property`. */
            data: z.record(z.string().regex(SECRET_KEY, SECRET_KEY_HINT), z.string().min(1).max(500)).optional(),
            /** External Secrets: every property of this remote key, as keys of the Secret. */
            extract: z.string().min(1).max(500).optional(),
          })
          .strict()
          .superRefine((e, ctx) => {
            if ((e.from === undefined) === (e.store === undefined))
              ctx.addIssue({ code: "custom", message: "give either from (copy a Secret) or store (External Secrets)" });
            if (e.from !== undefined)
              for (const k of ["data", "extract"] as const)
                if (e[k] !== undefined) ctx.addIssue({ code: "custom", path: [k], message: "only with store" });
            if (e.store !== undefined) {
              for (const k of ["as", "keys"] as const)
                if (e[k] !== undefined) ctx.addIssue({ code: "custom", path: [k], message: "only with from" });
              if (e.data === undefined && e.extract === undefined)
                ctx.addIssue({ code: "custom", message: "with store, give data (keys) or extract (a remote key)" });
            }
          }),
      )
      .max(20)
      .superRefine((list, ctx) => {
        const seen = new Map<string, number>();
        list.forEach((e, i) => {
          const name = e.as ?? e.name;
          if (seen.has(name))
            ctx.addIssue({
              code: "custom",
              path: [i],
              message: `a Secret "${name}" comes from secrets[${seen.get(name)}] too`,
            });
          else seen.set(name, i);
        });
      })
      .default([]),
    /**
     * Put the pull request's details in every container's environment: PREVIEW_PR_NUMBER, PREVIEW_BRANCH,
     * PREVIEW_SHA, PREVIEW_URL (and PREVIEW_URL_<NAME> per URL), PREVIEW_NAMESPACE, PREVIEW_REPOSITORY.
     */
    previewEnv: z.boolean().default(true),
    /** After a healthy deploy, dispatch the repository's end-to-end workflow against the preview URL. */
    e2e: z
      .object({
        /** Workflow file name (e.g. `e2e.yml`) or id; it must have a `workflow_dispatch` trigger. */
        workflow: z.string().min(1),
        /** Inputs passed to the workflow; values are templates (`{url}`, `{sha}`, …). */
        inputs: z.record(z.string(), template).default({ preview_url: "{url}" }),
        /** How long to wait for the run to finish. */
        timeout: duration.default(1_200_000),
        /** A failing E2E run fails the check run (otherwise it is reported only). */
        required: z.boolean().default(true),
        /**
         * For an `access: github` preview: the workflow input that gets the preview's bypass token (rotated per
         * deploy; send it as the `X-Preview-Bypass` header, and mask it in the workflow). None by default.
         */
        bypassInput: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_-]{0,99}$/, "a workflow input name")
          .optional(),
      })
      .strict()
      .optional(),
    /** Links shown in the sticky comment, relative to the preview URL (e.g. API docs at /docs). */
    links: z
      .array(z.object({ title: z.string().min(1).max(80), path: z.string().startsWith("/") }).strict())
      .default([]),
    /** Minimum repository permission per command. */
    permissions: z.partialRecord(z.enum(CONFIGURABLE_ACTIONS), permission).default({}),
    /** Slack channel for this repository's threads (overrides the bot default). */
    slack: z
      .object({ channel: z.string().min(1) })
      .strict()
      .optional(),
  })
  .strict();

export type PreviewConfig = z.output<typeof configSchema>;

export type ConfigResult = { ok: true; config: PreviewConfig } | { ok: false; errors: string[] };

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    "",
  );
}

type Def = {
  type?: string;
  innerType?: unknown;
  in?: unknown;
  out?: unknown;
  element?: unknown;
  shape?: Record<string, unknown>;
};
const defOf = (n: unknown): Def | undefined => (n as { _zod?: { def?: Def } } | undefined)?._zod?.def;

/** Through optional, default and pipe wrappers to the schema that holds the shape. */
function unwrapSchema(n: unknown): unknown {
  for (let def = defOf(n); def && def.type !== "object" && def.type !== "array"; def = defOf(n)) {
    if (def.innerType) n = def.innerType;
    else if (def.type === "pipe") n = defOf(def.in)?.type === "transform" ? def.out : def.in;
    else break;
  }
  return n;
}

/** The object schema's keys at `path` (from the schema itself), for "did you mean". */
function knownKeysAt(path: ReadonlyArray<PropertyKey>): string[] {
  let node: unknown = configSchema;
  for (const p of path) {
    const def = defOf(unwrapSchema(node));
    node =
      typeof p === "number"
        ? def?.type === "array"
          ? def.element
          : undefined
        : def?.type === "object"
          ? def.shape?.[String(p)]
          : undefined;
  }
  const def = defOf(unwrapSchema(node));
  return def?.type === "object" && def.shape ? Object.keys(def.shape) : [];
}

/** Edit distance counting an adjacent swap as one edit (optimal string alignment), for suggestions. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const d = Array.from({ length: x.length + 1 }, (_, i) =>
    Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[x.length]![y.length]!;
}

/** The known key nearest to `key`, when it is a plausible typo of it. */
function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = distance(key, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

function unknownKeys(path: ReadonlyArray<PropertyKey>, keys: readonly string[], shown = path): string {
  const known = knownKeysAt(path);
  const where = formatPath(shown);
  return keys
    .map((k) => {
      const near = nearestKey(k, known);
      return `${where || "(top level)"}: unknown field "${k}"${near ? ` (did you mean "${near}"?)` : known.length ? `; known: ${known.join(", ")}` : ""}`;
    })
    .join("\n");
}

/**
 * The field a syntax error at `offset` is in, as `a.b[0].c` (undefined at the top level): at each level the last key
 * that starts before the offset. The document is what the parser made of the text up to the error.
 */
function fieldAt(node: unknown, offset: number, path = ""): string | undefined {
  if (isMap(node)) {
    const pair = node.items.findLast((p) => isScalar(p.key) && (p.key.range?.[0] ?? Infinity) < offset);
    if (!pair || !isScalar(pair.key)) return path || undefined;
    const key = String(pair.key.value);
    return fieldAt(pair.value, offset, path ? `${path}.${key}` : key);
  }
  if (isSeq(node)) {
    const i = node.items.findLastIndex(
      (item) => (isMap(item) || isSeq(item)) && (item.range?.[0] ?? Infinity) < offset,
    );
    if (i >= 0) return fieldAt(node.items[i], offset, `${path}[${i}]`);
  }
  return path || undefined;
}

/**
 * Parse and validate the file's text. Each error names the bad field once, e.g.
 * `health.timeout: expected a duration ...`, and `source` (the file actually read) when the file itself is wrong.
 */
export function parseConfig(text: string, source: string = CONFIG_PATH): ConfigResult {
  let raw: unknown;
  const doc = parseDocument(text, { prettyErrors: true });
  const [syntax] = doc.errors;
  if (syntax) {
    const field = fieldAt(doc.contents, syntax.pos[0]);
    return {
      ok: false,
      errors: [`${source} is not valid YAML${field ? ` (at ${field})` : ""}: ${yamlErrorLine(syntax.message)}`],
    };
  }
  try {
    raw = doc.toJS({ maxAliasCount: 50 });
  } catch (err) {
    return { ok: false, errors: [`${source} is not valid YAML: ${String(err)}`] };
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return { ok: false, errors: [`${source} must be a mapping with at least "manifests: { path: ... }"`] };
  }
  const result = configSchema.safeParse(raw);
  if (result.success) return { ok: true, config: result.data };
  // `route.expose` written as one object is read as a list of one: its errors name the field as written.
  const route = (raw as { route?: { expose?: unknown } }).route;
  const oneExpose = route?.expose !== null && typeof route?.expose === "object" && !Array.isArray(route.expose);
  const asWritten = (path: ReadonlyArray<PropertyKey>): ReadonlyArray<PropertyKey> =>
    oneExpose && path[0] === "route" && path[1] === "expose" && path[2] === 0
      ? [...path.slice(0, 2), ...path.slice(3)]
      : path;
  return {
    ok: false,
    errors: result.error.issues.flatMap((i) => {
      if (i.code === "unrecognized_keys") return unknownKeys(i.path, i.keys, asWritten(i.path)).split("\n");
      return [`${formatPath(asWritten(i.path)) || "(top level)"}: ${i.message}`];
    }),
  };
}
