/**
 * Running kustomize and helm on a pull request's files, inside the renderer (already isolated: no network, no
 * secrets, nothing of the bot's visible): execFile (no shell), a timeout, an output cap, and an environment with
 * nothing in it but the tool's PATH, a scratch HOME and proxies pointing at a closed local port (a second wall: any
 * HTTP fetch Go's net/http makes fails even where a network exists). Failures become one line per problem naming
 * the file (paths relative to the repository), not raw tool output. Tool output is hostile text: it is cut before
 * any pattern runs on it.
 */
import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";
import { RenderError } from "../render-error.js";

const DEFAULT_TOOL_TIMEOUT_MS = 60_000;
const DEFAULT_TOOL_MAX_OUTPUT = 32 * 1024 * 1024;
/** A port nothing listens on (the discard port): every proxied request fails at once. */
const DEAD_PROXY = "http://127.0.0.1:9";

/** The whole environment a tool child gets. */
function offlineEnv(home: string, toolPath: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: toolPath,
    HOME: home,
    HTTP_PROXY: DEAD_PROXY,
    HTTPS_PROXY: DEAD_PROXY,
    http_proxy: DEAD_PROXY,
    https_proxy: DEAD_PROXY,
    ALL_PROXY: DEAD_PROXY,
    NO_PROXY: "",
    no_proxy: "",
    KUBECONFIG: path.join(home, "no-kubeconfig"),
    GIT_TERMINAL_PROMPT: "0",
    TMPDIR: home,
    // No system OpenSSL configuration: under Landlock /etc is out of reach, and some programs treat that as fatal.
    OPENSSL_CONF: "/dev/null",
    ...extra,
  };
}

/**
 * Helm's environment: every home in the scratch HOME, an empty plugins directory and no repository or registry
 * configuration, so helm can neither run a plugin nor know a repository — whatever a kustomization's generator says
 * (its `configHome` is refused before kustomize runs; these hold even if a check were missed).
 */
export function helmEnv(home: string): Record<string, string> {
  return {
    HELM_CACHE_HOME: path.join(home, "helm-cache"),
    HELM_CONFIG_HOME: path.join(home, "helm-config"),
    HELM_DATA_HOME: path.join(home, "helm-data"),
    HELM_PLUGINS: path.join(home, "helm-no-plugins"),
    HELM_REPOSITORY_CONFIG: path.join(home, "helm-no-repositories.yaml"),
    HELM_REPOSITORY_CACHE: path.join(home, "helm-no-repository-cache"),
    HELM_REGISTRY_CONFIG: path.join(home, "helm-no-registries.json"),
  };
}

export interface ToolOptions {
  /** What is being done, for messages: `rendering deploy/chart with helm`. */
  what: string;
  /** Repository root: absolute paths under it are shown relative. */
  root: string;
  cwd: string;
  home: string;
  /** The child's PATH (the settings' PATH). */
  path: string;
  timeoutMs?: number;
  maxOutputBytes?: number;
  env?: Record<string, string>;
}

/** How much of a tool's stderr is read, and of each line and block of it: cut before any pattern runs. */
const STDERR_CHARS = 64 * 1024;
const LINE_CHARS = 2_000;

/** Known kustomize/helm error shapes, said plainly. */
function simplify(line: string): string {
  const outside = /security; file '([^']+)' is not in or below '([^']+)'/.exec(line);
  if (outside)
    return `${outside[1]} is outside ${outside[2]} (kustomize loads only files in or below the kustomization's directory)`;
  const missing =
    /(?:open|lstat|stat|evalsymlink failure on) '?([^\s':]+)'?\s*:?\s*(?:lstat [^:]+: )?no such file or directory/.exec(
      line,
    );
  if (missing) return `${missing[1]}: no such file or directory`;
  return line.replace(/`[^`]*`:?\s*/g, "").replace(/\s+/g, " ");
}

/** Problems in a tool's stderr, one line each: log chatter dropped, `Error:` prefixes removed, paths relative. */
export function toolProblems(stderr: string, roots: readonly string[]): string[] {
  let text = stderr.slice(0, STDERR_CHARS);
  for (const root of roots)
    text = text
      .split(`${root.replace(/\/+$/, "")}/`)
      .join("")
      .split(root)
      .join(".");
  const lines = text
    .split("\n")
    .map((l) => l.slice(0, LINE_CHARS))
    .filter((l) => l.trim() && !/^\S+\.go:\d+:/.test(l.trim()) && !/^(WARNING|W\d{4}|I\d{4})/.test(l.trim()));
  // An error may span lines (kustomize quotes config in backticks): a block runs from one `Error:` line to the next.
  const blocks: string[] = [];
  for (const line of lines) {
    if (/^error:/i.test(line.trim()) || blocks.length === 0) blocks.push(line.trim());
    else if (blocks[blocks.length - 1]!.length < LINE_CHARS) blocks[blocks.length - 1] += `\n${line}`;
  }
  const usage = blocks.findIndex((b) => /^Usage:/m.test(b));
  const chosen = (usage > 0 ? blocks.slice(0, usage) : blocks).map((b) =>
    b
      .replace(/^(error:\s*)+/i, "")
      .replace(/^INSTALLATION FAILED:\s*/, "")
      .replace(/\nUsage:[\s\S]*$/, ""),
  );
  const out: string[] = [];
  for (const block of chosen.slice(0, 10)) {
    const simplified = simplify(block);
    const short = simplified.length > 400 ? `${simplified.slice(0, 400)}…` : simplified;
    if (short && !out.includes(short)) out.push(short);
  }
  return out.length ? out : ["failed without a message"];
}

/** Run `file args…`; resolves to stdout, or rejects with a RenderError listing the problems. */
export function runTool(file: string, args: readonly string[], o: ToolOptions): Promise<string> {
  const timeout = o.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  const maxBuffer = o.maxOutputBytes ?? DEFAULT_TOOL_MAX_OUTPUT;
  return new Promise<string>((resolve, reject) => {
    try {
      if (file.includes("/")) accessSync(file, constants.X_OK);
    } catch {
      const why = `${o.what}: ${file} not found`;
      return reject(new RenderError(why));
    }
    execFile(
      file,
      args,
      { cwd: o.cwd, timeout, maxBuffer, encoding: "utf8", env: offlineEnv(o.home, o.path, o.env), windowsHide: true },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null };
        let problems: string[];
        if (e.code === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER") problems = [`output larger than ${maxBuffer} bytes`];
        else if (e.killed || e.signal === "SIGTERM") problems = [`timed out after ${Math.round(timeout / 1000)} s`];
        else if (e.code === "ENOENT") problems = [`${file} not found`];
        else problems = toolProblems(stderr || e.message, [o.root]);
        const shown = problems.map((p) => `${o.what}: ${p}`);
        reject(new RenderError(shown.join("\n"), { cause: err, problems: shown }));
      },
    );
  });
}
