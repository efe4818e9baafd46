/**
 * A protected preview's bypass token for this deploy: what lets the bot's health checks and the repository's E2E
 * workflow through the sign-in (docs/preview-access.md). Derived from the deploy's nonce (so each deploy has a new
 * one) and registered with the logger's redaction before anything can print it.
 */
import { registerSecret } from "../../../logger.js";
import { BYPASS_HEADER } from "../../shared/page-data.js";
import type { DeployContext } from "./context.js";

/** The token, for an `access: github` preview when the bot's sign-in is on; undefined otherwise. */
export function bypassToken({
  deps,
  names,
  access,
}: Pick<DeployContext, "deps" | "names" | "access">): string | undefined {
  if (access.mode !== "github" || !deps.page) return undefined;
  const token = deps.page.bypassToken(names.namespace, access.nonce);
  registerSecret(token);
  return token;
}

/** The header that carries it, when there is one. */
export function bypassHeaders(
  ctx: Pick<DeployContext, "deps" | "names" | "access">,
): Record<string, string> | undefined {
  const token = bypassToken(ctx);
  return token ? { [BYPASS_HEADER]: token } : undefined;
}
