/** Label and field selectors, parsed and matched the way the real API server does (errors are 400 BadRequest). */
import { badRequest } from "./status.js";

export type LabelOp = "=" | "!=" | "in" | "notin" | "exists" | "!exists";
export interface LabelRequirement {
  key: string;
  op: LabelOp;
  values: string[];
}

const KEY = String.raw`[A-Za-z0-9][-A-Za-z0-9_./]*`;
const EXISTS = new RegExp(`^(!?)\\s*(${KEY})$`);
const EQUALITY = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*([-A-Za-z0-9_.]*)$`);
const SET = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^()]*)\\)$`);

/** Split on commas that are not inside `( … )`. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

export function parseLabelSelector(selector: string | null | undefined): LabelRequirement[] {
  if (!selector || selector.trim() === "") return [];
  return splitTopLevel(selector).map((raw) => {
    const term = raw.trim();
    let m = SET.exec(term);
    if (m) {
      const values = (m[3] ?? "").split(",").map((v) => v.trim()).filter((v) => v !== "");
      if (values.length === 0) throw badRequest(`unable to parse requirement: for 'in', 'notin' operators, values set can't be empty`);
      return { key: m[1]!, op: m[2] as LabelOp, values };
    }
    m = EQUALITY.exec(term);
    if (m) return { key: m[1]!, op: m[2] === "!=" ? "!=" : "=", values: [m[3] ?? ""] };
    m = EXISTS.exec(term);
    if (m) return { key: m[2]!, op: m[1] === "!" ? "!exists" : "exists", values: [] };
    throw badRequest(`unable to parse requirement: found '${term}', expected: key, !key, key=value, key!=value, key in (…), key notin (…)`);
  });
}

export function matchesLabels(reqs: readonly LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case "=":
        return has && v === r.values[0];
      case "!=":
        return !has || v !== r.values[0];
      case "in":
        return has && r.values.includes(v ?? "");
      case "notin":
        return !has || !r.values.includes(v ?? "");
      case "exists":
        return has;
      case "!exists":
        return !has;
    }
  });
}

export interface FieldRequirement {
  path: string;
  negate: boolean;
  value: string;
}

/** Field labels each kind supports beyond metadata.name / metadata.namespace (unsupported ones are a 400, as for real). */
const FIELD_LABELS: Record<string, string[]> = {
  Event: [
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
  ],
  Pod: ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "status.phase", "status.podIP"],
  Secret: ["type"],
  Namespace: ["status.phase"],
  Job: ["status.successful"],
};

export function parseFieldSelector(selector: string | null | undefined, kind: string): FieldRequirement[] {
  if (!selector || selector.trim() === "") return [];
  const allowed = ["metadata.name", "metadata.namespace", ...(FIELD_LABELS[kind] ?? [])];
  return selector.split(",").map((raw) => {
    const m = /^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(raw);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${raw}'`);
    const path = m[1]!;
    if (!allowed.includes(path)) throw badRequest(`field label not supported: ${path}`);
    return { path, negate: m[2] === "!=", value: m[3] ?? "" };
  });
}

function fieldValue(obj: Record<string, unknown>, path: string): string {
  const dotted = path === "source" ? "source.component" : path;
  let cur: unknown = obj;
  for (const part of dotted.split(".")) {
    if (cur === null || typeof cur !== "object") return "";
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined || cur === null ? "" : String(cur);
}

export function matchesFields(reqs: readonly FieldRequirement[], obj: Record<string, unknown>): boolean {
  return reqs.every((r) => (fieldValue(obj, r.path) === r.value) !== r.negate);
}
