/**
 * Answers to a Slack user's request, after the request was acknowledged (a job's result: a backup's outcome, a
 * preview's status, a refusal). Ephemeral: through the request's `response_url` when it has one (valid 30 minutes,
 * works in DMs), else `chat.postEphemeral` in its channel. The text arrives as the GitHub-flavoured Markdown the
 * runner writes for PR comments and is turned into Slack mrkdwn (bold, links), escaped and redacted.
 */
import type { webApi } from "@slack/bolt";
import type { Logger } from "../../logger.js";
import type { SlackReplyTarget } from "../shared/dispatch.js";
import { escapeSlack, safeUrl } from "./slack-blocks.js";

/** GitHub Markdown → Slack mrkdwn: `**bold**` → `*bold*`, `[title](url)` → `<url|title>`, the rest escaped. */
function toMrkdwn(markdown: string): string {
  const links: string[] = [];
  const withoutLinks = markdown
    .replace(/[\uE000\uE001]/g, "")
    .replace(/\[([^\]\n]{1,200})\]\((https?:\/\/[^\s)]+)\)/g, (_m, title: string, url: string) => {
      const href = safeUrl(url);
      links.push(href ? `<${href}|${escapeSlack(title, 200).replace(/\|/g, "/")}>` : escapeSlack(title, 200));
      return `\uE000${links.length - 1}\uE001`; // private-use marks: escaping leaves them alone
    });
  return escapeSlack(withoutLinks, 3500)
    .replace(/\*\*([^*\n]+)\*\*/g, "*$1*")
    .replace(/\uE000(\d+)\uE001/g, (_m, i: string) => links[Number(i)] ?? "");
}

export interface SlackResponderOptions {
  client: webApi.WebClient;
  logger: Logger;
  fetchImpl?: typeof fetch;
}

/** Never throws: a Slack answer that cannot be delivered is logged. */
export function createSlackResponder(
  opts: SlackResponderOptions,
): (target: SlackReplyTarget, markdown: string) => Promise<void> {
  const log = opts.logger.child({ component: "slack-reply" });
  const fetchImpl = opts.fetchImpl ?? fetch;
  return async (target, markdown) => {
    const text = toMrkdwn(markdown);
    try {
      if (target.responseUrl && /^https:\/\/hooks\.slack\.com\//.test(target.responseUrl)) {
        const res = await fetchImpl(target.responseUrl, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ response_type: "ephemeral", replace_original: false, text }),
        });
        if (!res.ok) throw new Error(`Slack answered ${res.status} to the response_url`);
        return;
      }
      await opts.client.chat.postEphemeral({ channel: target.channel, user: target.user, text });
    } catch (err) {
      log.warn({ err, user: target.user }, "could not answer a Slack request");
    }
  };
}
