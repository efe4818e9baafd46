/**
 * The Slack door: `/preview` slash command and the buttons on notifier messages, through Bolt's HTTPReceiver on
 * `/slack/events`. The caller mounts `requestListener` on the shared server; `app.start()` is never called.
 *
 * Every request is `ack()`ed first (Slack wants an answer within 3 s; help and parse errors are the ack itself),
 * then SlackCommands (slack-commands.ts) answers ephemerally: who the Slack user is on GitHub, whether the
 * repository's policy lets them, and the dispatch. A job's result (a backup, a status, a refusal) comes back to Slack
 * through the job's `slack` target, not to the pull request.
 */
import type { RequestListener } from "node:http";
import { App, HTTPReceiver, LogLevel, type Logger as BoltLogger, type RespondFn, type webApi } from "@slack/bolt";
import { BUTTON_ACTIONS } from "../actions.js";
import { parseSlash } from "../intake/parse.js";
import type { Logger } from "../logger.js";
import { ACTION_OPEN, ACTION_PATTERN } from "../services/chat/slack-blocks.js";
import { SlackCommands, type Caller, type Say, type SlackCommandsOptions } from "./slack-commands.js";

export interface SlackAppOptions extends SlackCommandsOptions {
  signingSecret: string;
  botToken: string;
  /** Give both to skip Bolt's `auth.test` call (see DEPENDENCIES.md); otherwise it is made on the first request. */
  botId?: string;
  botUserId?: string;
  logger: Logger;
  clientOptions?: webApi.WebClientOptions;
  /** The slash command as configured in the Slack app (default `/preview`). */
  command?: string;
}

export interface SlackApp {
  app: App;
  requestListener: RequestListener;
}

export function createSlackApp(opts: SlackAppOptions): SlackApp {
  const log = opts.logger.child({ component: "slack" });
  const boltLogger = toBoltLogger(log);
  const receiver = new HTTPReceiver({
    signingSecret: opts.signingSecret,
    endpoints: "/slack/events",
    logger: boltLogger,
  });
  const app = new App({
    token: opts.botToken,
    receiver,
    logger: boltLogger,
    ...(opts.botId && opts.botUserId
      ? { botId: opts.botId, botUserId: opts.botUserId }
      : { tokenVerificationEnabled: false }),
    ...(opts.clientOptions ? { clientOptions: opts.clientOptions } : {}),
  });
  const commands = new SlackCommands(opts, log);
  const sayVia =
    (respond: RespondFn | undefined, caller: Caller): Say =>
    async (text, blocks) => {
      try {
        if (respond)
          await respond({ response_type: "ephemeral", replace_original: false, text, ...(blocks ? { blocks } : {}) });
        else
          await app.client.chat.postEphemeral({
            channel: caller.channel,
            user: caller.userId,
            text,
            ...(blocks ? { blocks } : {}),
          });
      } catch (err) {
        log.warn({ err, user: caller.userId }, "could not answer in Slack");
      }
    };

  app.command(opts.command ?? "/preview", async ({ command, ack, respond }) => {
    const parsed = parseSlash(command.text);
    if (parsed.type !== "command") {
      await ack(parsed.type === "reply" ? { response_type: "ephemeral", text: parsed.text } : undefined);
      return;
    }
    await ack();
    const caller: Caller = { userId: command.user_id, channel: command.channel_id, responseUrl: command.response_url };
    await commands.handle(parsed.command, caller, sayVia(respond, caller));
  });

  app.action(ACTION_OPEN, async ({ ack }) => {
    await ack();
  });

  app.action(ACTION_PATTERN, async ({ ack, body, action, respond }) => {
    await ack();
    const caller: Caller = {
      userId: body.user.id,
      channel: body.channel?.id ?? "",
      ...("response_url" in body && typeof body.response_url === "string" ? { responseUrl: body.response_url } : {}),
    };
    const say = sayVia(respond, caller);
    const parsed = action.type === "button" && action.value ? parseSlash(action.value) : undefined;
    // A button does what its id says (one per button action of the table), and its value must say the same.
    const named = ("action_id" in action ? action.action_id : "").replace(/^preview:/, "");
    if (parsed?.type !== "command" || parsed.command.name !== named || !BUTTON_ACTIONS.includes(named)) {
      log.warn({ actionType: action.type, user: caller.userId }, "ignoring a preview button with an unexpected value");
      return say("Sorry, I could not read that button.");
    }
    await commands.handle(parsed.command, caller, say);
  });

  app.error(async (err) => {
    log.error({ err }, "Slack listener failed");
  });

  return { app, requestListener: receiver.requestListener };
}

/** Bolt's logger interface on top of our pino logger (so its lines are redacted like ours). */
function toBoltLogger(log: Logger): BoltLogger {
  const text = (msg: unknown[]) =>
    msg.map((m) => (typeof m === "string" ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(" ");
  return {
    debug: (...msg: unknown[]) => log.debug(text(msg)),
    info: (...msg: unknown[]) => log.info(text(msg)),
    warn: (...msg: unknown[]) => log.warn(text(msg)),
    error: (...msg: unknown[]) => log.error(text(msg)),
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: () => undefined,
  };
}
