/** Missed deliveries, against GitHub's REST API on nock: what is redelivered, what is not, and that it never throws. */
import { describe, expect, it } from "@jest/globals";
import nock from "nock";
import { createLogger } from "../../../src/logger.js";
import { MemoryScheduleLock } from "../../../src/services/jobs/schedule.js";
import { redeliverMissed } from "../../../src/services/github/redeliver.js";
import { GITHUB_API, testOctokit, useNock } from "../../support/github.js";

useNock();
const logger = createLogger({ level: "silent" });
const NOW = Date.parse("2026-11-20T12:00:00Z");
const octokit = testOctokit(); // app JWT or token: nock does not care, the calls are the same
const at = (minutesAgo: number) => new Date(NOW - minutesAgo * 60_000).toISOString();

let nextId = 1;
function delivery(guid: string, minutesAgo: number, status_code: number, extra: Record<string, unknown> = {}) {
  return {
    id: nextId++,
    guid,
    delivered_at: at(minutesAgo),
    redelivery: false,
    duration: 0.2,
    status: status_code >= 400 ? `Invalid HTTP Response: ${status_code}` : status_code === 0 ? "timed out" : "OK",
    status_code,
    event: "pull_request",
    action: "synchronize",
    installation_id: 2,
    repository_id: 1,
    ...extra,
  };
}

describe("redeliverMissed", () => {
  it("redelivers each delivery that never got through, once, following the cursor across pages", async () => {
    const page1 = [
      delivery("ok", 5, 200),
      delivery("failed-503", 10, 503),
      delivery("timed-out", 20, 0),
      delivery("failed-then-ok", 30, 200, { redelivery: true }),
    ];
    const page2 = [
      delivery("failed-then-ok", 31, 502),
      delivery("already-redelivered", 40, 500, { redelivery: true }),
      delivery("already-redelivered", 41, 500),
      delivery("too-old", 60 * 30, 500),
    ];
    const redelivered: string[] = [];
    const scope = nock(GITHUB_API)
      .get("/app/hook/deliveries")
      .query({ per_page: "100" })
      .reply(200, page1, { link: `<${GITHUB_API}/app/hook/deliveries?per_page=100&cursor=abc>; rel="next"` })
      .get("/app/hook/deliveries")
      .query({ per_page: "100", cursor: "abc" })
      .reply(200, page2)
      .post(/^\/app\/hook\/deliveries\/\d+\/attempts$/)
      .times(2)
      .reply((req: Request) => {
        redelivered.push(new URL(req.url).pathname.split("/")[4]!); // nock 15 hands reply functions the fetch Request
        return [202, "{}", { "content-type": "application/json" }];
      });

    const result = await redeliverMissed({ octokit, logger, now: () => NOW });

    expect(scope.isDone()).toBe(true);
    expect(result.redelivered.map((r) => r.guid).sort()).toEqual(["failed-503", "timed-out"]);
    expect(redelivered.sort()).toEqual([String(page1[1]!.id), String(page1[2]!.id)].sort());
    expect(result.skipped).toEqual([{ guid: "already-redelivered", reason: "already redelivered" }]);
    expect(result.failed).toBe(3);
    expect(result.errors).toEqual([]);
  });

  it("respects the per-run limit and a lock shared with other replicas", async () => {
    const lock = new MemoryScheduleLock();
    const deliveries = [delivery("a", 1, 500), delivery("b", 2, 500), delivery("c", 3, 500), delivery("d", 4, 500)];
    await lock.claim("redeliver:b", new Date(Date.parse(deliveries[1]!.delivered_at)).toISOString()); // another replica took b
    const scope = nock(GITHUB_API)
      .get("/app/hook/deliveries")
      .query(true)
      .reply(200, deliveries)
      .post(/attempts$/)
      .twice()
      .reply(202, {});
    const result = await redeliverMissed({ octokit, logger, now: () => NOW, lock, max: 2 });
    expect(scope.isDone()).toBe(true);
    expect(result.redelivered.map((r) => r.guid)).toEqual(["a", "c"]);
    expect(result.skipped).toEqual([
      { guid: "b", reason: "another replica redelivers it" },
      { guid: "d", reason: "over the limit of 2 redeliveries per run" },
    ]);
  });

  it("never throws: a failing listing or redelivery is reported in the result", async () => {
    nock(GITHUB_API).get("/app/hook/deliveries").query(true).reply(500, { message: "boom" });
    const listing = await redeliverMissed({ octokit, logger, now: () => NOW });
    expect(listing.errors[0]).toMatch(/listing the App's webhook deliveries/);

    nock(GITHUB_API)
      .get("/app/hook/deliveries")
      .query(true)
      .reply(200, [delivery("x", 1, 500)])
      .post(/attempts$/)
      .reply(422, { message: "Validation Failed" });
    const redelivery = await redeliverMissed({ octokit, logger, now: () => NOW });
    expect(redelivery.redelivered).toEqual([]);
    expect(redelivery.errors[0]).toMatch(/redelivering pull_request x/);
  });
});
