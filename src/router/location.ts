/**
 * Location matching (DESIGN §3): the longest location path that is a prefix of the request path at a segment
 * boundary, and the mapping of a URL path to a file under the location's root.
 */
import type { LocationConfig, ServerConfig } from '../config/types.js';

const sortedCache = new WeakMap<ServerConfig, readonly LocationConfig[]>();

function byLengthDesc(server: ServerConfig): readonly LocationConfig[] {
  let s = sortedCache.get(server);
  if (s === undefined) {
    s = [...server.locations].sort((a, b) => b.path.length - a.path.length);
    sortedCache.set(server, s);
  }
  return s;
}

/** True when `prefix` matches `path` at a segment boundary ("/files" matches "/files", "/files/a", not "/filesx"). */
export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47;
}

/** The location serving `path` (already normalised), or null when none matches. */
export function matchLocation(server: ServerConfig, path: string): LocationConfig | null {
  for (const loc of byLengthDesc(server)) {
    if (prefixMatches(loc.path, path)) return loc;
  }
  return null;
}

/** The filesystem path for `path` under the location's root: the root replaces the location prefix. */
export function fileFor(loc: LocationConfig, root: string, path: string): string {
  const rest = loc.path === '/' ? path : path.slice(loc.path.length);
  if (rest === '' || rest === '/') return root;
  return root + (rest.charCodeAt(0) === 47 ? rest : '/' + rest);
}
