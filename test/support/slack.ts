/**
 * Signed Slack requests for tests: Slack's v0 signing scheme (HMAC-SHA256 of `v0:<timestamp>:<body>` with the
 * signing secret), form bodies for slash commands and interactions, and a loopback server to post them to.
 */
import { createHmac } from "node:crypto";
import { createServer, request, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export function signSlack(
  secret: string,
  body: string,
  timestampSec = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const signature = `v0=${createHmac("sha256", secret).update(`v0:${timestampSec}:${body}`).digest("hex")}`;
  return { "x-slack-signature": signature, "x-slack-request-timestamp": String(timestampSec) };
}

/** A slash command form body, with Slack's usual fields (override any). */
export function slashCommandBody(fields: Record<string, string>): string {
  return new URLSearchParams({
    token: "deprecated-verification-token",
    team_id: "T0TEAM",
    team_domain: "acme",
    channel_id: "C0CHAN",
    channel_name: "previews",
    user_id: "U0ALICE",
    user_name: "alice",
    command: "/preview",
    text: "",
    api_app_id: "A0APP",
    response_url: "https://hooks.slack.com/commands/T0TEAM/1/abc",
    trigger_id: "1.2.3",
    ...fields,
  }).toString();
}

/** A `block_actions` interaction for one button, as Slack sends it (form field `payload`). */
export function blockActionBody(opts: {
  userId: string;
  actionId: string;
  value: string;
  responseUrl?: string;
  channel?: string;
}): string {
  const payload = {
    type: "block_actions",
    team: { id: "T0TEAM", domain: "acme" },
    user: { id: opts.userId, username: "someone", team_id: "T0TEAM" },
    api_app_id: "A0APP",
    token: "deprecated-verification-token",
    container: {
      type: "message",
      message_ts: "1700000000.000100",
      channel_id: opts.channel ?? "C0CHAN",
      is_ephemeral: false,
    },
    trigger_id: "1.2.3",
    channel: { id: opts.channel ?? "C0CHAN", name: "previews" },
    message: { type: "message", ts: "1700000000.000100", text: "acme/web#42: ready" },
    ...(opts.responseUrl ? { response_url: opts.responseUrl } : {}),
    actions: [
      {
        type: "button",
        action_id: opts.actionId,
        block_id: "preview-actions",
        value: opts.value,
        text: { type: "plain_text", text: "x" },
        action_ts: "1700000001.0",
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export interface TestServer {
  url: string;
  close(): Promise<void>;
}

export async function listen(listener: RequestListener): Promise<TestServer> {
  const server: Server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** POST a form body to the server with the given headers (plain node:http, so nothing else is in the way). */
export function postForm(
  url: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          "content-length": Buffer.byteLength(body),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
