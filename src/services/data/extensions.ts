/**
 * Extensions in preview databases, created with the least privilege that works. A *trusted* extension (PostgreSQL
 * 13+: citext, pgcrypto, hstore, pg_trgm, …) is created by the preview role itself, which owns the database: the
 * extension is then the role's, so a restored dump's `COMMENT ON EXTENSION` works too. An untrusted one needs a
 * superuser; the admin connection creates it only when the bot's settings list it (PREVIEW_DATABASE_ADMIN_EXTENSIONS),
 * since a pull request's config or backup must not be able to install superuser-only code on a shared server.
 */
import pg from "pg";

/** Refused before anything was created: the extension is not available, or only a superuser may create it. */
class ExtensionRefusedError extends Error {
  override readonly name = "ExtensionRefusedError";
}

export interface ExtensionConnections {
  /** A connection to the preview database as its own role. */
  asRole: () => Promise<pg.Client>;
  /** A connection to the preview database as the admin (only used for extensions the bot allows). */
  asAdmin: () => Promise<pg.Client>;
  /** Untrusted extensions the admin may create (the bot setting). */
  adminAllowed: readonly string[];
}

interface Availability {
  available: boolean;
  installed: boolean;
  trusted: boolean;
}

async function availability(c: pg.Client, name: string): Promise<Availability> {
  const version = Number(
    (await c.query<{ v: string }>("select current_setting('server_version_num') as v")).rows[0]?.v ?? 0,
  );
  // `trusted` exists from PostgreSQL 13; before that only a superuser creates extensions.
  const trusted = version >= 130000 ? "coalesce(v.trusted, false)" : "false";
  const { rows } = await c.query<{ installed: boolean; trusted: boolean }>(
    `select exists (select 1 from pg_extension where extname = a.name) as installed, ${trusted} as trusted
       from pg_available_extensions a
       left join pg_available_extension_versions v on v.name = a.name and v.version = a.default_version
      where a.name = $1`,
    [name],
  );
  return rows[0] ? { available: true, ...rows[0] } : { available: false, installed: false, trusted: false };
}

async function withClient<T>(connect: () => Promise<pg.Client>, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Make sure each extension exists in the preview database. Checks all of them before creating any, so a refused
 * one leaves nothing half done. `field` names what asked (`database.extensions`, "the backup"), for the message.
 */
export async function ensureExtensions(
  extensions: readonly string[],
  conns: ExtensionConnections,
  field: string,
): Promise<void> {
  if (extensions.length === 0) return;
  await withClient(conns.asRole, async (role) => {
    const plan: Array<{ name: string; as: "role" | "admin" }> = [];
    for (const name of new Set(extensions)) {
      const a = await availability(role, name);
      if (!a.available)
        throw new ExtensionRefusedError(`${field}: extension "${name}" is not available on this PostgreSQL server`);
      if (a.installed) continue;
      if (a.trusted) plan.push({ name, as: "role" });
      else if (conns.adminAllowed.includes(name)) plan.push({ name, as: "admin" });
      else {
        throw new ExtensionRefusedError(
          `${field}: extension "${name}" is not trusted (only a superuser can create it); preview-bot creates it in preview databases only when the bot setting PREVIEW_DATABASE_ADMIN_EXTENSIONS lists it`,
        );
      }
    }
    for (const e of plan.filter((x) => x.as === "role"))
      await role.query(`CREATE EXTENSION IF NOT EXISTS ${pg.escapeIdentifier(e.name)}`);
    const admin = plan.filter((x) => x.as === "admin");
    if (admin.length) {
      await withClient(conns.asAdmin, async (c) => {
        for (const e of admin) await c.query(`CREATE EXTENSION IF NOT EXISTS ${pg.escapeIdentifier(e.name)}`);
      });
    }
  });
}
