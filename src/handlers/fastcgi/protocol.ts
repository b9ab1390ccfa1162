/**
 * The FastCGI 1.0 wire format (fastcgi-archives "FastCGI Specification", §3 records, §3.4 name-value pairs, §5
 * application records): records built and parsed here. Pure: no I/O; the parser is incremental and bounded.
 */
import { err, ok, type Result } from '../../lib/result.js';

/** Record types (§8). */
export const FCGI = {
  BEGIN_REQUEST: 1,
  ABORT_REQUEST: 2,
  END_REQUEST: 3,
  PARAMS: 4,
  STDIN: 5,
  STDOUT: 6,
  STDERR: 7,
  DATA: 8,
  GET_VALUES: 9,
  GET_VALUES_RESULT: 10,
  UNKNOWN_TYPE: 11,
} as const;

/** The Responder role (§6.2) and the keep-connection flag of FCGI_BeginRequestBody (§5.1). */
const RESPONDER = 1;
const KEEP_CONN = 1;
const VERSION = 1;
const HEADER_LEN = 8;
/** A record's contentLength is 16 bits (§3.3), but php-fpm refuses a record whose content and padding together pass
 *  0xffff (fcgi_read_request): records hold at most 65528 bytes, a multiple of 8 that needs no padding. */
export const MAX_CONTENT = 0xfff8;

/** The protocolStatus of FCGI_EndRequestBody (§5.5). */
export const END_STATUS: readonly string[] = ['request complete', 'cannot multiplex', 'overloaded', 'unknown role'];

/** One record's 8-byte header; content padded to a multiple of 8, as the specification recommends (§3.3). */
function record(type: number, id: number, content: Buffer, start: number, length: number): Buffer[] {
  const padding = (8 - (length % 8)) % 8;
  const head = Buffer.alloc(HEADER_LEN);
  head[0] = VERSION;
  head[1] = type;
  head.writeUInt16BE(id, 2);
  head.writeUInt16BE(length, 4);
  head[6] = padding;
  const out: Buffer[] = [head];
  if (length > 0) out.push(content.subarray(start, start + length));
  if (padding > 0) out.push(Buffer.alloc(padding));
  return out;
}

/** `data` as records of `type` (split at MAX_CONTENT); an empty `data` is the stream's end record (§3.3). */
export function streamRecords(type: number, id: number, data: Buffer): Buffer[] {
  if (data.length === 0) return record(type, id, data, 0, 0);
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += MAX_CONTENT) {
    out.push(...record(type, id, data, off, Math.min(MAX_CONTENT, data.length - off)));
  }
  return out;
}

/** FCGI_BEGIN_REQUEST for the Responder role, with FCGI_KEEP_CONN when the connection is to be kept (§5.1). */
export function beginRequest(id: number, keepConn: boolean): Buffer[] {
  const body = Buffer.alloc(8);
  body.writeUInt16BE(RESPONDER, 0);
  body[2] = keepConn ? KEEP_CONN : 0;
  return record(FCGI.BEGIN_REQUEST, id, body, 0, 8);
}

/** FCGI_ABORT_REQUEST (§5.4). */
export function abortRequest(id: number): Buffer[] {
  return record(FCGI.ABORT_REQUEST, id, Buffer.alloc(0), 0, 0);
}

const NON_ASCII = /[^\x00-\x7f]/;

/** `s` as a string of its UTF-8 bytes, one char each: ASCII, the common case, is itself. */
const utf8Chars = (s: string): string => (NON_ASCII.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s);

/** A name or value length: one byte below 128, else four with the high bit set (§3.4); as chars, one per byte. */
const lengthChars = (n: number): string =>
  n < 128
    ? String.fromCharCode(n)
    : String.fromCharCode(0x80 | (n >>> 24), (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);

/**
 * The name-value pairs of FCGI_PARAMS (§3.4) as one buffer, made by one conversion of a string of bytes. UTF-8, as
 * the CGI gateway's environment is (cgi/env.ts turns header bytes that are UTF-8 into their text, so they go out
 * as they came).
 */
export function encodePairs(pairs: Iterable<readonly [string, string]>): Buffer {
  let out = '';
  for (const [name, value] of pairs) {
    const n = utf8Chars(name);
    const v = utf8Chars(value);
    out += lengthChars(n.length) + lengthChars(v.length) + n + v;
  }
  return Buffer.from(out, 'latin1');
}

/** The length at `off` of a name or value (§3.4), and the offset after it; null past the end. */
function lengthAt(buf: Buffer, off: number): [number, number] | null {
  const b = buf[off];
  if (b === undefined) return null;
  if (b < 0x80) return [b, off + 1];
  if (off + 4 > buf.length) return null;
  return [buf.readUInt32BE(off) & 0x7fffffff, off + 4];
}

/**
 * Where FCGI_PARAMS records must end, for params over one record: after whole pairs, since php-fpm parses each
 * record on its own. An error when one pair alone is over a record (nginx: "fastcgi request record is too big").
 */
function paramCuts(params: Buffer): Result<number[], string> {
  const cuts: number[] = [];
  let start = 0;
  let off = 0;
  while (off < params.length) {
    const n = lengthAt(params, off);
    const v = n === null ? null : lengthAt(params, n[1]);
    if (n === null || v === null) return err('malformed params');
    const end = v[1] + n[0] + v[0];
    if (end - off > MAX_CONTENT) return err(`one param is ${end - off} bytes, over a record's ${MAX_CONTENT}`);
    if (end - start > MAX_CONTENT) {
      cuts.push(off);
      start = off;
    }
    off = end;
  }
  cuts.push(params.length);
  return ok(cuts);
}

/**
 * What opens a request, in one buffer: FCGI_BEGIN_REQUEST (the Responder role, FCGI_KEEP_CONN when asked), the
 * params as FCGI_PARAMS records (split between pairs) and their empty end record, and the empty FCGI_STDIN record
 * when there is no body to follow. An error when a param does not fit in a record.
 */
export function requestHead(id: number, keepConn: boolean, params: Buffer, endStdin: boolean): Result<Buffer, string> {
  let cuts: readonly number[] = params.length === 0 ? [] : [params.length];
  if (params.length > MAX_CONTENT) {
    const c = paramCuts(params);
    if (!c.ok) return c;
    cuts = c.value;
  }
  let size = HEADER_LEN + 8 + HEADER_LEN + (endStdin ? HEADER_LEN : 0);
  let prev = 0;
  for (const cut of cuts) {
    size += HEADER_LEN + cut - prev + ((8 - ((cut - prev) % 8)) % 8);
    prev = cut;
  }
  const buf = Buffer.alloc(size); // zeroed: reserved bytes and padding
  let off = writeHeader(buf, 0, FCGI.BEGIN_REQUEST, id, 8, 0);
  buf.writeUInt16BE(RESPONDER, off);
  buf[off + 2] = keepConn ? KEEP_CONN : 0;
  off += 8;
  prev = 0;
  for (const cut of cuts) {
    const len = cut - prev;
    const pad = (8 - (len % 8)) % 8;
    off = writeHeader(buf, off, FCGI.PARAMS, id, len, pad);
    off += params.copy(buf, off, prev, cut) + pad;
    prev = cut;
  }
  off = writeHeader(buf, off, FCGI.PARAMS, id, 0, 0);
  if (endStdin) writeHeader(buf, off, FCGI.STDIN, id, 0, 0);
  return ok(buf);
}

/** Writes a record header at `off`; returns the offset after it. */
function writeHeader(buf: Buffer, off: number, type: number, id: number, length: number, padding: number): number {
  buf[off] = VERSION;
  buf[off + 1] = type;
  buf.writeUInt16BE(id, off + 2);
  buf.writeUInt16BE(length, off + 4);
  buf[off + 6] = padding;
  return off + HEADER_LEN;
}

/** Decodes name-value pairs (the test server and FCGI_GET_VALUES_RESULT); null when they are malformed. */
export function decodePairs(buf: Buffer): [string, string][] | null {
  const out: [string, string][] = [];
  let i = 0;
  const len = (): number => {
    const b = buf[i];
    if (b === undefined) return -1;
    if (b < 128) {
      i += 1;
      return b;
    }
    if (i + 4 > buf.length) return -1;
    const n = buf.readUInt32BE(i) & 0x7fffffff;
    i += 4;
    return n;
  };
  while (i < buf.length) {
    const nl = len();
    const vl = len();
    if (nl < 0 || vl < 0 || i + nl + vl > buf.length) return null;
    out.push([buf.toString('utf8', i, i + nl), buf.toString('utf8', i + nl, i + nl + vl)]);
    i += nl + vl;
  }
  return out;
}

/** One record as parsed: its type, request id and content (a view, valid until the next push). */
export interface FcgiRecord {
  readonly type: number;
  readonly id: number;
  readonly content: Buffer;
}

/**
 * Splits a byte stream into records. `push` returns an error sentence for a record that breaks the protocol (a
 * version other than 1); records are handed over as they complete, whatever the chunking.
 */
export class RecordParser {
  private pending: Buffer | null = null;

  /** Feeds bytes; `onRecord` gets each complete record, in order. Returns null, or why the stream is broken. */
  push(chunk: Buffer, onRecord: (r: FcgiRecord) => void): string | null {
    let buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    let off = 0;
    while (buf.length - off >= HEADER_LEN) {
      if (buf[off] !== VERSION) return `FastCGI record of version ${String(buf[off])}, not 1`;
      const type = buf[off + 1] ?? 0;
      const id = buf.readUInt16BE(off + 2);
      const length = buf.readUInt16BE(off + 4);
      const padding = buf[off + 6] ?? 0;
      const total = HEADER_LEN + length + padding;
      if (buf.length - off < total) break;
      onRecord({ type, id, content: buf.subarray(off + HEADER_LEN, off + HEADER_LEN + length) });
      off += total;
    }
    if (off < buf.length) {
      // Copy the rest: `chunk` belongs to the caller and a view would pin the whole of it.
      buf = Buffer.from(buf.subarray(off));
      this.pending = buf;
    }
    return null;
  }
}

/** FCGI_EndRequestBody's appStatus and protocolStatus (§5.5); null when the body is short. */
export function parseEndRequest(content: Buffer): { appStatus: number; protocolStatus: number } | null {
  if (content.length < 8) return null;
  return { appStatus: content.readUInt32BE(0), protocolStatus: content[4] ?? 0 };
}
