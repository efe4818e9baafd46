/**
 * `preview-bot render` — the dry run a team uses before enrolling: render a local checkout exactly as preview-bot
 * would for a PR and print the YAML that would be applied (the database Secret included, its credentials redacted).
 * No cluster, no GitHub, no database. The render is judged by the preflight's offline rules as a deploy judges it
 * (quotas with LimitRange defaults × replicas, Pod Security, protected namespaces) and its kinds by the bot's RBAC as
 * shipped (deploy/base/rbac.yaml); a refusal exits 1 naming the object, its file and what to set. It ends with a
 * summary on stderr: namespace, how full each quota will be, URL, objects by kind, what was rewritten or refused and
 * why, and what an offline render had to assume.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { describeError } from "../services/shared/format.js";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { CONFIG_PATH, parseConfig } from "../config.js";
import { loadEnv } from "../env.js";
import { guardedPreview } from "../services/preview/guardrails/guarded-preview.js";
import { guardrailSettings, resolveGuardrails } from "../services/preview/guardrails/namespace-guardrails.js";
import { redactedCredentialsSecret } from "../services/data/database-secret.js";
import { describeWith, originsOf, preflightOffline } from "../services/preview/preflight/offline.js";
import { askCluster, workstationCluster, type ClusterVerdict } from "./render-cluster.js";
import { readRbacRules } from "../services/preview/preflight/rbac-rules.js";
import { createLogger } from "../logger.js";
import { previewNamesFor } from "../services/preview/naming.js";
import { accessSettingsOf, pageSetup } from "../handlers/page/settings.js";
import { createRenderer, RenderError, toYaml, type RenderResult } from "../services/preview/render/index.js";
import { rendererSettings, renderWorkerFrom } from "../services/preview/render/settings.js";
import type { PreviewRef } from "../services/shared/preview.js";

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** The settings' variables (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

const RENDER_USAGE = `Usage: preview-bot render --dir <checkout> --pr <number> --branch <name> --sha <sha> [options]

Render a repository checkout the way preview-bot would for a pull request and print the YAML that would be
applied: the Namespace with its labels, preview-bot's guardrails (RoleBinding, ResourceQuota, LimitRange,
NetworkPolicy), then the repository's objects, then the database Secret (credentials redacted) when database.enabled;
what a deploy's preflight would refuse (a quota exceeded, Pod Security, a kind the bot's RBAC as shipped does not
grant) is refused here too; warnings and a summary go to stderr. Needs no cluster (--cluster asks one too); kustomize
overlays need kustomize (or kubectl), Helm charts need helm, on PATH. Bot settings (PREVIEW_MAX_REPLICAS,
PREVIEW_GATEWAY, PREVIEW_POD_SECURITY, PREVIEW_QUOTA_*, ...) are read from the environment, as the bot reads them.

Options:
  --dir <path>       repository checkout (at the PR's head commit)
  --pr <number>      pull request number
  --branch <name>    the PR's head branch name, as GitHub shows it
  --sha <sha>        the PR's head commit SHA (7 to 40 hex characters)
  --config <path>    preview config (default: <dir>/${CONFIG_PATH})
  --owner <owner>    repository owner (default: local)
  --repo <repo>      repository name (default: the basename of --dir)
  --cluster          also ask the cluster in KUBECONFIG (KUBE_CONTEXT), as that identity, nothing written: render
                     with its discovery (kind scopes, helm's Kubernetes version and API versions) and its Gateway,
                     as a deploy does; the preview Namespace dry-run, every object dry-run when the namespace exists
                     (else its kinds checked against the cluster's API discovery)
  -h, --help         show this help

Exit status: 0 rendered, 1 render failed, 2 bad arguments or invalid config.
`;

/** Run `preview-bot render <argv>`; returns the exit status. */
export async function runRenderCli(argv: string[], io: CliIo): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        dir: { type: "string" },
        pr: { type: "string" },
        branch: { type: "string" },
        sha: { type: "string" },
        config: { type: "string" },
        owner: { type: "string" },
        repo: { type: "string" },
        cluster: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.stderr.write(`preview-bot render: ${describeError(err)}\n\n${RENDER_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(RENDER_USAGE);
    return 0;
  }
  const str = (k: string): string | undefined => (typeof values[k] === "string" ? values[k] : undefined);
  const problems: string[] = [];
  const dir = str("dir");
  const branch = str("branch");
  const sha = str("sha");
  const prText = str("pr");
  if (!dir) problems.push("--dir is required");
  if (!branch) problems.push("--branch is required");
  if (!sha) problems.push("--sha is required");
  else if (!/^[0-9a-f]{7,40}$/i.test(sha)) problems.push(`--sha must be 7 to 40 hex characters, got "${sha}"`);
  const pr = prText !== undefined && /^\d{1,9}$/.test(prText) ? Number(prText) : NaN;
  if (prText === undefined) problems.push("--pr is required");
  else if (!(pr > 0)) problems.push(`--pr must be a positive integer, got "${prText}"`);
  if (problems.length > 0 || !dir || !branch || !sha) {
    io.stderr.write(`${problems.map((p) => `preview-bot render: ${p}`).join("\n")}\n\n${RENDER_USAGE}`);
    return 2;
  }

  const root = path.resolve(dir);
  const configPath = path.resolve(str("config") ?? path.join(root, CONFIG_PATH));
  let text: string;
  try {
    text = await readFile(configPath, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    io.stderr.write(
      `preview-bot render: cannot read ${configPath}: ${code === "ENOENT" ? "no such file (the repository is not enrolled)" : String(err)}\n`,
    );
    return 2;
  }
  const parsed = parseConfig(text, configPath);
  if (!parsed.ok) {
    io.stderr.write(
      `${configPath}: ${parsed.errors.length} problem${parsed.errors.length > 1 ? "s" : ""}\n${parsed.errors.map((e) => `${e}\n`).join("")}`,
    );
    return 2;
  }

  const ref: PreviewRef = {
    owner: str("owner") ?? "local",
    repo: str("repo") ?? path.basename(root),
    number: pr,
    branch,
    sha: sha.toLowerCase(),
  };
  const runDir = await mkdtemp(path.join(tmpdir(), "preview-render-"));
  try {
    const names = previewNamesFor(ref, parsed.config);
    const env = loadEnv(io.env);
    const logger = createLogger({ destination: process.stderr });
    const renderer = createRenderer({
      worker: renderWorkerFrom(env, logger),
      logger,
      toolPath: env.PATH,
      ...rendererSettings(env),
      access: accessSettingsOf(pageSetup(env)),
    });
    // --cluster: the render asks the cluster as a deploy's does (kind scopes and helm's Kubernetes version and API
    // versions from its discovery, the parent Gateway), and the dry runs below use the same identity.
    let cluster: ReturnType<typeof workstationCluster> | undefined;
    if (values.cluster === true) {
      try {
        cluster = workstationCluster(env, logger);
      } catch (err) {
        io.stderr.write(`preview-bot render: --cluster: reading KUBECONFIG: ${describeError(err)}\n`);
        return 1;
      }
    }
    // The bot decides an unset `access` by the repository's visibility, which a checkout does not know.
    if (!parsed.config.access)
      io.stderr.write(
        "note: access is not set: rendered as public; the bot renders a private repository's previews as access: github\n",
      );
    // The same isolated renderer the bot uses: this directory is the pull request's tree.
    const result = await renderer.render({
      source: { kind: "dir", dir: root },
      runDir,
      config: parsed.config,
      ref,
      names,
      ...(cluster ? { cluster } : {}),
      access: parsed.config.access ?? "public",
    });
    // What the bot itself applies first (the Namespace and the guardrails), then the render held inside them, then
    // the database Secret the deploy writes (its credentials redacted).
    const bounds = guardrailSettings(env);
    const guarded = guardedPreview(result.objects, names, parsed.config, bounds);
    const secret = parsed.config.database.enabled
      ? [redactedCredentialsSecret(names, parsed.config.database.secret)]
      : [];
    // The preflight's offline half, as a deploy runs it, plus the kinds against the RBAC as shipped.
    const origins = originsOf(result.objects, result.sources);
    const offline = preflightOffline({
      namespace: names.namespace,
      guardrails: guarded.guardrails.filter((o) => o.kind !== "Namespace"),
      objects: [...guarded.objects, ...secret],
      origins,
      settings: resolveGuardrails(bounds, parsed.config.guardrails).settings,
      bounds,
      protectedNamespaces: [...env.PROTECTED_NAMESPACES, ...parsed.config.protectedNamespaces],
      rbac: await readRbacRules(),
    });
    // --cluster: the server half, as the identity in KUBECONFIG (every refusal is listed with the offline ones).
    let server: ClusterVerdict = { problems: [], warnings: [], notes: [] };
    if (cluster) {
      try {
        server = await askCluster({
          cluster,
          namespace: guarded.guardrails.find((o) => o.kind === "Namespace")!,
          objects: [...guarded.guardrails.filter((o) => o.kind !== "Namespace"), ...guarded.objects, ...secret],
          describe: describeWith(origins),
        });
      } catch (err) {
        io.stderr.write(`preview-bot render: --cluster: asking the cluster in KUBECONFIG: ${describeError(err)}\n`);
        return 1;
      }
    }
    const warnings = [
      ...result.warnings,
      ...guarded.notes,
      ...guarded.rewrites,
      ...offline.warnings,
      ...server.warnings,
    ];
    for (const w of warnings) io.stderr.write(`warning: ${w}\n`);
    for (const n of server.notes) io.stderr.write(`note: ${n}\n`);
    const refused = [...new Set([...guarded.problems, ...offline.problems, ...server.problems])];
    if (refused.length > 0) {
      io.stderr.write(refused.map((p) => `preview-bot render: refused: ${p}\n`).join(""));
      return 1;
    }
    io.stdout.write(toYaml([...guarded.guardrails, ...guarded.objects, ...secret]));
    io.stderr.write(
      summary(
        names.namespace,
        { ...result, objects: guarded.objects, rewrites: [...result.rewrites, ...guarded.rewrites], warnings },
        guarded.summary,
        offline.usage,
      ),
    );
    return 0;
  } catch (err) {
    if (err instanceof RenderError) {
      if (err.problems.length > 1)
        io.stderr.write(
          `preview-bot render: refused, ${err.problems.length} problems:\n${err.problems.map((p) => `  ${p}\n`).join("")}`,
        );
      else io.stderr.write(`preview-bot render: ${err.message}\n`);
    } else io.stderr.write(`preview-bot render: unexpected error: ${describeError(err)}\n`);
    return 1;
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}

/** The closing summary: what a preview of this checkout gets (`guardrails`: what the bot holds it to). */
function summary(namespace: string, r: RenderResult, guardrails?: string, quotas: readonly string[] = []): string {
  const kinds = new Map<string, number>();
  for (const o of r.objects) kinds.set(o.kind, (kinds.get(o.kind) ?? 0) + 1);
  const lines = [
    "",
    `summary (${r.type}):`,
    `  namespace  ${namespace}`,
    ...(guardrails ? [`  guardrails ${guardrails}`] : []),
    ...quotas.map((q, i) => `  ${i === 0 ? "fits" : "    "}       ${q}`),
    `  URL        ${r.url ?? "none (no route.host or route.baseUrl)"}`,
    ...(r.extraUrls ?? []).map((x) => `             ${x.url} (${x.name})`),
    `  objects    ${r.objects.length}: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(", ") || "none"}`,
    ...r.rewrites.map((w, i) => `  ${i === 0 ? "rewritten" : "         "}  ${w}`),
    ...(r.rewrites.length ? [] : ["  rewritten  nothing"]),
    "  refused    nothing (a refusal fails the render with the reason)",
    `  warnings   ${r.warnings.length}`,
    ...r.hooks.map((h, i) => `  ${i === 0 ? "hooks" : "     "}      ${h}`),
    ...r.notes.map((n, i) => `  ${i === 0 ? "how" : "   "}        ${n}`),
  ];
  return `${lines.join("\n")}\n`;
}
