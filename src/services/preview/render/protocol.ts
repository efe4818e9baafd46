/**
 * What the bot asks the renderer and what it answers: plain JSON, one request and one response per render, over
 * stdin/stdout of the sandboxed worker (src/render-worker.ts) or HTTP to the renderer workload. The answer comes from
 * code that ran on a pull request's files and is treated as hostile: `readWorkerResponse` checks its shape and caps
 * every part of it before the bot uses any of it.
 */
import type { KubeObject } from "../../shared/preview.js";

export const PROTOCOL_VERSION = 1;

export interface WorkerRequest {
  version: typeof PROTOCOL_VERSION;
  /** The pull request's tree: GitHub's tarball (extracted inside), or a directory (`preview-bot render --dir`). */
  source: { kind: "tarball"; file: string } | { kind: "dir"; dir: string };
  /** The worker's own writable directory (extraction, tool homes). */
  scratch: string;
  /** "owner/repo@sha7", for messages. */
  label: string;
  manifests: {
    path: string;
    type?: "kustomize" | "helm" | "plain";
    include: string[];
    /** Path globs of `manifests.exclude`. */
    exclude: string[];
    /** Helm: values files (repository-relative), `--set` values (already expanded), the release and namespace. */
    values: string[];
    set: Record<string, string>;
    /** The release name; absent: the chart's own name (stable across pull requests, so are the chart's names). */
    release?: string;
    namespace: string;
    /** Helm: `--kube-version` and `--api-versions`, the cluster's (or the settings'), so charts render as there. */
    kubeVersion?: string;
    apiVersions?: string[];
  };
  /** `database.seed`: a SQL file of the repository to read (size-capped), if any. */
  seed?: string;
  /** Absolute paths of the tools, and the PATH their children get (the tools' directories). */
  tools: { kustomize?: string[]; helm?: string; path: string };
  limits: { sourceBytes: number; sourceEntries: number; toolTimeoutMs: number; toolOutputBytes: number };
}

export type WorkerResponse =
  | {
      ok: true;
      type: "kustomize" | "helm" | "plain";
      objects: KubeObject[];
      /** Per object, the repository-relative file it came from (plain YAML and Helm). */
      sources?: string[];
      warnings: string[];
      /** The `database.seed` file's text. */
      seed?: string;
      /** What was extracted (tarball sources). */
      source?: { files: number; bytes: number; skipped: string[] };
    }
  | { ok: false; error: string; problems?: string[] };

/** Caps on what a worker may answer. */
const RESPONSE_LIMITS = {
  objects: 5_000,
  /** Nesting of any one object. */
  depth: 64,
  /** Lines of text (warnings, skipped entries, problems), and characters in each. */
  lines: 1_000,
  lineChars: 4_000,
  seedChars: 20 * 1024 * 1024,
} as const;

export class WorkerAnswerError extends Error {
  override name = "WorkerAnswerError";
}

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => v !== null && typeof v === "object" && !Array.isArray(v);

function depthOf(value: unknown, limit: number): number {
  // Iterative: a hostile answer nested 100 000 deep must not overflow the stack here.
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (d > max) max = d;
    if (max > limit) return max;
    if (v !== null && typeof v === "object") for (const child of Object.values(v as Rec)) stack.push([child, d + 1]);
  }
  return max;
}

function lines(v: unknown, what: string, max: number = RESPONSE_LIMITS.lines): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string"))
    throw new WorkerAnswerError(`the renderer's ${what} is not a list of strings`);
  return (v as string[]).slice(0, max).map((s) => s.slice(0, RESPONSE_LIMITS.lineChars));
}

/** The worker's answer, checked: the right shape, every part capped; anything else is an error naming what. */
export function readWorkerResponse(text: string): WorkerResponse {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new WorkerAnswerError(`the renderer's answer is not JSON (${text.length} bytes)`);
  }
  if (!isRec(raw) || typeof raw.ok !== "boolean") throw new WorkerAnswerError("the renderer's answer has no outcome");
  if (!raw.ok) {
    const error = typeof raw.error === "string" ? raw.error.slice(0, RESPONSE_LIMITS.lineChars) : "failed";
    return { ok: false, error, problems: lines(raw.problems, "problems") };
  }
  if (raw.type !== "kustomize" && raw.type !== "helm" && raw.type !== "plain")
    throw new WorkerAnswerError("the renderer's answer names no manifest type");
  if (!Array.isArray(raw.objects)) throw new WorkerAnswerError("the renderer's objects are not a list");
  if (raw.objects.length > RESPONSE_LIMITS.objects)
    throw new WorkerAnswerError(
      `the render has ${raw.objects.length} objects, over the ${RESPONSE_LIMITS.objects} limit`,
    );
  const objects = raw.objects.map((o, i) => {
    if (!isRec(o) || typeof o.apiVersion !== "string" || typeof o.kind !== "string" || !isRec(o.metadata))
      throw new WorkerAnswerError(`object ${i + 1} of the render has no apiVersion, kind and metadata`);
    if (depthOf(o, RESPONSE_LIMITS.depth) > RESPONSE_LIMITS.depth)
      throw new WorkerAnswerError(`object ${i + 1} of the render is nested deeper than ${RESPONSE_LIMITS.depth}`);
    return o as KubeObject;
  });
  const sources = raw.sources === undefined ? undefined : lines(raw.sources, "sources", RESPONSE_LIMITS.objects);
  if (sources && sources.length !== objects.length)
    throw new WorkerAnswerError("the renderer's sources do not match its objects");
  if (raw.seed !== undefined && (typeof raw.seed !== "string" || raw.seed.length > RESPONSE_LIMITS.seedChars))
    throw new WorkerAnswerError("the renderer's database.seed is not text within the size limit");
  const src = isRec(raw.source) ? raw.source : undefined;
  return {
    ok: true,
    type: raw.type,
    objects,
    ...(sources ? { sources } : {}),
    warnings: lines(raw.warnings, "warnings"),
    ...(typeof raw.seed === "string" ? { seed: raw.seed } : {}),
    ...(src
      ? {
          source: {
            files: Number(src.files) || 0,
            bytes: Number(src.bytes) || 0,
            skipped: lines(src.skipped, "skipped entries"),
          },
        }
      : {}),
  };
}
