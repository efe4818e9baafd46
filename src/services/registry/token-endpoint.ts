/**
 * Getting a registry bearer token, the three ways registries hand them out:
 *
 * - the Docker token protocol (distribution's docs/spec/auth/token.md): `GET <realm>?service=…&scope=…`, anonymous or
 *   with Basic credentials (Docker Hub, GHCR, Harbor, ACR with a service principal or admin user…);
 * - its OAuth2 form (oauth.md): `POST <realm>` with `grant_type=refresh_token` for a dockerconfigjson `identitytoken`;
 * - Azure Container Registry's exchange (github.com/Azure/acr docs/AAD-OAuth.md): `POST /oauth2/exchange` with
 *   `grant_type=access_token` and an Entra access token → an ACR refresh token; then `POST /oauth2/token` with
 *   `grant_type=refresh_token` and the repository scope → an ACR access token.
 *
 * Failures are RegistryAuthErrors whose messages never carry a credential or a token (bodies are cut and scrubbed).
 */
import { redactText } from "../../logger.js";

export interface IssuedToken {
  token: string;
  /** Epoch ms after which the token is not used any more (a margin before its real expiry). */
  usableUntil: number;
}

export class RegistryAuthError extends Error {
  override name = "RegistryAuthError";
  constructor(
    message: string,
    /** `unauthorized`: the endpoint refused the credential; `error`: anything else. */
    readonly kind: "unauthorized" | "error",
    readonly status?: number,
    readonly retryable = false,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface HttpContext {
  fetch: typeof globalThis.fetch;
  timeoutMs: number;
  userAgent: string;
  now: () => number;
  signal?: AbortSignal | undefined;
}

/** The signal for one request: the caller's, and a timeout. */
export function requestSignal(ctx: HttpContext): AbortSignal {
  const timeout = AbortSignal.timeout(ctx.timeoutMs);
  return ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout;
}

/** Replace each literal secret, then the logger's patterns; cut to `max` characters. */
function scrub(text: string, secrets: readonly (string | undefined)[], max = 300): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join("[REDACTED]");
  out = redactText(out).replace(/\s+/g, " ").trim();
  return out.length > max ? `${out.slice(0, max)}…` : out;
}

/** What a network failure or timeout says, retryable. */
export function transportFailure(doing: string, err: unknown, timeoutMs: number): RegistryAuthError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const why =
    e?.name === "TimeoutError"
      ? `timed out after ${timeoutMs} ms`
      : (e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err));
  return new RegistryAuthError(`${doing}: ${why}`, "error", undefined, true, { cause: err });
}

/** `exp` of a JWT, in epoch ms, when the token is one (ACR's are); no signature check: it only schedules a refresh. */
function jwtExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Until when a token is used: its lifetime (expires_in, else the JWT's exp, else the spec's 60 s default) from the
 * moment it arrived (our clock, so a skewed issued_at does no harm), less a tenth of it (at most 30 s) as margin.
 */
function usableUntil(now: number, token: string, expiresIn: unknown): number {
  const fromJwt = jwtExpiry(token);
  const lifetime =
    typeof expiresIn === "number" && expiresIn > 0
      ? expiresIn * 1000
      : fromJwt !== undefined
        ? Math.max(0, fromJwt - now)
        : 60_000;
  return now + lifetime - Math.min(30_000, lifetime / 10);
}

async function callTokenEndpoint(
  ctx: HttpContext,
  doing: string,
  url: string,
  init: RequestInit,
  secrets: readonly (string | undefined)[],
): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await ctx.fetch(url, {
      ...init,
      headers: { "user-agent": ctx.userAgent, accept: "application/json", ...init.headers },
      signal: requestSignal(ctx),
    });
  } catch (err) {
    throw transportFailure(doing, err, ctx.timeoutMs);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw transportFailure(doing, err, ctx.timeoutMs);
  }
  if (!res.ok) {
    const body = scrub(text, secrets);
    const detail = `${res.status}${body ? ` ${body}` : ""}`;
    if (res.status === 401 || res.status === 403)
      throw new RegistryAuthError(`${doing}: ${detail}`, "unauthorized", res.status);
    throw new RegistryAuthError(`${doing}: ${detail}`, "error", res.status, res.status >= 500 || res.status === 429);
  }
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === "object" && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new RegistryAuthError(`${doing}: ${res.status} but the answer is not a JSON object`, "error", res.status);
}

export interface BearerTokenRequest {
  realm: string;
  service?: string | undefined;
  scope: string;
  /** Basic credentials for the GET form. */
  basic?: { username: string; password: string } | undefined;
  /** An OAuth2 refresh token (dockerconfigjson `identitytoken`, or ACR's): the POST form. */
  refreshToken?: string | undefined;
}

/** A bearer token from a registry's token endpoint (GET, or POST with a refresh token). */
export async function fetchBearerToken(ctx: HttpContext, req: BearerTokenRequest): Promise<IssuedToken> {
  const realm = new URL(req.realm);
  const doing = `getting a token from ${realm.origin}${realm.pathname}`;
  const secrets = [req.basic?.password, req.refreshToken];
  let body: Record<string, unknown>;
  if (req.refreshToken) {
    const form = new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: req.refreshToken,
      scope: req.scope,
    });
    if (req.service) form.set("service", req.service);
    form.set("client_id", "preview-bot");
    body = await callTokenEndpoint(
      ctx,
      doing,
      realm.href,
      { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form.toString() },
      secrets,
    );
  } else {
    if (req.service) realm.searchParams.set("service", req.service);
    realm.searchParams.append("scope", req.scope);
    const headers: Record<string, string> = {};
    if (req.basic) {
      headers.authorization = `Basic ${Buffer.from(`${req.basic.username}:${req.basic.password}`).toString("base64")}`;
    }
    body = await callTokenEndpoint(ctx, doing, realm.href, { method: "GET", headers }, secrets);
  }
  const token = typeof body.token === "string" ? body.token : body.access_token;
  if (typeof token !== "string" || token === "") {
    throw new RegistryAuthError(`${doing}: the answer has no token`, "error");
  }
  return { token, usableUntil: usableUntil(ctx.now(), token, body.expires_in) };
}

/** ACR: exchange an Entra access token for an ACR refresh token at `<origin>/oauth2/exchange`. */
export async function exchangeAcrRefreshToken(
  ctx: HttpContext,
  req: { origin: string; service: string; entraToken: string; tenantId?: string | undefined },
): Promise<IssuedToken> {
  const form = new URLSearchParams({ grant_type: "access_token", service: req.service });
  if (req.tenantId) form.set("tenant", req.tenantId);
  form.set("access_token", req.entraToken);
  const body = await callTokenEndpoint(
    ctx,
    `exchanging the Entra token at ${req.origin}/oauth2/exchange`,
    `${req.origin}/oauth2/exchange`,
    { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form.toString() },
    [req.entraToken],
  );
  const token = body.refresh_token;
  if (typeof token !== "string" || token === "") {
    throw new RegistryAuthError(
      `exchanging the Entra token at ${req.origin}/oauth2/exchange: no refresh_token`,
      "error",
    );
  }
  return { token, usableUntil: usableUntil(ctx.now(), token, body.expires_in) };
}
