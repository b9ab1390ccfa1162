/**
 * Conditional requests (RFC 9110 §13): the precondition evaluation order of §13.2.2 and the
 * If-Range test of §13.1.5, for a representation identified by an ETag and a Last-Modified time.
 */

import { parseEtag, parseEtagList, strongMatch, weakMatch } from './etag.js';
import { parseHttpDate } from './http-date.js';

/** What the preconditions say: go on, answer 304, or answer 412. */
export type Precondition = 'proceed' | 'not-modified' | 'precondition-failed';

/** The selected representation's validators. */
export interface Validators {
  /** The ETag as sent, e.g. `"6b05225d-1a"`. */
  etag: string;
  lastModifiedMs: number;
}

/** Times compare at the one-second resolution of HTTP-date (§5.6.7). */
const toSeconds = (ms: number): number => Math.floor(ms / 1000);

/** A header's value, or undefined when absent or empty (an empty field carries no condition). */
function field(headers: Map<string, string>, name: string): string | undefined {
  const v = headers.get(name);
  return v === undefined || v.trim() === '' ? undefined : v;
}

/**
 * Evaluates If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since in the order of
 * §13.2.2. Header names are lower-case. A representation always exists here, so `*` matches.
 * A malformed If-Match fails (412: the client's state cannot be confirmed); a malformed
 * If-None-Match is ignored (costs only a full response), as Go and nginx do. `nowMs` decides
 * whether an If-Modified-Since date lies in the future.
 */
export function evaluatePreconditions(
  method: string,
  headers: Map<string, string>,
  v: Validators,
  nowMs: number = Date.now(),
): Precondition {
  const isGetOrHead = method === 'GET' || method === 'HEAD';
  const ifMatch = field(headers, 'if-match');
  const ifNoneMatch = field(headers, 'if-none-match');

  // Step 1: If-Match, strong comparison (§13.1.1).
  if (ifMatch !== undefined) {
    const list = parseEtagList(ifMatch);
    const ok = list !== null && (list.any || list.tags.some((t) => strongMatch(t, v.etag)));
    if (!ok) return 'precondition-failed';
  } else {
    // Step 2: If-Unmodified-Since, only without If-Match (§13.1.4); an invalid date is ignored.
    const ius = field(headers, 'if-unmodified-since');
    const date = ius === undefined ? null : parseHttpDate(ius, nowMs);
    if (date !== null && toSeconds(v.lastModifiedMs) > toSeconds(date)) return 'precondition-failed';
  }

  // Step 3: If-None-Match, weak comparison (§13.1.2).
  if (ifNoneMatch !== undefined) {
    const list = parseEtagList(ifNoneMatch);
    const matched = list !== null && (list.any || list.tags.some((t) => weakMatch(t, v.etag)));
    if (matched) return isGetOrHead ? 'not-modified' : 'precondition-failed';
  } else if (isGetOrHead) {
    // Step 4: If-Modified-Since, only without If-None-Match and for GET/HEAD (§13.1.3); an
    // invalid date or one later than the server's clock is ignored.
    const ims = field(headers, 'if-modified-since');
    const date = ims === undefined ? null : parseHttpDate(ims, nowMs);
    if (date !== null && toSeconds(date) <= toSeconds(nowMs) && toSeconds(v.lastModifiedMs) <= toSeconds(date)) {
      return 'not-modified';
    }
  }

  // Step 5 (If-Range with Range) belongs to the range logic: see ifRangeAllows.
  return 'proceed';
}

/**
 * If-Range (§13.1.5): true when the Range header may be honoured, i.e. the value is an ETag that
 * strongly matches (a weak tag never does) or an HTTP-date exactly equal to Last-Modified at
 * one-second resolution. Anything else, malformed included, is false: send the full response.
 * `nowMs` only places two-digit RFC 850 years.
 */
export function ifRangeAllows(headerValue: string, v: Validators, nowMs: number = Date.now()): boolean {
  const tag = parseEtag(headerValue);
  if (tag !== null) return strongMatch(tag, v.etag);
  const date = parseHttpDate(headerValue, nowMs);
  return date !== null && toSeconds(date) === toSeconds(v.lastModifiedMs);
}
