/**
 * Bot-level settings from the environment, validated once at boot. The only module that reads `process.env`
 * (besides the libraries that read their own, such as @azure/identity). Every variable is listed in .env.example
 * and the README.
 * Longer than 300 lines: it is one schema, every setting beside its parsing and its one-line reason; split by topic,
 * the one place to read what the bot can be told would be several.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";

const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v));

const list = optional.transform((v) =>
  v
    ? v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : [],
);

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** A Kubernetes resource quantity: `500m`, `2`, `1.5`, `512Mi`, `8Gi`, `1e3`. */
export const QUANTITY = /^([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[mkMGTPE]|[eE][+-]?[0-9]+)?$/;
const quantity = z
  .string()
  .trim()
  .regex(QUANTITY, 'must be a Kubernetes quantity such as "500m", "2", "512Mi" or "8Gi"');
const CIDR = /^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/;
const cidrs = list.pipe(z.array(z.string().regex(CIDR, "must be an address range such as 10.0.0.0/16")));
/** A duration setting (`30m`, `12h`, `7d`, `2w`) in milliseconds; the grammar of .github/preview.yml's durations. */
const durationSetting = optional.pipe(
  z
    .string()
    .regex(/^\d{1,6}(s|m|h|d|w)$/, 'a duration such as "12h", "7d" or "2w"')
    .transform((s) => Number(s.slice(0, -1)) * { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8 }[s.slice(-1) as "s"])
    .optional(),
);
const cap = optional.pipe(z.coerce.number<string | undefined>().int().min(1).max(100_000).optional());

/** `name` or `name=owner/repo|owner/*`: an allowlist entry, open to every repository or only to those. */
const ALLOW_ENTRY =
  /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(=[A-Za-z0-9_.-]+\/([A-Za-z0-9_.-]+|\*)(\|[A-Za-z0-9_.-]+\/([A-Za-z0-9_.-]+|\*))*)?$/;
const ALLOW_HINT = "name, or name=owner/repo|owner/* (the repositories it is open to)";
const flag = z
  .enum(["true", "false", "1", "0", ""])
  .optional()
  .transform((v) => v === "true" || v === "1");

/** Bytes a PREVIEW_AUTH_SECRET key must have at least. */
const AUTH_SECRET_MIN_LENGTH = 32;
/** A dockerconfigjson source: a file path, or `secret:<name>` (a Secret in BOT_NAMESPACE). */
const credentialSource = z
  .string()
  .refine(
    (v) => !v.startsWith("secret:") || /^secret:[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(v),
    'a dockerconfigjson file path, or "secret:<name>" with a Secret name',
  );

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default("0.0.0.0"),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  NODE_ENV: optional,

  // GitHub App (Probot)
  APP_ID: optional,
  PRIVATE_KEY: optional,
  PRIVATE_KEY_PATH: optional,
  WEBHOOK_SECRET: optional,
  GHE_HOST: optional,
  GHE_PROTOCOL: optional,
  /** Where the manifest flow writes the new app's credentials. */
  ENV_FILE: z.string().default(".env"),
  /** Local development: a smee-style channel whose events are forwarded to this bot's webhook path. */
  WEBHOOK_PROXY_URL: optional.pipe(
    z.url({ protocol: /^https?$/, error: "an http(s) URL, e.g. https://smee.io/<channel>" }).optional(),
  ),

  // Kubernetes
  KUBECONFIG: optional,
  KUBE_CONTEXT: optional,
  PROTECTED_NAMESPACES: list,
  KUSTOMIZE_COMMAND: optional,

  // The renderer: where pull-request content is read (src/services/preview/render/isolation.ts)
  /** `auto`: namespaces where allowed, else Landlock (a pod); `none` runs with no isolation and says so loudly. */
  RENDER_ISOLATION: z.enum(["auto", "namespaces", "landlock", "none"]).default("auto"),
  /** The sandbox launcher (tools/sandbox), with any wrapper: `preview-sandbox` on PATH by default. */
  RENDER_SANDBOX: optional,
  /** A renderer workload (deploy/base/renderer.yaml) to render in, instead of a local sandboxed process. */
  RENDERER_URL: optional.pipe(
    z.url({ protocol: /^https?$/, error: "an http(s) URL, e.g. http://preview-bot-renderer:8080" }).optional(),
  ),
  /** Limits of one render: CPU seconds, memory (bytes), wall seconds, and the size of the answer (bytes). */
  RENDER_CPU_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  RENDER_MEMORY_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024 * 1024)
    .default(1024 * 1024 * 1024),
  RENDER_TIMEOUT: z.coerce.number().int().min(5).max(3600).default(120),
  RENDER_MAX_OUTPUT_BYTES: z.coerce
    .number()
    .int()
    .min(1024 * 1024)
    .default(64 * 1024 * 1024),
  /** The renderer workload (`preview-bot renderer`): renders at once; more are refused with 503 and retried. */
  RENDER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  /** Replicas a preview workload may ask for (Deployments, StatefulSets, HPAs' maxReplicas); more is refused. */
  PREVIEW_MAX_REPLICAS: z.coerce.number().int().min(1).max(1000).default(10),
  /** ClusterRoles a preview's own RoleBindings may name (none by default: the bot must hold `bind` on each). */
  PREVIEW_BINDABLE_CLUSTER_ROLES: list,
  /** The shared Gateway preview routes attach to unless a repository names one: `namespace/name[/sectionName]`. */
  PREVIEW_GATEWAY: optional.pipe(
    z
      .string()
      .regex(
        /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?(\/[a-z0-9]([-a-z0-9]*[a-z0-9])?)?$/,
        "namespace/name or namespace/name/sectionName",
      )
      .optional(),
  ),
  /** Ingress class for preview Ingresses unless a repository names one (route.ingressClassName). */
  PREVIEW_INGRESS_CLASS: optional,
  /**
   * Helm without a cluster to ask (`preview-bot render` offline): the Kubernetes version and extra API versions
   * charts are rendered for. With a cluster, its discovery answers instead.
   */
  PREVIEW_KUBE_VERSION: optional.pipe(
    z
      .string()
      .regex(/^v?\d+\.\d+(\.\d+)?$/, 'a Kubernetes version such as "1.30" or "v1.30.2"')
      .optional(),
  ),
  PREVIEW_API_VERSIONS: list.pipe(
    z.array(
      z
        .string()
        .regex(
          /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?v[0-9]+((alpha|beta)[0-9]+)?(\/[A-Z][A-Za-z0-9]*)?$/,
          'an API version like "policy/v1" or "monitoring.coreos.com/v1/ServiceMonitor"',
        ),
    ),
  ),
  /** How long teardown waits for a namespace to disappear before reporting it stuck. */
  NAMESPACE_DELETE_TIMEOUT: z.coerce.number().int().positive().default(300),
  /** The bot's own namespace (where the job Lease lives without DATABASE_URL); in a pod, its service account's. */
  POD_NAMESPACE: optional,

  // Guardrails on every preview namespace (src/services/preview/guardrails/): the bounds; a repository may only
  // tighten them (`guardrails` in .github/preview.yml).
  /** Pod Security Admission level enforced in preview namespaces (`restricted` is always warned and audited). */
  PREVIEW_POD_SECURITY: z.enum(["baseline", "restricted"]).default("baseline"),
  PREVIEW_QUOTA_PODS: z.coerce.number().int().min(1).max(10_000).default(20),
  /** Total CPU and memory the preview's containers may request (CPU limits are not quota'd: they add up fast). */
  PREVIEW_QUOTA_CPU: quantity.default("4"),
  PREVIEW_QUOTA_MEMORY: quantity.default("8Gi"),
  /**
   * Total memory the preview's containers may be limited to (every container has a limit: the LimitRange's default):
   * 20 pods of two containers on the 512Mi default fit.
   */
  PREVIEW_QUOTA_MEMORY_LIMIT: quantity.default("20Gi"),
  /** Total storage the preview's PersistentVolumeClaims may request. */
  PREVIEW_QUOTA_STORAGE: quantity.default("20Gi"),
  /** Total ephemeral storage (container writable layers, logs, emptyDirs) requested and limited. */
  PREVIEW_QUOTA_EPHEMERAL_STORAGE: quantity.default("20Gi"),
  /** Objects of each kind a preview may contain (ConfigMaps, Secrets, Services, workloads, ...): etcd is shared. */
  PREVIEW_QUOTA_OBJECTS: z.coerce.number().int().min(1).max(10_000).default(50),
  /** LimitRange defaults for containers that set no requests or limits (a CPU/memory quota refuses those otherwise). */
  PREVIEW_DEFAULT_CPU_REQUEST: quantity.default("100m"),
  /** No CPU limit by default: a limit per container multiplies into quota refusals and throttles idle apps. */
  PREVIEW_DEFAULT_CPU_LIMIT: optional.pipe(quantity.optional()),
  PREVIEW_DEFAULT_MEMORY_REQUEST: quantity.default("128Mi"),
  PREVIEW_DEFAULT_MEMORY_LIMIT: quantity.default("512Mi"),
  PREVIEW_DEFAULT_EPHEMERAL_STORAGE_REQUEST: quantity.default("100Mi"),
  /**
   * Also the sizeLimit an emptyDir without one gets: the kubelet evicts a pod that writes past its limits. Unset:
   * PREVIEW_QUOTA_EPHEMERAL_STORAGE / (PREVIEW_QUOTA_PODS × 2), so the pod quota's worth of two-container pods fits.
   */
  PREVIEW_DEFAULT_EPHEMERAL_STORAGE_LIMIT: optional.pipe(quantity.optional()),
  /** PriorityClasses a preview's pods may name; none by default (the cluster's default priority applies). */
  PREVIEW_PRIORITY_CLASSES: list,
  /** Taints previews may tolerate: `key`, `key=value`, each optionally `:Effect` (e.g. `pool=previews:NoSchedule`). */
  PREVIEW_ALLOWED_TOLERATIONS: list.pipe(
    z.array(
      z
        .string()
        .regex(
          /^[A-Za-z0-9][-A-Za-z0-9_./]*(=[-A-Za-z0-9_.]*)?(:(NoSchedule|PreferNoSchedule|NoExecute))?$/,
          "must be key, key=value, key:Effect or key=value:Effect",
        ),
    ),
  ),
  /** Node labels previews may select nodes by (nodeSelector, node affinity): `key` or `key=value`. */
  PREVIEW_ALLOWED_NODE_LABELS: list.pipe(
    z.array(z.string().regex(/^[A-Za-z0-9][-A-Za-z0-9_./]*(=[-A-Za-z0-9_.]*)?$/, "must be key or key=value")),
  ),
  /** Annotations previews may keep on routes, Ingresses and Services, besides the bot's own: keys, or `prefix/*`. */
  PREVIEW_ALLOWED_ANNOTATIONS: list.pipe(
    z.array(z.string().regex(/^[A-Za-z0-9][-A-Za-z0-9_./]*(\/\*)?$/, "must be an annotation key or prefix/*")),
  ),
  /** Gateways besides PREVIEW_GATEWAY that a repository's route.parentRefs may name: `namespace/name`, comma-separated. */
  PREVIEW_ALLOWED_GATEWAYS: list.pipe(
    z.array(z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "namespace/name")),
  ),
  /** Namespaces (your gateway or ingress controller) whose pods may reach preview pods; all others are denied. */
  PREVIEW_INGRESS_FROM_NAMESPACES: list,
  /** Address ranges that may reach preview pods (a gateway outside the cluster, e.g. an AGC subnet). */
  PREVIEW_INGRESS_FROM_CIDRS: cidrs,
  /**
   * `open`: previews may connect anywhere; `restricted`: only inside their namespace, to DNS, and
   * PREVIEW_EGRESS_TO_CIDRS.
   */
  PREVIEW_EGRESS: z.enum(["open", "restricted"]).default("open"),
  PREVIEW_EGRESS_TO_CIDRS: cidrs,
  /** The ClusterRole (deploy/base/rbac.yaml) the bot binds to itself in each preview namespace. */
  PREVIEW_CLUSTER_ROLE: z
    .string()
    .regex(dnsSubdomain, "must be a Kubernetes object name")
    .default("preview-bot-previews"),
  /** The bot's own ServiceAccount (deploy/ sets both from the downward API): the subject of that RoleBinding. */
  BOT_NAMESPACE: z.string().regex(dnsLabel, "must be a namespace name").default("preview-bot"),
  BOT_SERVICE_ACCOUNT: z.string().regex(dnsSubdomain, "must be a ServiceAccount name").default("preview-bot"),

  // The fleet (src/services/preview/fleet/): previews running at once; over a cap a deploy waits in a fair line.
  // Unset: no limit. A repository may only lower its own (`caps` in .github/preview.yml).
  MAX_PREVIEWS: cap,
  MAX_PREVIEWS_PER_REPO: cap,
  MAX_PREVIEWS_PER_AUTHOR: cap,
  /** A deploy that has to wait first has the longest-asleep preview destroyed (its final backup as configured). */
  EVICT_ASLEEP_PREVIEWS: flag,
  /** Expiry for previews whose repository sets no `ttl`; unset: they do not expire. */
  PREVIEW_DEFAULT_TTL: durationSetting,
  /** The longest a preview may live after its last deploy or `/preview extend` (a repository's `ttl` included). */
  PREVIEW_MAX_TTL: durationSetting,

  // Images (src/services/preview/deploy/steps/images.ts): resolved to digests before a deploy applies anything
  /** Seconds a deploy waits for a missing image when its images[] entry sets no `wait` (at most 45 minutes). */
  IMAGE_WAIT: z.coerce.number().int().min(0).max(2700).default(900),
  /**
   * Registry credentials the bot resolves images with: dockerconfigjson files and `secret:<name>` Secrets (type
   * kubernetes.io/dockerconfigjson) in BOT_NAMESPACE, comma-separated; each `auths` entry is its registry's credential,
   * a later source wins. Anonymous where none is named; ACR through the bot's Azure identity.
   */
  REGISTRY_CREDENTIALS: list.pipe(z.array(credentialSource)),
  /**
   * A dockerconfigjson (file or `secret:<name>`) copied into every preview namespace as Secret preview-bot-image-pull
   * and named in every pod's imagePullSecrets, so previews can pull private images. The pull request's code can read
   * it: use a pull-only token. Also used to resolve images (REGISTRY_CREDENTIALS wins for the same registry).
   */
  PREVIEW_IMAGE_PULL_SECRET: optional.pipe(credentialSource.optional()),

  // Preview databases
  PREVIEW_DATABASE_URL: optional,
  PREVIEW_DATABASE_SSLMODE: z.enum(["disable", "require", "verify-full"]).optional(),
  PREVIEW_DATABASE_SSL_CA_FILE: optional,
  PREVIEW_DATABASE_PUBLIC_HOST: optional,
  PREVIEW_DATABASE_PUBLIC_PORT: z.coerce.number().int().positive().optional(),
  PREVIEW_DATABASE_PASSWORD_KEY: optional,
  /** Databases a preview may be created from (`database.template`); none when unset. */
  PREVIEW_DATABASE_TEMPLATES: list,
  /** Untrusted extensions (superuser-only) the admin may create in preview databases; none when unset. */
  PREVIEW_DATABASE_ADMIN_EXTENSIONS: list,
  /** Give fork PRs `database.seedFrom` data (a backup target's latest backup) too. Off: fork previews start empty. */
  SEED_FORK_PREVIEWS: flag,

  // App secrets (src/services/preview/render/app-secrets.ts): where a repository's `secrets` may come from
  /**
   * Namespaces Secrets may be copied from into previews: `namespace` (any enrolled repository) or
   * `namespace=owner/repo|owner/*` (only those). The bot needs `get` on Secrets there (docs/app-secrets.md).
   */
  PREVIEW_SECRET_SOURCES: list.pipe(z.array(z.string().regex(ALLOW_ENTRY, ALLOW_HINT))),
  /** External Secrets ClusterSecretStores a preview's ExternalSecrets may read from, in the same form. */
  PREVIEW_EXTERNAL_SECRET_STORES: list.pipe(z.array(z.string().regex(ALLOW_ENTRY, ALLOW_HINT))),
  /** Copy secrets into previews of pull requests from forks too. Off: a fork's preview gets none, and says why. */
  PREVIEW_SECRETS_FOR_FORKS: flag,

  // The bot's own state (durable jobs); embedded store when unset
  DATABASE_URL: optional,
  /** Jobs running at once across previews (one at a time per preview, always). */
  JOB_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  /** Seconds between check-run updates while a deploy runs (step progress is batched; GitHub paces writes). */
  CHECK_RUN_PROGRESS_INTERVAL: z.coerce.number().int().min(1).max(86_400).default(15),
  WORK_DIR: optional,

  // Backups (targets and storage; see src/services/data/backups/targets.ts)
  BACKUP_TARGETS_FILE: optional,
  BACKUP_TARGETS: optional,
  AZURE_STORAGE_ACCOUNT_URL: optional,
  AZURE_STORAGE_CONNECTION_STRING: optional,
  /** Blob container for preview-database backups (`/preview backup`, final backups). */
  PREVIEW_BACKUP_CONTAINER: z.string().default("preview-backups"),
  BACKUP_SCRATCH_URL: optional,
  PG_BIN_DIR: optional,
  /** Where the tools are looked up (helm, kustomize, pg_dump): the process's own PATH. */
  PATH: z.string().default("/usr/local/bin:/usr/bin:/bin"),

  // Slack
  SLACK_SIGNING_SECRET: optional,
  SLACK_BOT_TOKEN: optional,
  SLACK_DEFAULT_CHANNEL: optional,
  /** Slack's Web API base URL: GovSlack's (`https://slack-gov.com/api/`) or a proxy; default Slack's own. */
  SLACK_API_URL: optional.pipe(z.url({ protocol: /^https?$/, error: "an http(s) URL ending in /api/" }).optional()),
  /** Slack user id → GitHub login: `U012AB3CD=octocat,U045=hubot`, or a path to a JSON object file. */
  SLACK_USER_MAP: optional,
  /** GitHub logins allowed to back up and list every backup target from Slack (else a target's allowedRepos decide). */
  PREVIEW_BOT_ADMINS: list,

  // Sleep and wake (docs/sleep.md), and what a preview costs
  /**
   * Idle time after which a preview sleeps, for repositories that set no `sleep.after` (which may only shorten it):
   * `1h`, `30m`. `off` (the default): only previews whose repository sets `sleep.after` sleep.
   */
  PREVIEW_SLEEP_AFTER: z
    .string()
    .trim()
    .default("off")
    .transform((v, ctx) => {
      if (v === "off" || v === "") return undefined;
      const m = /^(\d{1,6})(m|h|d|w)$/.exec(v);
      if (!m) {
        ctx.addIssue({ code: "custom", message: `expected "off" or a duration like "30m", "1h" or "2d", got "${v}"` });
        return z.NEVER;
      }
      return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as "m" | "h" | "d" | "w"];
    }),
  // The preview page and GitHub sign-in in front of previews (docs/preview-access.md). The page is on when the first
  // four are set; the bot starts without them and says which are missing (handlers/page/settings.ts).
  /** The bot's public origin, e.g. `https://preview-bot.example.com`; GitHub's callback URL is `<this>/auth/callback`. */
  PREVIEW_BOT_URL: optional.pipe(
    z
      .url({ protocol: /^https?$/, error: "the bot's public URL, e.g. https://preview-bot.example.com" })
      .refine((v) => {
        const u = new URL(v);
        return u.pathname === "/" && !u.search && !u.hash;
      }, "an origin only, without a path")
      .optional(),
  ),
  /** The GitHub App's client ID and one of its client secrets (the App's settings page; `setup` writes both). */
  GITHUB_CLIENT_ID: optional,
  GITHUB_CLIENT_SECRET: optional,
  /** Keys for the page's sealed cookies and the previews' bypass tokens; comma-separated to rotate (the first seals). */
  PREVIEW_AUTH_SECRET: optional.pipe(
    z
      .string()
      .refine(
        (v) =>
          v
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
            .every((s) => Buffer.byteLength(s) >= AUTH_SECRET_MIN_LENGTH),
        `at least ${AUTH_SECRET_MIN_LENGTH} random characters each (comma-separated to rotate: the first seals)`,
      )
      .optional(),
  ),
  /** Seconds a sign-in lasts (never longer than GitHub's user token). */
  PREVIEW_AUTH_SESSION_TTL: z.coerce.number().int().min(300).max(86_400).default(28_800),
  /** Seconds "this login reads this repository" is remembered: lost access takes effect within it. */
  PREVIEW_AUTH_ACCESS_TTL: z.coerce.number().int().min(10).max(900).default(120),
  /** Drop `Secure` from the page's cookies: only for a bot on http://localhost (development). */
  PREVIEW_AUTH_INSECURE_COOKIES: flag,
  /** What serves preview routes, for `access: github`; unset: protected previews are refused (never left public). */
  PREVIEW_ACCESS_GATEWAY: z.enum(["ingress-nginx", "envoy-gateway", "gateway-api-external-auth"]).optional(),
  /** The URL ingress-nginx calls per request (default `<PREVIEW_BOT_URL>/auth/check`; in a cluster, the Service's). */
  PREVIEW_AUTH_URL: optional.pipe(z.url({ protocol: /^https?$/, error: "an http(s) URL" }).optional()),
  /** The bot's Service: what sleeping previews' routes and Gateway API auth backend references point at (`namespace/name:port`; default `<BOT_NAMESPACE>/preview-bot:80`). */
  PREVIEW_BOT_SERVICE: optional.pipe(
    z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9]*[a-z0-9])?:\d{1,5}$/, "namespace/name:port")
      .optional(),
  ),
  /** The cluster's DNS domain (for the ExternalName Service a sleeping preview's Ingress points at). */
  CLUSTER_DOMAIN: z.string().regex(dnsSubdomain, "must be a DNS domain").default("cluster.local"),
  /** OpenCost's API (`http://opencost.opencost:9003`): each preview's cost by namespace from its allocation API. */
  OPENCOST_URL: optional.pipe(
    z.url({ protocol: /^https?$/, error: "an http(s) URL, e.g. http://opencost.opencost:9003" }).optional(),
  ),
  /** Without OpenCost (or when it does not answer): requests × these prices, per CPU core-hour and per GiB-hour. */
  PREVIEW_COST_CPU_HOUR: z.coerce.number().min(0).optional(),
  PREVIEW_COST_MEMORY_GIB_HOUR: z.coerce.number().min(0).optional(),
  /** The currency of those prices (and of OpenCost's figures): an ISO 4217 code. */
  PREVIEW_COST_CURRENCY: z
    .string()
    .regex(/^[A-Z]{3}$/, "an ISO 4217 currency code such as USD or EUR")
    .default("USD"),
});

export type Env = z.output<typeof envSchema>;

export class EnvError extends Error {}

/** The variables each Env was parsed from (see variablesOf). */
const sources = new WeakMap<Env, NodeJS.ProcessEnv>();

export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const result = envSchema.safeParse(source);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new EnvError(`invalid environment:\n${lines.join("\n")}`);
  }
  const { PREVIEW_DEFAULT_TTL: ttl, PREVIEW_MAX_TTL: maxTtl } = result.data;
  if (ttl !== undefined && maxTtl !== undefined && ttl > maxTtl)
    throw new EnvError("invalid environment:\n  PREVIEW_DEFAULT_TTL: must not be longer than PREVIEW_MAX_TTL");
  sources.set(result.data, source);
  return result.data;
}

/**
 * The variables an Env was loaded from, for the few settings whose variable names are chosen at run time: a backup
 * target's `passwordEnv`, and PATH / PG_BIN_DIR / AZURE_* for the tools and credentials the backups start.
 */
export function variablesOf(env: Env): NodeJS.ProcessEnv {
  const source = sources.get(env);
  if (!source) throw new Error("variablesOf: this Env was not made by loadEnv");
  return source;
}

/** A variable needed before the environment is validated: the logger's level at import, the .env file to load. */
export function earlyVariable(name: "LOG_LEVEL" | "NODE_ENV" | "ENV_FILE"): string | undefined {
  return process.env[name];
}

/** The GitHub App private key, from PRIVATE_KEY (PEM, `\n` escapes allowed) or PRIVATE_KEY_PATH. */
export function privateKey(env: Env): string | undefined {
  if (env.PRIVATE_KEY) return env.PRIVATE_KEY.replace(/\\n/g, "\n");
  if (env.PRIVATE_KEY_PATH) return readFileSync(env.PRIVATE_KEY_PATH, "utf8");
  return undefined;
}

export function githubConfigured(env: Env): boolean {
  return Boolean(env.APP_ID && (env.PRIVATE_KEY || env.PRIVATE_KEY_PATH) && env.WEBHOOK_SECRET);
}

export function slackConfigured(env: Env): boolean {
  return Boolean(env.SLACK_SIGNING_SECRET && env.SLACK_BOT_TOKEN);
}

/** Parse SLACK_USER_MAP into Slack user id → GitHub login. */
export function slackUserMap(env: Env): Map<string, string> {
  const raw = env.SLACK_USER_MAP;
  const map = new Map<string, string>();
  if (!raw) return map;
  const text = raw.trim().startsWith("{") || raw.includes("=") ? raw : readFileSync(raw, "utf8");
  if (text.trim().startsWith("{")) {
    for (const [k, v] of Object.entries(JSON.parse(text) as Record<string, unknown>))
      if (typeof v === "string") map.set(k, v);
  } else {
    for (const pair of text.split(",")) {
      const [k, v] = pair.split("=").map((s) => s.trim());
      if (k && v) map.set(k, v);
    }
  }
  return map;
}

/** Secrets from the environment, for the logger's literal redaction list. */
export function secretValues(env: Env): string[] {
  const out = [
    env.WEBHOOK_SECRET,
    env.SLACK_SIGNING_SECRET,
    env.SLACK_BOT_TOKEN,
    env.PREVIEW_DATABASE_PASSWORD_KEY,
    env.GITHUB_CLIENT_SECRET,
    ...(env.PREVIEW_AUTH_SECRET?.split(",").map((s) => s.trim()) ?? []),
    privateKey(env),
  ];
  const accountKey = /AccountKey=([^;]+)/i.exec(env.AZURE_STORAGE_CONNECTION_STRING ?? "")?.[1];
  if (accountKey) out.push(accountKey);
  if (env.WEBHOOK_PROXY_URL) {
    // A self-hosted proxy may carry credentials in the URL or its query; the channel path itself is logged.
    const proxy = new URL(env.WEBHOOK_PROXY_URL);
    out.push(decodeURIComponent(proxy.password), proxy.search.slice(1));
  }
  for (const url of [env.PREVIEW_DATABASE_URL, env.DATABASE_URL, env.BACKUP_SCRATCH_URL]) {
    if (!url) continue;
    try {
      const password = decodeURIComponent(new URL(url).password);
      if (password) out.push(password);
    } catch {
      // not a URL: the whole value may be a secret
      out.push(url);
    }
  }
  return out.filter((v): v is string => Boolean(v));
}
