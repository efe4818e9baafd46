/**
 * Registry credentials from a dockerconfigjson: the `.dockerconfigjson` key of a `kubernetes.io/dockerconfigjson`
 * Secret or a Docker `config.json` file. Per registry (`auths.<host>`): `auth` (base64 `user:password`), or
 * `username` + `password`, or `identitytoken` (an OAuth2 refresh token, exchanged at the token endpoint), or
 * `registrytoken` (a bearer token sent to the registry as is). Keys may be written as Docker writes them
 * (`https://index.docker.io/v1/`, `https://ghcr.io`, `ghcr.io`): they are reduced to the normalized host.
 * Credential helpers (`credsStore`, `credHelpers`) are a workstation's business and are not read.
 */
import { readFile } from "node:fs/promises";
import { normalizeRegistryHost } from "./image-reference.js";

export interface RegistryCredential {
  /** Where it came from, for messages: `Secret previews/regcred`, `/etc/preview-bot/config.json`. Not secret. */
  source: string;
  username?: string;
  password?: string;
  identityToken?: string;
  registryToken?: string;
}

/** Normalized registry host → credential. */
export type RegistryCredentials = ReadonlyMap<string, RegistryCredential>;

export class DockerConfigError extends Error {
  override name = "DockerConfigError";
}

/** `https://index.docker.io/v1/` → `docker.io`; `https://ghcr.io/` → `ghcr.io`; `reg:5000` stays. */
export function registryKey(key: string): string {
  const noScheme = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  return normalizeRegistryHost(noScheme.split("/")[0]!);
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** Parse a dockerconfigjson. `source` names where it came from; errors name it and the field, never a value. */
export function parseDockerConfig(text: string, source: string): Map<string, RegistryCredential> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new DockerConfigError(`reading registry credentials from ${source}: not JSON`, { cause: err });
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) {
    throw new DockerConfigError(`reading registry credentials from ${source}: not a JSON object`);
  }
  const auths = (doc as Record<string, unknown>).auths;
  if (!auths || typeof auths !== "object" || Array.isArray(auths)) {
    throw new DockerConfigError(
      `reading registry credentials from ${source}: "auths" is missing or not an object (credential helpers such as credsStore are not read)`,
    );
  }
  const out = new Map<string, RegistryCredential>();
  for (const [key, value] of Object.entries(auths as Record<string, unknown>)) {
    const field = `auths.${JSON.stringify(key)}`;
    const bad = (why: string) => new DockerConfigError(`reading registry credentials from ${source}: ${field}${why}`);
    if (!value || typeof value !== "object" || Array.isArray(value)) throw bad(" is not an object");
    const entry = value as Record<string, unknown>;
    const cred: RegistryCredential = { source };
    const auth = str(entry.auth);
    if (auth) {
      const decoded = Buffer.from(auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (!/^[A-Za-z0-9+/]+=*$/.test(auth) || colon <= 0) throw bad(".auth is not base64 of user:password");
      cred.username = decoded.slice(0, colon);
      cred.password = decoded.slice(colon + 1);
    }
    cred.username = str(entry.username) ?? cred.username;
    cred.password = str(entry.password) ?? cred.password;
    const identityToken = str(entry.identitytoken);
    const registryToken = str(entry.registrytoken);
    if (identityToken) cred.identityToken = identityToken;
    if (registryToken) cred.registryToken = registryToken;
    if (!identityToken && !registryToken && (cred.username === undefined || cred.password === undefined)) {
      throw bad(" has no credential (auth, username and password, identitytoken or registrytoken)");
    }
    const host = registryKey(key);
    if (!host) throw bad(": the key is not a registry host");
    out.set(host, cred);
  }
  return out;
}

/** Read and parse a dockerconfigjson file (`config.json`, or a mounted Secret's `.dockerconfigjson`). */
export async function readDockerConfigFile(path: string): Promise<Map<string, RegistryCredential>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new DockerConfigError(`reading registry credentials from ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseDockerConfig(text, path);
}

/** Several sources in order; a later one replaces an earlier one's entry for the same registry. */
export function mergeCredentials(...sources: RegistryCredentials[]): Map<string, RegistryCredential> {
  const out = new Map<string, RegistryCredential>();
  for (const s of sources) for (const [host, cred] of s) out.set(host, cred);
  return out;
}
