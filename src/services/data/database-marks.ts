/**
 * How preview-bot recognises its own databases and roles: a JSON mark in their COMMENT, the catalog reads that
 * find them, and the identifier checks every statement goes through. Nothing here changes the server except the
 * public-schema grant, which runs as the preview role itself.
 */
import type pg from "pg";

interface Mark {
  managedBy: "preview-bot";
  key: string;
}
export interface RoleRow {
  comment: string | null;
  rolsuper: boolean;
}
export interface DatabaseRow {
  owner: string;
  comment: string | null;
  ownerComment: string | null;
}

const MANAGED_BY = "preview-bot";

export function markFor(key: string): string {
  return JSON.stringify({ managedBy: MANAGED_BY, key } satisfies Mark);
}

/** The preview key in a COMMENT, when the comment is our mark; otherwise undefined. */
export function parseMark(comment: string | null | undefined): string | undefined {
  if (!comment) return undefined;
  try {
    const v: unknown = JSON.parse(comment);
    if (
      typeof v === "object" &&
      v !== null &&
      (v as Mark).managedBy === MANAGED_BY &&
      typeof (v as Mark).key === "string"
    )
      return (v as Mark).key;
  } catch {
    // not JSON: not ours
  }
  return undefined;
}

/**
 * Whose database this is. Its own mark decides; a database with no comment at all counts as its owner role's when
 * that role carries our mark — that only happens when we crashed between CREATE DATABASE and COMMENT (which cannot
 * share a transaction), since our roles are NOCREATEDB and nobody else makes them owners.
 */
export function databaseKey(row: DatabaseRow): string | undefined {
  return row.comment === null ? parseMark(row.ownerComment) : parseMark(row.comment);
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
    `select r.rolname as owner, shobj_description(d.oid, 'pg_database') as comment, shobj_description(r.oid, 'pg_authid') as "ownerComment"
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
