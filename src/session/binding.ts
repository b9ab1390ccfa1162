/**
 * One request's view of its client's session (docs/ARCHITECTURE.md "Sessions"): the session named by the `sid` cookie, or a fresh one
 * that is stored, and whose cookie is sent, only once something is written into it. Handlers reach it through
 * the Exchange; the connection adds `setCookieLine()` to the response.
 */
import { parseCookieHeader, serializeSetCookie, type SetCookie } from './cookies.js';
import type { Session, SessionStore } from './store.js';

/** The session cookie's name. */
export const SESSION_COOKIE = 'sid';

const COOKIE_ATTRIBUTES = { path: '/', httpOnly: true, sameSite: 'Lax' } as const satisfies Omit<
  SetCookie,
  'name' | 'value'
>;

/** A `Set-Cookie` header line, or "" when the cookie is not a valid one (it always is for our ids). */
function setCookieLine(c: SetCookie): string {
  const r = serializeSetCookie(c);
  return r.ok ? `Set-Cookie: ${r.value}\r\n` : '';
}

/** One request's session, whichever store holds it. */
export interface SessionBinding {
  /** Readies the session before the handler runs: true when it is ready now, else `done` comes on a later turn
   *  (false: the store is unreachable, and the request is answered 503). */
  load(done: (ok: boolean) => void): boolean;
  /** The client's session: the stored one its cookie names, else a fresh one (not stored yet). */
  get(): Session;
  /** Sets new data (a URL-encoded form string); false when it is over the size cap and was not kept. */
  setData(data: string): boolean;
  /** Ends the session (logout); the response expires its cookie. */
  end(): void;
  /** Makes what setData or end did durable before the response goes out; `done(false)` when the store failed. */
  commit(done: (ok: boolean) => void): void;
  /** The Set-Cookie line the response must carry ("" for none). */
  setCookieLine(): string;
}

/** The session's id from a Cookie header, if it names one. */
export function cookieSessionId(cookieHeader: string | undefined): string | undefined {
  return cookieHeader !== undefined ? parseCookieHeader(cookieHeader).get(SESSION_COOKIE) : undefined;
}

/** The `sid` cookie's attributes; `Secure` over TLS (RFC 6265 §4.1.2.5): never sent back over plain HTTP. */
export function sessionCookie(secure: boolean): SetCookie {
  return { name: SESSION_COOKIE, value: '', ...COOKIE_ATTRIBUTES, ...(secure ? { secure: true } : {}) };
}

/** The Set-Cookie line that stores `id` in the client, or (id null) expires it. */
export function sessionCookieLine(secure: boolean, id: string | null): string {
  return setCookieLine(id === null ? { ...sessionCookie(secure), maxAge: 0 } : { ...sessionCookie(secure), value: id });
}

/** The session of one exchange in this process's memory, resolved on first use. */
export class MemorySessionBinding implements SessionBinding {
  private session: Session | null = null;
  private cookie = '';

  constructor(
    private readonly store: SessionStore,
    /** The request's Cookie header, if any. */
    private readonly cookieHeader: string | undefined,
    /** The client's address: the owner of a session created now. */
    private readonly owner: string,
    /** Over TLS the cookie gets `Secure` (RFC 6265 §4.1.2.5): it is never sent back over plain HTTP. */
    private readonly secure = false,
  ) {}

  /** In memory the session is always ready. */
  load(): boolean {
    return true;
  }

  /** In memory every change is in place at once. */
  commit(done: (ok: boolean) => void): void {
    done(true);
  }

  get(): Session {
    if (this.session !== null) return this.session;
    const id = cookieSessionId(this.cookieHeader);
    this.session = (id !== undefined ? this.store.get(id) : null) ?? this.store.fresh(this.owner);
    return this.session;
  }

  /** A fresh session is stored by its first data, and its cookie set. */
  setData(data: string): boolean {
    const s = this.get();
    const stored = this.store.has(s);
    if (!this.store.setData(s, data)) return false;
    if (!stored && this.store.has(s)) this.cookie = sessionCookieLine(this.secure, s.id);
    return true;
  }

  end(): void {
    const s = this.get();
    this.store.destroy(s.id);
    this.cookie = sessionCookieLine(this.secure, null);
  }

  setCookieLine(): string {
    return this.cookie;
  }
}
