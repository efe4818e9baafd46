/**
 * The preview as data, and the interfaces of the external systems the runner drives (`Cluster`, `Databases`). Each
 * interface has one real implementation (cluster/, data/) and is exercised in tests against a real part (the fake API
 * server over HTTP and the real control plane, real PostgreSQL).
 *
 * Longer than 300 lines: the Cluster and Databases interfaces are the contract the fakes and the real clients both
 * implement, each method with what it promises; split, the contract would be read in pieces.
 */

/** What identifies a preview and what it is built from. */
export interface PreviewRef {
  owner: string;
  repo: string;
  number: number;
  /** The PR's head branch name, exactly as GitHub gives it (may be hostile: unicode, slashes, 255 chars). */
  branch: string;
  /** Full 40-hex head commit SHA. */
  sha: string;
  /** True when the head repository is not the base repository. */
  fork?: boolean;
}

/** `owner/repo#number` — the key jobs, locks and reports use. */
export function previewKey(ref: Pick<PreviewRef, "owner" | "repo" | "number">): string {
  return `${ref.owner}/${ref.repo}#${ref.number}`;
}

/** Every name a preview uses, from src/services/preview/naming.ts (the only place names are made). */
export interface PreviewNames {
  key: string;
  namespace: string;
  /** One DNS label usable as the first part of a hostname. */
  hostLabel: string;
  /** The preview's hostname, when the config routes by host. */
  host?: string;
  /** The preview URL people open (https://host/ or a path prefix URL), when known. */
  url?: string;
  /** PostgreSQL identifiers (lowercase [a-z0-9_], ≤ 63 bytes). */
  database: string;
  role: string;
  /** Kubernetes Secret holding the database credentials. */
  secret: string;
  /** Ownership labels put on everything the bot creates (selector for prune and sweep). */
  labels: Record<string, string>;
  /** Ownership annotations (full repository name, branch, head SHA). */
  annotations: Record<string, string>;
  /** The GitHub deployment environment name, e.g. `preview/pr-42`. */
  environment: string;
  /** URLs besides the primary one (`route.expose` entries after the first), each on a host label of its own. */
  extraUrls?: ExtraUrl[];
}

/** One more URL of a preview: `shop-pr-4-results.previews.example.com` for the `results` entry of `route.expose`. */
export interface ExtraUrl {
  /** The entry's name (its `name`, else its Service's). */
  name: string;
  hostLabel: string;
  /** Host routing: its own host; path-prefix routing: its own prefix on the shared host. */
  host?: string;
  pathPrefix?: string;
  url: string;
}

/** A Kubernetes object as parsed from YAML. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** Identity of an object in the cluster. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

/** An applied object, and what the apply had to do beyond a plain server-side apply. */
export interface AppliedRef extends ObjectRef {
  /** Immutable fields that changed (e.g. a Job's `spec.template`): the object was deleted and created again. */
  replaced?: string[];
  /** `spec.replicas` was left to the autoscaler (an HPA or ScaledObject in the render) that scales it. */
  autoscaled?: boolean;
  /**
   * Server-owned fields taken out of the rendered object before the apply (`metadata.resourceVersion`, `status`, …).
   */
  stripped?: string[];
}

export function refOf(obj: KubeObject): ObjectRef {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    name: obj.metadata.name ?? "",
    ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
  };
}

export function describeRef(ref: ObjectRef): string {
  return `${ref.kind} "${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}"`;
}

/** The API server's answer to a server-side dry run of one object (Cluster.dryRun). */
export interface DryRunAnswer {
  ref: ObjectRef;
  /**
   * accepted: the apply would store it; replace: only immutable fields changed, which the apply resolves by deleting
   * and re-creating the object; refused: authorization, admission or validation said no.
   */
  outcome: "accepted" | "replace" | "refused";
  status?: number;
  /** The Status reason (Forbidden, Invalid, NotFound, …) and the server's message. */
  reason?: string;
  message?: string;
  /** The server's warnings (Pod Security at the namespace's warn level, deprecated APIs, …). */
  warnings: string[];
  /** For a refusal on immutable fields: which ones. */
  immutable?: string[];
}

/** Rollout state of one workload after the health gate. */
export interface WorkloadHealth {
  kind: "Deployment" | "StatefulSet" | "ReplicationController";
  name: string;
  ready: boolean;
  /** Human summary: "3/3 ready", "0/1 ready: ImagePullBackOff". */
  summary: string;
  /** Why it is not ready, per pod: phase, waiting reasons, recent events, last log lines (redacted). */
  diagnosis?: string;
}

/** What `helm template` is told about the cluster (`--kube-version`, `--api-versions`). */
export interface ClusterCapabilities {
  /** `v1.37.2` (a vendor suffix taken off). */
  kubeVersion: string;
  /** `group/version` and `group/version/Kind` of everything the cluster serves (`v1`, `v1/Pod`, `apps/v1/Deployment`). */
  apiVersions: string[];
}

/** How a hook (a Helm hook Job or Pod) ended, after `waitForHooks`. */
export interface HookResult extends ObjectRef {
  state: "succeeded" | "failed" | "running";
  /** "completed", "failed: BackoffLimitExceeded: Job has reached the specified backoff limit", "still running". */
  summary: string;
  /** Why it failed or is still running: its pods, events, the log tail (redacted). */
  diagnosis?: string;
}

export interface Cluster {
  /**
   * Create or update the preview namespace with its labels/annotations. Refuses (throws OwnershipError) when the
   * namespace exists without our managed-by label, or is protected.
   */
  ensureNamespace(name: string, labels: Record<string, string>, annotations: Record<string, string>): Promise<void>;
  /**
   * Set some annotations on our namespace, leaving the others alone (a merge patch: a partial server-side apply would
   * drop the annotations it no longer lists). Refuses a namespace that is not ours.
   */
  annotateNamespace(name: string, annotations: Record<string, string | null>): Promise<void>;
  /**
   * Server-side apply every object (field manager "preview-bot"); returns what was applied. Server-owned metadata is
   * taken out first; an object whose immutable fields changed is replaced; an autoscaled workload's replicas are left
   * to its autoscaler; a cluster-scoped object must be (or become) this preview's, checked by its labels.
   */
  apply(objects: KubeObject[]): Promise<AppliedRef[]>;
  /**
   * Delete objects in `namespace` that carry `selector` labels but are not in `keep`. Returns what was (or, with
   * dryRun, would be) deleted.
   */
  prune(
    namespace: string,
    selector: Record<string, string>,
    keep: ObjectRef[],
    opts?: { dryRun?: boolean },
  ): Promise<ObjectRef[]>;
  /**
   * Delete (or, with dryRun, list) the cluster-scoped objects the preview in this namespace applied, found by the
   * kinds recorded on the namespace and the preview's ownership labels. Teardown calls it before deleting the
   * namespace (the namespace controller removes only what is inside it).
   */
  deleteClusterScoped(namespace: string, opts?: { dryRun?: boolean }): Promise<ObjectRef[]>;
  /**
   * Server-side apply every object as a dry run (`dryRun=All`, the bot's field manager), in apply order: the API
   * server's authorization, admission chain and validation run and nothing is stored. One answer per object; a
   * refusal is an answer, only an unreachable server throws.
   */
  dryRun(objects: readonly KubeObject[]): Promise<DryRunAnswer[]>;
  /** Wait for Deployments/StatefulSets/ReplicationControllers in the namespace to roll out, up to timeoutMs; never throws for unhealthy. */
  waitForRollout(namespace: string, timeoutMs: number, signal?: AbortSignal): Promise<WorkloadHealth[]>;
  /** Create or replace an Opaque Secret (used for database credentials). */
  upsertSecret(
    namespace: string,
    name: string,
    data: Record<string, string>,
    labels: Record<string, string>,
  ): Promise<void>;
  /**
   * A Secret's type and data (base64, as the API holds it), or undefined when it does not exist: for copying an app
   * secret from a namespace the operator allows. The values are never logged.
   */
  readSecret(namespace: string, name: string): Promise<{ type: string; data: Record<string, string> } | undefined>;
  /** Suspend every CronJob in the namespace (before teardown, so none starts while the namespace goes). */
  suspendCronJobs(namespace: string): Promise<string[]>;
  /**
   * Delete the namespace (only if ours and not protected) and wait until it is gone. "absent" when it did not exist,
   * "stuck" when it is still Terminating after waitMs.
   */
  deleteNamespace(
    name: string,
    opts: { waitMs: number; signal?: AbortSignal },
  ): Promise<"deleted" | "absent" | "stuck">;
  /**
   * The scope the cluster serves a kind at, from API discovery (never a hand-written list): "Namespaced", "Cluster",
   * or undefined when the cluster does not serve it.
   */
  resourceScope(apiVersion: string, kind: string): Promise<"Namespaced" | "Cluster" | undefined>;
  /**
   * Bind a ClusterRole in our namespace (only `create` is needed: in a new preview namespace it is the bot's first
   * right there). One that exists with the same role and subjects is kept; one that differs is replaced.
   */
  bindClusterRole(namespace: string, binding: RoleBindingRequest): Promise<"created" | "kept" | "replaced">;
  /**
   * Wait until the quota controller has computed the usage of every resource the named ResourceQuotas limit: until
   * then a new quota does not hold. Throws after timeoutMs.
   */
  waitForQuotas(namespace: string, names: string[], timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /**
   * Read one object (e.g. the shared Gateway a preview's routes attach to); undefined when it does not exist or the
   * cluster does not serve its kind.
   */
  readObject(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
  ): Promise<KubeObject | undefined>;
  /**
   * The cluster's version and API versions, from discovery: asked once, then cached for a while (a CRD installed
   * later is seen on a later deploy).
   */
  capabilities(): Promise<ClusterCapabilities>;
  /**
   * Delete one namespaced object of ours (its dependents in the background, as kubectl does) and wait until it is
   * gone; "absent" when there was none. Refuses an object without our label.
   */
  deleteObject(ref: ObjectRef, opts: { waitMs: number; signal?: AbortSignal }): Promise<"deleted" | "absent">;
  /**
   * Wait until each hook has finished, up to timeoutMs: a Job until it completes or fails, a Pod until it succeeds or
   * fails; any other kind is done once applied. Never throws for a failed hook: the result says so.
   */
  waitForHooks(refs: readonly ObjectRef[], timeoutMs: number, signal?: AbortSignal): Promise<HookResult[]>;
  /** Namespaces carrying the selector labels (the sweeper's "actual" set), with when each was created. */
  listNamespaces(selector: Record<string, string>): Promise<NamespaceListing[]>;
}

/** One namespace as listNamespaces sees it. */
export interface NamespaceListing {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  phase: string;
  /** creationTimestamp (ISO-8601), when the server says. */
  createdAt?: string;
}

/**
 * The objects protected previews need in the bot's own namespace (Gateway API ReferenceGrants letting a preview's
 * routes or policies reach the bot's Service). Found by the preview's labels; teardown syncs to none.
 */
export interface AccessGrants {
  /** Make the bot's namespace hold exactly `objects` for the preview `selector` names: apply them, delete its others. */
  sync(selector: Record<string, string>, objects: KubeObject[]): Promise<{ applied: string[]; deleted: string[] }>;
}

export interface RoleBindingRequest {
  name: string;
  clusterRole: string;
  subjects: Array<{ kind: "ServiceAccount" | "User" | "Group"; name: string; namespace?: string }>;
  labels: Record<string, string>;
}

export interface DatabaseCredentials {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /** postgres://user:password@host:port/database?sslmode=... */
  url: string;
}

export interface Databases {
  /** Create (or keep) the preview's role and database; idempotent; returns working credentials. */
  provision(
    names: Pick<PreviewNames, "key" | "database" | "role">,
    opts?: ProvisionOptions,
  ): Promise<DatabaseCredentials>;
  /** Terminate connections, drop database and role — only if they carry our mark. Not-found counts as done. */
  drop(
    names: Pick<PreviewNames, "key" | "database" | "role">,
  ): Promise<{ database: "dropped" | "absent" | "not-ours"; role: "dropped" | "absent" | "not-ours" }>;
  /** Databases carrying our mark (the sweeper's "actual" set), with the preview key from the mark. */
  list(): Promise<
    Array<{ database: string; key: string; /** The database's owner (the preview role), for drop. */ role?: string }>
  >;
  /**
   * Roles carrying our mark that own no database: a provision cut short between its role and its database, or a drop
   * cut short between the database and the role (a crash, PostgreSQL restarting). `list` cannot see them.
   */
  strayRoles(): Promise<Array<{ role: string; key: string; /** The database its mark names. */ database?: string }>>;
  close(): Promise<void>;
}

export interface ProvisionOptions {
  extensions?: string[];
  template?: string;
  connectionLimit?: number;
  /** SQL run as the preview role on first creation only. */
  seedSql?: string;
}
