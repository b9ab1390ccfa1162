/**
 * `add_header` and `expires` (issue 17), applied to a response as it leaves: nginx's inheritance (a location
 * that sets any add_header replaces the server's), and its list of statuses they apply to unless `always`.
 */
import type { AddHeader, Expires } from '../config/routing-types.js';
import type { LocationConfig, ServerConfig } from '../config/types.js';
import { formatHttpDate } from '../http/http-date.js';
import { headerLine } from '../http/response.js';
import { expand, type VarContext } from './variables.js';

/** The statuses add_header (without `always`) and expires apply to (ngx_http_headers_filter_module). */
const DECORATED: ReadonlySet<number> = new Set([200, 201, 204, 206, 301, 302, 303, 304, 307, 308]);

/** Expires value of `expires max` (nginx's). */
const MAX_EXPIRES = 'Thu, 31 Dec 2037 23:55:55 GMT';
/** Expires value of `expires epoch`. */
const EPOCH_EXPIRES = 'Thu, 01 Jan 1970 00:00:01 GMT';

/** The add_headers in force: the location's when it sets any, else the server's. */
export function headersInForce(server: ServerConfig, loc: LocationConfig | null): readonly AddHeader[] {
  return loc?.addHeaders ?? server.addHeaders;
}

/** The Expires and Cache-Control lines of an `expires` setting at `nowMs` ("" for off). */
export function expiresLines(e: Expires, nowMs: number): string {
  switch (e.kind) {
    case 'off':
      return '';
    case 'epoch':
      return headerLine('Expires', EPOCH_EXPIRES) + headerLine('Cache-Control', 'no-cache');
    case 'max':
      return headerLine('Expires', MAX_EXPIRES) + headerLine('Cache-Control', 'max-age=315360000');
    case 'time': {
      const cc = e.seconds < 0 ? 'no-cache' : `max-age=${e.seconds}`;
      return headerLine('Expires', formatHttpDate(nowMs + e.seconds * 1000)) + headerLine('Cache-Control', cc);
    }
  }
}

/** Drops the lines of `headers` (each "Name: value\r\n") whose name is in `names` (lower case). */
function dropHeaders(headers: string, names: ReadonlySet<string>): string {
  if (headers === '') return headers;
  return headers
    .split('\r\n')
    .filter((l) => l === '' || !names.has(l.slice(0, Math.max(0, l.indexOf(':'))).toLowerCase()))
    .join('\r\n');
}

const CACHING = new Set(['expires', 'cache-control']);

/**
 * `headers` (a response's header lines) with the expires and add_header lines of `loc` (or its server) for a
 * response of `status`. Unchanged when neither applies.
 */
export function decorate(
  headers: string,
  status: number,
  server: ServerConfig,
  loc: LocationConfig | null,
  vars: () => VarContext,
  nowMs: number,
): string {
  const adds = headersInForce(server, loc);
  const expires = loc?.expires ?? server.expires;
  const listed = DECORATED.has(status);
  let out = headers;
  if (expires !== null && expires.kind !== 'off' && listed) {
    out = dropHeaders(out, CACHING) + expiresLines(expires, nowMs);
  }
  if (adds.length > 0) {
    let ctx: VarContext | null = null;
    for (const h of adds) {
      if (!h.always && !listed) continue;
      ctx ??= vars();
      const value = expand(h.value, ctx);
      if (value !== '') out += headerLine(h.name, value); // nginx sends no header for an empty value
    }
  }
  return out;
}
