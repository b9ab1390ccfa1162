/**
 * The server-side session store (docs/ARCHITECTURE.md "Sessions"): random 128-bit ids, idle expiry, a size cap with
 * least-recently-used eviction, a cap per client address, and a bound on each session's data so no client can
 * grow memory. Sessions are made lazily: a fresh one is stored only once data is written into it, so a flood of
 * cookie-less requests stores nothing and evicts nobody.
 */
import { randomBytes } from 'node:crypto';

/** A client's session. `data` is a URL-encoded form string (see form.ts); set it with `setData`. */
export interface Session {
  readonly id: string;
  /** The client address that created it (for the per-address cap). */
  readonly owner: string;
  data: string;
  /** Clock time (ms) of the last `get`/`create`; idle expiry counts from here. */
  lastSeen: number;
  readonly created: number;
}

/** Largest `data` accepted by `SessionStore.setData`, in UTF-8 bytes. */
export const MAX_SESSION_DATA_BYTES = 4096;

/** Options: idle lifetime (ms, > 0), most sessions kept, most per client address (integers ≥ 1), and an
 *  injectable clock. */
export interface SessionStoreOptions {
  idleMs: number;
  max: number;
  /** Most sessions one owner (client address) may hold; default: `max`. */
  maxPerOwner?: number;
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
  /** Each owner's stored session ids, least recently used first (kept in step with `sessions`). */
  private readonly byOwner = new Map<string, Set<string>>();
  private readonly idleMs: number;
  private readonly max: number;
  private readonly maxPerOwner: number;
  private readonly now: () => number;

  /** Throws RangeError for idleMs ≤ 0 or max not an integer ≥ 1 (a programming error: config validates these). */
  constructor(opts: SessionStoreOptions) {
    if (!(opts.idleMs > 0)) throw new RangeError(`idleMs must be > 0, got ${opts.idleMs}`);
    if (!Number.isSafeInteger(opts.max) || opts.max < 1)
      throw new RangeError(`max must be an integer >= 1, got ${opts.max}`);
    const perOwner = opts.maxPerOwner ?? opts.max;
    if (!Number.isSafeInteger(perOwner) || perOwner < 1)
      throw new RangeError(`maxPerOwner must be an integer >= 1, got ${perOwner}`);
    this.idleMs = opts.idleMs;
    this.max = opts.max;
    this.maxPerOwner = perOwner;
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
    this.remove(s);
    if (t - s.lastSeen >= this.idleMs) return null;
    s.lastSeen = t;
    this.insert(s);
    return s;
  }

  /** A session with a fresh id and empty data that is not stored yet: `setData` with data stores it. */
  fresh(owner = ''): Session {
    let id = newSessionId();
    while (this.sessions.has(id)) id = newSessionId(); // 2^-128 odds, but never hand out a live id twice
    const t = this.now();
    return { id, owner, data: '', lastSeen: t, created: t };
  }

  /** Creates and stores a session (fresh + stored at once); see `store` for the caps. */
  create(owner = ''): Session {
    const s = this.fresh(owner);
    this.store(s);
    return s;
  }

  /** True when `session` is the one stored under its id. */
  has(session: Session): boolean {
    return this.sessions.get(session.id) === session;
  }

  /**
   * Stores a fresh session. At its owner's cap the owner's least recently used session goes first (one client
   * cannot push others out); at the store's cap, the least recently used of all.
   */
  private store(s: Session): void {
    const mine = this.byOwner.get(s.owner);
    if (mine !== undefined && mine.size >= this.maxPerOwner) {
      const oldest = mine.values().next();
      if (oldest.done !== true) this.destroy(oldest.value);
    }
    while (this.sessions.size >= this.max) {
      const oldest = this.sessions.values().next();
      if (oldest.done === true) break;
      this.remove(oldest.value);
    }
    s.lastSeen = this.now();
    this.insert(s);
  }

  private insert(s: Session): void {
    this.sessions.set(s.id, s);
    let mine = this.byOwner.get(s.owner);
    if (mine === undefined) this.byOwner.set(s.owner, (mine = new Set()));
    mine.add(s.id);
  }

  private remove(s: Session): void {
    this.sessions.delete(s.id);
    const mine = this.byOwner.get(s.owner);
    if (mine === undefined) return;
    mine.delete(s.id);
    if (mine.size === 0) this.byOwner.delete(s.owner);
  }

  /**
   * Replaces the session's data; a fresh session is stored by its first non-empty data. Returns false and keeps
   * the old data when `data` exceeds MAX_SESSION_DATA_BYTES (UTF-8), so a client cannot grow memory without bound.
   */
  setData(session: Session, data: string): boolean {
    if (Buffer.byteLength(data, 'utf8') > MAX_SESSION_DATA_BYTES) return false;
    session.data = data;
    if (data !== '' && !this.has(session)) this.store(session);
    return true;
  }

  /** Forgets a session; unknown ids are ignored. */
  destroy(id: string): void {
    const s = this.sessions.get(id);
    if (s !== undefined) this.remove(s);
  }

  /** Drops expired sessions; called by the server's periodic sweep. Returns how many were dropped. */
  sweep(): number {
    const t = this.now();
    let dropped = 0;
    for (const s of this.sessions.values()) {
      if (t - s.lastSeen < this.idleMs) break; // LRU order: everything after is fresher
      this.remove(s);
      dropped++;
    }
    return dropped;
  }
}
