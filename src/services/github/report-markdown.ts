/**
 * A RunReport as GitHub Markdown: the check run's output and the sticky PR comment. Pure (no I/O, no clock).
 *
 * Everything that may come from a user (branch names, step details, errors, container logs, workload names) goes
 * through one of three helpers, each of which also runs `redactText`: `escapeMarkdown` (inline text: HTML and
 * Markdown punctuation escaped, @mentions defused, one line), `codeSpan` (inline code with a fence longer than any
 * backtick run in the text) and `codeBlock` (a fenced block, same rule). Nothing user-controlled is put in HTML.
 */
import { formatCost } from "../shared/cost.js";
import { formatSleepDuration } from "../shared/sleep.js";
import { formatDuration, shortDigest } from "../shared/format.js";
import { redactText } from "../../logger.js";
import { stateAfterRun } from "../shared/state.js";
import type { RunReport, RunState, StepRecord, StepStatus } from "../shared/run-report.js";

/** GitHub's limit for a check run's output.summary / output.text and for a comment body. */
export const GITHUB_TEXT_LIMIT = 65_535;

const STEP_EMOJI: Record<StepStatus, string> = {
  pending: "⏳",
  running: "🔄",
  success: "✅",
  failure: "❌",
  skipped: "⏭️",
};
const STATE_EMOJI: Record<RunState, string> = {
  queued: "⏳",
  in_progress: "🔄",
  success: "✅",
  failure: "❌",
  superseded: "⏭️",
  cancelled: "🚫",
};

/** The hidden marker that identifies the sticky comment of one preview. */
export function stickyMarker(key: string): string {
  // The key is owner/repo#number (GitHub-restricted characters), but never let it close the HTML comment.
  return `<!-- preview-bot:sticky ${key.replace(/--+>?|>/g, "")} -->`;
}

/** Inline text, safe anywhere in a Markdown line (including a table cell). */
export function escapeMarkdown(text: string): string {
  return redactText(text)
    .replace(/\s+/g, " ")
    .trim()
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/[\\`*_{}[\]()#+!|~]/g, "\\$&")
    .replace(/@(?=\w)/g, "@\u200b"); // no pings from a branch or a log line
}

function longestRun(text: string, ch: string): number {
  let max = 0;
  for (const m of text.matchAll(new RegExp(`\\${ch}+`, "g"))) max = Math.max(max, m[0].length);
  return max;
}

/** Inline code whose fence is longer than any backtick run inside (CommonMark code span rules). */
export function codeSpan(text: string): string {
  const body = redactText(text).replace(/\s+/g, " ");
  if (body.trim() === "") return "*(empty)*";
  const fence = "`".repeat(longestRun(body, "`") + 1);
  const pad = body.startsWith("`") || body.endsWith("`") || body.startsWith(" ") ? " " : "";
  return `${fence}${pad}${body}${pad}${fence}`;
}

/** A fenced code block whose fence is longer than any backtick run in the text. */
export function codeBlock(text: string, info = ""): string {
  const body = redactText(text).replace(/\r\n?/g, "\n").replace(/\n+$/, "");
  const fence = "`".repeat(Math.max(3, longestRun(body, "`") + 1));
  return `${fence}${info}\n${body}\n${fence}`;
}

/** Keep the head and the tail (reasons first, last log lines last), cutting the middle. */
export function truncateMiddle(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = `\n… ${text.length - max} characters cut …\n`;
  const room = Math.max(0, max - note.length);
  const head = Math.ceil(room / 2);
  return `${text.slice(0, head)}${note}${text.slice(text.length - (room - head))}`;
}

/** An http(s) URL usable as a Markdown link target, or undefined. */
function safeUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(redactText(url));
    if (u.protocol !== "https:" && u.protocol !== "http:") return undefined;
    return u.href.replace(/\(/g, "%28").replace(/\)/g, "%29");
  } catch {
    return undefined;
  }
}

function link(title: string, url: string | undefined): string {
  const href = safeUrl(url);
  return href ? `[${escapeMarkdown(title)}](${href})` : escapeMarkdown(title);
}

export function stepsTable(steps: StepRecord[]): string {
  if (steps.length === 0) return "";
  const rows = steps.map(
    (s) =>
      `| ${escapeMarkdown(s.name)} | ${STEP_EMOJI[s.status]} | ${s.durationMs === undefined ? "" : formatDuration(s.durationMs)} | ${s.detail ? escapeMarkdown(s.detail) : ""} |`,
  );
  return ["| Step | | Time | Detail |", "|---|---|---|---|", ...rows].join("\n");
}

export interface RenderOptions {
  /** Web base URL for commit links (`https://github.com`, or the GHES host). */
  serverUrl: string;
  /** Where the comment links for the run's details (the PR's checks tab: the same URL for every run). */
  checkRunUrl?: string;
}

function commitLink(report: RunReport, serverUrl: string): string {
  const { owner, repo, sha } = report.ref;
  const short = sha.slice(0, 7);
  if (!/^[0-9a-f]{7,64}$/i.test(sha)) return codeSpan(short);
  return `[${codeSpan(short)}](${safeUrl(`${serverUrl}/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/commit/${sha}`) ?? ""})`;
}

function facts(report: RunReport, opts: RenderOptions, withTrigger = true): string[] {
  const out: string[] = [];
  const url = safeUrl(report.url ?? report.names.url);
  if (url && report.kind === "deploy") {
    out.push(`- **URL:** ${url}`);
    for (const x of report.extraUrls ?? []) {
      const more = safeUrl(x.url);
      if (more) out.push(`- **URL ${codeSpan(x.name)}:** ${more}`);
    }
  }
  out.push(`- **Commit:** ${commitLink(report, opts.serverUrl)} on ${codeSpan(report.ref.branch)}`);
  out.push(`- **Namespace:** ${codeSpan(report.names.namespace)}`);
  if (report.database)
    out.push(`- **Database:** ${codeSpan(report.database.name)} (${escapeMarkdown(report.database.status)})`);
  if (report.images?.length && report.kind === "deploy") out.push(imagesFact(report.images));
  if (report.expiresAt)
    out.push(`- **Expires:** ${escapeMarkdown(report.expiresAt.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC"))}`);
  if (report.queue)
    out.push(
      `- **Queued:** position ${report.queue.position} of ${report.queue.of} — ${escapeMarkdown(report.queue.reason)}`,
    );
  if (report.kind === "deploy" && report.sleep?.asleepSince)
    out.push(
      `- **Sleep:** 😴 asleep since ${escapeMarkdown(utc(report.sleep.asleepSince))}; the next visit to its URL, a deploy or \`/preview wake\` wakes it`,
    );
  else if (report.kind === "deploy" && report.sleep?.afterMs)
    out.push(
      `- **Sleep:** awake; sleeps after ${escapeMarkdown(formatSleepDuration(report.sleep.afterMs))} without activity (\`/preview sleep\` now)`,
    );
  if (report.cost) out.push(`- **Cost so far:** ${escapeMarkdown(formatCost(report.cost))}`);
  if (withTrigger) out.push(`- **Triggered by:** ${escapeMarkdown(report.trigger)}`);
  return out;
}

const utc = (iso: string) => iso.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");
/** What runs, by digest: one line per image, the tag it was found by, and where it came from when not the PR's build. */
function imagesFact(images: NonNullable<RunReport["images"]>): string {
  const lines = images.slice(0, 20).map((i) => {
    const from = i.reusedFrom ? ` — reused from ${codeSpan(i.reusedFrom)}` : "";
    return `  - ${codeSpan(`${i.repository}:${i.tag}`)} @ ${codeSpan(shortDigest(i.digest))}${from}`;
  });
  if (images.length > 20) lines.push(`  - … and ${images.length - 20} more`);
  return [`- **Images:**`, ...lines].join("\n");
}

function headline(report: RunReport): string {
  if (report.kind === "deploy" && report.state === "success" && report.sleep?.asleepSince) return "😴 Preview asleep";
  const what = report.kind === "destroy" ? "Teardown" : "Preview";
  const words: Record<RunState, string> = {
    queued: `${what} queued`,
    in_progress: report.kind === "destroy" ? "Removing preview…" : "Deploying preview…",
    success: report.kind === "destroy" ? "Preview removed" : "Preview ready",
    failure: `${what} failed`,
    superseded: `${what} superseded`,
    cancelled: `${what} cancelled`,
  };
  return `${STATE_EMOJI[report.state]} ${words[report.state]}`;
}

const REFUSALS_SHOWN = 50;

/** The preflight's verdict when it refused the deploy: each refusal (object, file, what to set) as a list item. */
function refusalsMarkdown(report: RunReport): string {
  const all = report.refusals ?? [];
  if (all.length === 0) return "";
  const items = all.slice(0, REFUSALS_SHOWN).map((r) => `- ❌ ${escapeMarkdown(truncateMiddle(r, 1_000))}`);
  if (all.length > REFUSALS_SHOWN) items.push(`- … ${all.length - REFUSALS_SHOWN} more`);
  return [
    `**The preflight refused the deploy (${all.length === 1 ? "1 problem" : `${all.length} problems`}); nothing of the pull request was applied:**`,
    ...items,
  ].join("\n");
}

/** Per-workload diagnosis as fenced blocks, within `budget` characters in all (the refusals, when the preflight refused). */
function diagnosisMarkdown(report: RunReport, budget: number): string {
  const sick = (report.workloads ?? []).filter((w) => !w.ready);
  const parts: string[] = [];
  // Redact before cutting: redaction can lengthen text, and the budget is for what is sent.
  if (report.refusals?.length) parts.push(refusalsMarkdown(report));
  else if (report.error) parts.push(`**Error**\n\n${codeBlock(truncateMiddle(redactText(report.error), 4_000))}`);
  const each = Math.max(500, Math.floor((budget - parts.join("").length) / Math.max(1, sick.length)) - 200);
  for (const w of sick) {
    const head = `**${escapeMarkdown(w.kind)} ${codeSpan(w.name)}** — ${escapeMarkdown(w.summary)}`;
    parts.push(w.diagnosis ? `${head}\n\n${codeBlock(truncateMiddle(redactText(w.diagnosis), each))}` : head);
  }
  const out = parts.join("\n\n");
  return out.length <= budget ? out : codeBlock(truncateMiddle(out.replace(/`/g, "'"), budget - 20));
}

export interface CheckRunOutput {
  title: string;
  summary: string;
  text?: string;
}

/** Output of the `preview` check run: title, summary (status, steps, facts), text (diagnosis, objects). */
export function renderCheckRunOutput(report: RunReport, opts: RenderOptions): CheckRunOutput {
  const title = truncateMiddle(redactText(report.summary).replace(/\s+/g, " ").trim() || headline(report), 200);
  const failing = (report.workloads ?? [])
    .filter((w) => !w.ready)
    .map((w) => `- ❌ ${escapeMarkdown(w.kind)} ${codeSpan(w.name)} — ${escapeMarkdown(w.summary)}`)
    .join("\n");
  const refused = refusalsMarkdown(report);
  const summary = [
    `### ${headline(report)}`,
    escapeMarkdown(report.summary),
    failing,
    refused,
    stepsTable(report.steps),
    facts(report, opts).join("\n"),
  ]
    .filter(Boolean)
    .join("\n\n");
  const textParts: string[] = [];
  const objects = [
    report.applied?.length
      ? `**Applied (${report.applied.length})**\n\n${codeBlock(truncateMiddle(report.applied.join("\n"), 8_000))}`
      : "",
    report.pruned?.length
      ? `**Pruned (${report.pruned.length})**\n\n${codeBlock(truncateMiddle(report.pruned.join("\n"), 4_000))}`
      : "",
  ].filter(Boolean);
  const reserve = objects.join("\n\n").length + 100;
  // The refusals are in the summary already; the text keeps the error itself (with its causes) for the record.
  const diagnosis = diagnosisMarkdown({ ...report, refusals: [] }, GITHUB_TEXT_LIMIT - reserve);
  if (diagnosis) textParts.push(diagnosis);
  textParts.push(...objects);
  const text = textParts.join("\n\n");
  return { title, summary: summary.slice(0, GITHUB_TEXT_LIMIT), ...(text ? { text } : {}) };
}

const COMMANDS = [
  ["/preview redeploy", "deploy again from the current head commit"],
  ["/preview destroy", "tear the preview down now"],
  ["/preview status", "show this preview's state"],
  ["/preview extend 3d", "keep it alive longer (30m, 12h, 3d, 1w)"],
  ["/preview help", "all commands"],
] as const;

function commandsBlock(): string {
  return [
    "<details><summary>Commands</summary>",
    "",
    ...COMMANDS.map(([c, what]) => `- \`${c}\` — ${what}`),
    "",
    "</details>",
  ].join("\n");
}

/**
 * The sticky PR comment for a deploy or destroy run. It describes the preview, not the run: a healthy deploy shows
 * no step timings and no trigger (those are in the check run), so redeploying an unchanged preview renders the same
 * text and the comment is not edited. Failures keep their steps and diagnosis.
 */
export function renderComment(report: RunReport, opts: RenderOptions): string {
  // The preview's state (the vocabulary the directory, the sweeper and Slack read too), not the run's.
  const state = stateAfterRun(report);
  const removed = state === "destroyed";
  const healthy = state === "ready";
  const lines: string[] = [
    stickyMarker(report.names.key),
    `### ${headline(report)}`,
    "",
    escapeMarkdown(report.summary),
    "",
  ];
  if (removed) {
    const gone = [`- namespace ${codeSpan(report.names.namespace)}`];
    if (report.database)
      gone.push(`- database ${codeSpan(report.database.name)} (${escapeMarkdown(report.database.status)})`);
    gone.push(`- deployment environment ${codeSpan(report.names.environment)} (marked inactive)`);
    lines.push("Removed:", "", ...gone, "", `Triggered by ${escapeMarkdown(report.trigger)}.`, "");
  } else {
    lines.push(...facts(report, opts, !healthy), "");
  }
  const table = healthy ? "" : stepsTable(report.steps);
  if (table) lines.push(table, "");
  const links = [
    ...(report.links ?? []).map((l) => link(l.title, l.url)),
    ...(report.pageUrl ? [link("Last deploy and logs", report.pageUrl)] : []),
    ...(opts.checkRunUrl ? [link("Checks", opts.checkRunUrl)] : []),
  ];
  if (links.length && !removed) lines.push(`**Links:** ${links.join(" · ")}`, "");
  if (report.state === "failure") {
    const diagnosis = diagnosisMarkdown(report, 40_000);
    if (diagnosis) lines.push("<details><summary>Failure diagnosis</summary>", "", diagnosis, "", "</details>", "");
  }
  lines.push(removed ? "Comment `/preview deploy` to create it again." : commandsBlock());
  return lines.join("\n");
}
