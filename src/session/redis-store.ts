/**
 * Sessions in Redis (issue 21; docs/ARCHITECTURE.md "Sessions"), so that every worker and every instance behind a
 * load balancer sees the same ones. A session is one key, `PREFIX + id`, holding {owner, created, data} as JSON,
 * whose expiry is the idle timeout: `GETEX … PX` refreshes it on each use, `SET … PX` on each write. The LRU cap
 * (`session_max`) is a sorted set `PREFIX + "lru"` scored by last use: a new session trims it to the cap, oldest
 * first. The per-address cap stays with the memory store (README says so). Every command goes through one pipelined
 * connection per Redis (redis-client.ts), which fails at once while Redis is down: the caller answers 503.
 */
import type { RedisClient } from './redis-client.js';
import { isWellFormedId, MAX_SESSION_DATA_BYTES, newSessionId, type Session } from './store.js';
import type { RespValue } from './resp.js';
import { cookieSessionId, sessionCookieLine, type SessionBinding } from './binding.js';

/** What a Redis-backed store needs to know. */
export interface RedisStoreOptions {
  readonly prefix: string;
  readonly idleMs: number;
  readonly max: number;
}

/** A session's stored form. */
interface Stored {
  readonly o: string;
  readonly c: number;
  readonly d: string;
}

function decode(v: RespValue): Stored | null {
  if (!Buffer.isBuffer(v)) return null;
  try {
    const x: unknown = JSON.parse(v.toString('utf8'));
    if (typeof x !== 'object' || x === null) return null;
    const { o, c, d } = x as Record<string, unknown>;
    return typeof o === 'string' && typeof c === 'number' && typeof d === 'string' ? { o, c, d } : null;
  } catch {
    return null;
  }
}

const IGNORE = (): void => undefined;

/** The sessions of one server block, in one Redis. */
export class RedisSessionStore {
  private readonly lru: string;

  constructor(
    private readonly client: RedisClient,
    private readonly opts: RedisStoreOptions,
    /** Told why a command failed (rate-limited by the caller). */
    private readonly onFailure: (why: string) => void,
  ) {
    this.lru = `${opts.prefix}lru`;
  }

  /** Whether commands can be sent now. */
  get up(): boolean {
    return this.client.up;
  }

  private key(id: string): string {
    return this.opts.prefix + id;
  }

  /** The live session `id` names, its expiry refreshed (null: none); an Error when Redis did not answer. */
  load(id: string, cb: (r: Session | null | Error) => void): void {
    if (!isWellFormedId(id)) {
      cb(null);
      return;
    }
    const px = String(this.opts.idleMs);
    this.client.command(['GETEX', this.key(id), 'PX', px], (e, v) => {
      if (e !== null) {
        this.onFailure(e.message);
        cb(e);
        return;
      }
      const s = decode(v);
      if (s === null) {
        cb(null);
        return;
      }
      const now = Date.now();
      this.client.command(['ZADD', this.lru, 'XX', String(now), id], IGNORE);
      cb({ id, owner: s.o, data: s.d, lastSeen: now, created: s.c });
    });
  }

  /** A session with a fresh id, not stored yet. */
  fresh(owner: string): Session {
    const t = Date.now();
    return { id: newSessionId(), owner, data: '', lastSeen: t, created: t };
  }

  /** Writes the session (new: also trims the LRU set to the cap); `cb` gets whether Redis took the write. */
  save(s: Session, isNew: boolean, cb: (ok: boolean) => void): void {
    const now = Date.now();
    const value = JSON.stringify({ o: s.owner, c: s.created, d: s.data } satisfies Stored);
    this.client.command(['SET', this.key(s.id), value, 'PX', String(this.opts.idleMs)], (e) => {
      if (e !== null) this.onFailure(e.message);
      cb(e === null);
    });
    this.client.command(['ZADD', this.lru, String(now), s.id], IGNORE);
    if (isNew) this.trim(now);
  }

  /** Forgets a session; `cb` gets whether Redis took it. */
  destroy(id: string, cb: (ok: boolean) => void): void {
    this.client.command(['DEL', this.key(id)], (e) => {
      if (e !== null) this.onFailure(e.message);
      cb(e === null);
    });
    this.client.command(['ZREM', this.lru, id], IGNORE);
  }

  /** Drops ids idle past the timeout from the LRU set (their keys expired by themselves), then evicts the least
   *  recently used beyond `max`. */
  private trim(now: number): void {
    this.client.command(['ZREMRANGEBYSCORE', this.lru, '-inf', `(${now - this.opts.idleMs}`], IGNORE);
    this.client.command(['ZCARD', this.lru], (e, n) => {
      if (e !== null || typeof n !== 'number' || n <= this.opts.max) return;
      this.client.command(['ZPOPMIN', this.lru, String(n - this.opts.max)], (e2, popped) => {
        if (e2 !== null || !Array.isArray(popped)) return;
        // ZPOPMIN answers member, score, member, score...
        const keys = popped
          .filter((_, i) => i % 2 === 0)
          .map((m) => (Buffer.isBuffer(m) ? this.key(m.toString()) : ''));
        const real = keys.filter((k) => k !== '');
        if (real.length > 0) this.client.command(['DEL', ...real], IGNORE);
      });
    });
  }
}

/** One request's session in Redis: loaded before the handler runs, written before the response goes out. */
export class RedisSessionBinding implements SessionBinding {
  private session: Session | null = null;
  private stored = false;
  private change: 'none' | 'set' | 'end' = 'none';
  private cookie = '';

  constructor(
    private readonly store: RedisSessionStore,
    private readonly cookieHeader: string | undefined,
    private readonly owner: string,
    private readonly secure: boolean,
  ) {}

  load(done: (ok: boolean) => void): boolean {
    if (this.session !== null) return true;
    const id = cookieSessionId(this.cookieHeader);
    if (id === undefined || !isWellFormedId(id)) {
      this.session = this.store.fresh(this.owner);
      return true;
    }
    this.store.load(id, (r) => {
      if (r instanceof Error) {
        done(false);
        return;
      }
      this.stored = r !== null;
      this.session = r ?? this.store.fresh(this.owner);
      done(true);
    });
    return false;
  }

  get(): Session {
    // load() ran first (request-cycle's session phase); a fresh session otherwise, never a wrong one.
    this.session ??= this.store.fresh(this.owner);
    return this.session;
  }

  setData(data: string): boolean {
    if (Buffer.byteLength(data, 'utf8') > MAX_SESSION_DATA_BYTES) return false;
    const s = this.get();
    s.data = data;
    if (data !== '' || this.stored) this.change = 'set';
    return true;
  }

  end(): void {
    this.get();
    this.change = 'end';
  }

  commit(done: (ok: boolean) => void): void {
    const s = this.get();
    const change = this.change;
    this.change = 'none';
    if (change === 'none') {
      done(true);
      return;
    }
    if (change === 'end') {
      this.cookie = sessionCookieLine(this.secure, null);
      if (!this.stored) {
        done(true);
        return;
      }
      this.stored = false;
      this.store.destroy(s.id, done);
      return;
    }
    const isNew = !this.stored;
    this.store.save(s, isNew, (ok) => {
      if (ok) {
        this.stored = true;
        if (isNew) this.cookie = sessionCookieLine(this.secure, s.id);
      }
      done(ok);
    });
  }

  setCookieLine(): string {
    return this.cookie;
  }
}
