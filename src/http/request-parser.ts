/**
 * Incremental HTTP/1.1 request-head parser (RFC 9112 §2-§7, RFC 9110 §5, §7.2).
 *
 * The hot path: the head is decoded once as latin1 and its end found with a string search for CRLFCRLF (a resumed
 * Buffer search when it arrives in pieces); its bytes are scanned against lookup tables and strings are sliced
 * from the decoded head. Where the RFC allows leniency we reject (docs/ARCHITECTURE.md "HTTP/1.1 rules"), because a proxy in front of us may
 * be lenient in a different way (request smuggling).
 */
import {
  DEFAULT_LIMITS,
  type HeadLimits,
  type ParseError,
  type ParseErrorStatus,
  type RequestHead,
} from './request.js';
import { CR, FIELD_VALUE, HEX, HT, LF, SP, TCHAR } from './abnf.js';

/** Outcome of one `HeadParser.parse` call. */
export type HeadResult =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'head'; readonly head: RequestHead; readonly end: number } // offset just past the CRLFCRLF
  | { readonly kind: 'error'; readonly error: ParseError };

const COLON = 0x3a;

/** Empty lines tolerated before the request line (RFC 9112 §2.2 "SHOULD ignore at least one"). */
const MAX_LEADING_EMPTY_LINES = 8;

/** Bytes of a request-target: visible ASCII, no '#' (a fragment is never sent, RFC 9112 §3.2). */
const TARGET: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x21; c <= 0x7e; c++) t[c] = 1;
  t[0x23] = 0;
  return t;
})();

/** reg-name bytes (unreserved / sub-delims, RFC 3986 §3.2.2); '%' is checked apart. 2 marks upper case. */
const REG_NAME: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 2;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (const ch of "-._~!$&'()*+,;=") t[ch.charCodeAt(0)] = 1;
  return t;
})();

/** Bytes inside an IP-literal's brackets (IPv6 hex, ':' and '.', or IPvFuture's "v"), RFC 3986 §3.2.2. */
const IP_LITERAL: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x30; c <= 0x3a; c++) t[c] = 1; // digits and ':'
  for (let c = 0x41; c <= 0x46; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x66; c++) t[c] = 1;
  t[0x2e] = 1;
  return t;
})();

function parseError(status: ParseErrorStatus, reason: string): { readonly kind: 'error'; readonly error: ParseError } {
  return Object.freeze({ kind: 'error', error: Object.freeze({ status, reason }) });
}

// Preallocated results: an error costs no allocation, and each one names its cause for the error log.
const INCOMPLETE: HeadResult = Object.freeze({ kind: 'incomplete' });
const E_BARE_LF = parseError(400, 'bare LF in request head');
const E_BARE_CR = parseError(400, 'bare CR in request head');
const E_EMPTY_LINES = parseError(400, 'too many empty lines before the request line');
const E_METHOD = parseError(400, 'invalid method');
const E_REQUEST_LINE = parseError(400, 'malformed request line');
const E_TARGET = parseError(400, 'invalid request-target');
const E_VERSION = parseError(400, 'invalid HTTP version');
const E_LINE_TOO_LONG = parseError(414, 'request line too long');
const E_HEAD_TOO_LARGE = parseError(431, 'header section too large');
const E_TOO_MANY_FIELDS = parseError(431, 'too many header fields');
const E_VERSION_UNSUPPORTED = parseError(505, 'HTTP version not supported');
const E_NOT_IMPLEMENTED = parseError(501, 'method not implemented');
const E_OBS_FOLD = parseError(400, 'obsolete line folding');
const E_WS_BEFORE_COLON = parseError(400, 'whitespace between field name and colon');
const E_FIELD_NAME = parseError(400, 'invalid field name');
const E_EMPTY_NAME = parseError(400, 'empty field name');
const E_FIELD_VALUE = parseError(400, 'invalid byte in field value');
const E_HOST_MISSING = parseError(400, 'missing Host header');
const E_HOST_REPEATED = parseError(400, 'repeated Host header');
const E_HOST_INVALID = parseError(400, 'invalid Host header');
const E_CL_INVALID = parseError(400, 'invalid Content-Length');
const E_CL_REPEATED = parseError(400, 'repeated Content-Length');
const E_TE_UNSUPPORTED = parseError(400, 'unsupported Transfer-Encoding');
const E_TE_REPEATED = parseError(400, 'repeated Transfer-Encoding');
const E_TE_AND_CL = parseError(400, 'both Transfer-Encoding and Content-Length');
const E_TE_HTTP10 = parseError(400, 'Transfer-Encoding in an HTTP/1.0 request');
const E_USERINFO = parseError(400, 'userinfo in request-target');

/** Errors of `scanFieldLine`, indexed by its negative return value minus one. */
const FIELD_ERRORS = [E_OBS_FOLD, E_WS_BEFORE_COLON, E_FIELD_NAME, E_EMPTY_NAME, E_FIELD_VALUE] as const;

/** Outputs of the last successful `scanFieldLine` (module scratch, so a field line allocates nothing). */
export const fieldScan = { nameEnd: 0, valueStart: 0, valueEnd: 0 };

/**
 * Scans the field line that starts at `p` in `b` and ends in CRLF (RFC 9112 §5): token name, ':' at once, OWS,
 * value, OWS. Returns the offset after its CRLF and fills `fieldScan`, or a negative code for `fieldLineError`.
 * The caller guarantees a CRLF follows (the scan stops at the first byte outside the value set).
 */
export function scanFieldLine(b: Uint8Array, p: number): number {
  let i = p;
  let c = b[i] ?? 0;
  while (TCHAR[c] === 1) c = b[++i] ?? 0;
  if (c !== COLON) {
    if (c === SP || c === HT) return i === p ? -1 : -2; // obs-fold (§5.2), or space before the colon (§5.1)
    return -3;
  }
  if (i === p) return -4;
  fieldScan.nameEnd = i;
  c = b[++i] ?? 0;
  while (c === SP || c === HT) c = b[++i] ?? 0;
  const vs = i;
  while (FIELD_VALUE[c] === 1) c = b[++i] ?? 0;
  if (c !== CR || b[i + 1] !== LF) return -5; // NUL, DEL, other controls, bare CR or LF
  let ve = i;
  while (ve > vs && ((c = b[ve - 1] ?? 0) === SP || c === HT)) ve--;
  fieldScan.valueStart = vs;
  fieldScan.valueEnd = ve;
  return i + 2;
}

/** The error result for a negative code from `scanFieldLine`. */
function fieldLineResult(code: number): { readonly kind: 'error'; readonly error: ParseError } {
  return FIELD_ERRORS[-code - 1] ?? E_FIELD_VALUE;
}

/** The ParseError (400) for a negative code from `scanFieldLine`. */
export function fieldLineError(code: number): ParseError {
  return fieldLineResult(code).error;
}

/**
 * Common request field names, lower case. Recognising them from the bytes (case-insensitively) yields the
 * same string object each time: no slice, no lower-casing, and its hash is computed once for every Map.
 */
const KNOWN_NAMES = [
  'host',
  'user-agent',
  'accept',
  'accept-language',
  'accept-encoding',
  'connection',
  'content-length',
  'content-type',
  'transfer-encoding',
  'cookie',
  'referer',
  'origin',
  'expect',
  'cache-control',
  'pragma',
  'upgrade-insecure-requests',
  'if-modified-since',
  'if-none-match',
  'range',
  'authorization',
  'dnt',
  'te',
  'priority',
  'sec-fetch-dest',
  'sec-fetch-mode',
  'sec-fetch-site',
  'sec-fetch-user',
  'x-forwarded-for',
  'x-requested-with',
  'keep-alive',
  'upgrade',
  'if-match',
  'if-unmodified-since',
  'if-range',
];
/** By length: the known names of that length, and their bytes. */
const KNOWN_BY_LENGTH: { names: string[]; bytes: Uint8Array[] }[] = [];
for (const n of KNOWN_NAMES) {
  const slot = (KNOWN_BY_LENGTH[n.length] ??= { names: [], bytes: [] });
  slot.names.push(n);
  slot.bytes.push(Buffer.from(n, 'latin1'));
}

const EMPTY_NAME = new Uint8Array(0);

/** The known lower-case name equal, ignoring case, to the token `b[p, e)`, or undefined. */
function knownName(b: Uint8Array, p: number, e: number): string | undefined {
  const slot = KNOWN_BY_LENGTH[e - p];
  if (slot === undefined) return undefined;
  const all = slot.bytes;
  next: for (let k = 0; k < all.length; k++) {
    const n = all[k] ?? EMPTY_NAME;
    // `| 0x20` lower-cases letters and leaves '-' alone; a name byte is a tchar, so nothing else aliases.
    for (let j = 0; j < n.length; j++) if (((b[p + j] ?? 0) | 0x20) !== n[j]) continue next;
    return slot.names[k];
  }
  return undefined;
}

/** Raw field name -> lower case; bounded so that odd clients cannot grow it. */
const lowerCache = new Map<string, string>();
const LOWER_CACHE_MAX = 512;

/** Lower-cases a field name, through a small cache (names repeat across requests). */
export function lowerName(raw: string): string {
  const hit = lowerCache.get(raw);
  if (hit !== undefined) return hit;
  const lower = raw.toLowerCase();
  if (lowerCache.size < LOWER_CACHE_MAX && raw.length <= 64) lowerCache.set(raw, lower);
  return lower;
}

/**
 * Validates a Host value or an authority (RFC 9110 §7.2, RFC 3986 §3.2.2): reg-name / IPv4 / [IP-literal], then
 * optional ":" 1*5DIGIT. Returns the host lower case without the port, or null when invalid or empty.
 */
function parseHost(v: string): string | null {
  const n = v.length;
  if (n === 0) return null;
  let i = 0;
  let upper = 0;
  if (v.charCodeAt(0) === 0x5b) {
    i = 1;
    while (i < n && IP_LITERAL[v.charCodeAt(i)] === 1) i++;
    if (i === 1 || i === n || v.charCodeAt(i) !== 0x5d) return null;
    i++;
  } else {
    while (i < n) {
      const c = v.charCodeAt(i);
      const t = REG_NAME[c] ?? 0; // charCodeAt of a latin1 string: always < 256
      if (t !== 0) {
        upper |= t;
        i++;
      } else if (c === 0x25 && i + 2 < n && HEX[v.charCodeAt(i + 1)] !== 255 && HEX[v.charCodeAt(i + 2)] !== 255) {
        i += 3;
        upper = 2; // the hex digits may be upper case
      } else {
        break;
      }
    }
    if (i === 0) return null;
  }
  const hostEnd = i;
  if (i < n) {
    if (v.charCodeAt(i) !== COLON) return null;
    const digits = n - i - 1;
    if (digits < 1 || digits > 5) return null;
    for (i++; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return null;
    }
  }
  const host = hostEnd === n ? v : v.slice(0, hostEnd);
  return upper & 2 || v.charCodeAt(0) === 0x5b ? host.toLowerCase() : host;
}

/** 1*DIGIT, at most 15 digits (exact in a double), else -1. RFC 9112 §6.3 forbids lists and signs. */
function parseContentLength(v: string): number {
  const n = v.length;
  if (n === 0 || n > 15) return -1;
  let x = 0;
  for (let i = 0; i < n; i++) {
    const d = v.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    x = x * 10 + d;
  }
  return x;
}

/** Scans a Connection value's comma-separated options for "close" (bit 1) and "keep-alive" (bit 2). */
function connectionOptions(v: string): number {
  const lc = v.toLowerCase();
  if (lc === 'keep-alive') return 2;
  if (lc === 'close') return 1;
  let r = 0;
  for (const part of lc.split(',')) {
    const o = part.trim();
    if (o === 'close') r |= 1;
    else if (o === 'keep-alive') r |= 2;
  }
  return r;
}

/** Target pieces of an absolute-form target, filled by `parseAbsoluteForm` (module scratch). */
const absolute = { host: '', rawPath: '', query: '' };

/** absolute-form (RFC 9112 §3.2.2) with scheme http or https; fills `absolute`, returns false when invalid. */
function parseAbsoluteForm(t: string): boolean | 'userinfo' {
  let a: number;
  if (t.length > 7 && t.slice(0, 7).toLowerCase() === 'http://') a = 7;
  else if (t.length > 8 && t.slice(0, 8).toLowerCase() === 'https://') a = 8;
  else return false;
  let e = a;
  const n = t.length;
  while (e < n) {
    const c = t.charCodeAt(e);
    if (c === 0x2f || c === 0x3f) break;
    if (c === 0x40) return 'userinfo'; // RFC 9110 §4.2.4: treat userinfo as an error
    e++;
  }
  const host = parseHost(t.slice(a, e));
  if (host === null) return false;
  absolute.host = host;
  const q = t.indexOf('?', e);
  if (t.charCodeAt(e) === 0x2f) {
    absolute.rawPath = q < 0 ? t.slice(e) : t.slice(e, q);
  } else {
    absolute.rawPath = '/';
  }
  absolute.query = q < 0 ? '' : t.slice(q + 1);
  return true;
}

/**
 * Parses the complete head `b[o, o + len)` (request line through the final CRLFCRLF). `h` holds the same bytes
 * decoded as latin1 from `o` on (it may run on beyond the head): bytes are scanned in `b`, which is faster than
 * charCodeAt, and strings are sliced from `h`. `end` is echoed into the result.
 */
function parseHead(b: Buffer, o: number, h: string, len: number, limits: HeadLimits, end: number): HeadResult {
  const maxLine = limits.maxRequestLine;

  // request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 §3), exactly one SP each.
  let i = o;
  let c = b[i] ?? 0;
  while (TCHAR[c] === 1) c = b[++i] ?? 0;
  if (c !== SP || i === o) return i - o > maxLine ? E_LINE_TOO_LONG : c === CR ? E_REQUEST_LINE : E_METHOD;
  const method = h.slice(0, i - o);
  const ts = ++i;
  let q = -1;
  c = b[i] ?? 0;
  while (TARGET[c] === 1) {
    if (c === 0x3f && q < 0) q = i;
    c = b[++i] ?? 0;
  }
  const te = i;
  if (c !== SP || te === ts) return i - o > maxLine ? E_LINE_TOO_LONG : E_TARGET;
  const v = i + 1;
  if (v + 8 - o > maxLine) return E_LINE_TOO_LONG;
  const d1 = (b[v + 5] ?? 0) - 0x30;
  const d2 = (b[v + 7] ?? 0) - 0x30;
  if (
    b[v] !== 0x48 || // H
    b[v + 1] !== 0x54 || // T
    b[v + 2] !== 0x54 || // T
    b[v + 3] !== 0x50 || // P
    b[v + 4] !== 0x2f || // /
    !(d1 >= 0 && d1 <= 9) ||
    b[v + 6] !== 0x2e ||
    !(d2 >= 0 && d2 <= 9) ||
    b[v + 8] !== CR ||
    b[v + 9] !== LF
  ) {
    // Distinguish a line that is merely too long from a malformed one.
    const lf = h.indexOf('\n', v - o);
    return lf - 1 > maxLine ? E_LINE_TOO_LONG : E_VERSION;
  }
  // 505 and 501 are answered once the whole head is known to be well-formed, so that a malformed head gets
  // 400 however it was split across reads (a partial head can already fail on a bare CR or LF). Any other
  // method token is the router's to answer (501 where no location lists it), but CONNECT's authority-form target
  // (§3.2.3) names no resource here: this server does not tunnel.
  const refusal = d1 !== 1 || d2 > 1 ? E_VERSION_UNSUPPORTED : method === 'CONNECT' ? E_NOT_IMPLEMENTED : null;
  const minor: 0 | 1 = d2 === 0 ? 0 : 1;

  // Header fields (RFC 9112 §5).
  const headers = new Map<string, string>();
  const maxCount = limits.maxHeaderCount;
  let count = 0;
  let hostValue: string | null = null;
  let contentLength = -1;
  let chunked = false;
  let expectContinue = false;
  let p = v + 10;
  const last = o + len - 2; // offset of the empty line's CRLF
  while (p < last) {
    const next = scanFieldLine(b, p);
    if (next < 0) return fieldLineResult(next);
    if (++count > maxCount) return E_TOO_MANY_FIELDS;
    const name = knownName(b, p, fieldScan.nameEnd) ?? lowerName(h.slice(p - o, fieldScan.nameEnd - o));
    const value = h.slice(fieldScan.valueStart - o, fieldScan.valueEnd - o);
    p = next;
    switch (name) {
      case 'host':
        if (hostValue !== null) return E_HOST_REPEATED;
        hostValue = value;
        headers.set(name, value);
        continue;
      case 'content-length':
        if (contentLength >= 0) return E_CL_REPEATED;
        contentLength = parseContentLength(value);
        if (contentLength < 0) return E_CL_INVALID;
        headers.set(name, value);
        continue;
      case 'transfer-encoding':
        // RFC 9112 §6.1: only "chunked" is implemented; a list would need decoding we do not do.
        if (chunked) return E_TE_REPEATED;
        if (minor === 0) return E_TE_HTTP10;
        if (value.length !== 7 || value.toLowerCase() !== 'chunked') return E_TE_UNSUPPORTED;
        chunked = true;
        headers.set(name, value);
        continue;
      case 'expect':
        if (value.length === 12 && value.toLowerCase() === '100-continue') expectContinue = true;
        break;
    }
    const prev = headers.get(name);
    if (prev === undefined) headers.set(name, value);
    else headers.set(name, prev + (name === 'cookie' ? '; ' : ', ') + value); // RFC 9110 §5.3, RFC 6265 §5.4
  }

  if (refusal !== null) return refusal;

  // Target: origin-form, absolute-form whose authority replaces Host (RFC 9112 §3.2.2), or the asterisk-form of
  // `OPTIONS *` (§3.2.4). Authority-form belongs to CONNECT, which is not implemented (501 above).
  const target = h.slice(ts - o, te - o);
  let rawPath: string;
  let query: string;
  let authority: string | null = null;
  if (b[ts] === 0x2f) {
    rawPath = q < 0 ? target : h.slice(ts - o, q - o);
    query = q < 0 ? '' : h.slice(q + 1 - o, te - o);
  } else if (te - ts === 1 && b[ts] === 0x2a) {
    if (method !== 'OPTIONS') return E_TARGET;
    rawPath = '*';
    query = '';
  } else {
    const ok = parseAbsoluteForm(target);
    if (ok === 'userinfo') return E_USERINFO;
    if (!ok) return E_TARGET;
    authority = absolute.host;
    rawPath = absolute.rawPath;
    query = absolute.query;
  }

  // RFC 9112 §6.1: a message with both is a smuggling attempt; reject rather than pick one.
  if (chunked && contentLength >= 0) return E_TE_AND_CL;

  // RFC 9112 §3.2: Host is required in HTTP/1.1, must be valid, and is overridden by an absolute-form target.
  let host = '';
  if (hostValue !== null) {
    const hv = parseHost(hostValue);
    if (hv === null) return E_HOST_INVALID;
    host = hv;
  } else if (minor === 1) {
    return E_HOST_MISSING;
  }
  if (authority !== null) host = authority;

  // RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive".
  const conn = headers.get('connection');
  const opts = conn === undefined ? 0 : connectionOptions(conn);
  const keepAlive = (opts & 1) === 0 && (minor === 1 || (opts & 2) !== 0);

  const head: RequestHead = {
    method,
    target,
    minor,
    headers,
    contentLength,
    chunked,
    keepAlive,
    host,
    rawPath,
    query,
    expectContinue,
  };
  return { kind: 'head', head, end };
}

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/** Buffer's own latin1 decoder: `toString('latin1', s, e)` minus its argument checks (~45 ns a call). */
const nativeLatin1 = (Buffer.prototype as unknown as { latin1Slice?: (this: Buffer, s: number, e: number) => string })
  .latin1Slice;

/** Decodes `buf[s, e)` as latin1 (one char per byte). */
export function latin1(buf: Buffer, s: number, e: number): string {
  return nativeLatin1 !== undefined ? nativeLatin1.call(buf, s, e) : buf.toString('latin1', s, e);
}

/** Bytes decoded at the first look at a head: most heads fit, and pipelined data beyond it is not decoded. */
const DECODE_WINDOW = 2048;

/**
 * Incremental head parser, one per connection. The connection appends bytes to its buffer and calls `parse`
 * again; the parser resumes where it stopped, so a head fed one byte at a time costs O(n), not O(n^2).
 */
export class HeadParser {
  private readonly limits: HeadLimits;
  /** Leading empty-line bytes skipped, counted from `start`. */
  private skip = 0;
  /** Whether the first byte of the request line has been seen (leading empty lines are over). */
  private started = false;
  /** Bytes from `start` already checked: no CRLFCRLF ends before here and no bare CR/LF lies before it. */
  private scanned = 0;
  /** Whether the request line's LF has been seen (for early 414). */
  private lineSeen = false;

  constructor(limits: HeadLimits = DEFAULT_LIMITS) {
    this.limits = limits;
  }

  /** Looks for a complete head at `buf[start, end)`; never throws. */
  parse(buf: Buffer, start: number, end: number): HeadResult {
    let hs = start + this.skip;
    if (!this.started) {
      // RFC 9112 §2.2: ignore a few empty lines (CRLF only) before the request line.
      while (hs < end) {
        const c = buf[hs];
        if (c !== CR) {
          if (c === LF) return E_BARE_LF;
          this.started = true;
          break;
        }
        if (hs + 1 === end) return INCOMPLETE;
        if (buf[hs + 1] !== LF) return E_BARE_CR;
        if (this.skip / 2 >= MAX_LEADING_EMPTY_LINES) return E_EMPTY_LINES;
        hs += 2;
        this.skip += 2;
      }
      if (!this.started) return INCOMPLETE;
      this.scanned = this.skip;
    }

    let resume: number;
    if (this.scanned === this.skip) {
      // First look at this head: decode a window once and search it as a string. V8's string search costs
      // far less than a Buffer.indexOf call, and the head is usually entirely in the window.
      const we = end - hs > DECODE_WINDOW ? hs + DECODE_WINDOW : end;
      const s = latin1(buf, hs, we);
      const idx = s.indexOf('\r\n\r\n');
      if (idx >= 0) return this.complete(buf, hs, s, idx + 4);
      if (we === end) return this.checkPartial(buf, start, hs, end);
      resume = we - 3;
    } else {
      resume = this.scanned - 3 > this.skip ? start + this.scanned - 3 : hs;
    }
    // Resumed search (or a head longer than the window). indexOf runs to buf.length: bound it by `end`.
    const hay = end === buf.length ? buf : buf.subarray(0, end);
    const idx = hay.indexOf(CRLFCRLF, resume);
    if (idx >= 0) return this.complete(buf, hs, latin1(buf, hs, idx + 4), idx + 4 - hs);
    return this.checkPartial(buf, start, hs, end);
  }

  /** Parses the complete head `buf[hs, hs + len)`, decoded from `hs` on in `s`. */
  private complete(buf: Buffer, hs: number, s: string, len: number): HeadResult {
    // Over the limit: judge the bytes in order, exactly as a head arriving in pieces is judged, so that the status
    // does not depend on how the head was split (a bare CR before the limit is 400, the limit itself 414 or 431).
    if (len > this.limits.maxHeaderBytes) return this.scanInOrder(buf, hs, hs, hs + len) ?? E_HEAD_TOO_LARGE;
    const r = parseHead(buf, hs, s, len, this.limits, hs + len);
    if (r.kind === 'head') {
      this.reset();
      return r;
    }
    // A faulty head: had it arrived in pieces, the in-order checks of checkPartial could have stopped at a bare
    // CR/LF or at the request line's limit before the head was complete. Give the answer they would have given,
    // so that the status never depends on the split (cold path: only heads that fail are scanned again).
    this.lineSeen = false;
    return this.scanInOrder(buf, hs, hs, hs + len) ?? r;
  }

  /** Early errors on a partial head: bare CR/LF (400), request line or section over its limit (414, 431). */
  private checkPartial(buf: Buffer, start: number, hs: number, end: number): HeadResult {
    // Recheck the last byte seen: a CR there could not be judged until its successor arrived.
    const j = start + this.scanned - 1;
    const r = this.scanInOrder(buf, j < hs ? hs : j, hs, end);
    if (r !== null) return r;
    this.scanned = end - start;
    return INCOMPLETE;
  }

  /**
   * Judges the head bytes `buf[j, end)` (the head starts at `hs`) in order: the first fault wins, whether a bare
   * CR or LF, the request line's limit or the section's. Deciding at the first faulty byte, and never on bytes
   * past a limit, makes the outcome independent of how the input was split into reads. Null: no fault so far.
   */
  private scanInOrder(buf: Buffer, j: number, hs: number, end: number): HeadResult | null {
    const maxLine = this.limits.maxRequestLine;
    const limit = hs + this.limits.maxHeaderBytes;
    for (; j < end; j++) {
      if (j >= limit) return E_HEAD_TOO_LARGE;
      const c = buf[j];
      if (c === LF) {
        if (j === hs || buf[j - 1] !== CR) return E_BARE_LF;
        this.lineSeen = true;
        continue;
      }
      // The request line's content may be maxLine bytes long; the byte after it must be its CR.
      if (!this.lineSeen && j - hs >= maxLine && !(c === CR && j - hs === maxLine)) return E_LINE_TOO_LONG;
      if (c === CR && j + 1 < end && buf[j + 1] !== LF) return E_BARE_CR;
    }
    return null;
  }

  /** Forgets the previous request; call before parsing the next one on the connection. */
  reset(): void {
    this.skip = 0;
    this.started = false;
    this.scanned = 0;
    this.lineSeen = false;
  }
}
