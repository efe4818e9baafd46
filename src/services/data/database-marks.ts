/**
 * How preview-bot recognises its own databases and roles: a JSON mark in the preview role's COMMENT, the catalog
 * reads that find them, and the identifier checks every statement goes through. Nothing here changes the server
 * except the public-schema grant, which runs as the preview role itself.
 *
 * Ownership is read only from what the preview role cannot write (issue 21). The role owns its database, so it may
 * rewrite the database's COMMENT (to make its database look like another preview's, or like nobody's so that
 * teardown leaves it behind). It cannot change its own COMMENT (that needs CREATEROLE), rename itself or its
 * database, or give the database to another role (those need CREATEDB or CREATEROLE; it has neither). So a database
 * is a preview's when its owner is that preview's marked role, and the role's mark names the database. The
 * database's own COMMENT is still written, for people reading the catalog, and never trusted.
 */
import type pg from "pg";

interface Mark {
  managedBy: "preview-bot";
  key: string;
  /** On a role's mark: the one database it owns for the preview (marks written before this field have none). */
  database?: string;
}
export interface RoleRow {
  comment: string | null;
  rolsuper: boolean;
}
export interface DatabaseRow {
  name: string;
  owner: string;
  comment: string | null;
  ownerComment: string | null;
}

const MANAGED_BY = "preview-bot";

/** Our mark: on a role, naming the database it owns for the preview; on a database, informational only. */
export function markFor(key: string, database?: string): string {
  return JSON.stringify({ managedBy: MANAGED_BY, key, ...(database !== undefined ? { database } : {}) } satisfies Mark);
}

function readMark(comment: string | null | undefined): Mark | undefined {
  if (!comment) return undefined;
  try {
    const v: unknown = JSON.parse(comment);
    if (
      typeof v === "object" &&
      v !== null &&
      (v as Mark).managedBy === MANAGED_BY &&
      typeof (v as Mark).key === "string" &&
      ((v as Mark).database === undefined || typeof (v as Mark).database === "string")
    )
      return v as Mark;
  } catch {
    // not JSON: not ours
  }
  return undefined;
}

/** The preview key in a COMMENT, when the comment is our mark; otherwise undefined. */
export function parseMark(comment: string | null | undefined): string | undefined {
  return readMark(comment)?.key;
}

/** Whether a role's mark still lacks the database it owns (written before marks named it): rewritten on provision. */
export function markNamesDatabase(comment: string | null | undefined): boolean {
  return readMark(comment)?.database !== undefined;
}

/**
 * Whose database this is, from its owner role's mark only (see the file header): the owner must be a role marked for
 * a preview, and that mark must name this database (a mark from before marks named databases counts for the role's
 * database whatever its name; our roles are NOCREATEDB and nobody else makes them owners). The database's COMMENT is
 * never read: its owner, the preview role, can rewrite it.
 */
export function databaseKey(row: DatabaseRow): string | undefined {
  const mark = readMark(row.ownerComment);
  if (!mark) return undefined;
  return mark.database === undefined || mark.database === row.name ? mark.key : undefined;
}

/** PostgreSQL silently truncates identifiers past 63 bytes, which would make us look up a different name. */
export function checkIdentifier(kind: string, name: string): void {
  if (typeof name !== "string" || name.length === 0) throw new Error(`${kind} name is empty`);
  if (Buffer.byteLength(name, "utf8") > 63)
    throw new Error(`${kind} name ${JSON.stringify(name)} is longer than 63 bytes`);
  if (name.includes("\0")) throw new Error(`${kind} name ${JSON.stringify(name)} contains a NUL byte`);
}

export async function readRole(client: pg.PoolClient, role: string): Promise<RoleRow | undefined> {
  const r = await client.query<RoleRow>(
    "select shobj_description(oid, 'pg_authid') as comment, rolsuper from pg_roles where rolname = $1",
    [role],
  );
  return r.rows[0];
}

export async function readDatabase(client: pg.PoolClient, database: string): Promise<DatabaseRow | undefined> {
  const r = await client.query<DatabaseRow>(
    `select d.datname as name, r.rolname as owner, shobj_description(d.oid, 'pg_database') as comment, shobj_description(r.oid, 'pg_authid') as "ownerComment"
       from pg_database d join pg_roles r on r.oid = d.datdba where d.datname = $1`,
    [database],
  );
  return r.rows[0];
}

/**
 * Since PostgreSQL 15 the public schema belongs to pg_database_owner; our role owns the database but is NOINHERIT,
 * so it does not get that schema's privileges by membership. Connected as the role, take on pg_database_owner
 * just long enough to grant them to the role itself. Nothing to do when the role already has CREATE there.
 */
export async function grantPublicSchema(c: pg.Client, role: string): Promise<void> {
  const r = await c.query<{ owned: boolean; can: boolean }>(
    "select pg_get_userbyid(nspowner) = 'pg_database_owner' as owned, has_schema_privilege(oid, 'CREATE') as can from pg_namespace where nspname = 'public'",
  );
  const row = r.rows[0];
  if (!row || row.can || !row.owned) return;
  await c.query("SET ROLE pg_database_owner");
  await c.query(`GRANT USAGE, CREATE ON SCHEMA public TO ${role}`);
  await c.query("RESET ROLE");
}
