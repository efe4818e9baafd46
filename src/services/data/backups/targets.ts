/**
 * Backup targets: bot-level configuration (not per-repo), validated with zod. Read from the YAML/JSON file at
 * BACKUP_TARGETS_FILE or inline JSON in BACKUP_TARGETS. Passwords never live in that file: a target names the
 * environment variable (`passwordEnv`) or file (`passwordFile`) that holds it, and a `url` with a password in it
 * is rejected.
 */
import { readFileSync } from "node:fs";
import type pg from "pg";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { registerSecret } from "../../../logger.js";
import { parseCron } from "../../shared/cron.js";

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const retentionSchema = z.strictObject({
  /** Always keep this many newest backups. */
  keepLast: z.number().int().min(1).default(7),
  /** Also keep the newest backup of each of the last N days that have backups (UTC). */
  keepDaily: z.number().int().min(0).default(7),
  /** Also keep the newest backup of each of the last N ISO weeks that have backups (UTC). */
  keepWeekly: z.number().int().min(0).default(4),
});

export const targetSchema = z
  .strictObject({
    /** Target name: lowercase letters, digits, `-`, `_`; used in blob names and schedule locks. */
    name: z
      .string()
      .regex(NAME, "must be lowercase letters, digits, '-' or '_' (max 63, starting with a letter or digit)"),
    /** postgres://user@host:port/db?sslmode=... — without a password. */
    url: z.string().optional(),
    host: z.string().optional(),
    port: z.number().int().min(1).max(65535).optional(),
    database: z.string().optional(),
    user: z.string().optional(),
    /** Environment variable holding the password. */
    passwordEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name")
      .optional(),
    /** File holding the password (e.g. a mounted Kubernetes Secret). */
    passwordFile: z.string().optional(),
    /** 5-field cron expression, evaluated in UTC, e.g. "0 *\/2 * * *". */
    schedule: z.string().refine((s) => tryCron(s), "must be a 5-field cron expression (minute hour day month weekday)"),
    /** Blob container (3-63 lowercase letters, digits, '-'). */
    container: z.string().regex(/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/, "must be a valid blob container name"),
    /** Blob name prefix, e.g. "prod/" (blobs go to `<prefix><name>/<name>-<UTC time>.dump`). */
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9._/-]*$/, "may only contain letters, digits, '.', '_', '-', '/'")
      .default(""),
    retention: retentionSchema.default({ keepLast: 7, keepDaily: 7, keepWeekly: 4 }),
    /** Restore each new backup into a scratch database and sanity-check it. */
    verify: z.boolean().default(false),
    /**
     * Repositories whose previews may use this target's backups (`database.seedFrom`, `/preview restore latest`)
     * and ask for one (Slack `backup`): `owner/repo` or `owner/*`, case-insensitive. Absent or empty: none may.
     */
    allowedRepos: z
      .array(z.string().regex(/^[A-Za-z0-9_.-]+\/([A-Za-z0-9_.-]+|\*)$/, "must be owner/repo or owner/*"))
      .optional(),
  })
  .superRefine((t, ctx) => {
    if (t.url) {
      if (t.host || t.database)
        ctx.addIssue({ code: "custom", message: "give either url or host/database, not both", path: ["url"] });
      let u: URL | undefined;
      try {
        u = new URL(t.url);
      } catch {
        ctx.addIssue({ code: "custom", message: "is not a valid URL", path: ["url"] });
      }
      if (u && !/^postgres(ql)?:$/.test(u.protocol))
        ctx.addIssue({ code: "custom", message: "must be a postgres:// URL", path: ["url"] });
      if (u?.password)
        ctx.addIssue({
          code: "custom",
          message: "must not contain a password: use passwordEnv or passwordFile",
          path: ["url"],
        });
    } else {
      if (!t.host) ctx.addIssue({ code: "custom", message: "is required when url is not given", path: ["host"] });
      if (!t.database)
        ctx.addIssue({ code: "custom", message: "is required when url is not given", path: ["database"] });
    }
    if (t.passwordEnv && t.passwordFile)
      ctx.addIssue({ code: "custom", message: "give passwordEnv or passwordFile, not both", path: ["passwordEnv"] });
  });

const targetsFileSchema = z.strictObject({ targets: z.array(targetSchema).min(1) }).superRefine((f, ctx) => {
  const seen = new Set<string>();
  f.targets.forEach((t, i) => {
    if (seen.has(t.name))
      ctx.addIssue({ code: "custom", message: `duplicate target name "${t.name}"`, path: ["targets", i, "name"] });
    seen.add(t.name);
  });
});

export type BackupTarget = z.output<typeof targetSchema>;
export type RetentionPolicy = z.output<typeof retentionSchema>;

/** Where and how to connect; the password is kept apart so it only ever reaches a child's env or a pg client. */
export interface PgConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  /** libpq query parameters such as sslmode. */
  params: Record<string, string>;
}

function tryCron(s: string): boolean {
  try {
    parseCron(s);
    return true;
  } catch {
    return false;
  }
}

export class TargetsConfigError extends Error {
  override name = "TargetsConfigError";
}

function formatIssues(error: z.ZodError, source: string): string {
  const lines = error.issues.map((i) => `  ${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`);
  return `invalid backup targets in ${source}:\n${lines.join("\n")}`;
}

/** Parse and validate a targets document (already parsed YAML/JSON, or a list of targets). */
export function parseTargets(doc: unknown, source = "backup targets"): BackupTarget[] {
  const wrapped = Array.isArray(doc) ? { targets: doc } : doc;
  const result = targetsFileSchema.safeParse(wrapped);
  if (!result.success) throw new TargetsConfigError(formatIssues(result.error, source));
  return result.data.targets;
}

/** Targets from BACKUP_TARGETS_FILE (YAML or JSON) or BACKUP_TARGETS (inline JSON); [] when neither is set. */
export function loadTargets(env: NodeJS.ProcessEnv): BackupTarget[] {
  if (env.BACKUP_TARGETS_FILE) {
    const file = env.BACKUP_TARGETS_FILE;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (cause) {
      throw new TargetsConfigError(`reading backup targets file ${file}`, { cause });
    }
    let doc: unknown;
    try {
      doc = parseYaml(text); // YAML is a superset of JSON
    } catch (cause) {
      throw new TargetsConfigError(`parsing backup targets file ${file}: ${(cause as Error).message}`, { cause });
    }
    return parseTargets(doc, file);
  }
  if (env.BACKUP_TARGETS) {
    let doc: unknown;
    try {
      doc = JSON.parse(env.BACKUP_TARGETS);
    } catch (cause) {
      throw new TargetsConfigError(`parsing BACKUP_TARGETS as JSON: ${(cause as Error).message}`, { cause });
    }
    return parseTargets(doc, "BACKUP_TARGETS");
  }
  return [];
}

/** Whether `repository` (`owner/repo`) is on the target's `allowedRepos` list (GitHub names are case-insensitive). */
export function targetAllows(target: Pick<BackupTarget, "allowedRepos">, repository: string): boolean {
  const repo = repository.toLowerCase();
  return (target.allowedRepos ?? []).some((pattern) => {
    const p = pattern.toLowerCase();
    return (
      p === repo || (p.endsWith("/*") && repo.startsWith(p.slice(0, -1)) && !repo.slice(p.length - 1).includes("/"))
    );
  });
}

export function findTarget(targets: BackupTarget[], name: string): BackupTarget {
  const t = targets.find((x) => x.name === name);
  if (!t)
    throw new TargetsConfigError(
      `unknown backup target "${name}" (known: ${targets.map((x) => x.name).join(", ") || "none"})`,
    );
  return t;
}

/** Resolve a target's connection, reading its password from env or file. */
export function targetConnection(target: BackupTarget, env: NodeJS.ProcessEnv): PgConnection {
  let password: string | undefined;
  if (target.passwordEnv) {
    password = env[target.passwordEnv];
    if (password === undefined)
      throw new TargetsConfigError(
        `backup target "${target.name}": environment variable ${target.passwordEnv} (passwordEnv) is not set`,
      );
  } else if (target.passwordFile) {
    try {
      password = readFileSync(target.passwordFile, "utf8").replace(/\r?\n$/, "");
    } catch (cause) {
      throw new TargetsConfigError(`backup target "${target.name}": reading passwordFile ${target.passwordFile}`, {
        cause,
      });
    }
  }
  registerSecret(password);
  if (target.url) return { ...connectionFromUrl(target.url), ...(password !== undefined ? { password } : {}) };
  return {
    host: target.host!,
    port: target.port ?? 5432,
    database: target.database!,
    user: target.user ?? "postgres",
    ...(password !== undefined ? { password } : {}),
    params: {},
  };
}

/** Split a postgres:// URL (which may carry a password, e.g. a preview database's credentials) into parts. */
export function connectionFromUrl(url: string): PgConnection {
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw new TargetsConfigError("parsing a PostgreSQL connection URL: not a valid URL", { cause });
  }
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  registerSecret(password);
  const params: Record<string, string> = {};
  u.searchParams.forEach((v, k) => (params[k] = v));
  return {
    host: decodeURIComponent(u.hostname).replace(/^\[(.*)\]$/, "$1") || "localhost",
    port: u.port ? Number(u.port) : 5432,
    database: decodeURIComponent(u.pathname.replace(/^\//, "")) || "postgres",
    user: u.username ? decodeURIComponent(u.username) : "postgres",
    ...(password !== undefined ? { password } : {}),
    params,
  };
}

/** The same server, another database (scratch databases, restores). */
export function withDatabase(conn: PgConnection, database: string): PgConnection {
  return { ...conn, database };
}

/** A libpq connection string without the password (safe on a command line; the password goes in PGPASSWORD). */
export function libpqUrl(conn: PgConnection): string {
  const u = new URL("postgresql://localhost");
  u.hostname = conn.host.includes(":") ? `[${conn.host}]` : conn.host;
  u.port = String(conn.port);
  u.username = encodeURIComponent(conn.user);
  u.pathname = `/${encodeURIComponent(conn.database)}`;
  for (const [k, v] of Object.entries(conn.params)) u.searchParams.set(k, v);
  return u.toString();
}

/** Options for a `pg` client, built from parts so the password never travels inside a URL. */
export function pgClientConfig(conn: PgConnection): pg.ClientConfig {
  const mode = conn.params.sslmode;
  const ssl =
    mode === "require" || mode === "prefer"
      ? { rejectUnauthorized: false }
      : mode === "verify-ca" || mode === "verify-full"
        ? true
        : undefined;
  return {
    host: conn.host,
    port: conn.port,
    database: conn.database,
    user: conn.user,
    ...(conn.password !== undefined ? { password: conn.password } : {}),
    ...(ssl !== undefined ? { ssl } : {}),
  };
}

/** Human label for logs and messages: user@host:port/db (never the password). */
export function describeConnection(conn: PgConnection): string {
  return `${conn.user}@${conn.host}:${conn.port}/${conn.database}`;
}
