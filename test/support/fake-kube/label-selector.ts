/**
 * Label selectors, parsed exactly as k8s.io/apimachinery/pkg/labels does (a port of its lexer and recursive-descent
 * parser, v0.37): the same accepted syntax (`x in (a,,b)`, `y in ()` meaning the empty value, `!z`, `a>3`) and the
 * same error messages, which the API server returns as 400 BadRequest. Key and value validation (which adds
 * `invalid label key ...` messages) is left out: the bot only sends its own well-formed selectors.
 */
import { badRequest } from "./status.js";

export type LabelOp = "=" | "==" | "!=" | "in" | "notin" | "exists" | "!" | ">" | "<";
export interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

type Tok = "error" | "end" | ")" | "," | "!" | "==" | "=" | ">" | "id" | "in" | "<" | "!=" | "notin" | "(";
interface Item {
  tok: Tok;
  lit: string;
}

const KEYWORDS: Record<string, Tok> = {
  ")": ")",
  ",": ",",
  "!": "!",
  "==": "==",
  "=": "=",
  ">": ">",
  in: "in",
  "<": "<",
  "!=": "!=",
  notin: "notin",
  "(": "(",
};
const BINARY = ["in", "notin", "=", "==", "!=", "gt", "lt"];
const special = (ch: string): boolean => "=!(),><".includes(ch);
const space = (ch: string): boolean => ch === " " || ch === "\t" || ch === "\r" || ch === "\n";

function lex(s: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  for (;;) {
    while (pos < s.length && space(s[pos]!)) pos++;
    if (pos >= s.length) {
      items.push({ tok: "end", lit: "" });
      return items;
    }
    let buf = "";
    if (special(s[pos]!)) {
      let last: Item | undefined;
      while (pos < s.length && special(s[pos]!)) {
        const next = buf + s[pos];
        if (KEYWORDS[next]) {
          buf = next;
          pos++;
          last = { tok: KEYWORDS[next], lit: next };
        } else if (last) break;
        else {
          buf = next;
          pos++;
        }
      }
      items.push(last ?? { tok: "error", lit: `error expected: keyword found '${buf}'` });
      continue;
    }
    while (pos < s.length && !special(s[pos]!) && !space(s[pos]!)) buf += s[pos++];
    items.push({ tok: KEYWORDS[buf] ?? "id", lit: buf });
  }
}

class Parser {
  private pos = 0;
  constructor(private readonly items: Item[]) {}

  /** In a value position `in`/`notin` are plain identifiers. */
  private peek(values: boolean): Item {
    const it = this.items[this.pos]!;
    return values && (it.tok === "in" || it.tok === "notin") ? { tok: "id", lit: it.lit } : it;
  }

  private take(values: boolean): Item {
    const it = this.peek(values);
    this.pos++;
    return it;
  }

  parse(): LabelRequirement[] {
    const reqs: LabelRequirement[] = [];
    for (;;) {
      const { tok, lit } = this.peek(true);
      if (tok === "end") return reqs;
      if (tok !== "id" && tok !== "!") throw new Error(`found '${lit}', expected: !, identifier, or 'end of string'`);
      try {
        reqs.push(this.requirement());
      } catch (e) {
        throw new Error(`unable to parse requirement: ${(e as Error).message}`, { cause: e });
      }
      const t = this.take(true);
      if (t.tok === "end") return reqs;
      if (t.tok !== ",") throw new Error(`found '${t.lit}', expected: ',' or 'end of string'`);
      const t2 = this.peek(true);
      if (t2.tok !== "id" && t2.tok !== "!") throw new Error(`found '${t2.lit}', expected: identifier after ','`);
    }
  }

  private requirement(): LabelRequirement {
    let t = this.take(true);
    let negate = false;
    if (t.tok === "!") {
      negate = true;
      t = this.take(true);
    }
    if (t.tok !== "id") throw new Error(`found '${t.lit}', expected: identifier`);
    const key = t.lit;
    const next = this.peek(true).tok;
    if (negate || next === "end" || next === ",") return { key, op: negate ? "!" : "exists", values: [] };
    const op = this.take(false);
    switch (op.tok) {
      case "in":
      case "notin":
        return { key, op: op.tok, values: this.valueSet() };
      case "=":
      case "==":
      case "!=":
      case ">":
      case "<":
        return { key, op: op.tok, values: this.exactValue() };
      default:
        throw new Error(`found '${op.lit}', expected: ${BINARY.join(", ")}`);
    }
  }

  private valueSet(): string[] {
    const open = this.take(true);
    if (open.tok !== "(") throw new Error(`found '${open.lit}' expected: '('`);
    const { tok, lit } = this.peek(true);
    if (tok === ")") {
      this.take(true);
      return [""];
    }
    if (tok !== "id" && tok !== ",") throw new Error(`found '${lit}', expected: ',', ')' or identifier`);
    const values = new Set<string>();
    for (;;) {
      const t = this.take(true);
      if (t.tok === "id") {
        values.add(t.lit);
        const t2 = this.peek(true);
        if (t2.tok === ",") continue;
        if (t2.tok === ")") break;
        throw new Error(`found '${t2.lit}', expected: ',' or ')'`);
      } else if (t.tok === ",") {
        if (values.size === 0) values.add("");
        const t2 = this.peek(true).tok;
        if (t2 === ")" || t2 === ",") values.add("");
        if (t2 === ")") break;
      } else throw new Error(`found '${t.lit}', expected: ',', or identifier`);
    }
    if (this.take(true).tok !== ")") throw new Error(`found '${lit}', expected: ')'`);
    return [...values];
  }

  private exactValue(): string[] {
    const t = this.peek(true).tok;
    if (t === "end" || t === ",") return [""];
    const v = this.take(true);
    if (v.tok === "id") return [v.lit];
    throw new Error(`found '${v.lit}', expected: identifier`);
  }
}

/** Parse a `labelSelector` query value; a 400 with the real parser's message when it does not parse. */
export function parseLabelSelector(selector: string | null | undefined): LabelRequirement[] {
  if (!selector) return [];
  try {
    return new Parser(lex(selector)).parse();
  } catch (e) {
    throw badRequest((e as Error).message);
  }
}

export function matchesLabels(reqs: readonly LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key] ?? "";
    switch (r.op) {
      case "=":
      case "==":
      case "in":
        return has && r.values.includes(v);
      case "!=":
      case "notin":
        return !has || !r.values.includes(v);
      case "exists":
        return has;
      case "!":
        return !has;
      case ">":
      case "<": {
        if (!has || !/^-?\d+$/.test(v) || !/^-?\d+$/.test(r.values[0] ?? "")) return false;
        return r.op === ">" ? BigInt(v) > BigInt(r.values[0]!) : BigInt(v) < BigInt(r.values[0]!);
      }
    }
  });
}
