/**
 * `limit_req`: nginx's leaky bucket per client address (ngx_http_limit_req_module's lookup, read and redone here):
 * each address has an `excess` in thousandths of a request that drains at `rate` and grows by one per request. A
 * request that would push it over `burst` is rejected (and changes nothing); otherwise it is taken, and, unless
 * `nodelay`, delayed by the time the excess needs to drain. Pure: time is passed in.
 *
 * Memory: at most `cap` addresses per zone (default 10 000), least recently seen evicted first; an evicted address
 * starts again with an empty bucket, which is what nginx does with an expired node.
 */

/** One address's bucket. */
interface Bucket {
  /** Thousandths of a request over the rate. */
  excess: number;
  /** Time of the last request taken (ms). */
  last: number;
}

/** What limit_req says of one request. */
export type LimitVerdict =
  | { readonly kind: 'pass' }
  | { readonly kind: 'delay'; readonly ms: number }
  /** Over the burst: `retryMs` until one more request would fit. */
  | { readonly kind: 'reject'; readonly retryMs: number };

/** Most addresses one zone remembers (README "Access control"). */
export const LIMIT_REQ_CAP = 10_000;

/** One limit_req zone. */
export class LeakyBucket {
  private readonly buckets = new Map<string, Bucket>();
  /** The rate in thousandths of a request per second, as nginx keeps it (10r/s → 10000). */
  private readonly rate: number;
  private readonly burst: number;

  constructor(
    perSecond: number,
    burst: number,
    private readonly nodelay: boolean,
    private readonly cap = LIMIT_REQ_CAP,
  ) {
    this.rate = Math.max(1, Math.floor(perSecond * 1000));
    this.burst = burst * 1000;
  }

  /** How many addresses it holds now. */
  get size(): number {
    return this.buckets.size;
  }

  /** Without accounting anything: 0 when one more request from `key` would be taken at `now`, else the ms until
   *  it would. */
  peek(key: string, now: number): number {
    const b = this.buckets.get(key);
    if (b === undefined) return 0;
    const ms = Math.max(0, now - b.last);
    const excess = Math.max(0, b.excess - Math.floor((this.rate * ms) / 1000) + 1000);
    return excess > this.burst ? Math.ceil(((excess - this.burst) * 1000) / this.rate) : 0;
  }

  /** Accounts one request from `key` at `now` (ms). */
  take(key: string, now: number): LimitVerdict {
    const b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.cap) {
        const oldest = this.buckets.keys().next();
        if (oldest.done !== true) this.buckets.delete(oldest.value);
      }
      this.buckets.set(key, { excess: 0, last: now });
      return { kind: 'pass' };
    }
    let ms = now - b.last;
    // A clock that went back: nginx treats a jump of over a minute as 1 ms, a small one as none.
    if (ms < -60_000) ms = 1;
    else if (ms < 0) ms = 0;
    const excess = Math.max(0, b.excess - Math.floor((this.rate * ms) / 1000) + 1000);
    // Seen now: to the back of the LRU order.
    this.buckets.delete(key);
    this.buckets.set(key, b);
    if (excess > this.burst) return { kind: 'reject', retryMs: Math.ceil(((excess - this.burst) * 1000) / this.rate) };
    b.excess = excess;
    if (ms !== 0) b.last = now;
    if (excess === 0 || this.nodelay) return { kind: 'pass' };
    return { kind: 'delay', ms: Math.floor((excess * 1000) / this.rate) };
  }
}

/** `limit_conn`: requests in progress per address, in one zone. Entries go when their count drops to 0, so the
 *  map never holds more addresses than there are requests in progress. */
export class ConcurrencyLimit {
  private readonly counts = new Map<string, number>();

  /** How many addresses have requests in progress. */
  get size(): number {
    return this.counts.size;
  }

  /** Takes a place for `key` if it has fewer than `max`; returns the release (run once), or null. */
  enter(key: string, max: number): (() => void) | null {
    const n = this.counts.get(key) ?? 0;
    if (n >= max) return null;
    this.counts.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left <= 0) this.counts.delete(key);
      else this.counts.set(key, left);
    };
  }
}
