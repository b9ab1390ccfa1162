/**
 * One periodic sweep for every timeout (docs/ARCHITECTURE.md "Timeouts"): connections carry a deadline, handlers
 * (CGI) ask for one-shot timers, and a single interval expires whatever is due. No timer per read, no timer per
 * connection.
 */

/** How often deadlines are checked; a timeout fires at most this late. */
export const SWEEP_MS = 250;

/** Something with a deadline (ms since epoch; Infinity for none), expired by the sweep once it has passed. */
export interface Expiring {
  readonly deadline: number;
  expire(now: number): void;
}

/** A one-shot timer of the sweep. */
interface Timer {
  readonly at: number;
  readonly fn: () => void;
}

/** The sweep: call start() once; at() gives handlers timers on the same tick. */
export class Sweep {
  private readonly timers = new Set<Timer>();
  private handle: NodeJS.Timeout | null = null;
  private ticks = 0;

  constructor(
    private readonly items: ReadonlySet<Expiring>,
    /** Runs every 10 s (session expiry). */
    private readonly every10s: () => void,
  ) {}

  /** Starts the interval (it does not keep the process alive on its own). */
  start(): void {
    if (this.handle !== null) return;
    this.handle = setInterval(() => this.tick(Date.now()), SWEEP_MS);
    this.handle.unref();
  }

  stop(): void {
    if (this.handle !== null) clearInterval(this.handle);
    this.handle = null;
  }

  /** Runs `fn` on the first tick at or after `at` (ms since epoch); returns a function that cancels it. */
  at(at: number, fn: () => void): () => void {
    const t: Timer = { at, fn };
    this.timers.add(t);
    return () => {
      this.timers.delete(t);
    };
  }

  /** One pass: every item and timer due by `now` (exported for tests that drive time themselves). */
  tick(now: number): void {
    for (const c of this.items) {
      if (c.deadline <= now) c.expire(now);
    }
    for (const t of this.timers) {
      if (t.at > now) continue;
      this.timers.delete(t);
      t.fn();
    }
    if (++this.ticks % 40 === 0) this.every10s();
  }
}
