/**
 * Azure Container Registry through the bot's Entra identity (github.com/Azure/acr docs/AAD-OAuth.md): an Entra access
 * token (from an `@azure/identity` TokenCredential, Workload Identity in AKS) is exchanged at the registry's
 * `POST /oauth2/exchange` for an ACR refresh token (cached per registry until shortly before its JWT `exp`), which
 * `POST /oauth2/token` turns into an access token for the repository scope.
 *
 * The Entra token is sent only to the registry's own host over https: ACR's realm is always
 * `https://<registry>/oauth2/token`, and an ARM-audience token is worth too much to follow a realm elsewhere.
 */
import type { TokenCredential } from "@azure/identity";
import { describeError } from "../shared/format.js";
import type { AuthChallenge } from "./auth-challenge.js";
import {
  exchangeAcrRefreshToken,
  fetchBearerToken,
  RegistryAuthError,
  type HttpContext,
  type IssuedToken,
} from "./token-endpoint.js";

export interface AzureRegistryAuth {
  /** The bot's Entra identity (Workload Identity in AKS). */
  credential: TokenCredential;
  /** Which registries are ACR; default: hosts under azurecr.io, azurecr.cn and azurecr.us. */
  isAcr?: (registry: string) => boolean;
  /**
   * The Entra scope asked for. Default `https://management.azure.com/.default` (ARM audience, which ACR accepts
   * unless the registry disabled ARM-audience tokens; then use `https://containerregistry.azure.net/.default`).
   */
  scope?: string;
  /** Sent to /oauth2/exchange as `tenant` when given. */
  tenantId?: string;
}

const DEFAULT_ACR = /\.azurecr\.(io|cn|us)$/i;
const DEFAULT_ENTRA_SCOPE = "https://management.azure.com/.default";

export type AcrTokenSource = (
  ctx: HttpContext,
  challenge: AuthChallenge,
  registry: string,
  scope: string,
) => Promise<IssuedToken>;

export function isAcrRegistry(azure: AzureRegistryAuth | undefined, registry: string): boolean {
  if (!azure) return false;
  return azure.isAcr ? azure.isAcr(registry) : DEFAULT_ACR.test(registry.replace(/:\d+$/, ""));
}

/** `plainHttp`: the registries the client speaks plain http to (loopback only, by default: a test's stub of ACR). */
export function acrTokenSource(azure: AzureRegistryAuth, plainHttp: (registry: string) => boolean): AcrTokenSource {
  const refreshTokens = new Map<string, IssuedToken>();
  return async (ctx, challenge, registry, scope) => {
    let realm: URL;
    try {
      realm = new URL(challenge.params.realm ?? "");
    } catch {
      throw new RegistryAuthError(`${registry} sent a Bearer challenge without a usable realm`, "error", 401);
    }
    const scheme = plainHttp(registry) ? /^https?:$/ : /^https:$/;
    if (realm.host !== registry || !scheme.test(realm.protocol)) {
      throw new RegistryAuthError(
        `${registry}'s token realm is ${realm.origin}, not the registry itself over https: not sending the bot's Entra token there`,
        "error",
      );
    }
    const service = challenge.params.service ?? registry;
    const refresh = async (): Promise<IssuedToken> => {
      const cached = refreshTokens.get(realm.origin);
      if (cached && cached.usableUntil > ctx.now()) return cached;
      const entraScope = azure.scope ?? DEFAULT_ENTRA_SCOPE;
      let entra: Awaited<ReturnType<TokenCredential["getToken"]>>;
      try {
        entra = await azure.credential.getToken(entraScope, ctx.signal ? { abortSignal: ctx.signal } : {});
      } catch (err) {
        throw new RegistryAuthError(
          `getting an Entra token for ${entraScope}: ${describeError(err)}`,
          "unauthorized",
          undefined,
          false,
          {
            cause: err,
          },
        );
      }
      if (!entra) throw new RegistryAuthError(`getting an Entra token for ${entraScope}: no token`, "unauthorized");
      const t = await exchangeAcrRefreshToken(ctx, {
        origin: realm.origin,
        service,
        entraToken: entra.token,
        tenantId: azure.tenantId,
      });
      refreshTokens.set(realm.origin, t);
      return t;
    };
    const first = await refresh();
    try {
      return await fetchBearerToken(ctx, { realm: realm.href, service, scope, refreshToken: first.token });
    } catch (err) {
      if (!(err instanceof RegistryAuthError) || err.kind !== "unauthorized") throw err;
      refreshTokens.delete(realm.origin); // revoked or expired early: one fresh exchange
      return fetchBearerToken(ctx, { realm: realm.href, service, scope, refreshToken: (await refresh()).token });
    }
  };
}
