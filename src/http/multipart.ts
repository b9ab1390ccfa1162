/**
 * Streaming multipart/form-data parser (RFC 7578 on RFC 2046 §5.1).
 *
 * The parser is a push state machine: feed it body bytes in any split with write(), then
 * call end(). Part data reaches the sink as subarrays of the input where possible; the
 * parser itself holds at most boundary-length+4 bytes of body (a possible partial
 * delimiter) and one part header section, so memory is bounded whatever the body size.
 */

import { TextDecoder } from 'node:util';
import type { ParseError } from './request.js';
import { CR, HT as HTAB, LF, SP, TCHAR } from './abnf.js';
import { err, ok, type Result } from '../lib/result.js';

/** What a part's headers say about it. */
export interface PartInfo {
  /** The `name` parameter of Content-Disposition (may be ""). */
  readonly name: string;
  /** `filename*` (decoded, preferred) or `filename`; null when neither is present, "" when sent empty. */
  readonly filename: string | null;
  /** The part's Content-Type value, or null when absent (RFC 7578 §4.4: text/plain then). */
  readonly contentType: string | null;
  /** All part header fields by lower-case name (repeats of other fields joined with ", "). */
  readonly headers: Map<string, string>;
}

/**
 * Receives the parts in order: partBegin, any number of partData, partEnd.
 * Chunks given to partData are never reused by the parser (subarrays of the caller's input or
 * fresh buffers). An exception thrown by the sink propagates out of write() and leaves the
 * parser inert (later calls do nothing).
 */
export interface MultipartSink {
  partBegin(info: PartInfo): void;
  partData(chunk: Buffer): void;
  partEnd(): void;
}

/** Optional limits; defaults are 16 KiB per part header section and 1000 parts. */
export interface MultipartLimits {
  /** Largest part header section in bytes, its terminating empty line included. */
  readonly maxPartHeaderBytes?: number;
  /** Most parts accepted. */
  readonly maxParts?: number;
}

const DEFAULT_MAX_PART_HEADER_BYTES = 16 * 1024;
const DEFAULT_MAX_PARTS = 1000;

const DASH = 0x2d;
const CRLF = Buffer.from('\r\n', 'latin1');
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

function isTcharCode(c: number): boolean {
  return c < 256 && TCHAR[c] === 1;
}

/** RFC 2046 §5.1.1 bchars: DIGIT / ALPHA / "'()+_,-./:=?" and space (never last). */
function isValidBoundary(b: string): boolean {
  if (b.length < 1 || b.length > 70 || b.endsWith(' ')) return false;
  return /^[0-9A-Za-z'()+_,\-./:=? ]+$/.test(b);
}

function bad(reason: string): ParseError {
  return { status: 400, reason };
}

/** A cursor over a header value string, for the small grammars below (RFC 9110 §5.6). */
class Cursor {
  i = 0;
  constructor(readonly s: string) {}
  get atEnd(): boolean {
    return this.i >= this.s.length;
  }
  peek(): string {
    return this.s[this.i] ?? '';
  }
  skipOws(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.i++;
  }
  token(): string {
    const start = this.i;
    while (!this.atEnd && isTcharCode(this.s.charCodeAt(this.i))) this.i++;
    return this.s.slice(start, this.i);
  }
  /**
   * quoted-string (RFC 9110 §5.6.4); null when malformed. A backslash escapes only `"` and another backslash;
   * before anything else it is kept, as Go's mime package does: browsers send file names with raw backslashes
   * (the HTML form encoding escapes only `"`, CR and LF), so `C:\Users\me\a.jpg` keeps the separators that
   * sanitizing strips its path by.
   */
  quoted(): string | null {
    if (this.peek() !== '"') return null;
    this.i++;
    let out = '';
    while (!this.atEnd) {
      const c = this.s.charCodeAt(this.i);
      if (c === 0x22) {
        this.i++;
        return out;
      }
      if (c === 0x5c) {
        const n = this.s.charCodeAt(this.i + 1);
        // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
        if (Number.isNaN(n) || (n < 0x20 && n !== HTAB) || n === 0x7f) return null;
        if (n === 0x22 || n === 0x5c) {
          out += String.fromCharCode(n);
          this.i += 2;
          continue;
        }
        out += '\\';
        this.i++;
        continue;
      }
      if ((c < 0x20 && c !== HTAB) || c === 0x7f) return null;
      out += String.fromCharCode(c);
      this.i++;
    }
    return null;
  }
  /** token / quoted-string; null when neither. */
  value(): string | null {
    if (this.peek() === '"') return this.quoted();
    const t = this.token();
    return t.length > 0 ? t : null;
  }
}

/**
 * Parses `type/subtype *( OWS ";" OWS name=value )` (RFC 9110 §8.3.1): the lower-case media
 * type and parameters by lower-case name; null when malformed or a parameter repeats.
 */
function parseMediaType(value: string): { type: string; params: Map<string, string> } | null {
  const c = new Cursor(value.trim());
  const type = c.token();
  if (type.length === 0 || c.peek() !== '/') return null;
  c.i++;
  const sub = c.token();
  if (sub.length === 0) return null;
  const params = new Map<string, string>();
  for (;;) {
    c.skipOws();
    if (c.atEnd) break;
    if (c.peek() !== ';') return null;
    c.i++;
    c.skipOws();
    const name = c.token().toLowerCase();
    if (name.length === 0 || c.peek() !== '=') return null;
    c.i++;
    const v = c.value();
    if (v === null || params.has(name)) return null;
    params.set(name, v);
  }
  return { type: `${type}/${sub}`.toLowerCase(), params };
}

/** True when the Content-Type value is `multipart/form-data` (any parameters, valid or not). */
export function isFormData(contentType: string): boolean {
  const m = /^[ \t]*([^;/ \t]+)\/([^; \t]+)/.exec(contentType);
  return m !== null && `${m[1]}/${m[2]}`.toLowerCase() === 'multipart/form-data';
}

/**
 * The boundary of a `multipart/form-data` Content-Type (quoted or token, 1..70 bchars,
 * RFC 2046 §5.1.1), or null when the type is something else or the boundary is missing or
 * invalid. Use isFormData() to tell the two apart (400 vs. not a form).
 */
export function boundaryOf(contentType: string): string | null {
  const mt = parseMediaType(contentType);
  if (mt === null || mt.type !== 'multipart/form-data') return null;
  const b = mt.params.get('boundary');
  return b !== undefined && isValidBoundary(b) ? b : null;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Header bytes as UTF-8 (RFC 7578 §5.1 lets senders use it raw), else as ISO-8859-1. */
function decodeHeaderBytes(b: Buffer): string {
  try {
    return utf8.decode(b);
  } catch {
    return b.toString('latin1');
  }
}

/** RFC 8187 §3.2 ext-value `charset'[language]'pct-encoded`; null when malformed or unknown charset. */
function decodeExtValue(v: string): string | null {
  const m = /^([A-Za-z0-9!#$%&+\-^_`{}~]+)'([A-Za-z0-9-]*)'((?:%[0-9A-Fa-f]{2}|[A-Za-z0-9!#$&+\-.^_`|~])*)$/.exec(v);
  if (m === null) return null;
  const charset = (m[1] ?? '').toLowerCase();
  const bytes = Buffer.from(
    (m[3] ?? '').replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  );
  if (charset === 'utf-8') {
    try {
      return utf8.decode(bytes);
    } catch {
      return null;
    }
  }
  if (charset === 'iso-8859-1') return bytes.toString('latin1');
  return null;
}

/** Content-Disposition of a form part (RFC 7578 §4.2, RFC 6266 §4.1): name and filename. */
function parseDisposition(value: string): Result<{ name: string; filename: string | null }, ParseError> {
  const c = new Cursor(value);
  const type = c.token();
  if (type.toLowerCase() !== 'form-data') return err(bad('part Content-Disposition is not form-data'));
  const params = new Map<string, string>();
  for (;;) {
    c.skipOws();
    if (c.atEnd) break;
    if (c.peek() !== ';') return err(bad('malformed part Content-Disposition'));
    c.i++;
    c.skipOws();
    const pname = c.token().toLowerCase();
    c.skipOws();
    if (pname.length === 0 || c.peek() !== '=') return err(bad('malformed part Content-Disposition parameter'));
    c.i++;
    c.skipOws();
    const v = c.value();
    if (v === null) return err(bad('malformed part Content-Disposition parameter value'));
    // RFC 6266 §4.1: parameter names must not repeat.
    if (params.has(pname)) return err(bad(`repeated Content-Disposition parameter ${pname}`));
    params.set(pname, v);
  }
  const name = params.get('name');
  if (name === undefined) return err(bad('part Content-Disposition has no name'));
  let filename = params.get('filename') ?? null;
  const ext = params.get('filename*');
  if (ext !== undefined) {
    // RFC 6266 §4.3: filename* wins over filename when both are present.
    const decoded = decodeExtValue(ext);
    if (decoded === null) return err(bad('malformed filename* parameter'));
    filename = decoded;
  }
  return ok({ name, filename });
}

/** Parses a part header section (field lines joined by CRLF, no final empty line). */
function parsePartHeaders(block: Buffer): Result<PartInfo, ParseError> {
  const headers = new Map<string, string>();
  let start = 0;
  while (start < block.length) {
    let end = block.indexOf(CRLF, start);
    if (end < 0) end = block.length;
    const line = block.subarray(start, end);
    start = end + 2;
    // RFC 9112 §5.2: obs-fold is not accepted in new messages; reject rather than unfold.
    if (line[0] === SP || line[0] === HTAB) return err(bad('folded part header line'));
    const colon = line.indexOf(0x3a);
    if (colon <= 0) return err(bad('malformed part header line'));
    for (let i = 0; i < colon; i++) {
      if (!isTcharCode(line[i] ?? 0)) return err(bad('invalid part header field name'));
    }
    let vs = colon + 1;
    let ve = line.length;
    while (vs < ve && (line[vs] === SP || line[vs] === HTAB)) vs++;
    while (ve > vs && (line[ve - 1] === SP || line[ve - 1] === HTAB)) ve--;
    for (let i = vs; i < ve; i++) {
      const b = line[i] ?? 0;
      // RFC 9110 §5.5: CR, LF, NUL and other controls are invalid in field values.
      if ((b < 0x20 && b !== HTAB) || b === 0x7f) return err(bad('invalid character in part header value'));
    }
    const name = line.subarray(0, colon).toString('latin1').toLowerCase();
    const value = decodeHeaderBytes(line.subarray(vs, ve));
    const prev = headers.get(name);
    if (prev !== undefined) {
      if (name === 'content-disposition' || name === 'content-type') return err(bad(`repeated part header ${name}`));
      headers.set(name, `${prev}, ${value}`);
    } else {
      headers.set(name, value);
    }
  }
  const cd = headers.get('content-disposition');
  if (cd === undefined) return err(bad('part without Content-Disposition'));
  const disp = parseDisposition(cd);
  if (!disp.ok) return disp;
  const { name, filename } = disp.value;
  const ct = headers.get('content-type');
  return ok({ name, filename, contentType: ct === undefined || ct === '' ? null : ct, headers });
}

// Parser states.
const SEARCH = 0; // looking for the next delimiter (preamble, or inside a part body)
const TAIL = 1; // after "--boundary": padding + CRLF, or "--"
const HEADERS = 2; // reading a part header section
const DONE = 3; // closing delimiter seen: the rest is epilogue
const FAILED = 4; // error set, or the sink threw

// Sub-states of TAIL.
const T_START = 0;
const T_DASH = 1;
const T_PAD = 2;
const T_LF = 3;

/**
 * Streaming multipart/form-data parser. After an error (see `error`) or the closing
 * delimiter (`done`), later input is ignored; a part begun but not ended when an error
 * occurs is the caller's to discard.
 */
export class MultipartParser {
  private readonly sink: MultipartSink;
  /** CRLF "--" boundary: every delimiter, the first one too (we start as if after a CRLF). */
  private readonly delim: Buffer;
  private readonly maxHeaderBytes: number;
  private readonly maxParts: number;
  /** Tail of the last chunk that may begin a delimiter (< delim.length bytes). */
  private readonly carry: Buffer;
  private carryLen: number;
  /** Part header bytes, prefixed with a virtual CRLF so an empty section is found as CRLFCRLF. */
  private hdr: Buffer | null = null;
  private hdrLen = 0;
  private state = SEARCH;
  private tailState = T_START;
  private inPart = false;
  private parts = 0;
  private busy = false;
  private err: ParseError | null = null;
  private closed = false;

  constructor(boundary: string, sink: MultipartSink, limits: MultipartLimits = {}) {
    this.sink = sink;
    this.delim = Buffer.from(`\r\n--${boundary}`, 'latin1');
    this.maxHeaderBytes = limits.maxPartHeaderBytes ?? DEFAULT_MAX_PART_HEADER_BYTES;
    this.maxParts = limits.maxParts ?? DEFAULT_MAX_PARTS;
    this.carry = Buffer.alloc(this.delim.length);
    // RFC 2046 §5.1.1: the first delimiter may open the body without a preceding CRLF.
    CRLF.copy(this.carry, 0);
    this.carryLen = 2;
    if (!isValidBoundary(boundary)) this.reject('invalid multipart boundary');
  }

  /** The reason the body was rejected (always status 400), or null. */
  get error(): ParseError | null {
    return this.err;
  }

  /** True once the closing delimiter has been seen. */
  get done(): boolean {
    return this.state === DONE;
  }

  /** Feeds the next piece of the body, split anywhere. */
  write(chunk: Buffer): void {
    if (this.busy || this.closed || this.state === DONE || this.state === FAILED) return;
    this.busy = true; // stays set if the sink throws, which makes the parser inert
    let pos = 0;
    if (this.state === SEARCH && this.carryLen > 0) pos = this.drainCarry(chunk);
    this.run(chunk, pos);
    this.busy = false;
  }

  /** Declares the body complete: an error unless the closing delimiter was seen. */
  end(): void {
    if (this.busy || this.closed) return;
    this.closed = true;
    if (this.state !== DONE && this.state !== FAILED) this.reject('multipart body ended before the closing delimiter');
  }

  private reject(reason: string): void {
    this.err = bad(reason);
    this.state = FAILED;
  }

  private run(buf: Buffer, pos: number): void {
    while (pos < buf.length) {
      switch (this.state) {
        case SEARCH:
          pos = this.search(buf, pos);
          break;
        case TAIL:
          pos = this.tail(buf, pos);
          break;
        case HEADERS:
          pos = this.headers(buf, pos);
          break;
        default:
          return; // DONE (epilogue ignored) or FAILED
      }
    }
  }

  /**
   * Resolves the carried partial delimiter against the new chunk; returns where in the chunk
   * processing continues. A delimiter starting in the carry ends within delim.length-1 bytes
   * of the chunk, so only that small window is copied.
   */
  private drainCarry(chunk: Buffer): number {
    const L = this.delim.length;
    const c = this.carryLen;
    this.carryLen = 0;
    if (chunk.length < L - 1) {
      // Too short to settle the carry: process carry+chunk together (< 2L bytes).
      this.run(Buffer.concat([this.carry.subarray(0, c), chunk]), 0);
      return chunk.length;
    }
    const window = Buffer.concat([this.carry.subarray(0, c), chunk.subarray(0, L - 1)]);
    const idx = window.indexOf(this.delim);
    if (idx >= 0 && idx < c) {
      if (this.inPart && idx > 0) this.sink.partData(window.subarray(0, idx));
      this.onDelimiter();
      return idx + L - c;
    }
    if (this.inPart) this.sink.partData(window.subarray(0, c));
    return 0;
  }

  private search(buf: Buffer, pos: number): number {
    const idx = buf.indexOf(this.delim, pos);
    if (idx >= 0) {
      if (this.inPart && idx > pos) this.sink.partData(buf.subarray(pos, idx));
      this.onDelimiter();
      return idx + this.delim.length;
    }
    const keep = this.partialDelimiterAtEnd(buf, pos);
    const end = buf.length - keep;
    if (this.inPart && end > pos) this.sink.partData(buf.subarray(pos, end));
    buf.copy(this.carry, 0, end);
    this.carryLen = keep;
    return buf.length;
  }

  /** Length of the longest suffix of buf[pos..] that is a proper prefix of the delimiter. */
  private partialDelimiterAtEnd(buf: Buffer, pos: number): number {
    const n = buf.length;
    for (let i = Math.max(pos, n - (this.delim.length - 1)); i < n; i++) {
      if (buf[i] === CR && buf.compare(this.delim, 0, n - i, i, n) === 0) return n - i;
    }
    return 0;
  }

  private onDelimiter(): void {
    if (this.inPart) {
      this.inPart = false;
      this.sink.partEnd();
    }
    this.state = TAIL;
    this.tailState = T_START;
  }

  /** After "--boundary": "--" closes (RFC 2046 §5.1.1), else transport-padding then CRLF. */
  private tail(buf: Buffer, pos: number): number {
    while (pos < buf.length) {
      const b = buf[pos++];
      switch (this.tailState) {
        case T_START:
          if (b === DASH) this.tailState = T_DASH;
          else if (b === SP || b === HTAB) this.tailState = T_PAD;
          else if (b === CR) this.tailState = T_LF;
          else return this.failAt(buf, 'malformed multipart delimiter line');
          break;
        case T_DASH:
          if (b !== DASH) return this.failAt(buf, 'malformed multipart delimiter line');
          this.state = DONE;
          return buf.length;
        case T_PAD:
          if (b === CR) this.tailState = T_LF;
          else if (b !== SP && b !== HTAB) return this.failAt(buf, 'malformed multipart delimiter line');
          break;
        default: // T_LF
          if (b !== LF) return this.failAt(buf, 'malformed multipart delimiter line');
          this.beginHeaders();
          return pos;
      }
    }
    return pos;
  }

  private failAt(buf: Buffer, reason: string): number {
    this.reject(reason);
    return buf.length;
  }

  private beginHeaders(): void {
    this.parts++;
    if (this.parts > this.maxParts) {
      this.reject(`more than ${this.maxParts} multipart parts`);
      return;
    }
    CRLF.copy(this.headerBuffer(), 0);
    this.hdrLen = 2;
    this.state = HEADERS;
  }

  /** The part-header buffer, made on first use (a body without parts never needs it). */
  private headerBuffer(): Buffer {
    return (this.hdr ??= Buffer.alloc(this.maxHeaderBytes + 2));
  }

  private headers(buf: Buffer, pos: number): number {
    const hdr = this.headerBuffer();
    const prev = this.hdrLen;
    const n = Math.min(hdr.length - prev, buf.length - pos);
    buf.copy(hdr, prev, pos, pos + n);
    this.hdrLen = prev + n;
    const idx = hdr.subarray(0, this.hdrLen).indexOf(CRLFCRLF, Math.max(0, prev - 3));
    if (idx < 0) {
      if (this.hdrLen >= hdr.length) return this.failAt(buf, 'part header section too large');
      return pos + n;
    }
    const info = parsePartHeaders(hdr.subarray(2, Math.max(2, idx)));
    if (!info.ok) {
      this.err = info.error;
      this.state = FAILED;
      return buf.length;
    }
    this.state = SEARCH;
    this.inPart = true;
    this.sink.partBegin(info.value);
    return pos + (idx + 4 - prev);
  }
}
