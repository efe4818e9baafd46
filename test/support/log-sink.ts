/**
 * A log destination that keeps the lines (JSON, as pino writes them) for a test to read: `createLogger({ destination })`.
 * A line that is not JSON is kept as `{ level: 0, msg: <the line>, invalid: true }` rather than thrown from inside the
 * logger's stream (the logger's last scrub can leave `"password":[REDACTED]` unquoted in a line).
 */
import { Writable } from "node:stream";

export interface LogLine {
  level: number;
  msg: string;
  invalid?: true;
  [k: string]: unknown;
}

export function logSink(): { stream: Writable; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n")) {
        if (!line.trim()) continue;
        try {
          lines.push(JSON.parse(line) as LogLine);
        } catch {
          lines.push({ level: 0, msg: line, invalid: true });
        }
      }
      done();
    },
  });
  return { stream, lines };
}
