/**
 * What an operator reads: every line a job logs carries the GitHub delivery id, the job id and the preview key, so
 * one deploy can be followed through the logs; and no secret (webhook secret, database passwords) appears anywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startHarness, pull, prEvent, INSTALLATION, OWNER, REPO, SECRET, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub } from "../support/github-fake.js";

const SHA = "5".repeat(40);
const lines: string[] = [];
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ logLines: lines });
});
afterAll(async () => h?.stop());

describe("logs of a deploy", () => {
  it("carry the delivery id and the preview key on every job line, and no secret", async () => {
    const gh = fakeGitHub({ owner: OWNER, repo: REPO, installationId: INSTALLATION, config: "manifests: { path: k8s }\nnames: { namespace: \"log-{number}\" }\ndatabase: { enabled: true }\n" });
    gh.state.pulls.set(41, pull({ number: 41, sha: SHA }));
    gh.state.tarballs.set(SHA, await h.tarball(SHA, { "k8s/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: app }\ndata: { a: b }\n" }));
    const delivery = crypto.randomUUID();
    expect(await h.send("pull_request", prEvent("opened", gh.state.pulls.get(41)!), delivery)).toBe(200);

    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const jobLines = parsed.filter((l) => ["runner", "cluster", "databases", "renderer"].includes(String(l.component)));
    expect(jobLines.length).toBeGreaterThan(3);
    for (const l of jobLines) expect(l).toMatchObject({ delivery, key: `${OWNER}/${REPO}#41` });

    const secret = h.fake.get("v1", "Secret", "log-41", "preview-database") as any;
    const password = Buffer.from(secret.data.PGPASSWORD, "base64").toString();
    const adminPassword = decodeURIComponent(new URL(process.env.TEST_PG_URL!).password);
    const all = lines.join("\n");
    for (const s of [password, adminPassword, SECRET]) expect(all).not.toContain(s);
  });
});
