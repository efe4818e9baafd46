/**
 * A blob read as ranges fetched ahead of the reader, in order: a restore's `pg_restore` never waits on one HTTP
 * response at a time, and the network and the database work at once. Memory stays bounded (at most `ahead` blocks in
 * flight). The first block is small and the read-ahead grows as blocks are consumed, so a reader that stops early
 * (`pg_restore --list` reads only the table of contents) costs little.
 */
import { Readable } from "node:stream";

export interface RangedOptions {
  /** Bytes per range once the read-ahead has grown (default 8 MiB). */
  blockBytes?: number;
  /** Ranges in flight at most (default 4). */
  ahead?: number;
  /** The first range (default 1 MiB). */
  firstBlockBytes?: number;
}

/** `fetch(offset, count)` returns exactly those bytes; the stream yields bytes 0 … size-1 in order. */
export function rangedReadable(size: number, fetch: (offset: number, count: number) => Promise<Buffer>, opts: RangedOptions = {}): Readable {
  const block = opts.blockBytes ?? 8 * 1024 * 1024;
  const maxAhead = Math.max(1, opts.ahead ?? 4);
  const first = Math.min(block, opts.firstBlockBytes ?? 1024 * 1024);
  const inflight: Array<Promise<Buffer>> = [];
  let next = 0;
  let delivered = 0;
  let waiting = false;
  let stopped = false;

  const fill = () => {
    const ahead = Math.max(1, Math.min(maxAhead, delivered));
    while (!stopped && inflight.length < ahead && next < size) {
      const count = Math.min(next === 0 ? first : block, size - next);
      const p = fetch(next, count);
      p.catch(() => undefined); // observed when its turn comes
      inflight.push(p);
      next += count;
    }
  };

  return new Readable({
    highWaterMark: 0, // the read-ahead is the ranges in flight, not the stream buffer
    read() {
      if (waiting) return;
      fill();
      const head = inflight.shift();
      if (!head) return void this.push(null);
      waiting = true;
      head.then(
        (buf) => {
          waiting = false;
          delivered++;
          fill();
          this.push(buf);
        },
        (err: unknown) => {
          waiting = false;
          this.destroy(err instanceof Error ? err : new Error(String(err)));
        },
      );
    },
    destroy(err, callback) {
      stopped = true;
      inflight.length = 0;
      callback(err);
    },
  });
}
