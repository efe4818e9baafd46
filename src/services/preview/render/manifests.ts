/**
 * YAML in and out. Parsing uses the `yaml` package's `parseAllDocuments` (no code evaluation, aliases bounded);
 * every transform afterwards works on the parsed objects, never on YAML text, so a value containing `---` or
 * `${X}` can never split a document or inject fields.
 */
import { describeError } from "../../shared/format.js";
import { parseAllDocuments, stringify } from "yaml";
import type { KubeObject } from "../../shared/preview.js";
import { yamlErrorLine } from "../../../yaml-error-line.js";
import { RenderError } from "./render-error.js";

/** Bound on alias expansion per document (defuses "billion laughs" documents). */
const MAX_ALIAS_COUNT = 100;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function asKubeObject(value: unknown, where: string): KubeObject {
  if (!isRecord(value))
    throw new RenderError(`${where} is not a mapping (a Kubernetes object needs apiVersion, kind and metadata)`);
  const { apiVersion, kind } = value;
  if (typeof apiVersion !== "string" || !apiVersion || typeof kind !== "string" || !kind) {
    throw new RenderError(`${where} is not a Kubernetes object: it needs a string apiVersion and kind`);
  }
  if (value.metadata === undefined || value.metadata === null) value.metadata = {};
  if (!isRecord(value.metadata)) throw new RenderError(`${where} (${kind}): metadata must be a mapping`);
  return value as unknown as KubeObject;
}

/** `kind: List` (and `DeploymentList`-style lists with `items`) flattened into their items. */
function flatten(obj: KubeObject, where: string): KubeObject[] {
  if (obj.kind === "List" || (obj.kind.endsWith("List") && Array.isArray(obj.items))) {
    const items = Array.isArray(obj.items) ? obj.items : [];
    return items.flatMap((item, i) => flatten(asKubeObject(item, `${where} items[${i}]`), `${where} items[${i}]`));
  }
  return [obj];
}

/**
 * Parse a multi-document YAML (or JSON) text into Kubernetes objects. Empty documents are skipped; `where` names
 * the source in errors (a file path, or "kustomize output").
 */
export function parseManifests(text: string, where: string): KubeObject[] {
  return parseManifestDocuments(text, where).objects;
}

/** A `# Source: chart/templates/x.yaml` comment (Helm's) at the top of a document, if any. */
const SOURCE_COMMENT = /^\s*Source:\s*(\S+)/m;

/**
 * `parseManifests`, also telling where each object came from: the document's `# Source:` comment (Helm output)
 * when it has one, else `where`; and which YAML document of the text it is (1-based, empty documents counted).
 */
export function parseManifestDocuments(
  text: string,
  where: string,
): { objects: KubeObject[]; sources: string[]; documents: number[] } {
  const objects: KubeObject[] = [];
  const sources: string[] = [];
  const documents: number[] = [];
  const docs = parseAllDocuments(text, { prettyErrors: true });
  // parseAllDocuments returns an EmptyStream (array-like) for empty input.
  let index = 0;
  for (const doc of docs) {
    index += 1;
    const comment = `${doc.commentBefore ?? ""}\n${(doc.contents as { commentBefore?: string | null } | null)?.commentBefore ?? ""}`;
    const source = SOURCE_COMMENT.exec(comment)?.[1];
    const label = source ?? `${where} document ${index}`;
    if (doc.errors.length > 0) {
      const first = doc.errors[0]!;
      throw new RenderError(`parsing ${label}: ${yamlErrorLine(first.message)}`, { cause: first });
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      throw new RenderError(`parsing ${label}: ${describeError(err)}`, { cause: err });
    }
    if (value === null || value === undefined) continue;
    for (const obj of flatten(asKubeObject(value, label), label)) {
      objects.push(obj);
      sources.push(source ?? where);
      documents.push(index);
    }
  }
  return { objects, sources, documents };
}

/**
 * Each object's origin, for messages: its file and which YAML document of it ("deploy/web.yaml, document 2").
 * `documents` gives the document numbers where the reader knows them (plain YAML); otherwise objects are numbered
 * in order per file (a Helm template's output, kustomize's output).
 */
export function documentLabels(files: readonly string[], documents?: readonly number[]): string[] {
  const seen = new Map<string, number>();
  return files.map((file, i) => {
    const n = documents?.[i] ?? (seen.get(file) ?? 0) + 1;
    seen.set(file, n);
    return `${file}, document ${n}`;
  });
}

/** Objects as one multi-document YAML string, keys in the order they were parsed (what `kubectl apply -f -` takes). */
export function toYaml(objects: readonly KubeObject[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join("---\n");
}
