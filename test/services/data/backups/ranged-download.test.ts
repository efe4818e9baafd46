/** The read-ahead blob stream: bytes in order whatever order the ranges arrive in, bounded, errors surfaced. */
import { describe, expect, it } from "@jest/globals";
import { randomBytes } from "node:crypto";
import { rangedReadable } from "../../../../src/services/data/backups/ranged-download.js";

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c);
  return Buffer.concat(parts);
}

/** A fake range server: answers each range after a random pause, so they complete out of order. */
function server(data: Buffer) {
  let inFlight = 0;
  let peak = 0;
  const ranges: Array<[number, number]> = [];
  const fetch = async (offset: number, count: number) => {
    ranges.push([offset, count]);
    peak = Math.max(peak, ++inFlight);
    await new Promise((r) => setTimeout(r, Math.random() * 5));
    inFlight--;
    return data.subarray(offset, offset + count);
  };
  return { fetch, ranges, peak: () => peak };
}

describe("rangedReadable", () => {
  it.each([0, 1, 100, 1024, 1025, 4096, 10_000])("yields all %i bytes in order, with at most `ahead` ranges in flight", async (size) => {
    const data = randomBytes(size);
    const s = server(data);
    const out = await collect(rangedReadable(size, s.fetch, { blockBytes: 1024, firstBlockBytes: 100, ahead: 3 }));
    expect(out.equals(data)).toBe(true);
    expect(s.peak()).toBeLessThanOrEqual(3);
    if (size > 0) expect(s.ranges[0]).toEqual([0, Math.min(100, size)]); // a small first range
  });

  it("fetches little for a reader that stops after the first bytes", async () => {
    const data = randomBytes(64 * 1024);
    const s = server(data);
    const stream = rangedReadable(data.length, s.fetch, { blockBytes: 4096, firstBlockBytes: 512, ahead: 4 });
    for await (const chunk of stream) {
      expect(chunk.length).toBe(512);
      break; // destroys the stream
    }
    expect(s.ranges.length).toBeLessThanOrEqual(2);
  });

  it("fails the stream with the range's error", async () => {
    const data = randomBytes(5000);
    const stream = rangedReadable(data.length, async (offset, count) => {
      if (offset >= 2048) throw new Error(`downloading bytes ${offset}-${offset + count - 1}: 503 ServerBusy`);
      return data.subarray(offset, offset + count);
    }, { blockBytes: 1024, firstBlockBytes: 1024, ahead: 2 });
    await expect(collect(stream)).rejects.toThrow("downloading bytes 2048-3071: 503 ServerBusy");
  });
});
