/** Waiting on observable state in tests (no nock here: files that import this need not restore it). */

/**
 * Wait until `check` holds, polling every 20 ms, for at most `timeoutMs` (generous: a loaded machine is slow, and a
 * bound only turns a hang into a clear failure). Throws naming `what` when it never holds.
 */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
