/** A log destination that keeps the lines (JSON, as pino writes them) for a test to read: `createLogger({ destination })`. */
import { Writable } from "node:stream";

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export function logSink(): { stream: Writable; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n")) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { stream, lines };
}
