/**
 * The teardown steps, one list per preview: for each namespace, suspend its CronJobs, delete the preview's
 * cluster-scoped objects, and delete the namespace (waiting until the namespace controller has removed everything in
 * it); for each database, a final backup when configured and then the drop. A database is kept, and its drop step
 * says why, when its final backup failed or cannot be taken (no backup storage), or when the repository's config
 * cannot be read (whether it wants a final backup is then unknown). A namespace on the repository's
 * `protectedNamespaces` list is never deleted. A protected preview's objects in the bot's own namespace (Gateway API
 * ReferenceGrants) are removed too: the namespace's deletion does not reach them.
 */

import { formatBytes } from "../../shared/format.js";
import { MANAGED_BY, PR_LABEL, REPO_LABEL } from "../../shared/labels.js";
import { describeRef, type PreviewNames } from "../../shared/preview.js";
import type { RunnerDeps } from "../context.js";
import type { FoundDatabase, FoundNamespace, FoundPreview } from "./find.js";

/** What a teardown step did to what it looks after: removed it, found nothing to remove, or kept it on purpose. */
export type TeardownOutcome =
  | { kind: "removed"; what: string }
  | { kind: "done" }
  /** Deliberately left in place (a protected namespace, a database whose final backup is unknown). */
  | { kind: "kept"; what: string; why: string };

export interface TeardownStep {
  name: string;
  /**
   * Why this step is not run (shown as skipped), checked just before it would run; `kept` when that keeps something.
   */
  skip?(): { reason: string; kept?: string } | undefined;
  run(detail: (text: string) => void): Promise<TeardownOutcome>;
}

export function teardownSteps(deps: RunnerDeps, preview: FoundPreview, signal?: AbortSignal): TeardownStep[] {
  const kept = new Map<string, string>();
  if (preview.keepDatabases) for (const db of preview.databases) kept.set(db.database, preview.keepDatabases);
  const finalBackup = preview.config?.database.finalBackup === true;
  const protectedNames = preview.config?.protectedNamespaces ?? [];
  return [
    ...preview.namespaces.flatMap((ns) =>
      protectedNames.includes(ns.name)
        ? [protectedNamespace(ns)]
        : [suspendCronJobs(deps, ns), deleteClusterScoped(deps, ns), deleteNamespace(deps, ns, signal)],
    ),
    ...(deps.accessGrants ? [removeAccessGrants(deps, preview.names)] : []),
    ...preview.databases.flatMap((db) => [
      ...(finalBackup ? [backupBeforeDrop(deps, db, kept)] : []),
      dropDatabase(deps, db, preview.names, kept),
    ]),
  ];
}

/** The preview's ReferenceGrants in the bot's namespace (access: github on Gateway API). */
function removeAccessGrants(deps: RunnerDeps, names: PreviewNames): TeardownStep {
  return {
    name: "Remove access grants",
    async run(detail) {
      const r = await deps.accessGrants!.sync(
        { ...MANAGED_BY, [REPO_LABEL]: names.labels[REPO_LABEL] ?? "", [PR_LABEL]: names.labels[PR_LABEL] ?? "" },
        [],
      );
      detail(r.deleted.length ? r.deleted.join(", ") : "none");
      return r.deleted.length ? { kind: "removed", what: r.deleted.join(", ") } : { kind: "done" };
    },
  };
}

/** The repository lists this namespace in `protectedNamespaces`: never touched, whatever its labels say. */
function protectedNamespace(ns: FoundNamespace): TeardownStep {
  return {
    name: `Delete namespace ${ns.name}`,
    skip: () => ({ reason: "kept: it is in protectedNamespaces of .github/preview.yml", kept: `namespace ${ns.name}` }),
    run: async () => ({ kind: "kept", what: `namespace ${ns.name}`, why: "it is in protectedNamespaces" }),
  };
}

function suspendCronJobs(deps: RunnerDeps, ns: FoundNamespace): TeardownStep {
  return {
    name: `Suspend CronJobs in ${ns.name}`,
    async run(detail) {
      const suspended = await deps.cluster.suspendCronJobs(ns.name);
      detail(suspended.length ? suspended.join(", ") : "none");
      return { kind: "done" };
    },
  };
}

/** The preview's cluster-scoped objects (allowClusterScoped): the namespace controller removes only what is inside. */
function deleteClusterScoped(deps: RunnerDeps, ns: FoundNamespace): TeardownStep {
  return {
    name: `Delete cluster-scoped objects of ${ns.name}`,
    async run(detail) {
      const deleted = await deps.cluster.deleteClusterScoped(ns.name);
      detail(deleted.length ? deleted.map(describeRef).join(", ") : "none");
      return { kind: "done" };
    },
  };
}

function deleteNamespace(deps: RunnerDeps, ns: FoundNamespace, signal?: AbortSignal): TeardownStep {
  return {
    name: `Delete namespace ${ns.name}`,
    async run(detail) {
      const outcome = await deps.cluster.deleteNamespace(ns.name, {
        waitMs: deps.namespaceDeleteTimeoutMs,
        ...(signal ? { signal } : {}),
      });
      if (outcome === "stuck")
        throw new Error(
          `namespace ${ns.name} is still Terminating after ${Math.round(deps.namespaceDeleteTimeoutMs / 1000)} s (look for finalizers: kubectl get ns ${ns.name} -o yaml)`,
        );
      detail(outcome);
      return outcome === "deleted" ? { kind: "removed", what: `namespace ${ns.name}` } : { kind: "done" };
    },
  };
}

function backupBeforeDrop(deps: RunnerDeps, db: FoundDatabase, kept: Map<string, string>): TeardownStep {
  return {
    name: `Final backup of ${db.database}`,
    skip: () => (kept.has(db.database) ? { reason: "not taken: the database is kept" } : undefined),
    async run(detail) {
      if (!deps.backups) {
        kept.set(db.database, "database.finalBackup is true, but preview-bot has no backup storage configured");
        throw new Error(
          `database ${db.database} was kept, not dropped: database.finalBackup is true, but preview-bot has no backup storage configured`,
        );
      }
      try {
        const r = await deps.backups.backup(db);
        detail(`${r.blobName} (${formatBytes(r.sizeBytes)})`);
        return { kind: "done" };
      } catch (err) {
        kept.set(db.database, "its final backup did not succeed");
        throw new Error(`database ${db.database} was kept, not dropped, because its final backup failed`, {
          cause: err,
        });
      }
    },
  };
}

function dropDatabase(
  deps: RunnerDeps,
  db: FoundDatabase,
  names: PreviewNames,
  kept: Map<string, string>,
): TeardownStep {
  return {
    name: `Drop database ${db.database}`,
    skip: () => {
      const why = kept.get(db.database);
      return why === undefined ? undefined : { reason: `kept: ${why}`, kept: `database ${db.database}` };
    },
    async run(detail) {
      const outcome = await deps.databases!.drop({
        key: names.key,
        database: db.database,
        role: db.role ?? roleFor(db.database, names),
      });
      detail(`database ${outcome.database}, role ${outcome.role}`);
      return outcome.database === "dropped" ? { kind: "removed", what: `database ${db.database}` } : { kind: "done" };
    },
  };
}

/** The role that goes with a database we created: the naming module's pairing, recomputed from the database name. */
function roleFor(database: string, names: PreviewNames): string {
  return database === names.database ? names.role : `${database}_app`.slice(0, 63);
}
