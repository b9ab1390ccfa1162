/**
 * A renewable deadline on the sweep's timers (docs/ARCHITECTURE.md "Timeouts"): renewing it only moves a
 * timestamp, so a read every few microseconds costs no timer; when the timer fires early it is set again.
 */
export type TimerFn = (at: number, fn: () => void) => () => void;

/** One deadline: `fire` runs once `ms` have passed since the last arm() or renew(), unless cleared. */
export class Deadline {
  private last = 0;
  private cancel: (() => void) | null = null;
  private ms = 0;

  constructor(
    private readonly timer: TimerFn,
    private readonly fire: () => void,
  ) {}

  /** Starts (or restarts) it with `ms`. */
  arm(ms: number): void {
    this.ms = ms;
    this.last = Date.now();
    if (this.cancel === null) this.schedule(this.last + ms);
  }

  /** Activity: the time starts again (no-op when not armed). */
  renew(): void {
    if (this.cancel !== null) this.last = Date.now();
  }

  get armed(): boolean {
    return this.cancel !== null;
  }

  clear(): void {
    this.cancel?.();
    this.cancel = null;
  }

  private schedule(at: number): void {
    this.cancel = this.timer(at, () => {
      this.cancel = null;
      const due = this.last + this.ms;
      if (Date.now() >= due) this.fire();
      else this.schedule(due);
    });
  }
}
