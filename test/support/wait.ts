/** Waiting on observable state in tests (no nock here: files that import this need not restore it). */

/**
 * Wait until `check` holds, polling every 20 ms, for at most `timeoutMs` (generous: a loaded machine is slow, and a
 * bound only turns a hang into a clear failure). Throws naming `what` when it never holds.
 */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Poll `fn` every 100 ms until it returns a value (errors count as "not yet"), for at most `timeoutMs` (generous:
 * the machine is shared). Throws naming `what`, with the last error, when it never does.
 */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what} did not happen within ${timeoutMs / 1000} s${last ? ` (last error: ${String(last)})` : ""}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}
