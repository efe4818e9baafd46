/**
 * CustomResourceDefinitions in the fake: a CRD written through the API (or loaded from a YAML file at start, the
 * same files the real control plane installs) serves its kind in discovery and CRUD and is marked Established; a
 * deleted CRD takes its kind and objects with it. What the CRD's schema validates is not checked.
 */
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import type { KindRegistry, KindSpec } from "./kinds.js";
import { isObject, type Json, type JsonObject } from "./merge.js";
import type { Store } from "./store.js";

const CRD_API_VERSION = "apiextensions.k8s.io/v1";

/** The kinds a CRD serves, one per served version. */
export function kindsOfCrd(crd: JsonObject): KindSpec[] {
  const spec = isObject(crd.spec) ? crd.spec : {};
  const names = isObject(spec.names) ? spec.names : {};
  const versions = (Array.isArray(spec.versions) ? spec.versions : []).filter(isObject);
  if (typeof spec.group !== "string" || typeof names.kind !== "string" || typeof names.plural !== "string") return [];
  return versions
    .filter((v) => v.served !== false && typeof v.name === "string")
    .map((v) => ({
      group: spec.group as string,
      version: v.name as string,
      kind: names.kind as string,
      plural: names.plural as string,
      namespaced: spec.scope !== "Cluster",
      statusSubresource: isObject(v.subresources) && isObject(v.subresources.status),
      custom: true,
    }));
}

/** Every CRD in these multi-document YAML files (other documents are skipped). */
export function readCrdFiles(files: readonly string[]): JsonObject[] {
  const out: JsonObject[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
      if (doc.errors.length > 0) throw new Error(`fake-kube: ${file} does not parse: ${doc.errors[0]!.message}`);
      const js = doc.toJS() as Json;
      if (isObject(js) && js.kind === "CustomResourceDefinition") out.push(js);
    }
  }
  return out;
}

const established = (): Json[] => {
  const t = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  return [
    {
      type: "NamesAccepted",
      status: "True",
      lastTransitionTime: t,
      reason: "NoConflicts",
      message: "no conflicts found",
    },
    {
      type: "Established",
      status: "True",
      lastTransitionTime: t,
      reason: "InitialNamesAccepted",
      message: "the initial names have been accepted",
    },
  ];
};

/** Keeps the registry in step with the CRDs in the store; returns an unsubscribe function. */
export function serveCrds(registry: KindRegistry, store: Store): () => void {
  const crdKind = registry.byKind(CRD_API_VERSION, "CustomResourceDefinition")!;
  return store.subscribe((e) => {
    if (e.kind !== crdKind) return;
    const kinds = kindsOfCrd(e.object);
    if (e.type === "DELETED") {
      for (const k of kinds) {
        for (const o of store.list(k)) store.remove(k, o.metadata.namespace, o.metadata.name);
        registry.unregister(k.group, k.version, k.plural);
      }
      return;
    }
    for (const k of kinds) registry.register(k);
    const status = isObject(e.object.status) ? e.object.status : {};
    if (!Array.isArray(status.conditions)) {
      const current = store.get(crdKind, undefined, e.object.metadata.name);
      if (!current) return;
      const spec = isObject(current.spec) ? current.spec : {};
      current.status = {
        conditions: established(),
        acceptedNames: isObject(spec.names) ? spec.names : {},
        storedVersions: kinds.map((k) => k.version).slice(0, 1),
      };
      queueMicrotask(() => store.write(crdKind, current));
    }
  });
}
