/**
 * The one logger. pino JSON, with secrets redacted at the logger (by key path and by value pattern), so no code
 * path can leak a password, token or key by logging an object or an error message.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createRequire } from "node:module";
import { pino, type Logger, type LoggerOptions } from "pino";
import { earlyVariable } from "./env.js";
import { redactLiterals, redactPatterns } from "./redaction.js";

/** Correlation fields (delivery id, job id, preview key) that every line logged inside a job carries. */
const logContext = new AsyncLocalStorage<Record<string, string>>();

/** Run `fn` with these fields on every log line it (and whatever it awaits) writes. */
export function withLogContext<T>(fields: Record<string, string | undefined>, fn: () => T): T {
  const clean = Object.fromEntries(
    Object.entries(fields).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""),
  );
  return logContext.run({ ...logContext.getStore(), ...clean }, fn);
}

/** Object keys whose values are always secret, wherever they appear (matched case-insensitively). */
const SECRET_KEY =
  /(pass(word)?|secret|token|private[-_]?key|api[-_]?key|account[-_]?key|authorization|cookie|connection[-_]?string|credential|signature|sas)$/i;

/** Extra literal values to redact (the configured passwords and keys, every derived preview password). */
const knownSecrets = new Set<string>();
let knownList: string[] | undefined;

/**
 * Redact this literal value wherever it appears from now on. Its JSON-escaped form is registered too (errors quote
 * JSON bodies), and for a multi-line value (a PEM key) each long line, so a quoted excerpt is caught as well.
 */
export function registerSecret(value: string | undefined): void {
  if (!value || value.length < 6) return;
  const before = knownSecrets.size;
  knownSecrets.add(value);
  knownSecrets.add(JSON.stringify(value).slice(1, -1));
  for (const line of value.split(/\r?\n/))
    if (line.trim().length >= 16 && !/^-----(BEGIN|END) /.test(line.trim())) knownSecrets.add(line.trim());
  if (knownSecrets.size !== before) knownList = undefined;
}

/** Every known secret, longest first (a shorter one inside a longer one must not leave the rest of it). */
function knownSecretsList(): readonly string[] {
  knownList ??= [...knownSecrets].sort((a, b) => b.length - a.length);
  return knownList;
}

/**
 * Redact secrets from free text (log lines, container logs, error messages, tool output) before it leaves the process:
 * the known secrets, then every secret-shaped value (redaction.ts). Linear in the text's length, whatever it holds.
 */
export function redactText(text: string): string {
  return redactPatterns(redactLiterals(text, knownSecretsList()));
}

/** Deep copy with secret keys replaced and string values scrubbed. Cycles and depth are bounded. */
function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === "string") return redactText(value);
  if (value === null || typeof value !== "object") return value;
  if (depth > 8 || seen.has(value)) return "[…]";
  seen.add(value);
  if (value instanceof Error) {
    const out: Record<string, unknown> = { type: value.name, message: redactText(value.message) };
    if (value.stack) out.stack = redactText(value.stack);
    if (value.cause !== undefined) out.cause = redact(value.cause, depth + 1, seen);
    for (const [k, v] of Object.entries(value)) {
      if (k === "request" || k === "response") continue; // Octokit errors carry headers with tokens
      out[k] = SECRET_KEY.test(k) ? "[REDACTED]" : redact(v, depth + 1, seen);
    }
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      SECRET_KEY.test(k) && v !== undefined && v !== null && v !== "" ? "[REDACTED]" : redact(v, depth + 1, seen);
  }
  return out;
}

export type { Logger };

export interface LoggerSettings {
  level?: string;
  /** Where lines go (tests pass a stream to read them back). */
  destination?: NodeJS.WritableStream;
  base?: Record<string, unknown>;
}

export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? earlyVariable("LOG_LEVEL") ?? "info",
    base: { name: "preview-bot", ...settings.base },
    // a copy: pino merges each line's fields into the object mixin returns
    mixin: () => ({ ...logContext.getStore() }),
    // Applied to every merged object and to the message string.
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === "string" ? redactText(a) : redact(a))) as Parameters<
          typeof method
        >;
        return method.apply(this, scrubbed);
      },
    },
    serializers: { err: (e: unknown) => redact(e), error: (e: unknown) => redact(e) },
    formatters: {
      bindings: (b) => redact(b) as Record<string, unknown>,
    },
  };
  // Last line of defence: every serialized line is scrubbed once more on its way out, which also covers what the
  // hooks above cannot see (child-logger bindings, library-made objects).
  const out = settings.destination ?? terminal() ?? process.stdout;
  const scrubbing: pino.DestinationStream = { write: (line: string) => void out.write(redactText(line)) };
  return pino(options, scrubbing);
}

/**
 * On a terminal (a developer running `npm start`), readable lines via pino-pretty when it is installed; JSON otherwise.
 */
function terminal(): NodeJS.WritableStream | undefined {
  if (!process.stdout.isTTY || earlyVariable("NODE_ENV") === "production") return undefined;
  try {
    const pretty = createRequire(import.meta.url)("pino-pretty") as (o: object) => NodeJS.WritableStream;
    return pretty({ colorize: true, translateTime: "HH:MM:ss", ignore: "pid,hostname,name" });
  } catch {
    return undefined; // production install (no dev dependencies): JSON
  }
}
