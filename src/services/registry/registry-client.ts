/**
 * The Registry boundary: resolve an image reference to a digest with one HEAD on `/v2/<name>/manifests/<ref>` (the
 * index and manifest media types accepted), through the registry's auth challenge. A HEAD is not a pull: it does not
 * count against Docker Hub's pull limit, and this client never GETs a manifest.
 *
 * Auth, per registry host: a credential the operator named (dockerconfigjson: Basic at the token endpoint, an
 * identity token by the OAuth2 POST, a registry token as is, or Basic to the registry when it asks for Basic); else
 * for Azure Container Registry the bot's Entra identity exchanged for an ACR token (acr-auth.ts); else an anonymous
 * token. Tokens are cached per (registry, scope, credential) until shortly before they expire, and each registry's
 * challenge is remembered, so a resolution with a cached token is a single HEAD.
 *
 * The answer says what happened (image-resolution.ts): found, missing (404: wait and retry), unauthorized (which
 * credential was tried and what to configure) or error (status, and whether a retry may help). Messages never
 * contain a credential or a token.
 */
import { registerSecret } from "../../logger.js";
import { acrTokenSource, isAcrRegistry, type AzureRegistryAuth } from "./acr-auth.js";
import { pickChallenge, type AuthChallenge } from "./auth-challenge.js";
import type { RegistryCredential, RegistryCredentials } from "./docker-config.js";
import {
  displayReference,
  manifestReference,
  parseImageReference,
  pinnedReference,
  registryApiHost,
  DIGEST_PATTERN,
  type ImageReference,
} from "./image-reference.js";
import { MANIFEST_MEDIA_TYPES, type ImageResolution } from "./image-resolution.js";
import { AZURE_IDENTITY, unauthorizedHint } from "./registry-hints.js";
import {
  fetchBearerToken,
  requestSignal,
  RegistryAuthError,
  transportFailure,
  type HttpContext,
  type IssuedToken,
} from "./token-endpoint.js";

export type { AzureRegistryAuth } from "./acr-auth.js";

export interface RegistryClientOptions {
  /** Credentials by normalized registry host (`docker.io`, `ghcr.io`, `reg.example.com:5000`). */
  credentials?: RegistryCredentials;
  /** Azure Container Registry through the bot's Entra identity. */
  azure?: AzureRegistryAuth;
  fetch?: typeof globalThis.fetch;
  /** Per HTTP request (HEAD, token, exchange). Default 10 s. */
  timeoutMs?: number;
  now?: () => number;
  /** Registries spoken to over plain http. Default: loopback hosts (127.x.x.x, localhost, [::1]) only. */
  plainHttp?: (registry: string) => boolean;
  userAgent?: string;
}

export interface RegistryClient {
  /** Resolve one image. Throws ImageReferenceError for a reference that does not parse, never for an answer. */
  resolve(image: string | ImageReference, options?: { signal?: AbortSignal }): Promise<ImageResolution>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/i;

interface Authorization {
  header: string;
  /** Which credential, for messages. */
  via: string;
  cacheKey?: string;
  /** Came from the cache: a 401 then means drop it and try a fresh one. */
  cached?: boolean;
}

export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  const credentials = options.credentials ?? new Map<string, RegistryCredential>();
  for (const c of credentials.values())
    for (const s of [c.password, c.identityToken, c.registryToken]) registerSecret(s);
  const plainHttp = options.plainHttp ?? ((r: string) => LOOPBACK.test(r));
  const base = {
    fetch: options.fetch ?? globalThis.fetch,
    timeoutMs: options.timeoutMs ?? 10_000,
    userAgent: options.userAgent ?? "preview-bot (image resolver)",
    now: options.now ?? Date.now,
  };
  const azure = options.azure;
  const acrToken = azure ? acrTokenSource(azure, plainHttp) : undefined;
  const tokens = new Map<string, IssuedToken>();
  const inflight = new Map<string, Promise<IssuedToken>>();
  const challenges = new Map<string, AuthChallenge>();

  const fresh = (key: string) => {
    const t = tokens.get(key);
    return t && t.usableUntil > base.now() ? t : undefined;
  };

  /** One token fetch per key at a time; cached until usable no more. */
  async function cachedToken(key: string, get: () => Promise<IssuedToken>): Promise<IssuedToken> {
    let p = inflight.get(key);
    if (!p) {
      p = get().finally(() => inflight.delete(key));
      inflight.set(key, p);
    }
    const t = await p;
    tokens.set(key, t);
    return t;
  }

  function describe(cred: RegistryCredential | undefined, registry: string): string {
    if (!cred) return isAcrRegistry(azure, registry) ? AZURE_IDENTITY : "anonymous";
    const what = cred.registryToken ? "registry token" : cred.identityToken ? "identity token" : "credential";
    const user = what === "credential" && cred.username ? ` (user ${JSON.stringify(cred.username)})` : "";
    return `the ${what} for ${registry} from ${cred.source}${user}`;
  }

  /** How to authorize a request to `host` for `scope`, given its challenge. Throws RegistryAuthError. */
  async function authorize(ctx: HttpContext, ref: ImageReference, host: string, challenge: AuthChallenge) {
    const cred = credentials.get(ref.registry);
    const via = describe(cred, ref.registry);
    const scope = `repository:${ref.repository}:pull`;
    if (challenge.scheme === "basic") {
      if (cred?.username === undefined || cred.password === undefined) {
        const why = `${host} asks for Basic credentials and no user and password is configured for ${ref.registry}`;
        throw new RegistryAuthError(why, "unauthorized", 401);
      }
      const basic = Buffer.from(`${cred.username}:${cred.password}`).toString("base64");
      return { header: `Basic ${basic}`, via } satisfies Authorization;
    }
    if (cred?.registryToken) return { header: `Bearer ${cred.registryToken}`, via } satisfies Authorization;
    const key = `${host} ${scope} ${via}`;
    const hit = fresh(key);
    if (hit) return { header: `Bearer ${hit.token}`, via, cacheKey: key, cached: true } satisfies Authorization;
    const t = await cachedToken(key, () => {
      if (!cred && acrToken && isAcrRegistry(azure, ref.registry)) return acrToken(ctx, challenge, ref.registry, scope);
      let realm: URL;
      try {
        realm = new URL(challenge.params.realm ?? "");
      } catch {
        throw new RegistryAuthError(`${host} sent a Bearer challenge without a usable realm`, "error", 401);
      }
      if (!/^https?:$/.test(realm.protocol) || (cred && realm.protocol === "http:" && !plainHttp(realm.host))) {
        const why = `${host}'s token realm ${realm.origin} is not https: not sending a credential there`;
        throw new RegistryAuthError(why, "error");
      }
      const basic = cred?.username !== undefined && cred.password !== undefined && !cred.identityToken;
      return fetchBearerToken(ctx, {
        realm: realm.href,
        service: challenge.params.service,
        scope,
        basic: basic ? { username: cred.username!, password: cred.password! } : undefined,
        refreshToken: cred?.identityToken,
      });
    });
    return { header: `Bearer ${t.token}`, via, cacheKey: key } satisfies Authorization;
  }

  async function head(ctx: HttpContext, url: string, auth: Authorization | undefined): Promise<Response> {
    const headers: Record<string, string> = { accept: MANIFEST_MEDIA_TYPES.join(", "), "user-agent": ctx.userAgent };
    if (auth) headers.authorization = auth.header;
    try {
      return await ctx.fetch(url, { method: "HEAD", headers, signal: requestSignal(ctx) });
    } catch (err) {
      throw transportFailure(`HEAD ${url}`, err, ctx.timeoutMs);
    }
  }

  async function resolve(image: string | ImageReference, opts: { signal?: AbortSignal } = {}) {
    const ref = typeof image === "string" ? parseImageReference(image) : image;
    const ctx: HttpContext = { ...base, signal: opts.signal };
    const host = registryApiHost(ref.registry);
    const reference = manifestReference(ref);
    const shown = typeof image === "string" ? image : displayReference(ref);
    const common = { image: shown, registry: ref.registry, repository: ref.repository, reference };
    const url = `${plainHttp(host) ? "http" : "https"}://${host}/v2/${ref.repository}/manifests/${reference}`;
    let auth: Authorization | undefined;

    const fail = (e: RegistryAuthError): ImageResolution => {
      const message = `resolving ${shown}: ${e.message}`;
      const status = e.status === undefined ? {} : { status: e.status };
      if (e.kind === "error") return { ...common, outcome: "error", ...status, retryable: e.retryable, message };
      const via = auth?.via ?? describe(credentials.get(ref.registry), ref.registry);
      const hint = unauthorizedHint(ref.registry, via);
      return { ...common, outcome: "unauthorized", ...status, credential: via, message: `${message}. ${hint}` };
    };

    const interpret = (res: Response): ImageResolution => {
      if (res.status === 200) {
        const digest = res.headers.get("docker-content-digest") ?? ref.digest;
        const mediaType = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
        if (!digest || !DIGEST_PATTERN.test(digest)) {
          const why = `${host} answered the HEAD without a Docker-Content-Digest (and a GET would count as a pull)`;
          return fail(new RegistryAuthError(why, "error", 200));
        }
        if (ref.digest && digest !== ref.digest) {
          return fail(new RegistryAuthError(`${host} answered digest ${digest} for ${ref.digest}`, "error", 200));
        }
        return { ...common, outcome: "found", digest, mediaType, pinned: pinnedReference(ref, digest) };
      }
      if (res.status === 404) {
        const message = `${shown} is not in ${ref.registry} (404 for ${ref.repository}:${reference})`;
        return { ...common, outcome: "missing", status: 404, message };
      }
      if (res.status === 401 || res.status === 403) {
        const why = `${host} refused ${auth?.via ?? "anonymous"} (${res.status})`;
        return fail(new RegistryAuthError(why, "unauthorized", res.status));
      }
      const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
      const why = `HEAD ${ref.repository}:${reference} on ${host}: ${res.status}${res.status === 429 ? " (rate limited)" : ""}`;
      return fail(new RegistryAuthError(why, "error", res.status, retryable));
    };

    try {
      const known = challenges.get(host);
      if (known) auth = await authorize(ctx, ref, host, known);
      let res = await head(ctx, url, auth);
      if (res.status === 401 && (!auth || auth.cached)) {
        if (auth?.cacheKey) tokens.delete(auth.cacheKey);
        const challenge = pickChallenge(res.headers.get("www-authenticate"));
        if (!challenge) {
          return fail(
            new RegistryAuthError(`${host} answered 401 without a Bearer or Basic challenge`, "unauthorized", 401),
          );
        }
        challenges.set(host, challenge);
        auth = await authorize(ctx, ref, host, challenge);
        res = await head(ctx, url, auth);
      }
      return interpret(res);
    } catch (err) {
      if (err instanceof RegistryAuthError) return fail(err);
      throw err;
    }
  }

  return { resolve };
}
