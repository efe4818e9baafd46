/** Admission for the fake: body/URL consistency (400), object validation (422) and defaulting, as the real server does. */
import { randomBytes } from "node:crypto";
import type { KindSpec } from "./kinds.js";
import { isObject, type JsonObject } from "./merge.js";
import { badRequest, invalid, type StatusCause } from "./status.js";
import type { KubeObj } from "./store.js";

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

export function nameProblems(name: string, asLabel: boolean): string[] {
  const out: string[] = [];
  if (asLabel) {
    if (name.length > 63) out.push("must be no more than 63 characters");
    if (!LABEL.test(name)) out.push(LABEL_MSG);
  } else {
    if (name.length > 253) out.push("must be no more than 253 characters");
    if (!SUBDOMAIN.test(name)) out.push(SUBDOMAIN_MSG);
  }
  return out;
}

function labelCauses(labels: unknown): StatusCause[] {
  if (!isObject(labels)) return [];
  const causes: StatusCause[] = [];
  for (const [key, value] of Object.entries(labels)) {
    const slash = key.lastIndexOf("/");
    const prefix = slash >= 0 ? key.slice(0, slash) : "";
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if ((slash >= 0 && (prefix.length > 253 || !SUBDOMAIN.test(prefix))) || name.length > 63 || !QUALIFIED_NAME.test(name)) {
      causes.push({ reason: "FieldValueInvalid", message: `Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`, field: "metadata.labels" });
    }
    const v = typeof value === "string" ? value : String(value);
    if (typeof value !== "string" || v.length > 63 || !LABEL_VALUE.test(v)) {
      causes.push({ reason: "FieldValueInvalid", message: `Invalid value: "${v}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (must be no more than 63 characters)`, field: "metadata.labels" });
    }
  }
  return causes;
}

/**
 * Check a request body against the URL and fill namespace/name from it. `urlName` is set for PUT/PATCH. Throws 400
 * like the real server for a kind/namespace/name that disagrees with the URL.
 */
export function reconcileWithUrl(kind: KindSpec, body: unknown, urlNamespace: string | undefined, urlName?: string): KubeObj {
  if (!isObject(body)) throw badRequest("the body of the request was not a JSON object");
  const apiVersion = kind.group ? `${kind.group}/${kind.version}` : kind.version;
  if (body.kind !== undefined && body.kind !== kind.kind) {
    throw badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (${kind.kind})`);
  }
  if (body.apiVersion !== undefined && body.apiVersion !== apiVersion) {
    throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersion})`);
  }
  const metadata: JsonObject = isObject(body.metadata) ? body.metadata : {};
  if (kind.namespaced) {
    if (metadata.namespace !== undefined && metadata.namespace !== "" && metadata.namespace !== urlNamespace) {
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    metadata.namespace = urlNamespace ?? "";
  } else delete metadata.namespace;
  if (urlName !== undefined) {
    if (metadata.name !== undefined && metadata.name !== urlName) {
      throw badRequest(`the name of the object (${String(metadata.name)}) does not match the name on the URL (${urlName})`);
    }
    metadata.name = urlName;
  }
  return { ...body, apiVersion, kind: kind.kind, metadata } as KubeObj;
}

/** Name generation and the 422 checks on name and labels. */
export function validateObject(kind: KindSpec, obj: KubeObj, creating: boolean): void {
  const meta = obj.metadata;
  if (creating && (!meta.name || meta.name === "") && typeof meta.generateName === "string" && meta.generateName !== "") {
    meta.name = `${meta.generateName}${randomBytes(3).toString("hex").slice(0, 5)}`;
  }
  const name = typeof meta.name === "string" ? meta.name : "";
  const causes: StatusCause[] = [];
  if (name === "") {
    causes.push({ reason: "FieldValueRequired", message: "Required value: name or generateName is required", field: "metadata.name" });
  } else {
    for (const p of nameProblems(name, kind.labelName === true)) causes.push({ reason: "FieldValueInvalid", message: `Invalid value: "${name}": ${p}`, field: "metadata.name" });
  }
  causes.push(...labelCauses(meta.labels));
  if (causes.length > 0) throw invalid(kind.kind, kind.group, name, causes);
}

/** Server-side defaults the bot can observe. */
export function applyDefaults(kind: KindSpec, obj: KubeObj): void {
  const spec = isObject(obj.spec) ? obj.spec : undefined;
  switch (kind.kind) {
    case "Namespace":
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), "kubernetes.io/metadata.name": obj.metadata.name };
      obj.spec = { finalizers: ["kubernetes"], ...(spec ?? {}) };
      break;
    case "Secret": {
      obj.type ??= "Opaque";
      if (isObject(obj.stringData)) {
        const data: JsonObject = isObject(obj.data) ? obj.data : {};
        for (const [k, v] of Object.entries(obj.stringData)) data[k] = Buffer.from(String(v), "utf8").toString("base64");
        obj.data = data;
      }
      delete obj.stringData;
      break;
    }
    case "Deployment":
    case "StatefulSet":
      if (spec) spec.replicas ??= 1;
      break;
    case "CronJob":
      if (spec) spec.suspend ??= false;
      break;
  }
}
