// The one poll-until helper of the test tree: waits for a condition that has no event of its own (a file
// on disk, a row in SQLite, a port answering), with a timeout that says what never happened.

export interface WaitOptions {
  /** Give up after this long (default 10 s); only a failing test ever waits it out. */
  timeoutMs?: number;
  /** Pause between checks (default 10 ms); make it longer when a check is itself work, e.g. an SMTP session. */
  intervalMs?: number;
}

/**
 * Resolves once check() returns true. A check that throws ends the wait with its error (e.g. "the
 * process exited"). The timeout message names the awaited thing; `what` may be a function, read at the
 * timeout, to tell how far it got (e.g. "queue drained (3 still queued)").
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string | (() => string),
  opts: WaitOptions | number = {},
): Promise<void> {
  const { timeoutMs = 10_000, intervalMs = 10 } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
