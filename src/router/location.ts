/**
 * Location matching (docs/ARCHITECTURE.md "Routing"), in nginx's order: an exact `=` match wins at once; else the
 * longest prefix (plain ones at a segment boundary, the seed's rule; `^~` ones as plain string prefixes); a
 * longest `^~` ends the search; else the first regex (`~`, `~*`) in file order that matches; else that prefix.
 * Also the mapping of a URL path to a file under the location's root.
 */
import { posix } from 'node:path';
import type { LocationConfig, ServerConfig } from '../config/types.js';

/** A server's locations, grouped for the search (built once per ServerConfig). */
interface Index {
  readonly exact: ReadonlyMap<string, LocationConfig>;
  /** Plain and `^~` prefixes, longest first. */
  readonly prefixes: readonly LocationConfig[];
  /** Regex locations in file order. */
  readonly regexes: readonly LocationConfig[];
}

const indexCache = new WeakMap<ServerConfig, Index>();

function indexOf(server: ServerConfig): Index {
  let ix = indexCache.get(server);
  if (ix === undefined) {
    const exact = new Map<string, LocationConfig>();
    for (const l of server.locations) if (l.match.kind === 'exact' && !exact.has(l.path)) exact.set(l.path, l);
    const prefixes = server.locations
      .filter((l) => l.match.kind === 'prefix' || l.match.kind === 'stop')
      .sort((a, b) => b.path.length - a.path.length);
    const regexes = server.locations.filter((l) => l.match.kind === 'regex');
    ix = { exact, prefixes, regexes };
    indexCache.set(server, ix);
  }
  return ix;
}

/** True when `prefix` matches `path` at a segment boundary ("/files" matches "/files", "/files/a", not "/filesx"). */
export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47 || prefix.endsWith('/');
}

/** The location chosen for a path, and the captures of its regex (empty for the other kinds). */
export interface LocationMatchResult {
  readonly location: LocationConfig;
  /** Index 1 is `$1`; empty when no regex matched. */
  readonly captures: readonly (string | undefined)[];
}

const NO_CAPTURES: readonly string[] = [];

/** The location serving `path` (already normalised) with its captures, or null when none matches. */
export function findLocation(server: ServerConfig, path: string): LocationMatchResult | null {
  const ix = indexOf(server);
  const exact = ix.exact.get(path);
  if (exact !== undefined) return { location: exact, captures: NO_CAPTURES };
  let prefix: LocationConfig | null = null;
  for (const l of ix.prefixes) {
    const hit = l.match.kind === 'stop' ? path.startsWith(l.path) : prefixMatches(l.path, path);
    if (hit) {
      prefix = l;
      break;
    }
  }
  if (prefix !== null && prefix.match.kind === 'stop') return { location: prefix, captures: NO_CAPTURES };
  for (const l of ix.regexes) {
    if (l.match.kind !== 'regex') continue;
    const m = l.match.regex.exec(path);
    if (m !== null) return { location: l, captures: [...m] };
  }
  return prefix === null ? null : { location: prefix, captures: NO_CAPTURES };
}

/** The location serving `path` (already normalised), or null when none matches. */
export function matchLocation(server: ServerConfig, path: string): LocationConfig | null {
  return findLocation(server, path)?.location ?? null;
}

/**
 * The filesystem path for `path` under the location's root: the root replaces the location prefix (the seed's
 * rule); for `=` and regex locations (mapPrefix "") it gets the whole path, as nginx's root does. A root or alias
 * with captures is expanded with the location's `captures`; null when the expansion leaves its directory (a
 * capture of ".." say), which is then no file at all.
 */
export function fileFor(
  loc: LocationConfig,
  root: string,
  path: string,
  captures: readonly (string | undefined)[] = [],
): string | null {
  const rc = loc.rootCaptures;
  if (rc !== null) {
    let base = '';
    for (const p of rc.template.parts)
      base += p.kind === 'text' ? p.text : p.kind === 'capture' ? (captures[p.index] ?? '') : '';
    const file = posix.normalize(rc.whole ? base + path : base);
    return file === root || file.startsWith(root.endsWith('/') ? root : root + '/')
      ? file.replace(/(.)\/$/, '$1')
      : null;
  }
  const prefix = loc.mapPrefix;
  const rest = prefix === '/' || prefix === '' ? path : path.startsWith(prefix) ? path.slice(prefix.length) : path;
  if (rest === '' || rest === '/') return root;
  return root + (rest.charCodeAt(0) === 47 ? rest : '/' + rest);
}
