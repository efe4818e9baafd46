/**
 * Database: the preview's PostgreSQL role and database (kept across deploys), seeded on creation from a SQL file of
 * the PR or from the latest backup of a target; its credentials become a Secret applied with the other objects.
 */
import { credentialsSecret } from "../../../data/database-secret.js";
import type { DeployStep } from "../context.js";

export const databaseStep: DeployStep = {
  name: "Database",
  skip: ({ config }) => (config.database.enabled ? undefined : "database.enabled is false"),
  async run(ctx, detail) {
    const { deps, config, names, report } = ctx;
    if (!deps.databases)
      throw new Error("database.enabled is true, but preview-bot has no PREVIEW_DATABASE_URL to create databases with");
    // Read by the renderer (a regular file inside the checkout, size-capped: never a link out of it, a device or a FIFO).
    const seedSql = config.database.seed ? ctx.seed : undefined;
    if (config.database.seed && seedSql === undefined)
      throw new Error(`database.seed "${config.database.seed}" was not read by the renderer`);
    // A fork PR's code gets no data from a backup target unless the bot allows it (SEED_FORK_PREVIEWS).
    const seedFrom = ctx.pull.fork && !deps.seedForkPreviews ? undefined : config.database.seedFrom;
    const refused =
      config.database.seedFrom && !seedFrom
        ? `; not seeded from "${config.database.seedFrom}": a pull request from a fork gets no backup data (SEED_FORK_PREVIEWS)`
        : "";
    if (seedFrom && !deps.backups)
      throw new Error(
        `database.seedFrom is "${seedFrom}", but preview-bot has no backup storage configured (AZURE_STORAGE_ACCOUNT_URL)`,
      );
    const existed = (await deps.databases.list()).some((d) => d.database === names.database);
    const creds = await deps.databases.provision(names, {
      extensions: config.database.extensions,
      connectionLimit: config.database.connectionLimit,
      ...(config.database.template ? { template: config.database.template } : {}),
      ...(seedSql ? { seedSql } : {}),
    });
    let seeded = "";
    if (seedFrom && !existed) {
      try {
        const restored = await deps.backups!.seed(seedFrom, `${report.ref.owner}/${report.ref.repo}`, creds.url);
        seeded = `, seeded from ${restored.entry.name}`;
      } catch (err) {
        // Leave nothing half-seeded: the next deploy creates and seeds it again.
        await deps.databases.drop(names).catch(() => undefined);
        throw new Error(`seeding ${names.database} from the latest backup of "${seedFrom}"`, { cause: err });
      }
    }
    const secret = credentialsSecret(names, config.database.secret, creds);
    ctx.objects.unshift(secret);
    ctx.ownObjects.push(secret);
    report.database = {
      name: names.database,
      status: existed ? "ready (kept)" : seeded ? "created and seeded" : "created",
    };
    detail(
      `${names.database} (role ${names.role}), credentials in Secret "${config.database.secret.name}"${seeded}${refused}`,
    );
  },
};
