/**
 * The GitHub App's JWT, signed with a key parsed once.
 *
 * Why not the library's own signing: `@octokit/auth-app` signs every App JWT through `universal-github-app-jwt`,
 * which calls `crypto.createPrivateKey(pem)` each time (to turn a PKCS#1 key into PKCS#8). Node's key parser treats
 * *any* error already waiting on the thread's OpenSSL error queue as its own failure (it asks `ERR_peek_error()`
 * after parsing, without clearing the queue first), and other code on the main thread can leave one there: a TLS
 * connection offered a session that does not decode (`TLSWrap` setSession ignores the failed `d2i_SSL_SESSION`)
 * leaves `asn1 encoding routines::too long`. The next App JWT then fails with that stale error, and so did the
 * installation-token request that needed it. test/services/github/app-jwt.test.ts reproduces it.
 *
 * Here the key is parsed once, when the bot is built (an invalid key fails at start-up, naming PRIVATE_KEY), and each
 * JWT is signed with that KeyObject: signing reads no PEM and does not look at the error queue. A signing error that
 * does happen is tried again at once (a failed OpenSSL call clears the queue behind it); the claims are the same as
 * the library's (issued 30 s in the past for clock drift, valid 10 minutes, issuer the App id).
 */
import { createPrivateKey, sign, type KeyObject } from "node:crypto";
import type { ProbotOctokit } from "probot";

export interface AppJwt {
  jwt: string;
  /** ISO-8601. */
  expiresAt: string;
}

/** `@octokit/auth-app`'s `createJwt` option. */
export type CreateAppJwt = (appId: string | number, timeDifference?: number) => Promise<AppJwt>;

const SIGN_ATTEMPTS = 3;

const base64url = (data: string | Buffer) => Buffer.from(data).toString("base64url");

/** Parse the private key (PEM, PKCS#1 or PKCS#8) once; throws naming the setting when it is not a usable RSA key. */
export function appJwtSigner(privateKeyPem: string, now: () => number = Date.now): CreateAppJwt {
  const key = parseKey(privateKeyPem);
  return async (appId, timeDifference = 0) => {
    const issuedAt = Math.floor(now() / 1000) + timeDifference - 30;
    const expires = issuedAt + 600;
    const claims = `${base64url(JSON.stringify({ alg: "RS256", typ: "JWT" }))}.${base64url(JSON.stringify({ iat: issuedAt, exp: expires, iss: appId }))}`;
    const signature = signWithRetry(claims, key);
    return { jwt: `${claims}.${base64url(signature)}`, expiresAt: new Date(expires * 1000).toISOString() };
  };
}

function parseKey(pem: string): KeyObject {
  let last: unknown;
  // A stale error on the OpenSSL queue fails one parse and is cleared by it: the second try is the real answer.
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      const key = createPrivateKey(pem.replace(/\\n/g, "\n"));
      if (key.asymmetricKeyType !== "rsa") throw new Error(`it is a ${key.asymmetricKeyType ?? "?"} key, not RSA`);
      return key;
    } catch (err) {
      last = err;
    }
  }
  throw new Error(
    "reading the GitHub App's private key (PRIVATE_KEY or PRIVATE_KEY_PATH): not a PEM RSA private key the App can sign with",
    { cause: last },
  );
}

function signWithRetry(claims: string, key: KeyObject): Buffer {
  let last: unknown;
  for (let attempt = 1; attempt <= SIGN_ATTEMPTS; attempt++) {
    try {
      return sign("sha256", Buffer.from(claims), key);
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`signing the GitHub App's JWT failed ${SIGN_ATTEMPTS} times`, { cause: last });
}

/**
 * The Octokit class Probot builds its clients from, with the App's JWT signed by `createJwt` instead of from the PEM
 * on every call: Probot passes `{ appId, privateKey }` to the auth strategy, and this swaps the key for the signer
 * (the two are mutually exclusive in `@octokit/auth-app`). Installation clients Probot makes later inherit it.
 */
export function withAppJwt(Octokit: typeof ProbotOctokit, createJwt: CreateAppJwt): typeof ProbotOctokit {
  return Octokit.defaults((options: Record<string, unknown> = {}) => {
    const auth = options.auth as Record<string, unknown> | undefined;
    if (!auth || !("privateKey" in auth)) return options;
    const { privateKey: _key, ...rest } = auth;
    return { ...options, auth: { ...rest, createJwt } };
  });
}
