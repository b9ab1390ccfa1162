/**
 * Which representations a static file has (README "Compression"): its pre-compressed `.br` / `.gz` siblings and
 * the codings its location may encode it with. Both depend only on the file, its siblings and the location, never
 * on the request, so they are worked out once per file and kept while the stat cache vouches for all three: a hot
 * file then costs one map lookup here instead of two sibling stats and a MIME lookup per request.
 */
import type * as fs from 'node:fs';
import type { CompressionConfig } from '../config/types.js';
import type { Coding } from '../http/accept-encoding.js';
import { contentTypeFor, type MimeTable } from '../http/mime.js';
import { codingsFor, NO_CODINGS } from './compression.js';
import { onForget, statCached } from './stat-cache.js';

/** Pre-compressed siblings, looked for beside the file (nginx's gzip_static, ngx_brotli's brotli_static). */
export const SIBLINGS: ReadonlyArray<readonly [Coding, string]> = [
  ['br', '.br'],
  ['gzip', '.gz'],
];

/** A file's representations besides itself. */
export interface Representations {
  /** The siblings that are regular files, by coding; null when there is none. */
  readonly siblings: ReadonlyMap<Coding, fs.Stats> | null;
  /** The codings the location may encode the file with here (empty: none). */
  readonly encodable: ReadonlySet<Coding>;
}

interface Entry extends Representations {
  /** The Stats the stat cache gave for the file: another object means the file (or the cache) moved on. */
  readonly st: fs.Stats;
  readonly comp: CompressionConfig | undefined;
  readonly maxEncode: number;
  /** The types table the file's type was looked up in (the codings depend on the type). */
  readonly mime: MimeTable;
}

/** Most files remembered; beyond it everything is forgotten at once, as the stat cache does. */
const MAX_ENTRIES = 50_000;
const entries = new Map<string, Entry>();

// A sibling created or removed is forgotten by the stat cache, and so is its file's entry here.
onForget((p, subtree) => {
  if (entries.size === 0) return;
  if (subtree) {
    const prefix = p.endsWith('/') ? p : p + '/';
    for (const k of entries.keys()) if (k === p || k.startsWith(prefix)) entries.delete(k);
    return;
  }
  entries.delete(p);
  for (const [, ext] of SIBLINGS) if (p.endsWith(ext)) entries.delete(p.slice(0, -ext.length));
});

/** A sibling's metadata, or undefined when it cannot be one (its name too long for the filesystem, say). */
function siblingStat(p: string, root: string): fs.Stats | undefined {
  try {
    return statCached(p, root);
  } catch {
    return undefined; // the file itself was found: a sibling that cannot exist is simply absent
  }
}

/**
 * The representations of the file at `path` (under `root`), whose Stats from the stat cache are `st`, served by a
 * location compressing with `comp` (undefined: no compression) up to `maxEncode` bytes, with its types `mime`.
 */
export function representationsOf(
  path: string,
  root: string,
  st: fs.Stats,
  comp: CompressionConfig | undefined,
  maxEncode: number,
  mime: MimeTable,
): Representations {
  const hit = entries.get(path);
  if (hit !== undefined && hit.st === st && hit.comp === comp && hit.maxEncode === maxEncode && hit.mime === mime)
    return hit;
  let siblings: Map<Coding, fs.Stats> | null = null;
  for (const [coding, ext] of SIBLINGS) {
    const sib = siblingStat(path + ext, root);
    if (sib?.isFile() === true) (siblings ??= new Map()).set(coding, sib);
  }
  const encodable =
    comp === undefined || st.size > maxEncode ? NO_CODINGS : codingsFor(comp, contentTypeFor(path, mime), st.size);
  // Kept only while the stat cache holds the file's Stats: an uncached stat gives a new object every time.
  const entry: Entry = { st, comp, maxEncode, mime, siblings, encodable };
  if (entries.size >= MAX_ENTRIES) entries.clear();
  entries.set(path, entry);
  return entry;
}
