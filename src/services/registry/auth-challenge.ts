/**
 * `WWW-Authenticate` challenges (RFC 9110 §11.6.1) as registries send them:
 *
 *   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"
 *   Basic realm="Registry Realm"
 *
 * A header may carry several challenges; parameters are `name=token` or `name="quoted string"`. (token68
 * credentials, as in `Negotiate abc==`, are not used by registries and are not parsed.)
 */

export interface AuthChallenge {
  /** Lower case: `bearer`, `basic`. */
  scheme: string;
  /** Parameters by lower-case name (`realm`, `service`, `scope`, `error`). */
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

/** Every challenge in the header, in order; unparseable tails are ignored. */
export function parseAuthChallenges(header: string | null | undefined): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  let rest = (header ?? "").trim();
  let current: AuthChallenge | undefined;
  while (rest.length > 0) {
    rest = rest.replace(/^[\s,]+/, "");
    const name = TOKEN.exec(rest)?.[0];
    if (!name) break;
    const after = rest.slice(name.length);
    const eq = /^\s*=\s*/.exec(after);
    if (eq && current) {
      rest = after.slice(eq[0].length);
      let value: string;
      if (rest.startsWith('"')) {
        let i = 1;
        value = "";
        while (i < rest.length && rest[i] !== '"') {
          if (rest[i] === "\\" && i + 1 < rest.length) i++;
          value += rest[i];
          i++;
        }
        rest = rest.slice(i + 1);
      } else {
        value = TOKEN.exec(rest)?.[0] ?? "";
        rest = rest.slice(value.length);
      }
      current.params[name.toLowerCase()] = value;
    } else {
      current = { scheme: name.toLowerCase(), params: {} };
      out.push(current);
      rest = after;
    }
  }
  return out;
}

/** The challenge the client can answer: Bearer first, then Basic. */
export function pickChallenge(header: string | null | undefined): AuthChallenge | undefined {
  const all = parseAuthChallenges(header);
  return all.find((c) => c.scheme === "bearer") ?? all.find((c) => c.scheme === "basic");
}
