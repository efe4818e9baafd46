/**
 * Bypass tokens of protected previews: HMAC-SHA256 of the preview's namespace and its deploy's nonce (an annotation on
 * the namespace, new on every deploy) under a key derived from PREVIEW_AUTH_SECRET. Nothing secret is stored in the
 * cluster: every replica derives the same token from the annotation, a new deploy makes a new one, and rotating
 * PREVIEW_AUTH_SECRET ends them all. One preview's token opens nothing else (the namespace is in the MAC).
 */
import { createHmac, hkdfSync } from "node:crypto";

/** The token for `namespace`'s deploy `nonce`, under `secret` (one PREVIEW_AUTH_SECRET entry). */
export function deriveBypassToken(secret: string, namespace: string, nonce: string): string {
  const key = Buffer.from(hkdfSync("sha256", secret, "preview-bot", "preview-bypass-v1", 32));
  return createHmac("sha256", key).update(`${namespace}\n${nonce}`).digest("base64url");
}
