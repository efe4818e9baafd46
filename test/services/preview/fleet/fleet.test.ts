/**
 * The fleet's order of effects for one preview (src/services/preview/fleet/fleet.ts): telling a waiting deploy where it
 * stands creates its queued check run, so withdrawing it and starting it must come after that telling landed — the
 * soak (SOAK_SEED=2015828560) left a check run `queued` for good when a close overtook the telling.
 */
import { describe, expect, it } from "@jest/globals";
import { createLogger } from "../../../../src/logger.js";
import { createFleet } from "../../../../src/services/preview/fleet/fleet.js";
import { MemorySeatStore, type SeatRequest } from "../../../../src/services/preview/fleet/seat-store.js";

function request(number: number): SeatRequest {
  const key = `acme/web#${number}`;
  const names = {
    key,
    namespace: `web-pr-${number}`,
    hostLabel: `web-pr-${number}`,
    database: "d",
    role: "r",
    secret: "s",
    labels: {},
    annotations: {},
    environment: `preview/web-pr-${number}`,
  };
  return {
    key,
    repo: "acme/web",
    author: "ann",
    limits: {},
    job: {
      installationId: 1,
      owner: "acme",
      repo: "web",
      number,
      trigger: "push",
      source: "webhook",
      action: "deploy",
    },
    facts: {
      ref: { owner: "acme", repo: "web", number, branch: "b", sha: "a".repeat(40) },
      names,
      trigger: "push",
    },
  };
}

/** A fleet of one seat whose tellings land only when `land()` is called. */
function oneSeatFleet() {
  const events: string[] = [];
  let land!: () => void;
  const landed = new Promise<void>((resolve) => (land = resolve));
  const fleet = createFleet({
    seats: new MemorySeatStore(),
    caps: { total: 1 },
    start: async (job) => void events.push(`start #${job.number}`),
    tell: async (entry) => {
      await landed;
      events.push(`told ${entry.key}`);
    },
    withdraw: async (entry, why) => void events.push(`withdrawn ${entry.key} (${why})`),
    logger: createLogger({ level: "silent" }),
  });
  return { fleet, events, land };
}

describe("the fleet, for one preview", () => {
  it("concludes a queued check run only after the telling that creates it landed", async () => {
    const { fleet, events, land } = oneSeatFleet();
    expect(await fleet.claim(request(1))).toBe(true);
    expect(await fleet.claim(request(2))).toBe(false);
    await fleet.release("acme/web#2"); // closed while its telling is on its way
    expect(events).toEqual([]); // the withdrawal waits for the telling (it was called at once before)
    land();
    await fleet.settled();
    expect(events).toEqual(["told acme/web#2", "withdrawn acme/web#2 (released)"]);
  });

  it("starts a promoted deploy only after its telling landed (the deploy continues that check run)", async () => {
    const { fleet, events, land } = oneSeatFleet();
    expect(await fleet.claim(request(1))).toBe(true);
    expect(await fleet.claim(request(2))).toBe(false);
    await fleet.release("acme/web#1"); // a seat frees: #2 is promoted while its telling is on its way
    expect(events).toEqual([]);
    land();
    await fleet.settled();
    expect(events).toEqual(["told acme/web#2", "start #2"]);
  });
});
