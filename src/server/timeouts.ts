/**
 * One periodic sweep for every timeout (DESIGN §2): connections carry a deadline, the sweep expires them.
 */
import type { Connection } from './connection.js';

/** How often deadlines are checked; a timeout fires at most this late. */
export const SWEEP_MS = 250;

/** Starts the sweep over `conns`; `extra` runs on each tick too (session expiry). Returns a stop function. */
export function startSweep(conns: ReadonlySet<Connection>, extra: () => void): () => void {
  let ticks = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    for (const c of conns) {
      if (c.deadline <= now) c.expire(now);
    }
    if (++ticks % 40 === 0) extra();
  }, SWEEP_MS);
  timer.unref();
  return () => clearInterval(timer);
}
