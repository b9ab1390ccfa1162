/**
 * The server-side session store (DESIGN §7): random 128-bit ids, idle expiry, a size cap with
 * least-recently-used eviction, and a bound on each session's data so no client can grow memory.
 */
import { randomBytes } from 'node:crypto';

/** A client's session. `data` is a URL-encoded form string (see form.ts); set it with `setData`. */
export interface Session {
  readonly id: string;
  data: string;
  /** Clock time (ms) of the last `get`/`create`; idle expiry counts from here. */
  lastSeen: number;
  readonly created: number;
}

/** Largest `data` accepted by `SessionStore.setData`, in UTF-8 bytes. */
export const MAX_SESSION_DATA_BYTES = 4096;

/** Options: idle lifetime (ms, > 0), most sessions kept (integer ≥ 1), and an injectable clock. */
export interface SessionStoreOptions {
  idleMs: number;
  max: number;
  /** Milliseconds, never decreasing; defaults to a monotonic clock aligned with the epoch. */
  now?: () => number;
}

/** A fresh id: 128 bits from crypto.randomBytes, base64url without padding (22 chars). */
export function newSessionId(): string {
  return randomBytes(16).toString('base64url');
}

const ID_SHAPE = /^[A-Za-z0-9_-]{22}$/;

/** Whether `s` has the shape of an id (22 base64url chars); other cookie values are never looked up. */
export function isWellFormedId(s: string): boolean {
  return ID_SHAPE.test(s);
}

/** performance.now() cannot go backwards as Date.now() can, which keeps the Map's order = lastSeen order. */
const monotonicNow = (): number => Math.floor(performance.timeOrigin + performance.now());

/**
 * Sessions in a Map kept in least-recently-used order (a touch is delete + set), so the first
 * key is always the one to evict and the one idle longest: eviction is O(1) and `sweep` stops
 * at the first live session. A session idle for `idleMs` or more is expired.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly idleMs: number;
  private readonly max: number;
  private readonly now: () => number;

  /** Throws RangeError for idleMs ≤ 0 or max not an integer ≥ 1 (a programming error: config validates these). */
  constructor(opts: SessionStoreOptions) {
    if (!(opts.idleMs > 0)) throw new RangeError(`idleMs must be > 0, got ${opts.idleMs}`);
    if (!Number.isSafeInteger(opts.max) || opts.max < 1) throw new RangeError(`max must be an integer >= 1, got ${opts.max}`);
    this.idleMs = opts.idleMs;
    this.max = opts.max;
    this.now = opts.now ?? monotonicNow;
  }

  /** Number of sessions held (expired ones not yet swept included). */
  get size(): number {
    return this.sessions.size;
  }

  /** Returns the live session for this id (refreshing lastSeen and its LRU position), or null if
   *  unknown, not well formed, or expired (an expired one is deleted). */
  get(id: string): Session | null {
    if (!isWellFormedId(id)) return null;
    const s = this.sessions.get(id);
    if (s === undefined) return null;
    const t = this.now();
    this.sessions.delete(id);
    if (t - s.lastSeen >= this.idleMs) return null;
    s.lastSeen = t;
    this.sessions.set(id, s);
    return s;
  }

  /** Creates a session with a fresh id and empty data; evicts the least recently used when at the cap. */
  create(): Session {
    while (this.sessions.size >= this.max) {
      const oldest = this.sessions.keys().next();
      if (oldest.done === true) break;
      this.sessions.delete(oldest.value);
    }
    let id = newSessionId();
    while (this.sessions.has(id)) id = newSessionId(); // 2^-128 odds, but never hand out a live id twice
    const t = this.now();
    const s: Session = { id, data: '', lastSeen: t, created: t };
    this.sessions.set(id, s);
    return s;
  }

  /** get(id) ?? create(), and whether it was created (missing, malformed, unknown or expired id). */
  resolve(id: string | undefined): { session: Session; created: boolean } {
    const found = id === undefined ? null : this.get(id);
    return found !== null ? { session: found, created: false } : { session: this.create(), created: true };
  }

  /** Replaces the session's data; returns false and keeps the old data when `data` exceeds
   *  MAX_SESSION_DATA_BYTES (UTF-8), so a client cannot grow memory without bound. */
  setData(session: Session, data: string): boolean {
    if (Buffer.byteLength(data, 'utf8') > MAX_SESSION_DATA_BYTES) return false;
    session.data = data;
    return true;
  }

  /** Forgets a session; unknown ids are ignored. */
  destroy(id: string): void {
    this.sessions.delete(id);
  }

  /** Drops expired sessions; called by the server's periodic sweep. Returns how many were dropped. */
  sweep(): number {
    const t = this.now();
    let dropped = 0;
    for (const [id, s] of this.sessions) {
      if (t - s.lastSeen < this.idleMs) break; // LRU order: everything after is fresher
      this.sessions.delete(id);
      dropped++;
    }
    return dropped;
  }
}
