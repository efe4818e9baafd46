/**
 * GitHub Enterprise Server: with GHE_HOST set, every GitHub call — installation token, PR, config, tarball, check
 * run, deployment, comment — goes to that host's /api/v3, and none to api.github.com (nock refuses any other host).
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { startHarness, pull, prEvent, INSTALLATION, OWNER, REPO, type Harness } from "../support/e2e-bot.js";
import { fakeGitHub } from "../support/github-fake.js";

const SHA = "e".repeat(40);
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ env: { GHE_HOST: "ghe.example.test", GHE_PROTOCOL: "https", PREVIEW_DATABASE_URL: "" } });
});
afterAll(async () => h?.stop());

describe("GitHub Enterprise Server", () => {
  it("deploys with every API call on the enterprise host", async () => {
    const gh = fakeGitHub({
      owner: OWNER,
      repo: REPO,
      installationId: INSTALLATION,
      api: "https://ghe.example.test/api/v3",
      config: `manifests: { path: k8s }\nnames: { namespace: "ghe-{number}" }\n`,
    });
    const hosts: string[] = [];
    gh.scope.on("request", (req: Request) => hosts.push(new URL(req.url).host + new URL(req.url).pathname.slice(0, 7)));
    gh.state.pulls.set(61, pull({ number: 61, sha: SHA }));
    gh.state.tarballs.set(
      SHA,
      await h.tarball(SHA, {
        "k8s/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: app }\ndata: { a: b }\n",
      }),
    );
    expect(await h.send("pull_request", prEvent("opened", gh.state.pulls.get(61)!))).toBe(200);

    expect(gh.state.checkRuns.find((r) => r.head_sha === SHA)?.conclusion).toBe("success");
    expect(gh.sticky(61)).toHaveLength(1);
    expect(hosts.length).toBeGreaterThan(5);
    expect(new Set(hosts)).toEqual(new Set(["ghe.example.test/api/v3"]));
    expect(h.fake.get("v1", "ConfigMap", "ghe-61", "app")).toBeDefined();
  });
});
