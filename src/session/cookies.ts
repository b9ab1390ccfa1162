/**
 * Cookies per RFC 6265: parsing the `Cookie` request header (§5.4, §4.2.1) and writing
 * `Set-Cookie` response headers (§4.1.1). Pure functions; errors are returned, never thrown.
 */
import { isToken } from '../http/abnf.js';

/** A `Set-Cookie` to send; attributes are written in the order of the fields below. */
export interface SetCookie {
  name: string;
  value: string;
  path?: string;
  domain?: string;
  /** Seconds; a non-negative integer (0 deletes the cookie, RFC 6265 §5.2.2). */
  maxAge?: number;
  expires?: Date;
  httpOnly?: boolean;
  secure?: boolean;
  sameSite?: 'Strict' | 'Lax' | 'None';
}

/** Why a `SetCookie` cannot be serialised. */
export type CookieErrorKind =
  | 'invalid-name'
  | 'invalid-value'
  | 'invalid-path'
  | 'invalid-domain'
  | 'invalid-max-age'
  | 'invalid-expires'
  | 'samesite-none-without-secure';

/** A typed serialisation error: its kind, and a sentence for logs. */
export interface CookieError {
  readonly kind: CookieErrorKind;
  readonly message: string;
}

/** Outcome of `serializeSetCookie`: the header value, or why there is none. */
export type CookieResult =
  { readonly ok: true; readonly value: string } | { readonly ok: false; readonly error: CookieError };

/** RFC 6265 §4.1.1 cookie-value: *cookie-octet, optionally wrapped in DQUOTEs.
 *  cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E (no CTL, space, DQUOTE, ",", ";", "\"). */
const COOKIE_VALUE = /^(?:[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*|"[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*")$/;

/** RFC 6265 §4.1.1 av-octet: any US-ASCII CHAR except CTLs and ";". One or more. */
const AV_VALUE = /^[\x20-\x3A\x3C-\x7E]+$/;

/** Domain attribute: LDH labels separated by dots, an optional leading dot (ignored by UAs, §5.2.3). */
const DOMAIN = /^\.?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** Optional whitespace around pairs (RFC 9110 §5.6.3 OWS: SP / HTAB). */
const trimOws = (s: string): string => s.replace(/^[ \t]+|[ \t]+$/g, '');

/**
 * Parses a `Cookie` header value (`a=1; b="2"`) into name → value. Pairs without "=" or whose
 * name is not a token are ignored; a DQUOTE-wrapped value loses its quotes; the first
 * occurrence of a name wins (UAs list more specific paths first, §5.4 step 2). Values are
 * otherwise kept as sent, since UAs do not all enforce cookie-octet. Never throws.
 */
export function parseCookieHeader(value: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const piece of value.split(';')) {
    const eq = piece.indexOf('=');
    if (eq < 0) continue;
    const name = trimOws(piece.slice(0, eq));
    if (!isToken(name) || out.has(name)) continue;
    let v = trimOws(piece.slice(eq + 1));
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    out.set(name, v);
  }
  return out;
}

const cookieError = (kind: CookieErrorKind, message: string): CookieResult => ({ ok: false, error: { kind, message } });

/**
 * Writes a `Set-Cookie` header value: `name=value; Path=..; Domain=..; Max-Age=N;
 * Expires=<IMF-fixdate>; HttpOnly; Secure; SameSite=..`, attributes present only when set.
 * Returns `{ ok: false, error }` for a name that is not a token, a value outside cookie-octet
 * (§4.1.1), a Path not starting with "/" or holding ";"/CTLs/non-ASCII, a Domain that is not a
 * host name, a Max-Age that is not a non-negative integer, an invalid Expires date (year outside
 * 1601..9999, §5.1.1), or `SameSite=None` without `Secure` (UAs reject that cookie).
 */
export function serializeSetCookie(c: SetCookie): CookieResult {
  if (!isToken(c.name)) return cookieError('invalid-name', `cookie name is not a token: ${JSON.stringify(c.name)}`);
  if (!COOKIE_VALUE.test(c.value)) {
    return cookieError('invalid-value', `cookie value has characters outside cookie-octet: ${JSON.stringify(c.value)}`);
  }
  let s = `${c.name}=${c.value}`;
  if (c.path !== undefined) {
    if (!AV_VALUE.test(c.path) || !c.path.startsWith('/')) {
      return cookieError(
        'invalid-path',
        `Path must start with "/" and hold no ";" or control characters: ${JSON.stringify(c.path)}`,
      );
    }
    s += `; Path=${c.path}`;
  }
  if (c.domain !== undefined) {
    if (!DOMAIN.test(c.domain))
      return cookieError('invalid-domain', `Domain is not a host name: ${JSON.stringify(c.domain)}`);
    s += `; Domain=${c.domain}`;
  }
  if (c.maxAge !== undefined) {
    if (!Number.isSafeInteger(c.maxAge) || c.maxAge < 0) {
      return cookieError('invalid-max-age', `Max-Age must be a non-negative integer: ${String(c.maxAge)}`);
    }
    s += `; Max-Age=${c.maxAge}`;
  }
  if (c.expires !== undefined) {
    const year = c.expires.getUTCFullYear();
    if (Number.isNaN(c.expires.getTime()) || year < 1601 || year > 9999) {
      return cookieError('invalid-expires', 'Expires must be a valid date in years 1601..9999');
    }
    // toUTCString() yields the IMF-fixdate form (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
    s += `; Expires=${c.expires.toUTCString()}`;
  }
  if (c.httpOnly === true) s += '; HttpOnly';
  if (c.secure === true) s += '; Secure';
  if (c.sameSite !== undefined) {
    if (c.sameSite === 'None' && c.secure !== true) {
      return cookieError('samesite-none-without-secure', 'SameSite=None requires Secure');
    }
    s += `; SameSite=${c.sameSite}`;
  }
  return { ok: true, value: s };
}
