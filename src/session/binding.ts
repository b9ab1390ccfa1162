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

/** The session of one exchange, resolved on first use. */
export class SessionBinding {
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

  private attributes(): SetCookie {
    return { name: SESSION_COOKIE, value: '', ...COOKIE_ATTRIBUTES, ...(this.secure ? { secure: true } : {}) };
  }

  /** The client's session: the stored one its cookie names, else a fresh one (not stored yet). */
  get(): Session {
    if (this.session !== null) return this.session;
    const id = this.cookieHeader !== undefined ? parseCookieHeader(this.cookieHeader).get(SESSION_COOKIE) : undefined;
    this.session = (id !== undefined ? this.store.get(id) : null) ?? this.store.fresh(this.owner);
    return this.session;
  }

  /** Stores new data (a URL-encoded form string); a fresh session is stored now and its cookie set. False when
   *  the data is over the size cap and was not stored. */
  setData(data: string): boolean {
    const s = this.get();
    const stored = this.store.has(s);
    if (!this.store.setData(s, data)) return false;
    if (!stored && this.store.has(s)) this.cookie = setCookieLine({ ...this.attributes(), value: s.id });
    return true;
  }

  /** Ends the session (logout): removed from the store, and the response expires its cookie. */
  end(): void {
    const s = this.get();
    this.store.destroy(s.id);
    this.cookie = setCookieLine({ ...this.attributes(), maxAge: 0 });
  }

  /** The Set-Cookie line the response must carry ("" for none). */
  setCookieLine(): string {
    return this.cookie;
  }
}
