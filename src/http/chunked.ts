/**
 * Incremental decoder of the chunked transfer coding (RFC 9112 §7.1). A byte-level state machine for the
 * framing; chunk data is handed out as subarrays of the input, never copied. Works for any split of the input.
 */
import type { ParseError } from './request.js';
import { CR, FIELD_VALUE, HEX, HT, LF, SP, TCHAR } from './abnf.js';
import { fieldLineError, fieldScan, latin1, lowerName, scanFieldLine } from './request-parser.js';

/** Bounds of the decoder: trailer section bytes, and bytes of one chunk-size line (extensions included). */
export interface ChunkedLimits {
  readonly maxTrailerBytes?: number;
  readonly maxLineBytes?: number;
}

const DQUOTE = 0x22;
const SEMI = 0x3b;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;

/** At most 15 significant hex digits: 2^60 is beyond any body we accept, and bounds the arithmetic. Leading
 *  zeros are valid (1*HEXDIG, RFC 9112 §7.1) and do not count; the line limit bounds how many may come. */
const MAX_SIZE_DIGITS = 15;

// States. chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF;
// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val = token / quoted-string (§7.1.1).
const S_SIZE = 0; // hex digits
const S_EXT_WS = 1; // BWS that must be followed by ';'
const S_EXT_PRE_NAME = 2; // BWS after ';'
const S_EXT_NAME = 3;
const S_EXT_POST_NAME = 4; // BWS after a name: '=' or ';' next
const S_EXT_PRE_VALUE = 5; // BWS after '='
const S_EXT_TOKEN = 6;
const S_EXT_QUOTED = 7;
const S_EXT_QUOTED_ESCAPE = 8;
const S_EXT_AFTER_QUOTED = 9;
const S_SIZE_LF = 10; // CR seen, LF next
const S_DATA = 11;
const S_DATA_CR = 12;
const S_DATA_LF = 13;
const S_TRAILER = 14; // inside the trailer section, between or within lines
const S_DONE = 15;
const S_ERROR = 16;

/**
 * Fields a sender may not put in a trailer (RFC 9110 §6.5.1): framing, routing, request modifiers,
 * authentication, response control and content metadata. They are dropped, never merged (and so can neither
 * re-frame the message nor reroute it); the request itself stays valid.
 */
export const PROHIBITED_TRAILERS: ReadonlySet<string> = new Set([
  // message framing and routing
  'transfer-encoding',
  'content-length',
  'host',
  'trailer',
  'te',
  'connection',
  'keep-alive',
  'upgrade',
  // request modifiers: controls, conditionals, range
  'cache-control',
  'expect',
  'max-forwards',
  'pragma',
  'range',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'if-range',
  // authentication, cookies
  'authorization',
  'proxy-authorization',
  'proxy-authenticate',
  'www-authenticate',
  'cookie',
  'set-cookie',
  // response control and content metadata
  'age',
  'date',
  'expires',
  'location',
  'retry-after',
  'vary',
  'warning',
  'content-encoding',
  'content-type',
  'content-range',
  'content-language',
  'content-location',
]);

function bad(reason: string): ParseError {
  return Object.freeze({ status: 400, reason });
}

const E_SIZE = bad('invalid chunk size');
const E_SIZE_TOO_BIG = bad('chunk size too large');
const E_EXT = bad('invalid chunk extension');
const E_LINE_TOO_LONG = bad('chunk-size line too long');
const E_LINE_END = bad('chunk-size line not ended by CRLF');
const E_DATA_END = bad('chunk data not followed by CRLF');
const E_TRAILER_TOO_LARGE = bad('trailer section too large');
const E_TRAILER_BARE_LF = bad('bare LF in trailer section');
const E_TRAILER_BARE_CR = bad('bare CR in trailer section');

/** qdtext / quoted-pair bytes of RFC 9110 §5.6.4: HTAB, SP, VCHAR, obs-text ('"' and '\' handled apart). */
const QUOTED = FIELD_VALUE;

/** Decodes one chunked message body, fed in pieces; one decoder per body. */
export class ChunkedDecoder {
  private readonly maxTrailerBytes: number;
  private readonly maxLineBytes: number;
  private state = S_SIZE;
  private size = 0;
  /** Significant digits of the chunk size so far (leading zeros skipped). */
  private digits = 0;
  private sawDigit = false;
  private lineBytes = 0;
  private remaining = 0;
  private trailerLine = '';
  private trailerBytes = 0;
  private total = 0;
  private failure: ParseError | null = null;
  private readonly fields = new Map<string, string>();

  constructor(limits?: ChunkedLimits) {
    this.maxTrailerBytes = limits?.maxTrailerBytes ?? 16384;
    this.maxLineBytes = limits?.maxLineBytes ?? 4096;
  }

  /** Last chunk and trailer section read; bytes after the offset `decode` returned belong to the next request. */
  get done(): boolean {
    return this.state === S_DONE;
  }

  /** The framing error (status 400), or null. */
  get error(): ParseError | null {
    return this.failure;
  }

  /** Trailer fields by lower-case name (repeats joined with ", "). */
  get trailers(): Map<string, string> {
    return this.fields;
  }

  /** Data bytes decoded so far (the connection checks it against body_limit). */
  get received(): number {
    return this.total;
  }

  /**
   * Decodes `buf[start, end)`, calling `onData` with subarrays of `buf` for chunk data. Returns the offset it
   * consumed up to: `end`, or less when the body ended (`done`) or the framing is bad (`error`).
   */
  decode(buf: Buffer, start: number, end: number, onData: (chunk: Buffer) => void): number {
    let state = this.state;
    if (state === S_DONE || state === S_ERROR) return start;
    let i = start;
    while (i < end) {
      if (state === S_DATA) {
        const avail = end - i;
        const n = this.remaining < avail ? this.remaining : avail;
        this.remaining -= n;
        this.total += n;
        if (this.remaining === 0) state = S_DATA_CR;
        const from = i;
        i += n;
        this.state = state; // consistent if onData looks at us
        onData(buf.subarray(from, i));
        continue;
      }
      if (state === S_TRAILER) {
        this.state = state;
        i = this.trailer(buf, i, end);
        state = this.state;
        if (state === S_DONE || state === S_ERROR) return i;
        continue;
      }
      const c = buf[i] ?? 0; // i < end: always a byte
      if (state < S_SIZE_LF && ++this.lineBytes > this.maxLineBytes) return this.reject(E_LINE_TOO_LONG, i);
      switch (state) {
        case S_SIZE: {
          const h = HEX[c] ?? 255;
          if (h !== 255) {
            this.sawDigit = true;
            if (h === 0 && this.digits === 0) break; // a leading zero
            if (++this.digits > MAX_SIZE_DIGITS) return this.reject(E_SIZE_TOO_BIG, i);
            this.size = this.size * 16 + h;
            break;
          }
          if (!this.sawDigit) return this.reject(E_SIZE, i);
          if (c === CR) state = S_SIZE_LF;
          else if (c === SEMI) state = S_EXT_PRE_NAME;
          else if (c === SP || c === HT) state = S_EXT_WS;
          else return this.reject(E_SIZE, i);
          break;
        }
        case S_EXT_WS:
          if (c === SEMI) state = S_EXT_PRE_NAME;
          else if (c !== SP && c !== HT) return this.reject(E_EXT, i);
          break;
        case S_EXT_PRE_NAME:
          if (TCHAR[c] === 1) state = S_EXT_NAME;
          else if (c !== SP && c !== HT) return this.reject(E_EXT, i);
          break;
        case S_EXT_NAME:
          if (TCHAR[c] === 1) break;
          if (c === EQUALS) state = S_EXT_PRE_VALUE;
          else if (c === SEMI) state = S_EXT_PRE_NAME;
          else if (c === CR) state = S_SIZE_LF;
          else if (c === SP || c === HT) state = S_EXT_POST_NAME;
          else return this.reject(E_EXT, i);
          break;
        case S_EXT_POST_NAME:
          if (c === EQUALS) state = S_EXT_PRE_VALUE;
          else if (c === SEMI) state = S_EXT_PRE_NAME;
          else if (c !== SP && c !== HT) return this.reject(E_EXT, i);
          break;
        case S_EXT_PRE_VALUE:
          if (TCHAR[c] === 1) state = S_EXT_TOKEN;
          else if (c === DQUOTE) state = S_EXT_QUOTED;
          else if (c !== SP && c !== HT) return this.reject(E_EXT, i);
          break;
        case S_EXT_TOKEN:
          if (TCHAR[c] === 1) break;
          if (c === SEMI) state = S_EXT_PRE_NAME;
          else if (c === CR) state = S_SIZE_LF;
          else if (c === SP || c === HT) state = S_EXT_WS;
          else return this.reject(E_EXT, i);
          break;
        case S_EXT_QUOTED:
          if (c === DQUOTE) state = S_EXT_AFTER_QUOTED;
          else if (c === BACKSLASH) state = S_EXT_QUOTED_ESCAPE;
          else if (QUOTED[c] !== 1) return this.reject(E_EXT, i);
          break;
        case S_EXT_QUOTED_ESCAPE:
          if (QUOTED[c] !== 1) return this.reject(E_EXT, i);
          state = S_EXT_QUOTED;
          break;
        case S_EXT_AFTER_QUOTED:
          if (c === SEMI) state = S_EXT_PRE_NAME;
          else if (c === CR) state = S_SIZE_LF;
          else if (c === SP || c === HT) state = S_EXT_WS;
          else return this.reject(E_EXT, i);
          break;
        case S_SIZE_LF:
          if (c !== LF) return this.reject(E_LINE_END, i);
          if (this.size > Number.MAX_SAFE_INTEGER) return this.reject(E_SIZE_TOO_BIG, i);
          if (this.size === 0) {
            state = S_TRAILER; // last-chunk: the trailer section follows (§7.1.2)
          } else {
            state = S_DATA;
            this.remaining = this.size;
          }
          this.size = 0;
          this.digits = 0;
          this.sawDigit = false;
          this.lineBytes = 0;
          break;
        case S_DATA_CR:
          if (c !== CR) return this.reject(E_DATA_END, i);
          state = S_DATA_LF;
          break;
        case S_DATA_LF:
          if (c !== LF) return this.reject(E_DATA_END, i);
          state = S_SIZE;
          break;
      }
      i++;
    }
    this.state = state;
    return i;
  }

  /**
   * Reads trailer bytes from `i` up to the end of the current line; returns the next offset. An error is
   * placed at the byte that revealed it (the LF of a bad line), so it does not depend on how input was split.
   */
  private trailer(buf: Buffer, i: number, end: number): number {
    // A CR must be followed by LF: judge it as soon as the next byte is here, even across calls.
    const pending = this.trailerLine;
    if (pending.length > 0 && pending.charCodeAt(pending.length - 1) === CR && buf[i] !== LF) {
      return this.reject(E_TRAILER_BARE_CR, i);
    }
    // Look only at bytes within the limit, and fail at the first byte over it, so that the first fault in byte
    // order wins however the input was split (a bare CR beyond the limit must not be seen in one read and not
    // in another).
    const room = this.maxTrailerBytes - this.trailerBytes;
    const stop = end - i > room ? i + room : end;
    let j = i;
    for (; j < stop; j++) {
      const c = buf[j];
      if (c === LF) break;
      if (c === CR && j + 1 < end && buf[j + 1] !== LF) return this.reject(E_TRAILER_BARE_CR, j + 1);
    }
    if (j === stop && stop < end) return this.reject(E_TRAILER_TOO_LARGE, stop);
    const complete = j < stop;
    if (complete) j++;
    this.trailerBytes += j - i;
    this.trailerLine += latin1(buf, i, j);
    if (!complete) return j;
    const line = this.trailerLine;
    this.trailerLine = '';
    const n = line.length;
    if (n < 2 || line.charCodeAt(n - 2) !== CR) return this.reject(E_TRAILER_BARE_LF, j - 1);
    if (n === 2) {
      this.state = S_DONE; // the empty line ends the message
      return j;
    }
    // trailer-section = *( field-line CRLF ), the same syntax as header fields (§7.1.2).
    const r = scanFieldLine(Buffer.from(line, 'latin1'), 0);
    if (r < 0) return this.reject(fieldLineError(r), j - 1);
    const name = lowerName(line.slice(0, fieldScan.nameEnd));
    if (PROHIBITED_TRAILERS.has(name)) return j;
    const value = line.slice(fieldScan.valueStart, fieldScan.valueEnd);
    const prev = this.fields.get(name);
    this.fields.set(name, prev === undefined ? value : prev + ', ' + value);
    return j;
  }

  private reject(error: ParseError, at: number): number {
    this.failure = error;
    this.state = S_ERROR;
    return at;
  }
}
