/**
 * Block Kit for a preview: the thread parent the notifier posts and the `/preview status` answer. Every piece of
 * text that came from outside (PR title, branch, failure reason) is redacted, escaped for mrkdwn and capped.
 *
 * Button values are the equivalent slash-command text (`redeploy acme/web#42`), so the action handler parses them
 * with the same strict `parseSlash` as typed commands: a forged payload gets no further than a typed command would.
 */
import type { types } from "@slack/bolt";
import { BUTTON_ACTIONS } from "../../actions.js";
import { redactText } from "../../logger.js";
import { formatCost } from "../shared/cost.js";
import type { PreviewSummary } from "../shared/dispatch.js";
import type { RunReport } from "../shared/run-report.js";
import { stateAfterRun, type PreviewState } from "../shared/state.js";

type KnownBlock = types.KnownBlock;
type Button = types.Button;

export const ACTION_OPEN = "preview:open";
const ACTION_REDEPLOY = "preview:redeploy";
const ACTION_DESTROY = "preview:destroy";
const ACTION_EXTEND = "preview:extend";
const ACTION_SLEEP = "preview:sleep";
const ACTION_WAKE = "preview:wake";
/** The button that confirms a fork PR's deploy of exactly the commit it names. */
export const ACTION_CONFIRM_DEPLOY = "preview:deploy";
/** Matches the action ids the Slack app handles: one per button action of the table (open is a URL button). */
export const ACTION_PATTERN = new RegExp(`^preview:(${BUTTON_ACTIONS.join("|")})$`);

/** Slack mrkdwn control characters escaped, secrets redacted, length capped. */
export function escapeSlack(text: string, max = 300): string {
  // eslint-disable-next-line no-control-regex -- removing control characters (but tab and newline) is the point
  const clean = redactText(text).replace(/[\u0000-\u0008\u000B-\u001F\u007F\u202A-\u202E\u2066-\u2069]/g, "");
  const cut = clean.length > max ? `${clean.slice(0, max)}…` : clean;
  return cut.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** An http(s) URL safe to put inside `<url|label>` (no `|`, `<`, `>` or whitespace), else undefined. */
export function safeUrl(url: string | undefined): string | undefined {
  if (!url || url.length > 2000 || !/^https?:\/\/[^\s|<>]+$/i.test(url)) return undefined;
  return url;
}

const STATE_ICON: Record<PreviewState, string> = {
  queued: ":hourglass_flowing_sand:",
  deploying: ":rocket:",
  ready: ":white_check_mark:",
  failed: ":x:",
  destroying: ":wastebasket:",
  destroyed: ":heavy_minus_sign:",
  superseded: ":fast_forward:",
  unknown: ":grey_question:",
};

/** One-line plain summary (notification text and fallback for clients without blocks). */
export function previewText(summary: PreviewSummary): string {
  const url = safeUrl(summary.url);
  const line = summary.queue ? ` (position ${summary.queue.position} of ${summary.queue.of})` : "";
  return escapeSlack(`${summary.key}: ${summary.state}${line}${url ? ` — ${url}` : ""}`, 500);
}

/** A short mrkdwn line for lists. */
export function previewLine(summary: PreviewSummary): string {
  const pr = safeUrl(summary.prUrl);
  const key = escapeSlack(summary.key, 150);
  const url = safeUrl(summary.url);
  const expires = summary.expiresAt ? ` · expires ${escapeSlack(summary.expiresAt, 40)}` : "";
  const line = summary.queue ? ` (position ${summary.queue.position} of ${summary.queue.of})` : "";
  const page = safeUrl(summary.pageUrl);
  return `${STATE_ICON[summary.state]} ${pr ? `<${pr}|${key}>` : key} *${summary.state}*${line}${url ? ` <${url}|open>` : ""}${page ? ` · <${page}|details and logs>` : ""}${expires}`;
}

export function previewBlocks(summary: PreviewSummary, opts: { extendBy?: string } = {}): KnownBlock[] {
  const title = summary.title ? ` — ${escapeSlack(summary.title, 150)}` : "";
  const fields: string[] = [`*State*\n${STATE_ICON[summary.state]} ${summary.state}`];
  const url = safeUrl(summary.url);
  if (url) fields.push(`*URL*\n<${url}>`);
  // Further URLs in one field (a section takes at most 10): `<url|name>` each.
  const more = (summary.extraUrls ?? []).flatMap((x) => {
    const u = safeUrl(x.url);
    return u ? [`<${u}|${escapeSlack(x.name, 40).replace(/[|<>]/g, "")}>`] : [];
  });
  if (more.length) fields.push(`*More URLs*\n${more.join(" · ")}`);
  if (summary.branch) fields.push(`*Branch*\n\`${escapeSlack(summary.branch, 100).replace(/`/g, "'")}\``);
  if (summary.sha) fields.push(`*Commit*\n\`${escapeSlack(summary.sha.slice(0, 7), 7)}\``);
  if (summary.expiresAt) fields.push(`*Expires*\n${escapeSlack(summary.expiresAt, 40)}`);
  if (summary.queue)
    fields.push(
      `*Queued*\nposition ${summary.queue.position} of ${summary.queue.of}: ${escapeSlack(summary.queue.reason, 200)}`,
    );
  if (summary.asleepSince) fields.push(`*Sleep*\n:zzz: asleep since ${escapeSlack(summary.asleepSince, 40)}`);
  if (summary.cost) fields.push(`*Cost so far*\n${escapeSlack(summary.cost, 120)}`);
  const page = safeUrl(summary.pageUrl);
  if (page) fields.push(`*Details*\n<${page}|last deploy and logs>`);
  const blocks: KnownBlock[] = [
    {
      type: "section",
      text: {
        type: "mrkdwn",
        text: `${previewLine({ ...summary, url: undefined, expiresAt: undefined, pageUrl: undefined })}${title}`,
      },
    },
    { type: "section", fields: fields.map((text) => ({ type: "mrkdwn" as const, text })) },
  ];
  if (summary.state === "failed" && summary.reason) {
    blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: escapeSlack(summary.reason, 500) }] });
  }
  const buttons = previewButtons(summary, opts.extendBy ?? "3d");
  if (buttons.length) blocks.push({ type: "actions", block_id: "preview-actions", elements: buttons });
  return blocks;
}

function previewButtons(summary: PreviewSummary, extendBy: string): Button[] {
  const target = `${summary.owner}/${summary.repo}#${summary.number}`;
  const buttons: Button[] = [];
  const url = safeUrl(summary.url);
  if (url && summary.state === "ready")
    buttons.push({ type: "button", action_id: ACTION_OPEN, text: { type: "plain_text", text: "Open preview" }, url });
  buttons.push({
    type: "button",
    action_id: ACTION_REDEPLOY,
    text: { type: "plain_text", text: summary.state === "destroyed" ? "Deploy again" : "Redeploy" },
    value: `redeploy ${target}`,
  });
  if (summary.state === "destroyed") return buttons;
  buttons.push({
    type: "button",
    action_id: ACTION_DESTROY,
    style: "danger",
    text: { type: "plain_text", text: "Destroy" },
    value: `destroy ${target}`,
    confirm: {
      title: { type: "plain_text", text: "Destroy preview?" },
      text: {
        type: "mrkdwn",
        text: `This deletes the preview environment and database of *${escapeSlack(target, 150)}*.`,
      },
      confirm: { type: "plain_text", text: "Destroy" },
      deny: { type: "plain_text", text: "Cancel" },
      style: "danger",
    },
  });
  if (summary.state === "ready")
    buttons.push(
      summary.asleepSince
        ? {
            type: "button",
            action_id: ACTION_WAKE,
            text: { type: "plain_text", text: "Wake" },
            value: `wake ${target}`,
          }
        : {
            type: "button",
            action_id: ACTION_SLEEP,
            text: { type: "plain_text", text: "Sleep" },
            value: `sleep ${target}`,
          },
    );
  buttons.push({
    type: "button",
    action_id: ACTION_EXTEND,
    text: { type: "plain_text", text: `Extend ${extendBy}` },
    value: `extend ${target} ${extendBy}`,
  });
  return buttons;
}

/** A finished or queued run as the preview summary Slack shows (state in the preview vocabulary). */
export function summaryOfRun(report: RunReport): PreviewSummary {
  const { ref, names } = report;
  return {
    key: names.key,
    owner: ref.owner,
    repo: ref.repo,
    number: ref.number,
    state: stateAfterRun(report),
    namespace: names.namespace,
    ...(report.url ? { url: report.url } : {}),
    ...(report.extraUrls?.length ? { extraUrls: report.extraUrls } : {}),
    ...(ref.sha ? { sha: ref.sha } : {}),
    ...(report.queue ? { queue: report.queue } : {}),
    ...(report.sleep?.asleepSince ? { asleepSince: report.sleep.asleepSince } : {}),
    ...(report.cost ? { cost: formatCost(report.cost) } : {}),
    ...(report.pageUrl ? { pageUrl: report.pageUrl } : {}),
  };
}

const MAX_DETAIL = 2800;

/** A reply in a PR's thread: one line, and the detail (steps, diagnosis; its tail kept) in a code block. */
export function replyText(line: string, detail?: string): string {
  const text = escapeSlack(line, 500);
  if (!detail) return text;
  const clean = redactText(detail).replace(/```/g, "'''");
  const cut = clean.length > MAX_DETAIL ? `…${clean.slice(-MAX_DETAIL)}` : clean;
  return `${text}\n\`\`\`${escapeSlack(cut, MAX_DETAIL + 1)}\`\`\``;
}
