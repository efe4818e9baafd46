/**
 * Where the operator keeps registry credentials, as the settings name them (REGISTRY_CREDENTIALS,
 * PREVIEW_IMAGE_PULL_SECRET): a dockerconfigjson file (`/etc/preview-bot/registry/.dockerconfigjson`, a mounted
 * Secret or a Docker `config.json`), or `secret:<name>`, a `kubernetes.io/dockerconfigjson` Secret in the bot's own
 * namespace read through the Kubernetes API (the composition root hands in the reader: this domain does not know the
 * cluster). Each `auths` entry is the credential for its registry; a later source replaces an earlier one's entry.
 *
 * Everything secret in a source (passwords, tokens, the base64 `auth`, the whole document) is registered with the
 * logger's redaction as soon as it is read. Sources are read when first needed, never when the bot is built, and
 * again after `ttlMs` (a rotated Secret or file is picked up).
 */
import { readFile } from "node:fs/promises";
import { registerSecret } from "../../logger.js";
import { createRegistryClient, type RegistryClient, type RegistryClientOptions } from "./registry-client.js";
import { DockerConfigError, mergeCredentials, parseDockerConfig, type RegistryCredential } from "./docker-config.js";

export type CredentialSource = { kind: "file"; path: string } | { kind: "secret"; name: string };

/** Reads the `.dockerconfigjson` of a Secret in the bot's namespace; undefined when there is no such Secret. */
export type SecretReader = (name: string) => Promise<{ type?: string; dockerconfigjson?: string } | undefined>;

const SECRET_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** `secret:regcred` → a Secret; anything else → a file path. Throws naming `setting` for a bad Secret name. */
export function parseCredentialSource(text: string, setting: string): CredentialSource {
  const t = text.trim();
  if (!t.startsWith("secret:")) return { kind: "file", path: t };
  const name = t.slice("secret:".length);
  if (!SECRET_NAME.test(name)) throw new DockerConfigError(`${setting}: "${name}" is not a Secret name`);
  return { kind: "secret", name };
}

function describeSource(source: CredentialSource, namespace: string): string {
  return source.kind === "file" ? source.path : `Secret ${namespace}/${source.name}`;
}

/** The dockerconfigjson text of one source; errors name the source and never carry its content. */
export async function readSource(
  source: CredentialSource,
  readSecret: SecretReader,
  namespace: string,
): Promise<string> {
  const where = describeSource(source, namespace);
  if (source.kind === "file") {
    try {
      const text = await readFile(source.path, "utf8");
      registerSecret(text.trim());
      return text;
    } catch (err) {
      throw new DockerConfigError(`reading registry credentials from ${where}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  let secret: Awaited<ReturnType<SecretReader>>;
  try {
    secret = await readSecret(source.name);
  } catch (err) {
    throw new DockerConfigError(`reading registry credentials from ${where}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!secret) throw new DockerConfigError(`reading registry credentials from ${where}: no such Secret`);
  if (secret.dockerconfigjson === undefined) {
    throw new DockerConfigError(
      `reading registry credentials from ${where}: it has no .dockerconfigjson key (type ${secret.type ?? "unknown"}; create it with kubectl create secret docker-registry)`,
    );
  }
  registerSecret(secret.dockerconfigjson.trim());
  return secret.dockerconfigjson;
}

/** Every source, in order (a later one wins per registry), its secret values registered for redaction. */
export async function loadCredentials(
  sources: readonly CredentialSource[],
  readSecret: SecretReader,
  namespace: string,
): Promise<Map<string, RegistryCredential>> {
  const maps: Array<Map<string, RegistryCredential>> = [];
  for (const source of sources) {
    const where = describeSource(source, namespace);
    const parsed = parseDockerConfig(await readSource(source, readSecret, namespace), where);
    for (const cred of parsed.values()) {
      for (const s of [cred.password, cred.identityToken, cred.registryToken]) registerSecret(s);
      if (cred.username !== undefined && cred.password !== undefined)
        registerSecret(Buffer.from(`${cred.username}:${cred.password}`).toString("base64"));
    }
    maps.push(parsed);
  }
  return mergeCredentials(...maps);
}

export interface ReloadingClientOptions extends Omit<RegistryClientOptions, "credentials"> {
  /** The credentials, read when first needed and again after ttlMs. */
  load: () => Promise<Map<string, RegistryCredential>>;
  /** Default 10 minutes. */
  ttlMs?: number;
}

/**
 * A RegistryClient whose credentials are loaded on first use (building it reads nothing) and reloaded after ttlMs.
 * A load that fails makes the resolutions that needed it fail with its message (as an error worth retrying), and the
 * next resolution tries again.
 */
export function reloadingRegistryClient(options: ReloadingClientOptions): RegistryClient {
  const { load, ttlMs = 600_000, ...rest } = options;
  const now = rest.now ?? Date.now;
  let current: { client: Promise<RegistryClient>; at: number } | undefined;
  const client = (): Promise<RegistryClient> => {
    if (!current || now() - current.at > ttlMs) {
      const made = load().then((credentials) => createRegistryClient({ ...rest, credentials }));
      const entry = { client: made, at: now() };
      current = entry;
      made.catch(() => {
        if (current === entry) current = undefined;
      });
    }
    return current.client;
  };
  return {
    async resolve(image, opts) {
      return (await client()).resolve(image, opts);
    },
  };
}
