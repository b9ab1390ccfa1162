/**
 * From request-target path to a safe, normalised URL path (docs/ARCHITECTURE.md "Paths").
 */

import { hexValue } from '../http/abnf.js';
import { err, ok, type Result } from '../lib/result.js';

/** Why a path was refused; each maps to 400. */
export type PathError = 'bad-escape' | 'nul' | 'bad-utf8' | 'not-absolute';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Percent-decodes once (RFC 3986 §2.1), refuses NUL and invalid UTF-8 (overlong forms included, since the decoder
 * is strict), then removes dot segments (RFC 3986 §5.2.4). A trailing "/" is kept. The result always starts with "/"
 * and never contains a "." or ".." segment, so joining it under a root cannot climb out of that root.
 */
export function normalizePath(raw: string): Result<string, PathError> {
  if (raw.length === 0 || raw.charCodeAt(0) !== 47) return err('not-absolute');
  let decoded = raw;
  if (raw.indexOf('%') !== -1) {
    const bytes = Buffer.allocUnsafe(raw.length);
    let n = 0;
    for (let i = 0; i < raw.length; i++) {
      const c = raw.charCodeAt(i);
      if (c === 37) {
        const h = i + 2 < raw.length ? hexValue(raw.charCodeAt(i + 1)) : 255;
        const l = i + 2 < raw.length ? hexValue(raw.charCodeAt(i + 2)) : 255;
        if (h === 255 || l === 255) return err('bad-escape');
        bytes[n++] = (h << 4) | l;
        i += 2;
      } else {
        bytes[n++] = c;
      }
    }
    try {
      decoded = utf8.decode(bytes.subarray(0, n));
    } catch {
      return err('bad-utf8');
    }
  }
  if (decoded.indexOf('\0') !== -1) return err('nul');
  // Fast path: nothing to remove.
  if (decoded.indexOf('/.') === -1 && decoded.indexOf('//') === -1) return ok(decoded);
  const out: string[] = [];
  const segs = decoded.split('/');
  // segs[0] is "" (leading slash). Empty segments ("//") collapse, as NGINX's merge_slashes does.
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i] ?? '';
    if (s === '.' || s === '') continue;
    if (s === '..') {
      out.pop();
      continue;
    }
    out.push(s);
  }
  const last = segs[segs.length - 1];
  const trailing = last === '' || last === '.' || last === '..';
  const joined = '/' + out.join('/');
  return ok(trailing && joined !== '/' ? joined + '/' : joined);
}

/** Percent-encodes a decoded path for use in a Location header or an HTML link (RFC 3986 pchar). */
export function encodePath(p: string): string {
  return encodeURI(p).replace(/[?#]/g, (c) => (c === '?' ? '%3F' : '%23'));
}
