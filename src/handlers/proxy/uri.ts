/**
 * The URI a proxied request asks the upstream for, mapped as nginx maps it (docs/ARCHITECTURE.md "Gateway"):
 * `proxy_pass` without a URI passes the request's target as the client sent it; with a URI, the location's
 * prefix of the normalised path is replaced by that URI and the result percent-encoded again.
 */

/** Bytes that stay as they are in a path (RFC 3986 §3.3 pchar and "/"); everything else is %XX. */
const PATH_SAFE = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/]/gu;

/** Percent-encodes a decoded path (UTF-8). */
export function encodePath(decoded: string): string {
  return decoded.replace(PATH_SAFE, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join(''),
  );
}

/**
 * The upstream request-target. `rawPath` and `query` are the target as sent, `path` the normalised one,
 * `prefix` the location's path, `uri` the URI part of proxy_pass (null when none).
 */
export function upstreamTarget(
  rawPath: string,
  query: string,
  path: string,
  prefix: string,
  uri: string | null,
): string {
  const q = query === '' ? '' : `?${query}`;
  if (uri === null) return (rawPath.startsWith('/') ? rawPath : '/') + q;
  let rest = prefix === '/' ? path.slice(1) : path.slice(prefix.length);
  // Our location paths carry no trailing "/" (`/api/` is `/api`), so "/api/x" leaves "/x": joined to a URI
  // ending in "/" it must not become "//x".
  if (uri.endsWith('/') && rest.startsWith('/')) rest = rest.slice(1);
  else if (!uri.endsWith('/') && rest !== '' && !rest.startsWith('/') && prefix === '/') rest = '/' + rest;
  return encodePath(uri + rest) + q;
}
