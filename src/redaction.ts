/**
 * Secrets out of free text, in linear time. Text that reaches a log line, a comment or a Slack message is often the
 * attacker's (tool stderr, pod logs, an error quoting a PR's file), so no pattern here may backtrack over it: each
 * rule looks for a literal anchor with indexOf (`://`, `accountkey=`, `bearer`, `ghp_`, `-----begin `, `password`, …)
 * and then reads a bounded window around it; a match moves the scan past itself. Work is proportional to the text's
 * length times a constant, whatever the text is (10 MB of hostile text redacts in well under a second; see
 * `npm run bench`). The rules say what logger.ts used to say with regular expressions (test/redaction.test.ts holds
 * the old expressions as the reference and checks both agree on ordinary text).
 *
 * Known literal secrets (the configured passwords and keys, every derived preview password) are replaced first, by
 * indexOf per secret.
 */

/** Half-open ranges of the text to replace, and what to put there (parallel arrays: no object per cut). */
class Cuts {
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  readonly replacements: string[] = [];
  push([start, end, replacement]: [number, number, string]): void {
    this.starts.push(start);
    this.ends.push(end);
    this.replacements.push(replacement);
  }
  get length(): number {
    return this.starts.length;
  }
}
type Cut = Cuts;

const REDACTED = "[REDACTED]";

const isWordChar = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95; // \w
const isSpace = (c: number) =>
  c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0xfeff || c === 0x2028 || c === 0x2029;

/** Every index of `needle` in `hay`, in order. */
function occurrences(hay: string, needle: string): number[] {
  const out: number[] = [];
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) out.push(i);
  return out;
}

/** Match a sticky, bounded pattern at `at`; the match's end or -1. */
function stickyEnd(re: RegExp, text: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(text);
}

/** scheme://user:password@ → scheme://user:[REDACTED]@ */
function urlUserinfo(text: string, _lower: string, cuts: Cut): void {
  const rest = /[^:/?#@\s]{1,256}:([^@\s/]{1,2048})@/y;
  for (const i of occurrences(text, "://")) {
    const m = stickyEnd(rest, text, i + 3);
    if (!m || !schemeBefore(text, i)) continue;
    const start = m.index + m[0].length - 1 - m[1]!.length;
    cuts.push([start, start + m[1]!.length, REDACTED]);
  }
}

/** Whether a URL scheme ([a-z][a-z0-9+.-]*, any case) ends at `at`. */
function schemeBefore(text: string, at: number): boolean {
  let letter = false;
  for (let j = at - 1; j >= 0 && at - j <= 64; j--) {
    const c = text.charCodeAt(j);
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90)) letter = true;
    else if (!((c >= 48 && c <= 57) || c === 0x2b || c === 0x2e || c === 0x2d)) break; // digits, + . -
  }
  return letter;
}

/** `needle` then a value up to `stop`'s end: `AccountKey=…`, `SharedAccessSignature=…` (up to `;` or a space), `?sig=`. */
function keyValue(needle: string, stop: RegExp) {
  return (text: string, lower: string, cuts: Cut): void => {
    let from = 0;
    for (const i of occurrences(lower, needle)) {
      if (i < from) continue; // inside a value already cut
      if (needle === "sig=" && text[i - 1] !== "?" && text[i - 1] !== "&") continue;
      const m = stickyEnd(stop, text, i + needle.length);
      if (!m) continue;
      cuts.push([m.index, m.index + m[0].length, REDACTED]);
      from = m.index + m[0].length;
    }
  };
}

/** `Bearer <token>` (any case, any run of spaces): the token. */
function bearer(text: string, lower: string, cuts: Cut): void {
  const token = /\s{1,64}([A-Za-z0-9._~+/-]{1,8192}=*)/y;
  let from = 0;
  for (const i of occurrences(lower, "bearer")) {
    if (i < from) continue; // part of the previous match (its token), as a global regular expression scans on
    const m = stickyEnd(token, text, i + 6);
    if (!m) continue;
    cuts.push([m.index + m[0].length - m[1]!.length, m.index + m[0].length, REDACTED]);
    from = m.index + m[0].length;
  }
}

/** GitHub (`ghp_…`, `github_pat_…`) and Slack (`xoxb-…`) tokens, whole. */
function tokens(text: string, _lower: string, cuts: Cut): void {
  const rules: Array<[string[], RegExp]> = [
    [["ghp_", "gho_", "ghu_", "ghs_", "ghr_"], /gh[pousr]_[A-Za-z0-9]{20,4096}\b/y],
    [["github_pat_"], /github_pat_[A-Za-z0-9_]{20,4096}\b/y],
    [["xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-"], /xox[abposr]-[A-Za-z0-9-]{10,4096}\b/y],
  ];
  for (const [needles, re] of rules) {
    for (const needle of needles) {
      for (const i of occurrences(text, needle)) {
        if (i > 0 && isWordChar(text.charCodeAt(i - 1))) continue;
        const m = stickyEnd(re, text, i);
        if (m) cuts.push([i, i + m[0].length, REDACTED]);
      }
    }
  }
}

/** PEM private keys, also cut short (an error quoting a few lines of one) or with their newlines escaped. */
function pemKeys(text: string, _lower: string, cuts: Cut): void {
  const header = /-----BEGIN [A-Z ]{0,64}PRIVATE KEY-----/y;
  const body = /(?:\s|\\[nr]|[A-Za-z0-9+/=]){0,65536}/y;
  const end = /-----END [A-Z ]{0,64}PRIVATE KEY-----/y;
  let from = 0;
  let nextEnd = -1; // the first "-----END " at or after the current key's header (moves forward only)
  for (const i of occurrences(text, "-----BEGIN ")) {
    if (i < from) continue;
    const h = stickyEnd(header, text, i);
    if (!h) continue;
    let stop = i + h[0].length;
    // Up to the first END marker after the header (whatever lies between), else the base64-looking run.
    if (nextEnd !== -2 && nextEnd < stop) {
      nextEnd = text.indexOf("-----END ", stop);
      while (nextEnd >= 0 && !stickyEnd(end, text, nextEnd)) nextEnd = text.indexOf("-----END ", nextEnd + 1);
      if (nextEnd < 0) nextEnd = -2; // none left: never look again
    }
    if (nextEnd >= stop) stop = nextEnd + stickyEnd(end, text, nextEnd)![0].length;
    else {
      const b = stickyEnd(body, text, stop);
      stop += b ? b[0].length : 0;
    }
    cuts.push([i, stop, "[REDACTED PRIVATE KEY]"]);
    from = stop;
  }
}

/** The words that make an identifier secret; one scan finds them all, in order (a literal alternation: linear). */
const SECRET_WORD = /password|passwd|secret|token|account_key|api_key|apikey/g;

/**
 * `KEY=value`, `KEY: value`, `"password": "x"` and `\"token\":\"x\"` (JSON quoted inside text): an identifier holding
 * one of the SECRET_WORD words, an optional quote, `=` or `:`, then the value (quoted, or up to a space or delimiter).
 */
function assignments(text: string, lower: string, cuts: Cut): void {
  const value = /(\\?"(?:[^"\\]|\\[^"]){0,4096}\\?"|'[^']{0,4096}'|[^\s,;}&"']{1,4096})/y;
  const seen = new Set<number>();
  SECRET_WORD.lastIndex = 0;
  let from = 0;
  // The identifier run ([A-Za-z0-9_-]) around the last anchor, reused by the anchors inside it: each run is walked once.
  let runStart = -1;
  let runEnd = -1;
  {
    for (let a = SECRET_WORD.exec(lower); a; a = SECRET_WORD.exec(lower)) {
      const i = a.index;
      const word = a[0];
      if (i < from) continue; // inside a value already cut
      if (i < runStart || i >= runEnd) {
        runStart = i;
        while (runStart > 0 && isIdentChar(text.charCodeAt(runStart - 1))) runStart--;
        runEnd = i + word.length;
        while (runEnd < text.length && isIdentChar(text.charCodeAt(runEnd))) runEnd++;
      }
      // No real variable name is that long: a run of hundreds of identifier characters is not an assignment.
      if (runEnd - runStart > 256) {
        from = runEnd;
        continue;
      }
      const start = runStart;
      const end = runEnd;
      if (start > 0 && isWordChar(text.charCodeAt(start - 1))) continue; // \b before the identifier
      if (seen.has(start)) continue;
      let j = end;
      if (text[j] === "\\" && (text[j + 1] === '"' || text[j + 1] === "'")) j += 2;
      else if (text[j] === '"' || text[j] === "'") j += 1;
      const spaceLimit = j + 64;
      while (j < text.length && j < spaceLimit && isSpace(text.charCodeAt(j))) j++;
      if (text[j] !== "=" && text[j] !== ":") continue;
      j++;
      while (j < text.length && j < spaceLimit + 64 && isSpace(text.charCodeAt(j))) j++;
      const m = stickyEnd(value, text, j);
      if (!m) continue;
      seen.add(start);
      cuts.push([j, j + m[0].length, REDACTED]);
      from = j + m[0].length;
    }
  }
}

const isIdentChar = (c: number) => isWordChar(c) || c === 45; // [A-Za-z0-9_-]

/** SQL and prose: `PASSWORD 'x'`, `PASSWORD "x"`, `WITH [ENCRYPTED] PASSWORD x`. */
function sqlPasswords(text: string, lower: string, cuts: Cut): void {
  const quoted = /\s{1,64}('(?:[^']|''){0,4096}'|"[^"]{0,4096}")/y;
  const bare = /\s{1,64}(?!\[REDACTED\])(\S{1,4096})/y;
  for (const i of occurrences(lower, "password")) {
    if (i > 0 && isWordChar(text.charCodeAt(i - 1))) continue;
    if (!isSpace(text.charCodeAt(i + 8))) continue; // both forms have whitespace after the word
    const q = stickyEnd(quoted, text, i + 8);
    if (q) {
      cuts.push([q.index + q[0].length - q[1]!.length, q.index + q[0].length, REDACTED]);
      continue;
    }
    // `with [encrypted] password x`: look back for "with" (and "encrypted").
    const before = lower.slice(Math.max(0, i - 40), i);
    if (!/\bwith\s+(?:encrypted\s+)?$/.test(before)) continue;
    const b = stickyEnd(bare, text, i + 8);
    if (b) cuts.push([b.index + b[0].length - b[1]!.length, b.index + b[0].length, REDACTED]);
  }
}

const RULES = [
  urlUserinfo,
  keyValue("accountkey=", /[^;\s]{1,4096}/y),
  keyValue("sharedaccesssignature=", /[^;\s]{1,4096}/y),
  keyValue("sig=", /[^&\s]{1,4096}/y),
  bearer,
  tokens,
  pemKeys,
  assignments,
  sqlPasswords,
];

/** Lower-case ASCII letters only: the same length as the text, so indices found in it are indices in the text. */
function asciiLower(text: string): string {
  // Pure ASCII (the usual case): the native lower-casing keeps the length. Otherwise only A-Z are changed.
  // eslint-disable-next-line no-control-regex -- the ASCII range starts at NUL on purpose
  return /[^\x00-\x7f]/.test(text) ? text.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : text.toLowerCase();
}

/** Replace the ranges (overlaps merged: the earliest start wins, the union is cut). */
function applyCuts(text: string, cuts: Cuts): string {
  const n = cuts.length;
  if (n === 0) return text;
  let order: number[] | undefined;
  for (let k = 1; k < n; k++) {
    if (cuts.starts[k]! < cuts.starts[k - 1]!) {
      // Rules mostly find ranges in order; sort (by start, longest first) only when one did not.
      order = Array.from({ length: n }, (_, j) => j).sort(
        (x, y) => cuts.starts[x]! - cuts.starts[y]! || cuts.ends[y]! - cuts.ends[x]!,
      );
      break;
    }
  }
  const out: string[] = [];
  let at = 0;
  for (let k = 0; k < n; k++) {
    const j = order ? order[k]! : k;
    const start = cuts.starts[j]!;
    const end = cuts.ends[j]!;
    if (end <= at) continue;
    if (start < at) {
      at = end; // overlaps the previous cut: extend it
      continue;
    }
    out.push(text.slice(at, start), cuts.replacements[j]!);
    at = end;
  }
  out.push(text.slice(at));
  return out.join("");
}

/** Replace each known literal secret (longest first), by indexOf. */
export function redactLiterals(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/** Every secret-shaped value in `text` replaced, in one linear pass per rule. */
export function redactPatterns(text: string): string {
  // Rules run in order on the text as the previous ones left it, as the regular expressions did.
  let out = text;
  let lower = asciiLower(text);
  for (const rule of RULES) {
    const cuts = new Cuts();
    rule(out, lower, cuts);
    if (cuts.length === 0) continue;
    out = applyCuts(out, cuts);
    lower = asciiLower(out);
  }
  return out;
}
