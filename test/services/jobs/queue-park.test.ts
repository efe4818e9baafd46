/**
 * Parking (JobControl.park): a job waiting on something outside (an image being built) keeps its key but gives its
 * slot to another key's job, on both queues (the embedded one, and the durable one on the real PostgreSQL server),
 * with one slot (concurrency 1) so that a parked job that kept its slot would block everything. Every wait here ends
 * on an event the test causes, never on time.
 */
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createPgQueue } from "../../../src/services/jobs/queue-pg.js";
import { createMemoryQueue, type Queue } from "../../../src/services/jobs/queue.js";
import { createTestDatabase } from "../../support/pg-database.js";
import { waitFor } from "../../support/wait.js";

interface Gate {
  promise: Promise<void>;
  open(): void;
}
function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

/** A queue with one slot and three kinds: `parks` (parks until its gate opens), `holds` (waits in its slot), `quick`. */
function harness(queue: Queue) {
  const events: string[] = [];
  const gates = new Map<string, Gate>();
  const gateFor = (tag: string) => gates.get(tag) ?? gates.set(tag, gate()).get(tag)!;
  queue.register<{ tag: string }>("parks", async (job, signal, control) => {
    events.push(`start ${job.payload.tag}`);
    const outcome = await control.park(
      () =>
        new Promise<string>((resolve) => {
          void gateFor(job.payload.tag).promise.then(() => resolve("opened"));
          signal.addEventListener("abort", () => resolve("aborted"), { once: true });
        }),
    );
    events.push(`resumed ${job.payload.tag} (${outcome})`);
  });
  queue.register<{ tag: string }>("holds", async (job) => {
    events.push(`start ${job.payload.tag}`);
    await gateFor(job.payload.tag).promise;
    events.push(`end ${job.payload.tag}`);
  });
  queue.register<{ tag: string }>("quick", async (job) => {
    events.push(`ran ${job.payload.tag}`);
  });
  return { events, open: (tag: string) => gateFor(tag).open() };
}

function parkingCases(name: string, make: () => Promise<Queue>, cleanup: () => Promise<void> = async () => {}) {
  describe(name, () => {
    let queue: Queue;
    let h: ReturnType<typeof harness>;
    beforeAll(async () => {
      queue = await make();
      h = harness(queue);
      await queue.start();
    }, 60_000);
    afterAll(async () => {
      await queue?.stop(5_000);
      await cleanup();
    });

    it("a parked job's slot runs another key's job; the parked job's key stays held; it resumes when its wait ends", async () => {
      await queue.enqueue({ kind: "parks", key: "a#1", payload: { tag: "A" } });
      await waitFor("A to start and park", () => h.events.includes("start A"));
      await queue.enqueue({ kind: "quick", key: "a#1", payload: { tag: "A-next" } }); // same key: must wait for A
      await queue.enqueue({ kind: "quick", key: "b#1", payload: { tag: "B" } }); // another key: runs in A's slot
      await waitFor("B to run while A is parked", () => h.events.includes("ran B"), 60_000);
      expect(h.events).not.toContain("ran A-next");
      expect(queue.stats().parked).toBe(1);
      h.open("A");
      await waitFor("A-next to run after A", () => h.events.includes("ran A-next"), 60_000);
      expect(h.events.indexOf("resumed A (opened)")).toBeLessThan(h.events.indexOf("ran A-next"));
      expect(h.events.indexOf("ran B")).toBeLessThan(h.events.indexOf("resumed A (opened)"));
      await queue.onIdle();
      expect(queue.stats().parked ?? 0).toBe(0);
    }, 120_000);

    it("a job that waits in its slot (no park) blocks the one slot: the contrast that makes the case above mean something", async () => {
      h.events.length = 0;
      await queue.enqueue({ kind: "holds", key: "c#1", payload: { tag: "C" } });
      await waitFor("C to start", () => h.events.includes("start C"));
      await queue.enqueue({ kind: "quick", key: "d#1", payload: { tag: "D" } });
      h.open("C");
      await waitFor("D to run", () => h.events.includes("ran D"), 60_000);
      expect(h.events.indexOf("end C")).toBeLessThan(h.events.indexOf("ran D"));
    }, 120_000);

    it("a superseding job aborts a parked job's signal; the parked job resumes, ends, and the new job runs", async () => {
      h.events.length = 0;
      await queue.enqueue({ kind: "parks", key: "e#1", payload: { tag: "E" } });
      await waitFor("E to start and park", () => h.events.includes("start E"));
      await queue.enqueue({ kind: "quick", key: "e#1", payload: { tag: "E2" }, supersedes: true });
      await waitFor("E2 to run", () => h.events.includes("ran E2"), 60_000);
      expect(h.events).toContain("resumed E (aborted)");
      expect(h.events.indexOf("resumed E (aborted)")).toBeLessThan(h.events.indexOf("ran E2"));
    }, 120_000);
  });
}

parkingCases("the embedded queue", async () => createMemoryQueue({ concurrency: 1 }));

let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
parkingCases(
  "the durable queue (pg-boss on the real PostgreSQL server)",
  async () => {
    db = await createTestDatabase("queue_park");
    return createPgQueue({ connectionString: db.url, concurrency: 1, superviseIntervalSeconds: 1 });
  },
  async () => db?.drop(),
);
