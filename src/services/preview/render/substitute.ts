/**
 * Step 2 of the transforms: literal `replacements` and `${VAR}` `variables`, applied to **string values** of parsed
 * objects (never to keys, never to YAML text).
 *
 * - Replacements: each token is replaced by its expanded template; tokens are tried longest first in one pass, so
 *   `BRANCH_NAME_DB` wins over `BRANCH_NAME` and a replacement's output is never re-scanned.
 * - Variables (Flux post-build syntax): `${VAR}`, `${VAR:=default}` (also `${VAR:-default}`), `$${VAR}` → literal
 *   `${VAR}`; `$VAR` without braces is left alone. An undefined `${VAR}` without a default is **left as is** and
 *   reported as a warning. Flux differs here: it substitutes an empty string (or, with the
 *   `StrictPostBuildSubstitutions` feature gate, fails); we keep the text so the dry run shows exactly what is
 *   missing instead of silently blanking a field.
 */
import type { KubeObject } from "../../shared/preview.js";
import { describeObject } from "./cluster-scoped.js";

const VARIABLE = /\$\$\{([^}]*)\}|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:=|:-)([^}]*))?\}/g;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export interface Substitution {
  /** Literal token → replacement (already expanded). */
  replacements: Record<string, string>;
  /** Variable name → value (already expanded). */
  variables: Record<string, string>;
}

function mapStrings(value: unknown, fn: (s: string) => string): unknown {
  if (typeof value === "string") return fn(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = mapStrings(value[i], fn);
    return value;
  }
  if (value !== null && typeof value === "object") {
    const rec = value as Record<string, unknown>;
    for (const key of Object.keys(rec)) rec[key] = mapStrings(rec[key], fn);
    return rec;
  }
  return value;
}

/** Substitute in place; returns the objects. Undefined variables go to `warnings` once per name. */
export function substituteValues(objects: KubeObject[], sub: Substitution, warnings: string[]): KubeObject[] {
  const tokens = Object.keys(sub.replacements).sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  const tokenRe = tokens.length > 0 ? new RegExp(tokens.map(escapeRegExp).join("|"), "g") : undefined;
  const undefinedVars = new Map<string, string>();
  for (const obj of objects) {
    const where = describeObject(obj);
    mapStrings(obj, (s) => {
      let out = tokenRe ? s.replace(tokenRe, (t) => sub.replacements[t] ?? t) : s;
      if (out.includes("${")) {
        out = out.replace(
          VARIABLE,
          (
            whole,
            escaped: string | undefined,
            name: string | undefined,
            op: string | undefined,
            fallback: string | undefined,
          ) => {
            if (escaped !== undefined) return `\${${escaped}}`;
            const value = sub.variables[name!];
            if (value !== undefined) return value;
            if (op !== undefined) return fallback ?? "";
            if (!undefinedVars.has(name!)) undefinedVars.set(name!, where);
            return whole;
          },
        );
      }
      return out;
    });
  }
  // `${X}` is only preview-bot's business when the repository uses `variables`; otherwise it is someone else's syntax
  // (a shell script in a ConfigMap, a Helm-rendered template), and a warning about it would be noise.
  if (Object.keys(sub.variables).length === 0) return objects;
  for (const [name, where] of undefinedVars) {
    warnings.push(`\${${name}} is not defined in variables and has no default (first seen in ${where}); left as is`);
  }
  return objects;
}
