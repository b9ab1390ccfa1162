/**
 * Bounded polling for tests: waiting for what the server brings about asynchronously (a file appearing, a log
 * line, a process exiting). Every wait is bounded, so a bug fails the test instead of hanging it.
 */

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `pred` (sync or async) every `stepMs` until it is true (resolves true) or `ms` pass (resolves false). */
export async function becomes(pred: () => boolean | Promise<boolean>, ms = 5000, stepMs = 10): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await pred()) return true;
    if (Date.now() > end) return false;
    await pause(stepMs);
  }
}

/** Polls `pred` until it is true; throws naming `what` after `ms`. */
export async function until(
  pred: () => boolean | Promise<boolean>,
  what: string,
  ms = 5000,
  stepMs = 10,
): Promise<void> {
  if (!(await becomes(pred, ms, stepMs))) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** Polls `check` until it returns a value (not undefined), and resolves with it; throws naming `what` after `ms`. */
export async function valueOf<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  ms = 5000,
  stepMs = 10,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await pause(stepMs);
  }
}
