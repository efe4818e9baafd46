/** Cost per preview: requests × prices for the time awake, OpenCost's allocation by namespace, and how it reads. */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createServer, type Server } from "node:http";
import { createLogger } from "../../../../src/logger.js";
import { formatCost } from "../../../../src/services/shared/cost.js";
import { estimateCost, previewCost, requestedResources } from "../../../../src/services/preview/sleep/cost.js";
import { openCostSource } from "../../../../src/services/preview/sleep/opencost.js";
import { sleepAfterMs } from "../../../../src/services/preview/sleep/sleep-commands.js";
import type { SleepControl } from "../../../../src/services/shared/sleep.js";

const logger = createLogger({ level: "silent" });
const H = 3_600_000;
const NOW = Date.parse("2026-12-01T12:00:00Z");
const control = (requests: Awaited<ReturnType<SleepControl["requests"]>>) =>
  ({ requests: async () => requests }) as unknown as SleepControl;

describe("requests × prices", () => {
  it("sums requests over replicas (asleep: the recorded ones), skipping what is not a quantity", () => {
    expect(
      requestedResources([
        { workload: 'Deployment "web"', replicas: 2, containers: [{ cpu: "500m", memory: "512Mi" }, { cpu: "250m" }] },
        { workload: 'StatefulSet "db"', replicas: 1, containers: [{ cpu: "1", memory: "1Gi" }, { cpu: "lots" }] },
      ]),
    ).toEqual({ cores: 2.5, gib: 2 });
  });

  it("prices the time awake only", () => {
    expect(estimateCost({ cores: 2, gib: 4 }, { cpuHour: 0.05, memoryGibHour: 0.01 }, 10 * H)).toBeCloseTo(1.4, 10);
  });

  it("a preview asleep half its life costs half", async () => {
    const ns = {
      name: "web-pr-1",
      createdAt: new Date(NOW - 20 * H).toISOString(),
      annotations: {
        "preview-bot.dev/asleep-ms": String(6 * H),
        "preview-bot.dev/asleep-since": new Date(NOW - 4 * H).toISOString(),
      },
    };
    const c = await previewCost(
      {
        settings: { cpuHour: 0.1, memoryGibHour: 0, currency: "EUR" },
        control: control([{ workload: "w", replicas: 1, containers: [{ cpu: "1" }] }]),
        logger,
      },
      ns,
      NOW,
    );
    expect(c).toEqual({
      amount: expect.closeTo(1.0, 10),
      currency: "EUR",
      source: "estimate",
      lifeMs: 20 * H,
      asleepShare: 0.5,
    });
    expect(formatCost(c!)).toBe("≈ 1.00 EUR (estimate from requests × prices; asleep 50 % of its 20.0 h)");
  });

  it("without prices or OpenCost there is no figure", async () => {
    const ns = { name: "x", createdAt: new Date(NOW - H).toISOString(), annotations: {} };
    expect(await previewCost({ settings: { currency: "USD" }, control: control([]), logger }, ns, NOW)).toBeUndefined();
  });
});

describe("OpenCost", () => {
  let server: Server;
  let url: string;
  const asked: URL[] = [];
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  beforeAll(async () => {
    server = createServer((req, res) => {
      asked.push(new URL(req.url ?? "/", "http://x"));
      res.writeHead(answer.status, { "content-type": "application/json" }).end(JSON.stringify(answer.body));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("asks the allocation API for the namespace over its life and sums what it answers", async () => {
    answer = { status: 200, body: { code: 200, data: [{ "web-pr-1": { totalCost: 1.25 }, other: { totalCost: 9 } }] } };
    const source = openCostSource(url);
    expect(await source.namespaceCost("web-pr-1", new Date(NOW - 2 * H), new Date(NOW))).toBe(1.25);
    const q = asked.at(-1)!;
    expect(q.pathname).toBe("/allocation/compute");
    expect(q.searchParams.get("window")).toBe("2026-12-01T10:00:00Z,2026-12-01T12:00:00Z");
    expect(q.searchParams.get("aggregate")).toBe("namespace");
    expect(q.searchParams.get("filter")).toBe('namespace:"web-pr-1"');
  });

  it("a failing OpenCost falls back to the estimate", async () => {
    answer = { status: 500, body: { message: "down" } };
    const ns = { name: "web-pr-1", createdAt: new Date(NOW - H).toISOString(), annotations: {} };
    const c = await previewCost(
      {
        settings: { source: openCostSource(url), cpuHour: 1, currency: "USD" },
        control: control([{ workload: "w", replicas: 1, containers: [{ cpu: "2" }] }]),
        logger,
      },
      ns,
      NOW,
    );
    expect(c).toMatchObject({ source: "estimate", amount: 2 });
    answer = { status: 200, body: { code: 200, data: [{ "web-pr-1": { totalCost: 0.5 } }] } };
    const measured = await previewCost(
      { settings: { source: openCostSource(url), cpuHour: 1, currency: "USD" }, control: control([]), logger },
      ns,
      NOW,
    );
    expect(measured).toMatchObject({ source: "opencost", amount: 0.5 });
  });
});

describe("sleepAfterMs", () => {
  it.each([
    [undefined, undefined, undefined],
    [undefined, 2 * H, 2 * H],
    [30 * 60_000, undefined, 30 * 60_000],
    [30 * 60_000, 2 * H, 30 * 60_000],
    [5 * H, 2 * H, 2 * H],
    ["never", undefined, undefined],
    ["never", 2 * H, 2 * H],
    [0, 2 * H, 2 * H],
    [0, undefined, undefined],
  ] as const)("repository %p, bot %p → %p", (repo, bot, expected) => {
    expect(sleepAfterMs(repo, bot)).toBe(expected);
  });
});
