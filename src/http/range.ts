/**
 * Byte range requests (RFC 9110 §14): parsing `Range` against a representation size, the
 * Content-Range values, and the exact byte layout of a multipart/byteranges body (§14.6).
 *
 * Policy (what the parser does where the RFC leaves a choice):
 * - a syntactically invalid header, or a unit other than `bytes`, is ignored → full response
 *   (§14.2 allows ignoring; RFC 2616 §14.35.1 required it). nginx 1.22 answers 416 to invalid
 *   syntax such as `bytes=abc` or `bytes=10-5`, and ignores other units.
 * - range DoS defence (§14.2, §17.15): more than MAX_RANGES range-specs, or several ranges whose
 *   requested bytes add up to more than twice the size (many overlapping ranges), → full
 *   response (nginx ignores the header past 1x, Apache caps ranges and overlaps). Otherwise
 *   overlapping or adjacent ranges are coalesced, so no byte is sent twice and at most
 *   MAX_RANGES parts go out; 100 one-byte parts cost ~10 KiB of part headers, an accepted bound.
 * - a zero-length representation: every int-range is unsatisfiable (416); a non-zero suffix-range is
 *   satisfiable (§14.1.2) but selects no bytes, so the header is ignored → full (empty) response.
 */

import { randomBytes } from 'node:crypto';
import { err, ok, type Result } from '../lib/result.js';

/** An inclusive byte range within the representation. */
export interface ByteRange {
  start: number;
  end: number;
}

/** How to answer: ignore the Range header, send these ranges (206), or 416. */
export type RangeOutcome = { kind: 'full' } | { kind: 'partial'; ranges: ByteRange[] } | { kind: 'unsatisfiable' };

/** The most range-specs honoured in one header; more → the header is ignored. */
export const MAX_RANGES = 100;

const FULL: RangeOutcome = { kind: 'full' };
const UNSATISFIABLE: RangeOutcome = { kind: 'unsatisfiable' };

/** int-range = first-pos "-" [ last-pos ]; suffix-range = "-" suffix-length (§14.1.1). */
const INT_RANGE = /^(\d+)-(\d*)$/;
const SUFFIX_RANGE = /^-(\d+)$/;

/**
 * Resolves one range-spec against `size`: the range, or null for a satisfiable spec that selects no bytes (a
 * non-zero suffix-range on a zero-length representation); an error for bad syntax or an unsatisfiable spec.
 */
function resolveSpec(spec: string, size: number): Result<ByteRange | null, 'unsatisfiable' | 'invalid'> {
  const int = INT_RANGE.exec(spec);
  if (int) {
    const [, first = '', last = ''] = int;
    // last-pos < first-pos makes the spec invalid (§14.1.1); BigInt keeps huge values exact.
    if (last !== '' && BigInt(last) < BigInt(first)) return err('invalid');
    const start = Number(first);
    if (start >= size) return err('unsatisfiable'); // also every int-range of an empty file (§14.1.1)
    return ok({ start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) });
  }
  const suffix = SUFFIX_RANGE.exec(spec);
  if (suffix) {
    const length = Number(suffix[1]);
    // satisfiable iff suffix-length > 0 (§14.1.1), even on a zero-length representation (§14.1.2)
    if (length === 0) return err('unsatisfiable');
    if (size === 0) return ok(null);
    return ok({ start: Math.max(0, size - length), end: size - 1 });
  }
  return err('invalid');
}

/**
 * Merges overlapping or adjacent ranges (§14.2 allows coalescing). The merged ranges keep the
 * order in which their first member was requested (§14.6: parts follow the request order).
 */
export function coalesceRanges(ranges: readonly ByteRange[]): ByteRange[] {
  const byStart = ranges.map((r, index) => ({ ...r, index })).sort((a, b) => a.start - b.start || a.index - b.index);
  const merged: Array<ByteRange & { index: number }> = [];
  for (const r of byStart) {
    const last = merged[merged.length - 1];
    if (last !== undefined && r.start <= last.end + 1) {
      last.end = Math.max(last.end, r.end);
      last.index = Math.min(last.index, r.index);
    } else {
      merged.push({ ...r });
    }
  }
  return merged.sort((a, b) => a.index - b.index).map(({ start, end }) => ({ start, end }));
}

/**
 * Evaluates a Range header value (§14.1.2, §14.2) for a representation of `size` bytes. Ranges
 * are inclusive and clipped to `size - 1`; see the policy at the top of this file.
 */
export function parseRange(header: string, size: number): RangeOutcome {
  const eq = header.indexOf('=');
  // range-unit is case-insensitive (§14.1); no whitespace around "=" in the grammar.
  if (eq < 0 || header.slice(0, eq).toLowerCase() !== 'bytes') return FULL;
  const specs: string[] = [];
  for (const element of header.slice(eq + 1).split(',')) {
    const spec = element.replace(/^[ \t]+|[ \t]+$/g, '');
    if (spec !== '') specs.push(spec); // empty list elements are allowed (§5.6.1.2)
  }
  if (specs.length === 0 || specs.length > MAX_RANGES) return FULL;

  const ranges: ByteRange[] = [];
  let requested = 0;
  let empty = false;
  for (const spec of specs) {
    const resolved = resolveSpec(spec, size);
    if (!resolved.ok) {
      if (resolved.error === 'invalid') return FULL;
      continue; // an unsatisfiable spec is skipped; all of them → 416 below
    }
    const r = resolved.value;
    if (r === null) {
      empty = true;
      continue;
    }
    ranges.push(r);
    requested += r.end - r.start + 1;
  }
  // Satisfiable, yet no Content-Range can describe zero bytes (§14.4): ignore the header, as §14.2 allows
  // "when the selected representation has no content"; 416 would call a satisfiable range unsatisfiable.
  if (empty) return FULL;
  if (ranges.length === 0) return UNSATISFIABLE;
  if (ranges.length === 1) return { kind: 'partial', ranges };
  if (requested > 2 * size) return FULL;
  return { kind: 'partial', ranges: coalesceRanges(ranges) };
}

/** Content-Range of a partial response (§14.4): `bytes S-E/SIZE`. */
export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}

/** Content-Range of a 416 response (§14.4, unsatisfied-range): `bytes *` + `/SIZE`. */
export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`;
}

/** A fresh multipart boundary: 24 hex characters from crypto-random bytes. */
export function newBoundary(): string {
  return randomBytes(12).toString('hex');
}

/** The Content-Type of a multipart/byteranges response (§14.6). */
export function multipartContentType(boundary: string): string {
  return `multipart/byteranges; boundary=${boundary}`;
}

/** The bytes of a multipart/byteranges body, less the file slices the sender fills in. */
export interface ByteRangesLayout {
  /** Send `head`, then file bytes `start..end` (inclusive), for each part in order. */
  parts: Array<{ head: Buffer; start: number; end: number }>;
  /** The close delimiter, sent last. */
  tail: Buffer;
  /** Exact body length: heads + slices + tail, for Content-Length. */
  length: number;
}

/**
 * Lays out a multipart/byteranges body (§14.6, RFC 2046 §5.1.1): the first part opens with the
 * dash-boundary, each later one with CRLF + dash-boundary (the delimiter); each part has
 * Content-Type (omitted when `contentType` is empty) and Content-Range; the body ends with the
 * close delimiter and a CRLF (an empty epilogue).
 */
export function byteRangesLayout(
  ranges: readonly ByteRange[],
  size: number,
  contentType: string,
  boundary: string,
): ByteRangesLayout {
  const typeLine = contentType === '' ? '' : `Content-Type: ${contentType}\r\n`;
  let length = 0;
  const parts = ranges.map(({ start, end }, i) => {
    const head = Buffer.from(
      `${i === 0 ? '' : '\r\n'}--${boundary}\r\n${typeLine}Content-Range: ${contentRange(start, end, size)}\r\n\r\n`,
      'latin1',
    );
    length += head.length + (end - start + 1);
    return { head, start, end };
  });
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  return { parts, tail, length: length + tail.length };
}
