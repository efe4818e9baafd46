/**
 * Database credentials: the admin connection settings, how preview passwords are derived and sent to the server,
 * and how credentials map onto a Kubernetes Secret. Pure (no I/O).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import type { ClientConfig } from "pg";
import type { DatabaseCredentials, KubeObject, PreviewNames } from "../shared/preview.js";

export type SslMode = "disable" | "require" | "verify-full";
export const SSL_MODES: readonly SslMode[] = ["disable", "require", "verify-full"];

/** The admin connection's parts. */
export interface AdminConnection {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  sslmode?: string;
}

/** Split a postgres:// URL into its parts (decoded). Never echoes the URL: it holds a password. */
export function parseAdminUrl(url: string): AdminConnection {
  let u: URL;
  try {
    u = new URL(url);
  } catch (err) {
    throw new Error("admin database URL is not a valid URL", { cause: err });
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:")
    throw new Error(`admin database URL must be postgres://, not ${u.protocol}//`);
  const sslmode = u.searchParams.get("sslmode") ?? undefined;
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost",
    port: u.port ? Number(u.port) : 5432,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, "")) || "postgres",
    ...(sslmode ? { sslmode } : {}),
  };
}

/**
 * node-postgres TLS settings for an sslmode: require encrypts without checking the certificate; verify-full checks it
 * and the host name.
 */
export function pgSsl(ssl: { mode: SslMode; ca?: string }): ClientConfig["ssl"] {
  if (ssl.mode === "disable") return false;
  if (ssl.mode === "require") return { rejectUnauthorized: false };
  return { rejectUnauthorized: true, ...(ssl.ca ? { ca: ssl.ca } : {}) };
}

/**
 * The preview role's password: base64url(HMAC-SHA256(passwordKey, `preview-bot:` + role)), 43 characters.
 *
 * Why derived rather than random: a preview's pods keep running with the Secret they started with. A redeploy that
 * minted a fresh password would break every running pod (and any pod restarted before the new Secret lands); a
 * derived password is the same on every deploy and on every replica, with no state to store. Knowing one preview's
 * password reveals nothing about another's or about the key.
 */
export function derivePassword(passwordKey: string | Uint8Array, role: string): string {
  return createHmac("sha256", passwordKey).update(`preview-bot:${role}`, "utf8").digest("base64url");
}

/**
 * The default password key when none is configured: derived (one-way) from the admin password, so the admin
 * password itself never becomes a preview password. Rotating the admin password changes every preview password;
 * the next provision re-asserts the new one and the runner rewrites the Secret. Configure an explicit key to
 * decouple the two.
 */
export function passwordKeyFromAdminPassword(adminPassword: string): Buffer {
  return createHash("sha256").update(`preview-bot:password-key:${adminPassword}`, "utf8").digest();
}

/**
 * A SCRAM-SHA-256 verifier for `password`, in the form PostgreSQL stores (`SCRAM-SHA-256$iter:salt$stored:server`).
 * Sending the verifier instead of the password (as psql's `\password` does) keeps the plaintext out of the
 * server's statement log, pg_stat_statements and error logs. The password must be ASCII (ours is base64url), so
 * SASLprep leaves it unchanged.
 */
export function scramVerifier(password: string, iterations = 4096, salt: Buffer = randomBytes(16)): string {
  const salted = pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/** What a preview's pods use to connect: the role, its password and the public host and port, also as a URL. */
export function connectionCredentials(c: {
  database: string;
  role: string;
  password: string;
  host: string;
  port: number;
  sslmode: SslMode;
}): DatabaseCredentials {
  const host = c.host.includes(":") ? `[${c.host}]` : c.host;
  const e = encodeURIComponent;
  return {
    host: c.host,
    port: c.port,
    database: c.database,
    user: c.role,
    password: c.password,
    url: `postgres://${e(c.role)}:${e(c.password)}@${host}:${c.port}/${e(c.database)}?sslmode=${c.sslmode}`,
  };
}

/** Which Secret data key each credential goes under; fields left out are not written. */
export interface SecretKeys {
  user: string;
  password: string;
  database?: string;
  host?: string;
  port?: string;
  url?: string;
}

/** What the KubernetesMOOC app reads from its `postgres-secret` (`USER`, `PASSWORD`), plus the usual extras. */
export const DEFAULT_SECRET_KEYS: Readonly<SecretKeys> = {
  user: "USER",
  password: "PASSWORD",
  database: "POSTGRES_DB",
  host: "POSTGRES_HOST",
  port: "POSTGRES_PORT",
  url: "DATABASE_URL",
};

/** Kubernetes Secret data keys: `[-._a-zA-Z0-9]+`, at most 253 characters. */
const SECRET_KEY_PATTERN = /^[-._a-zA-Z0-9]{1,253}$/;

/**
 * Map credentials onto Secret data (plain strings; the Cluster encodes them). Throws on an invalid key name or on
 * two credentials mapped to the same key (one would silently overwrite the other).
 */
export function secretData(creds: DatabaseCredentials, keys: SecretKeys): Record<string, string> {
  const values: Record<keyof SecretKeys, string> = {
    user: creds.user,
    password: creds.password,
    database: creds.database,
    host: creds.host,
    port: String(creds.port),
    url: creds.url,
  };
  const out: Record<string, string> = {};
  for (const field of Object.keys(values) as Array<keyof SecretKeys>) {
    const key = keys[field];
    if (key === undefined) continue;
    if (!SECRET_KEY_PATTERN.test(key))
      throw new Error(`secret key for ${field} is not a valid Secret data key: ${JSON.stringify(key)}`);
    if (key in out) throw new Error(`secret key ${JSON.stringify(key)} is mapped to more than one credential`);
    out[key] = values[field];
  }
  return out;
}

/** The preview's credentials Secret (`database.secret`), with the preview's ownership labels and annotations. */
export function credentialsSecret(
  names: PreviewNames,
  secret: { name: string; keys: SecretKeys },
  creds: DatabaseCredentials,
): KubeObject {
  const data = secretData(creds, secret.keys);
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: secret.name,
      namespace: names.namespace,
      labels: { ...names.labels },
      annotations: { ...names.annotations },
    },
    type: "Opaque",
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")])),
  };
}
