/**
 * Field selectors, parsed and matched the way the real API server does (errors are 400 BadRequest); label selectors are
 * in label-selector.ts.
 */
import { badRequest } from "./status.js";

export { matchesLabels, parseLabelSelector } from "./label-selector.js";

export interface FieldRequirement {
  path: string;
  negate: boolean;
  value: string;
}

/**
 * Field labels each kind supports beyond metadata.name / metadata.namespace (unsupported ones are a 400, as for real).
 */
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
  Pod: [
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "status.phase",
    "status.podIP",
  ],
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
