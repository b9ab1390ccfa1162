/**
 * Entity tags (RFC 9110 §8.8.3): nginx-format generation, parsing of single tags and of the
 * `If-Match` / `If-None-Match` list syntax, and the strong and weak comparisons (§8.8.3.2).
 */

/** A parsed entity-tag; `tag` is the opaque-tag without its quotes. */
export interface EntityTag {
  weak: boolean;
  tag: string;
}

/** A parsed `If-Match` / `If-None-Match` value: `*` (any: true, no tags) or a list of tags. */
export interface EtagList {
  any: boolean;
  tags: EntityTag[];
}

/**
 * Strong ETag in nginx's format: `"<hex mtime seconds>-<hex size>"`, e.g. size 26 modified at
 * 1795498589000 ms → `"6b05225d-1a"`.
 */
export function etagFor(size: number, mtimeMs: number): string {
  return `"${Math.floor(mtimeMs / 1000).toString(16)}-${size.toString(16)}"`;
}

/** etagc = %x21 / %x23-7E / obs-text (%x80-FF): any visible byte except DQUOTE, no spaces. */
function isEtagc(c: number): boolean {
  return c === 0x21 || (c >= 0x23 && c <= 0x7e) || (c >= 0x80 && c <= 0xff);
}

const isOws = (c: number): boolean => c === 0x20 || c === 0x09;

/** Scans one entity-tag at `i`; returns it and the index just past it, or null. */
function scanEtag(s: string, i: number): { etag: EntityTag; next: number } | null {
  let weak = false;
  if (s.startsWith('W/', i)) {
    // `W/` is case-sensitive (%s"W/" in §8.8.3).
    weak = true;
    i += 2;
  }
  if (s.charCodeAt(i) !== 0x22) return null;
  const start = i + 1;
  let j = start;
  while (j < s.length && isEtagc(s.charCodeAt(j))) j++;
  if (s.charCodeAt(j) !== 0x22) return null;
  return { etag: { weak, tag: s.slice(start, j) }, next: j + 1 };
}

/** Parses exactly one entity-tag (surrounding whitespace allowed), or null when malformed. */
export function parseEtag(s: string): EntityTag | null {
  let i = 0;
  while (i < s.length && isOws(s.charCodeAt(i))) i++;
  const r = scanEtag(s, i);
  if (r === null) return null;
  let j = r.next;
  while (j < s.length && isOws(s.charCodeAt(j))) j++;
  return j === s.length ? r.etag : null;
}

/**
 * Parses `"*" / #entity-tag` (§13.1.1, §13.1.2). Empty list elements are accepted (§5.6.1.2),
 * `*` only alone. Null when malformed.
 */
export function parseEtagList(header: string): EtagList | null {
  const trimmed = header.replace(/^[ \t]+|[ \t]+$/g, '');
  if (trimmed === '*') return { any: true, tags: [] };
  const tags: EntityTag[] = [];
  let i = 0;
  const n = trimmed.length;
  while (i < n) {
    // At an element start: skip empty elements and their OWS.
    const c = trimmed.charCodeAt(i);
    if (c === 0x2c || isOws(c)) {
      i++;
      continue;
    }
    const r = scanEtag(trimmed, i);
    if (r === null) return null;
    tags.push(r.etag);
    i = r.next;
    while (i < n && isOws(trimmed.charCodeAt(i))) i++;
    if (i < n && trimmed.charCodeAt(i) !== 0x2c) return null; // tags must be comma-separated
    i++;
  }
  return { any: false, tags };
}

function asTag(x: EntityTag | string): EntityTag | null {
  return typeof x === 'string' ? parseEtag(x) : x;
}

/**
 * Strong comparison (§8.8.3.2): neither is weak and the opaque-tags are identical. A string is
 * parsed as an entity-tag first; one that does not parse never matches.
 */
export function strongMatch(a: EntityTag | string, b: EntityTag | string): boolean {
  const x = asTag(a);
  const y = asTag(b);
  return x !== null && y !== null && !x.weak && !y.weak && x.tag === y.tag;
}

/** Weak comparison (§8.8.3.2): the opaque-tags are identical, whatever their weakness. */
export function weakMatch(a: EntityTag | string, b: EntityTag | string): boolean {
  const x = asTag(a);
  const y = asTag(b);
  return x !== null && y !== null && x.tag === y.tag;
}
