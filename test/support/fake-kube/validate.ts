/**
 * Admission for the fake: body/URL consistency (400), object validation (422) and defaulting, as the real server does.
 */
import { randomBytes } from "node:crypto";
import type { KindSpec, NameFormat } from "./kinds.js";
import { isObject, type Json, type JsonObject } from "./merge.js";
import { badRequest, conflict, invalid, type StatusCause } from "./status.js";
import type { KubeObj } from "./store.js";

/*
 * Ports of k8s.io/apimachinery validation (v0.37: pkg/util/validation and pkg/api/validate/content), so the fake's
 * 422 messages are the real server's word for word. Names report lengths in "characters", label and annotation
 * keys and label values in "bytes" (the two packages differ, and so does the real server).
 */
const DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?";
const KEY_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE = `(${KEY_NAME})?`;
const full = (re: string): RegExp => new RegExp(`^${re}$`);
const regexError = (msg: string, re: string, ...examples: string[]): string =>
  `${msg} (${examples.length ? `e.g. ${examples.map((e) => `'${e}', `).join(" or ")}` : ""}regex used for validation is '${re}')`;

const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_MSG =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const KEY_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

function subdomainProblems(value: string, unit: "characters" | "bytes"): string[] {
  const out: string[] = [];
  if (value.length > 253) out.push(`must be no more than 253 ${unit}`);
  if (!full(DNS1123_SUBDOMAIN).test(value)) out.push(regexError(SUBDOMAIN_MSG, DNS1123_SUBDOMAIN, "example.com"));
  return out;
}

/** What is wrong with an object name of this format (empty when it is valid). */
function nameProblems(name: string, format: NameFormat = "subdomain"): string[] {
  if (format === "subdomain") return subdomainProblems(name, "characters");
  const out: string[] = [];
  if (name.length > 63) out.push("must be no more than 63 characters");
  if (format === "dns1035") {
    if (!full(DNS1035_LABEL).test(name)) out.push(regexError(DNS1035_MSG, DNS1035_LABEL, "my-name", "abc-123"));
  } else if (!full(DNS1123_LABEL).test(name)) {
    out.push(
      full(DNS1123_SUBDOMAIN).test(name)
        ? "must not contain dots"
        : regexError(LABEL_MSG, DNS1123_LABEL, "my-name", "123-abc"),
    );
  }
  return out;
}

/** content.IsLabelKey: an optional DNS-subdomain prefix and '/', then a name of at most 63 bytes. */
function labelKeyProblems(key: string): string[] {
  const parts = key.split("/");
  if (parts.length > 2) {
    return [
      `a valid label key ${regexError(KEY_MSG, KEY_NAME, "MyName", "my.name", "123-abc")} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  const out: string[] = [];
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2) {
    if (parts[0] === "") out.push("prefix part must be non-empty");
    else out.push(...subdomainProblems(parts[0]!, "bytes").map((m) => `prefix part ${m}`));
  }
  if (name === "") out.push("name part must be non-empty");
  else if (Buffer.byteLength(name) > 63) out.push("name part must be no more than 63 bytes");
  if (!full(KEY_NAME).test(name))
    out.push(`name part ${regexError(KEY_MSG, KEY_NAME, "MyName", "my.name", "123-abc")}`);
  return out;
}

function labelValueProblems(value: string): string[] {
  const out: string[] = [];
  if (Buffer.byteLength(value) > 63) out.push("must be no more than 63 bytes");
  if (!full(LABEL_VALUE).test(value)) out.push(regexError(VALUE_MSG, LABEL_VALUE, "MyValue", "my_value", "12345"));
  return out;
}

const invalidCause = (field: string, value: Json | undefined, message: string): StatusCause => ({
  reason: "FieldValueInvalid",
  message: `Invalid value: ${JSON.stringify(value ?? null)}: ${message}`,
  field,
});

function labelCauses(labels: unknown): StatusCause[] {
  if (!isObject(labels)) return [];
  const causes: StatusCause[] = [];
  for (const [key, value] of Object.entries(labels)) {
    for (const m of labelKeyProblems(key)) causes.push(invalidCause("metadata.labels", key, m));
    for (const m of labelValueProblems(typeof value === "string" ? value : String(value)))
      causes.push(invalidCause("metadata.labels", value, m));
  }
  return causes;
}

/** Annotation keys are label keys compared in lower case; all keys and values together stay under 256 KiB. */
function annotationCauses(annotations: unknown): StatusCause[] {
  if (!isObject(annotations)) return [];
  const causes: StatusCause[] = [];
  let size = 0;
  for (const [key, value] of Object.entries(annotations)) {
    for (const m of labelKeyProblems(key.toLowerCase())) causes.push(invalidCause("metadata.annotations", key, m));
    size += Buffer.byteLength(key) + Buffer.byteLength(typeof value === "string" ? value : String(value));
  }
  if (size > 262144)
    causes.push({
      reason: "FieldValueTooLong",
      message: "Too long: may not be more than 262144 bytes",
      field: "metadata.annotations",
    });
  return causes;
}

/**
 * Check a request body against the URL and fill namespace/name from it. `urlName` is set for PUT/PATCH. Throws 400
 * like the real server for a kind/namespace/name that disagrees with the URL.
 */
export function reconcileWithUrl(
  kind: KindSpec,
  body: unknown,
  urlNamespace: string | undefined,
  urlName?: string,
): KubeObj {
  if (!isObject(body)) throw badRequest("the body of the request was not a JSON object");
  const apiVersion = kind.group ? `${kind.group}/${kind.version}` : kind.version;
  if (body.kind !== undefined && body.kind !== kind.kind) {
    throw badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (${kind.kind})`);
  }
  if (body.apiVersion !== undefined && body.apiVersion !== apiVersion) {
    throw badRequest(
      `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersion})`,
    );
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
      throw badRequest(
        `the name of the object (${String(metadata.name)}) does not match the name on the URL (${urlName})`,
      );
    }
    metadata.name = urlName;
  }
  return { ...body, apiVersion, kind: kind.kind, metadata } as KubeObj;
}

/** Name generation and the 422 checks on name and labels. */
export function validateObject(kind: KindSpec, obj: KubeObj, creating: boolean): void {
  const meta = obj.metadata;
  if (
    creating &&
    (!meta.name || meta.name === "") &&
    typeof meta.generateName === "string" &&
    meta.generateName !== ""
  ) {
    meta.name = `${meta.generateName}${randomBytes(3).toString("hex").slice(0, 5)}`;
  }
  const name = typeof meta.name === "string" ? meta.name : "";
  const causes: StatusCause[] = [];
  if (name === "") {
    causes.push({
      reason: "FieldValueRequired",
      message: "Required value: name or generateName is required",
      field: "metadata.name",
    });
  } else {
    for (const p of nameProblems(name, kind.nameFormat)) causes.push(invalidCause("metadata.name", name, p));
  }
  causes.push(...labelCauses(meta.labels), ...annotationCauses(meta.annotations));
  if (causes.length > 0) throw invalid(kind.kind, kind.group, name, causes);
}

/**
 * What an apply body may not carry (measured on v1.37): managedFields at all (400), a resourceVersion other than the
 * object's (409: it is a precondition), a uid other than the object's (422 on an existing object, 409 on a new one),
 * a deletionTimestamp or grace period other than the object's (422). creationTimestamp, generation, selfLink and
 * status are ignored.
 */
export function checkApplyBody(kind: KindSpec, name: string, body: unknown, existing: KubeObj | undefined): void {
  const meta = isObject(body) && isObject(body.metadata) ? body.metadata : {};
  if (meta.managedFields !== undefined && meta.managedFields !== null)
    throw badRequest("metadata.managedFields must be nil");
  const uid = typeof meta.uid === "string" && meta.uid !== "" ? meta.uid : undefined;
  if (uid && !existing)
    throw conflict(
      kind.plural,
      kind.group,
      name,
      `uid mismatch: the provided object specified uid ${uid}, and no existing object was found`,
    );
  if (!existing) return;
  const rv = meta.resourceVersion;
  if (typeof rv === "string" && rv !== "" && rv !== existing.metadata.resourceVersion) {
    throw conflict(
      kind.plural,
      kind.group,
      name,
      "the object has been modified; please apply your changes to the latest version and try again",
    );
  }
  const causes: StatusCause[] = [];
  if (uid && uid !== existing.metadata.uid) causes.push(invalidCause("metadata.uid", uid, "field is immutable"));
  for (const k of ["deletionTimestamp", "deletionGracePeriodSeconds"]) {
    if (meta[k] !== undefined && meta[k] !== null && meta[k] !== existing.metadata[k])
      causes.push(invalidCause(`metadata.${k}`, meta[k], "field is immutable"));
  }
  if (causes.length > 0) throw invalid(kind.kind, kind.group, name, causes);
}

let nextClusterIp = 10;
/** A Service's cluster IP from the control plane's service range (10.96.0.0/16, as the test control plane's). */
function allocateClusterIp(): string {
  const n = nextClusterIp++;
  return `10.96.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`;
}

/** What the server allocated and an update that leaves it out keeps (a Service's cluster IPs). */
export function keepAllocated(kind: KindSpec, existing: KubeObj, next: KubeObj): void {
  if (kind.kind !== "Service" || !isObject(existing.spec)) return;
  const spec: JsonObject = isObject(next.spec) ? next.spec : (next.spec = {});
  if (spec.clusterIP === undefined || spec.clusterIP === "") {
    if (existing.spec.clusterIP !== undefined) spec.clusterIP = existing.spec.clusterIP;
    if (existing.spec.clusterIPs !== undefined) spec.clusterIPs = existing.spec.clusterIPs;
  }
}

/** Built-in kinds drop empty maps when they are stored (Go's omitempty); custom resources keep them. */
export function omitEmpty(kind: KindSpec, obj: KubeObj): void {
  if (kind.custom) return;
  const empty = (v: unknown): boolean => isObject(v) && Object.keys(v).length === 0;
  for (const k of ["labels", "annotations"]) if (empty(obj.metadata[k])) delete obj.metadata[k];
  for (const k of ["data", "binaryData", "stringData"]) if (empty(obj[k])) delete obj[k];
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
        for (const [k, v] of Object.entries(obj.stringData))
          data[k] = Buffer.from(String(v), "utf8").toString("base64");
        obj.data = data;
      }
      delete obj.stringData;
      break;
    }
    case "Deployment":
    case "StatefulSet":
      if (spec) spec.replicas ??= 1;
      break;
    case "Service": {
      const svc: JsonObject = spec ?? (obj.spec = {});
      if (svc.clusterIP === undefined || svc.clusterIP === "") svc.clusterIP = allocateClusterIp();
      svc.clusterIPs ??= [svc.clusterIP];
      svc.type ??= "ClusterIP";
      break;
    }
    case "CronJob":
      if (spec) spec.suspend ??= false;
      break;
  }
}
