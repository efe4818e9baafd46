/**
 * What an operator reads, and what the world sees: every line a job logs carries the GitHub delivery id, the job id
 * and the preview key, so one deploy can be followed through the logs; and no secret appears in any log line,
 * comment, check run or Slack message — also where one really turns up: the preview database's password in a pod's
 * log tail, a token in a kustomize error, the App's private key quoted in an exception from the Kubernetes API.
 * Each case first checks that the text around the secret did arrive, so the test fails if redaction is turned off.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import nock from "nock";
import {
  startHarness,
  pull,
  prEvent,
  webApp,
  INSTALLATION,
  OWNER,
  REPO,
  SECRET,
  type Harness,
} from "../support/e2e-bot.js";
import { fakeGitHub } from "../support/github-fake.js";
import { testPrivateKey } from "../support/github.js";
import { describeWithTools } from "../support/tools.js";

const DEADLINE = 120_000; // a few seconds on an idle machine
const SLACK_TOKEN = "xoxb-test-0000000000-logging";
const lines: string[] = [];
const slack: string[] = [];
let h: Harness;
let gh: ReturnType<typeof fakeGitHub>;

let ts = 1000;
/** A fresh fake GitHub enrolled with `config` (interceptors of the previous one cleared), and Slack. */
function enroll(config: string): void {
  nock.cleanAll();
  gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config });
  nock("https://slack.com")
    .persist()
    .post(/^\/api\/chat\.(postMessage|update)$/)
    .reply(async (req: Request) => {
      const body = await req.text();
      slack.push(body);
      return [
        200,
        JSON.stringify({ ok: true, channel: "C0LOGS", ts: `${++ts}.0001` }),
        { "content-type": "application/json" },
      ];
    });
}

beforeAll(async () => {
  h = await startHarness({ logLines: lines, env: { SLACK_BOT_TOKEN: SLACK_TOKEN, SLACK_DEFAULT_CHANNEL: "C0LOGS" } });
}, DEADLINE);
afterAll(async () => h?.stop());

/** Everything the bot wrote anywhere: log lines, GitHub writes (comments, check runs, statuses), Slack messages. */
function everything(): string {
  return [
    ...lines,
    ...gh.state.writes.map((w) => JSON.stringify(w.body)),
    ...gh.state.comments.map((c) => c.body),
    ...slack.map((b) => decodeURIComponent(b)),
  ].join("\n");
}

async function deploy(number: number, sha: string, config: string, files: Record<string, string>) {
  enroll(config);
  gh.state.pulls.set(number, pull({ number, sha }));
  gh.state.tarballs.set(sha, await h.tarball(sha, files));
  expect(await h.send("pull_request", prEvent("opened", gh.state.pulls.get(number)!))).toBe(200);
  return gh.state.checkRuns.filter((r) => r.name === "preview" && r.head_sha === sha).at(-1)!;
}

describe("logs of a deploy", () => {
  it(
    "carry the delivery id and the preview key on every job line, and no secret",
    async () => {
      const sha = "5".repeat(40);
      enroll('manifests: { path: k8s }\nnames: { namespace: "log-{number}" }\ndatabase: { enabled: true }\n');
      gh.state.pulls.set(41, pull({ number: 41, sha }));
      gh.state.tarballs.set(
        sha,
        await h.tarball(sha, {
          "k8s/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: app }\ndata: { a: b }\n",
        }),
      );
      const delivery = crypto.randomUUID();
      expect(await h.send("pull_request", prEvent("opened", gh.state.pulls.get(41)!), delivery)).toBe(200);

      const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const jobLines = parsed.filter((l) =>
        ["runner", "cluster", "databases", "renderer"].includes(String(l.component)),
      );
      expect(jobLines.length).toBeGreaterThan(3);
      for (const l of jobLines) expect(l).toMatchObject({ delivery, key: `${OWNER}/${REPO}#41` });

      const secret = h.fake.get("v1", "Secret", "log-41", "preview-database") as any;
      const password = Buffer.from(secret.data.PGPASSWORD, "base64").toString();
      const adminPassword = decodeURIComponent(new URL(process.env.TEST_PG_URL!).password);
      const all = everything();
      for (const s of [
        password,
        adminPassword,
        SECRET,
        SLACK_TOKEN,
        ...testPrivateKey()
          .split("\n")
          .filter((l) => l.length > 20),
      ])
        expect(all).not.toContain(s);
    },
    DEADLINE,
  );
});

describe("secrets where they really turn up", () => {
  it(
    "the preview database's password in the log tail of a crashing pod",
    async () => {
      let password = "";
      h.fake.setWorkloadBehaviour((obj) => {
        const secret = h.fake.get("v1", "Secret", obj.metadata.namespace, "preview-database") as any;
        password = Buffer.from(secret.data.PGPASSWORD, "base64").toString();
        return {
          fail: "CrashLoopBackOff",
          log: `booting\nconnecting to the database as leak_42_app using ${password}\nFATAL: the server closed the connection`,
        };
      });
      try {
        const run = await deploy(
          42,
          "6".repeat(40),
          'manifests: { path: k8s }\nnames: { namespace: "leak-{number}" }\ndatabase: { enabled: true }\n',
          { "k8s/web.yaml": webApp({ image: "ghcr.io/o/web:1" }) },
        );
        expect(run.conclusion).toBe("failure");
        expect(password.length).toBeGreaterThan(20);
        const output = JSON.stringify(run.output);
        expect(output).toContain("connecting to the database as leak_42_app using [REDACTED]"); // the tail is shown …
        expect(gh.sticky(42)[0]!.body).toContain("using [REDACTED]");
        expect(everything()).not.toContain(password); // … without the password, anywhere
      } finally {
        h.fake.setWorkloadBehaviour(() => "ready");
      }
    },
    DEADLINE,
  );

  it(
    "the App's private key, quoted by the Kubernetes API in the error that refuses an object",
    async () => {
      const key = testPrivateKey();
      const label = key
        .split("\n")
        .map((l) => `      ${l}`)
        .join("\n");
      const configMap = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cert\n  labels:\n    cert: |\n${label}\ndata: { a: b }\n`;
      const run = await deploy(
        43,
        "7".repeat(40),
        'manifests: { path: k8s }\nnames: { namespace: "leak-{number}" }\n',
        { "k8s/cm.yaml": configMap },
      );
      expect(run.conclusion).toBe("failure");
      expect(JSON.stringify(run.output)).toMatch(/Invalid value: .*\[REDACTED PRIVATE KEY\]/); // the API's error is shown …
      const all = everything();
      for (const line of key.split("\n").filter((l) => l.length > 20)) expect(all).not.toContain(line); // … without the key
    },
    DEADLINE,
  );
});

describeWithTools(["kustomize"], "a token in a kustomize error", () => {
  it(
    "is shown redacted in the check run, the comment and Slack, and never logged",
    async () => {
      const token = "ghp_Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2";
      const run = await deploy(
        44,
        "8".repeat(40),
        'manifests: { path: k8s }\nnames: { namespace: "leak-{number}" }\n',
        {
          "k8s/kustomization.yaml": `resources: [cm.yaml]\nsecretGenerator:\n  - name: deploy\n    literals: ["DEPLOY_TOKEN:${token}"]\n`,
          "k8s/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: app }\ndata: { a: b }\n",
        },
      );
      expect(run.conclusion).toBe("failure");
      expect(JSON.stringify(run.output)).toContain("invalid literal source DEPLOY_TOKEN:[REDACTED]"); // kustomize's own error …
      expect(everything()).not.toContain(token); // … without the token
    },
    DEADLINE,
  );
});
