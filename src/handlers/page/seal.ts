/**
 * Sealed values for cookies and sign-in hand-offs: AES-256-GCM (authenticated encryption from node:crypto), so a
 * value is both secret (the visitor's GitHub token inside never shows) and signed (GCM's tag is a MAC over the
 * ciphertext; OpenSSL compares it in constant time). Every value is sealed for one purpose — `session`, `state`,
 * `grant:<host>`, `access:<host>` — given as additional authenticated data, so a value made for one purpose or host
 * never opens as another (a preview's own cookie is useless at another preview, and never a session on the bot's
 * host). Each carries its expiry.
 *
 * Keys come from PREVIEW_AUTH_SECRET through HKDF-SHA256. Several secrets may be given (comma-separated) to rotate:
 * the first seals, all open.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes of key material a secret must have at least. */
const MIN_SECRET_LENGTH = 32;

export class Sealer {
  private readonly keys: Buffer[];

  constructor(
    secrets: readonly string[],
    private readonly now: () => number = Date.now,
  ) {
    if (secrets.length === 0) throw new Error("sealing page cookies: no secret (PREVIEW_AUTH_SECRET)");
    for (const s of secrets)
      if (Buffer.byteLength(s) < MIN_SECRET_LENGTH)
        throw new Error(`sealing page cookies: PREVIEW_AUTH_SECRET must be at least ${MIN_SECRET_LENGTH} bytes`);
    this.keys = secrets.map((s) => Buffer.from(hkdfSync("sha256", s, "preview-bot", "page-cookies-v1", 32)));
  }

  /** Seal `payload` for `purpose`, valid for `ttlMs`: URL- and cookie-safe text. */
  seal(purpose: string, payload: Record<string, unknown>, ttlMs: number): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.keys[0]!, iv);
    cipher.setAAD(Buffer.from(purpose));
    const plain = Buffer.from(JSON.stringify({ ...payload, exp: this.now() + ttlMs }));
    const out = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return out.toString("base64url");
  }

  /** The payload, or undefined when the value is malformed, forged, for another purpose, or expired. */
  open<T extends object>(purpose: string, sealed: string | undefined): (T & { exp: number }) | undefined {
    if (!sealed || sealed.length > 8192 || !/^[A-Za-z0-9_-]+$/.test(sealed)) return undefined;
    const raw = Buffer.from(sealed, "base64url");
    if (raw.length < IV_BYTES + TAG_BYTES + 2) return undefined;
    const iv = raw.subarray(0, IV_BYTES);
    const tag = raw.subarray(raw.length - TAG_BYTES);
    const body = raw.subarray(IV_BYTES, raw.length - TAG_BYTES);
    for (const key of this.keys) {
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(purpose));
        decipher.setAuthTag(tag);
        const value = JSON.parse(Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8")) as unknown;
        if (typeof value !== "object" || value === null) return undefined;
        const exp = (value as { exp?: unknown }).exp;
        if (typeof exp !== "number" || exp <= this.now()) return undefined;
        return value as T & { exp: number };
      } catch {
        // wrong key (rotation) or forged: try the next key
      }
    }
    return undefined;
  }
}
