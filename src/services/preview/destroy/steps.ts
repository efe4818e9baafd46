/**
 * The teardown steps, one list per preview: for each namespace, suspend its CronJobs, delete the preview's
 * cluster-scoped objects, and delete the namespace (waiting until the namespace controller has removed everything in
 * it); for each database, a final backup when configured and then the drop. A database is kept, and its drop step
 * says why, when its final backup failed or cannot be taken (no backup storage), or when the repository's config
 * cannot be read (whether it wants a final backup is then unknown). A namespace on the repository's
 * `protectedNamespaces` list is never deleted.
 */

import { formatBytes } from "../../shared/format.js";
import { describeRef, type PreviewNames } from "../../shared/preview.js";
import type { RunnerDeps } from "../context.js";
import type { FoundDatabase, FoundNamespace, FoundPreview } from "./find.js";

export interface TeardownStep {
  name: string;
  /** Why this step is not run (shown as skipped), checked just before it would run. */
  skip?(): string | undefined;
  run(detail: (text: string) => void): Promise<void>;
}

export function teardownSteps(deps: RunnerDeps, preview: FoundPreview, signal?: AbortSignal): TeardownStep[] {
  const kept = new Map<string, string>();
  if (preview.keepDatabases)
    for (const db of preview.databases) kept.set(db.database, `kept: ${preview.keepDatabases}`);
  const finalBackup = preview.config?.database.finalBackup === true;
  const protectedNames = preview.config?.protectedNamespaces ?? [];
  return [
    ...preview.namespaces.flatMap((ns) =>
      protectedNames.includes(ns.name)
        ? [protectedNamespace(ns)]
        : [suspendCronJobs(deps, ns), deleteClusterScoped(deps, ns), deleteNamespace(deps, ns, signal)],
    ),
    ...preview.databases.flatMap((db) => [
      ...(finalBackup ? [backupBeforeDrop(deps, db, kept)] : []),
      dropDatabase(deps, db, preview.names, kept),
    ]),
  ];
}

/** The repository lists this namespace in `protectedNamespaces`: never touched, whatever its labels say. */
function protectedNamespace(ns: FoundNamespace): TeardownStep {
  return {
    name: `Delete namespace ${ns.name}`,
    skip: () => "kept: it is in protectedNamespaces of .github/preview.yml",
    run: async () => undefined,
  };
}

function suspendCronJobs(deps: RunnerDeps, ns: FoundNamespace): TeardownStep {
  return {
    name: `Suspend CronJobs in ${ns.name}`,
    async run(detail) {
      const suspended = await deps.cluster.suspendCronJobs(ns.name);
      detail(suspended.length ? suspended.join(", ") : "none");
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
    },
  };
}

function backupBeforeDrop(deps: RunnerDeps, db: FoundDatabase, kept: Map<string, string>): TeardownStep {
  return {
    name: `Final backup of ${db.database}`,
    skip: () => (kept.has(db.database) ? "not taken: the database is kept" : undefined),
    async run(detail) {
      if (!deps.backups) {
        kept.set(db.database, "kept: database.finalBackup is true, but preview-bot has no backup storage configured");
        throw new Error(
          `database ${db.database} was kept, not dropped: database.finalBackup is true, but preview-bot has no backup storage configured`,
        );
      }
      try {
        const r = await deps.backups.backup(db);
        detail(`${r.blobName} (${formatBytes(r.sizeBytes)})`);
      } catch (err) {
        kept.set(db.database, "kept: its final backup did not succeed");
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
    skip: () => kept.get(db.database),
    async run(detail) {
      const outcome = await deps.databases!.drop({
        key: names.key,
        database: db.database,
        role: db.role ?? roleFor(db.database, names),
      });
      detail(`database ${outcome.database}, role ${outcome.role}`);
    },
  };
}

/** The role that goes with a database we created: the naming module's pairing, recomputed from the database name. */
function roleFor(database: string, names: PreviewNames): string {
  return database === names.database ? names.role : `${database}_app`.slice(0, 63);
}
