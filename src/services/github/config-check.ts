/**
 * The `preview / config` check run: a PR whose `.github/preview.yml` is invalid gets a failing check run listing
 * every problem (as bullets and as annotations on the file); a PR that edits the file into a valid one gets a
 * passing one.
 *
 * Unlike the Reporter, these functions throw (a `ReportError` saying what was being done, `{ cause }`): they are the
 * handler's one action, and the handler decides whether to log or rethrow.
 */
import { describeError } from "../shared/format.js";
import type { ProbotOctokit } from "probot";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from "yaml";
import { CONFIG_PATH } from "../../config.js";
import { redactText } from "../../logger.js";
import { escapeMarkdown, GITHUB_TEXT_LIMIT } from "./report-markdown.js";
import { ReportError } from "./reporter.js";

const CONFIG_CHECK_NAME = "preview / config";

/** GitHub accepts at most 50 annotations per check-run request; more go in follow-up updates. */
const ANNOTATIONS_PER_REQUEST = 50;

export interface ConfigCheckOptions {
  octokit: ProbotOctokit;
  owner: string;
  repo: string;
  /** The head SHA the check run belongs to. */
  sha: string;
  /** The config file's path (default `.github/preview.yml`). */
  path?: string;
}

export interface ConfigErrorsOptions extends ConfigCheckOptions {
  /** Messages from `parseConfig`: `health.timeout: expected a duration …`. */
  errors: string[];
  /** The file's text, if known: each error is then annotated on the line of the offending key. */
  text?: string;
}

export interface CheckRunRef {
  id: number;
  url: string;
}

/**
 * The 1-based line an error from `parseConfig` points at in `text`, or undefined. Understands `a.b[0].c: …` paths
 * (including keys with dots, such as label keys), `unknown field "x"` (the key itself) and YAML syntax errors
 * (`… at line 3, column 1`).
 */
export function locateConfigError(text: string, error: string): number | undefined {
  const syntax = /\bat line (\d+), column \d+/.exec(error);
  if (syntax) return Number(syntax[1]);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0) return undefined;
  const sep = error.indexOf(": ");
  if (sep < 0) return undefined;
  const path = error.slice(0, sep);
  const tokens: Array<string | number> = [];
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) tokens.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  if (path === "(top level)") tokens.length = 0;

  let node: unknown = doc.contents;
  let at: YamlNode | undefined; // the key (or item) whose line we report
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (typeof tok === "number") {
      if (!isSeq(node)) break;
      node = node.items[tok];
      if (node && typeof node === "object" && "range" in node) at = node as YamlNode;
      continue;
    }
    if (!isMap(node)) break;
    // A key with dots (`app.kubernetes.io/name`) was split by the path format: rejoin as needed.
    let found = false;
    for (let j = i; j < tokens.length && typeof tokens[j] === "string"; j++) {
      const key = tokens.slice(i, j + 1).join(".");
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
      if (pair) {
        at = pair.key as YamlNode;
        node = pair.value;
        i = j;
        found = true;
        break;
      }
    }
    if (!found) break;
  }
  const unknown = /unknown fields? "([^"]+)"/.exec(error.slice(sep));
  if (unknown && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === unknown[1]);
    if (pair) at = pair.key as YamlNode;
  }
  const offset = at?.range?.[0];
  return offset === undefined ? undefined : lineCounter.linePos(offset).line;
}

type Annotation = {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: "failure";
  message: string;
  title: string;
};

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new ReportError(`${what}: ${redactText(describeError(err))}`, { cause: err });
  }
}

/** A completed, failing `preview / config` check run with every error as a bullet and an annotation. */
export async function reportConfigErrors(opts: ConfigErrorsOptions): Promise<CheckRunRef> {
  const { octokit, owner, repo, sha } = opts;
  const path = opts.path ?? CONFIG_PATH;
  const n = opts.errors.length;
  const title = `${path}: ${n} problem${n === 1 ? "" : "s"}`;
  const located = opts.errors.map((e) => ({
    error: redactText(e),
    line: opts.text === undefined ? undefined : locateConfigError(opts.text, e),
  }));
  const bullets = located.map(({ error, line }) => `- ${line ? `line ${line}: ` : ""}${escapeMarkdown(error)}`);
  const summary = [
    `The preview configuration in \`${path}\` is invalid, so no preview is deployed from it until it is fixed.`,
    "",
    ...bullets,
  ]
    .join("\n")
    .slice(0, GITHUB_TEXT_LIMIT);
  const annotations: Annotation[] = located.map(({ error, line }) => ({
    path,
    start_line: line ?? 1,
    end_line: line ?? 1,
    annotation_level: "failure",
    title: "preview config",
    message: error.slice(0, 60_000),
  }));
  const what = `reporting ${n} config problem${n === 1 ? "" : "s"} for ${owner}/${repo}@${sha.slice(0, 7)}`;
  const output = { title, summary };
  const { data } = await call(`${what}: creating check run`, () =>
    octokit.rest.checks.create({
      owner,
      repo,
      name: CONFIG_CHECK_NAME,
      head_sha: sha,
      status: "completed",
      conclusion: "failure",
      completed_at: new Date().toISOString(),
      output: { ...output, annotations: annotations.slice(0, ANNOTATIONS_PER_REQUEST) },
    }),
  );
  for (let i = ANNOTATIONS_PER_REQUEST; i < annotations.length; i += ANNOTATIONS_PER_REQUEST) {
    await call(`${what}: adding annotations to check run ${data.id}`, () =>
      octokit.rest.checks.update({
        owner,
        repo,
        check_run_id: data.id,
        output: { ...output, annotations: annotations.slice(i, i + ANNOTATIONS_PER_REQUEST) },
      }),
    );
  }
  return { id: data.id, url: data.html_url ?? "" };
}

/** A completed, passing `preview / config` check run (for PRs that edit a valid file). */
export async function reportConfigOk(opts: ConfigCheckOptions): Promise<CheckRunRef> {
  const { octokit, owner, repo, sha } = opts;
  const path = opts.path ?? CONFIG_PATH;
  const { data } = await call(
    `reporting a valid config for ${owner}/${repo}@${sha.slice(0, 7)}: creating check run`,
    () =>
      octokit.rest.checks.create({
        owner,
        repo,
        name: CONFIG_CHECK_NAME,
        head_sha: sha,
        status: "completed",
        conclusion: "success",
        completed_at: new Date().toISOString(),
        output: {
          title: `${path} is valid`,
          summary: `\`${path}\` passes validation. Note: previews use the file from the default branch, so this version applies once merged.`,
        },
      }),
  );
  return { id: data.id, url: data.html_url ?? "" };
}
