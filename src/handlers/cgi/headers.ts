/**
 * The header block a CGI script writes before its body (RFC 3875 §6): an incremental, bounded scanner and the
 * interpretation of its fields (Status, Location, Content-Type, session headers). Pure: no I/O, never throws.
 */
import { headerLine } from '../../http/response.js';
import { isToken } from '../../http/abnf.js';

/** Largest header block accepted from a script; beyond it the script is broken (502). */
export const MAX_CGI_HEADER_BYTES = 32 * 1024;

/** Why a header block was refused; every kind is answered with 502. */
export type CgiHeaderErrorKind =
  'too-large' | 'bad-line' | 'bad-status' | 'duplicate' | 'bad-content-length' | 'no-cgi-field';

/** A refused header block: its kind, and a sentence for the error log. */
export interface CgiHeaderError {
  readonly kind: CgiHeaderErrorKind;
  readonly message: string;
}

/** What a script's header block asks the server to do. */
export interface CgiHead {
  /** The status to send: `Status`, else 302 for a client redirect, else 200 (RFC 3875 §6.3.3). */
  readonly status: number;
  /** Header lines to forward (`Name: value\r\n`), Location included, in the script's order. */
  readonly headers: string;
  /** The script's Content-Length, or -1 when it gave none. */
  readonly contentLength: number;
  /** The Location value, or null. */
  readonly location: string | null;
  /** A local redirect (RFC 3875 §6.2.2): a Location path and no Status; the server serves that path itself. */
  readonly localRedirect: boolean;
  /** `X-Session-Data` (docs/ARCHITECTURE.md "Sessions"): the session's new data, or null when absent. Never forwarded. */
  readonly sessionData: string | null;
  /** `X-Session-End: 1`: the script ended the session (logout). Never forwarded. */
  readonly sessionEnd: boolean;
}

/** Outcome of feeding output to the scanner. */
export type CgiScanResult =
  | { readonly kind: 'more' }
  | { readonly kind: 'error'; readonly error: CgiHeaderError }
  /** `rest` is the part of the last chunk after the blank line: the start of the body. */
  | { readonly kind: 'done'; readonly head: CgiHead; readonly rest: Buffer };

/** One header field as written: name as sent, value trimmed, both latin1 (one char per byte). */
export type CgiField = readonly [name: string, value: string];

/** RFC 9110 §5.6.2 token (RFC 3875 §6.3 field-name). */
/** Control characters other than HTAB are not allowed in a field value (RFC 9110 §5.5). */
const CTL = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Hop-by-hop fields (RFC 9110 §7.6.1) and fields the server writes itself: never taken from a script. */
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-connection',
  'date',
  'server',
]);

const err = (kind: CgiHeaderErrorKind, message: string): { kind: 'error'; error: CgiHeaderError } => ({
  kind: 'error',
  error: { kind, message },
});

/** Splits one header line (without its line end) into a field; null when it is not `name: value`. */
export function parseCgiLine(line: string): CgiField | null {
  const colon = line.indexOf(':');
  if (colon <= 0) return null;
  const name = line.slice(0, colon);
  // No whitespace before the colon and no obs-fold continuation lines: such output is refused, not guessed at.
  if (!isToken(name)) return null;
  const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
  if (CTL.test(value)) return null;
  return [name, value];
}

/**
 * Reads a script's header block as its output arrives, in bounded memory: lines end in LF or CRLF (RFC 3875 §6.3),
 * the block ends at the first empty line. A line that is not a header field fails at once, without waiting for more.
 */
export class CgiHeaderScanner {
  /** An incomplete last line, copied out of its chunk; null when the block so far ends with a line end. */
  private pending: Buffer | null = null;
  /** Bytes of the block taken so far, the pending line included. */
  private total = 0;
  private readonly fields: CgiField[] = [];
  private finished = false;

  constructor(private readonly limit = MAX_CGI_HEADER_BYTES) {}

  /** Feeds the next piece of output; once it returned 'error' or 'done', it only returns errors. Lines are read
   *  in the chunk itself: nothing is copied but a line split across chunks (no 32 KiB buffer per request). */
  push(chunk: Buffer): CgiScanResult {
    if (this.finished) return err('bad-line', 'header block already complete');
    const pending = this.pending;
    const buf = pending === null ? chunk : Buffer.concat([pending, chunk]);
    this.total -= pending?.length ?? 0;
    this.pending = null;
    let off = 0;
    for (;;) {
      const nl = buf.indexOf(10, off);
      const end = nl < 0 ? buf.length : nl + 1;
      if (this.total + (end - off) > this.limit) {
        this.finished = true;
        return err('too-large', `header block over ${this.limit} bytes`);
      }
      this.total += end - off;
      if (nl < 0) {
        if (end > off) this.pending = Buffer.from(buf.subarray(off, end));
        return { kind: 'more' };
      }
      let lineEnd = nl;
      if (lineEnd > off && buf[lineEnd - 1] === 13) lineEnd--;
      const line = buf.toString('latin1', off, lineEnd);
      off = end;
      if (line === '') {
        this.finished = true;
        const r = interpretCgiFields(this.fields);
        if (!r.ok) return { kind: 'error', error: r.error };
        return { kind: 'done', head: r.head, rest: buf.subarray(off) };
      }
      const field = parseCgiLine(line);
      if (field === null) {
        this.finished = true;
        return err('bad-line', `not a header line: ${JSON.stringify(line.slice(0, 80))}`);
      }
      this.fields.push(field);
    }
  }
}

/**
 * Interprets the fields of a complete header block (RFC 3875 §6.2, §6.3). At least one of Content-Type, Location
 * and Status is required; Status is `NNN [reason]` with NNN in 200..599; a repeated Status, Location or
 * Content-Type, or a Content-Length that is not one decimal number, is refused.
 */
export function interpretCgiFields(
  fields: readonly CgiField[],
): { ok: true; head: CgiHead } | { ok: false; error: CgiHeaderError } {
  let status = -1;
  let location: string | null = null;
  let contentType = false;
  let contentLength = -1;
  let sessionData: string | null = null;
  let sessionEnd = false;
  let headers = '';
  const headerError = (kind: CgiHeaderErrorKind, message: string): { ok: false; error: CgiHeaderError } => ({
    ok: false,
    error: { kind, message },
  });
  for (const [name, value] of fields) {
    const lower = name.toLowerCase();
    switch (lower) {
      case 'status': {
        if (status !== -1) return headerError('duplicate', 'Status given twice');
        const m = /^(\d{3})(?:[ \t].*)?$/.exec(value);
        const code = m === null ? NaN : Number(m[1]);
        if (!(code >= 200 && code <= 599))
          return headerError('bad-status', `bad Status: ${JSON.stringify(value.slice(0, 80))}`);
        status = code;
        break;
      }
      case 'location':
        if (location !== null) return headerError('duplicate', 'Location given twice');
        if (value === '') return headerError('bad-line', 'empty Location');
        location = value;
        headers += headerLine('Location', value);
        break;
      case 'content-type':
        if (contentType) return headerError('duplicate', 'Content-Type given twice');
        contentType = true;
        headers += headerLine(name, value);
        break;
      case 'content-length': {
        const n = /^\d{1,15}$/.test(value) ? Number(value) : NaN;
        if (Number.isNaN(n) || (contentLength !== -1 && contentLength !== n)) {
          return headerError('bad-content-length', `bad Content-Length: ${JSON.stringify(value.slice(0, 80))}`);
        }
        contentLength = n;
        break;
      }
      case 'x-session-data':
        sessionData = value;
        break;
      case 'x-session-end':
        if (value === '1') sessionEnd = true;
        break;
      default:
        if (!DROPPED.has(lower)) headers += headerLine(name, value);
    }
  }
  if (status === -1 && location === null && !contentType) {
    return headerError('no-cgi-field', 'no Content-Type, Location or Status in the header block');
  }
  // A path (not "//host", a network-path reference) without Status is a local redirect (RFC 3875 §6.2.2).
  const localRedirect = status === -1 && location !== null && location.startsWith('/') && !location.startsWith('//');
  if (status === -1) status = location !== null ? 302 : 200;
  return { ok: true, head: { status, headers, contentLength, location, localRedirect, sessionData, sessionEnd } };
}
