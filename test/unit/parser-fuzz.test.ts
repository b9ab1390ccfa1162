/**
 * Property-based fuzzing of the request-head parser and the chunked decoder, from a seeded PRNG so that every
 * failure names the seed and case index that reproduce it. Inputs are mutated valid requests (byte and bit flips,
 * inserted CR/LF/NUL/SP/HT/':'/DEL/obs-text, deletions, truncations, duplicated ranges, random header lines,
 * CRLF→LF, overlong lines) and random bytes. Each input is parsed whole and again fed in random pieces. Properties:
 * - never throws;
 * - `head` only for a head that is syntactically valid by an independent reference (RFC 9112 §3, §5), with a valid
 *   method, target and version, within the limits, ending exactly after the first CRLFCRLF;
 * - `error` has a 4xx/5xx status of the parser's set, and only 400/414/431 when the syntax is invalid;
 * - `incomplete` only when no CRLFCRLF follows the leading empty lines;
 * - the split result equals the whole-input result (a deep-equal head, or an error with the same status).
 * The chunked decoder is checked the same way, against a whole-input reference decoder (RFC 9112 §7.1).
 *
 * `npm test` runs ~200,000 inputs; bench/fuzz-parser.mjs imports `fuzzHeads`/`fuzzChunked` for millions
 * (it sets FUZZ_PARSER_BENCH=1 so that importing this file registers no tests).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkedDecoder, PROHIBITED_TRAILERS } from '../../src/http/chunked.js';
import { HeadParser, type HeadResult } from '../../src/http/request-parser.js';
import { DEFAULT_LIMITS, type HeadLimits, type RequestHead } from '../../src/http/request.js';
import { isToken } from '../../src/http/abnf.js';

// ─── PRNG ────────────────────────────────────────────────────────────────────────────────────────────────────

/** sfc32: small, fast, good enough for fuzzing, and reproducible from a 32-bit seed. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

// ─── Input generation ───────────────────────────────────────────────────────────────────────────────────────

const METHODS = ['GET', 'HEAD', 'POST', 'DELETE', 'PUT', 'OPTIONS', 'CONNECT', 'get', 'G', 'PATCH', 'X-Y'];
const TARGETS = [
  '/',
  '/index.html',
  '/a/b/c?x=1&y=2',
  '/%2e%2e/x',
  '/files/',
  'http://h/x?q',
  'https://h:8080/',
  'http://h',
  'http://u@h/',
  '*',
  'h:80',
  '/?',
  '/a#b',
  '//x',
  '/~user/%41',
  'HTTP://H/',
  'http://[::1]:8/a',
  'http:///x',
];
const VERSIONS = [
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/2.0',
  'HTTP/0.9',
  'HTTP/1.2',
  'HTTP/11',
  'http/1.1',
];
const NAMES = [
  'Host',
  'host',
  'HOST',
  'Content-Length',
  'Transfer-Encoding',
  'Connection',
  'Cookie',
  'Expect',
  'User-Agent',
  'Accept',
  'X-A',
  'x-forwarded-for',
  'Range',
  'TE',
  'If-None-Match',
  'Keep-Alive',
  'Upgrade',
  'a',
  '!#$%&*+.^_`|~',
];
const VALUES = [
  'localhost',
  'h:8080',
  '[::1]:80',
  '0',
  '5',
  '12',
  'chunked',
  'Chunked',
  'identity',
  'chunked, identity',
  'close',
  'keep-alive',
  'Close, Keep-Alive',
  'a=b',
  'a=b; c=d',
  '100-continue',
  '*/*',
  '',
  ' ',
  'bytes=0-1',
  'x\t y',
  '\xe9t\xe9',
  '"q"',
  'h:',
  'h:99999',
  'u@h',
  '-1',
  '+5',
  '5,5',
  '99999999999999999',
];
/** Bytes that break framing when inserted. */
const SPECIALS = [0x0d, 0x0a, 0x00, 0x20, 0x09, 0x3a, 0x7f, 0x80, 0xff, 0x0b, 0x2c, 0x3b, 0x22, 0x5c];

/** A request head that is valid, or nearly so (random methods, targets, versions, header lines). */
function baseRequest(rng: Rng): Buffer {
  const parts: string[] = [];
  if (rng.chance(0.05)) parts.push('\r\n'.repeat(1 + rng.int(10)));
  const method = rng.chance(0.7) ? 'GET' : rng.pick(METHODS);
  const target = rng.chance(0.6)
    ? '/' + 'abc/'.repeat(rng.int(4)) + (rng.chance(0.3) ? '?q=1' : '')
    : rng.pick(TARGETS);
  const version = rng.chance(0.8) ? 'HTTP/1.1' : rng.pick(VERSIONS);
  parts.push(`${method} ${target} ${version}\r\n`);
  if (rng.chance(0.85)) parts.push(`Host: ${rng.chance(0.8) ? 'localhost' : rng.pick(VALUES)}\r\n`);
  const n = rng.int(6);
  for (let i = 0; i < n; i++) {
    const ows1 = rng.chance(0.8) ? ' ' : rng.pick(['', '\t', '  ', ' \t']);
    const ows2 = rng.chance(0.9) ? '' : rng.pick([' ', '\t']);
    parts.push(`${rng.pick(NAMES)}:${ows1}${rng.pick(VALUES)}${ows2}\r\n`);
  }
  parts.push('\r\n');
  if (rng.chance(0.3)) parts.push(rng.chance(0.5) ? 'hello' : 'GET /next HTTP/1.1\r\nHost: h\r\n\r\n');
  return Buffer.from(parts.join(''), 'latin1');
}

/** Random bytes, biased towards the bytes that matter to the parser. */
function randomBytes(rng: Rng, max: number): Buffer {
  const n = rng.int(max + 1);
  const b = Buffer.allocUnsafe(n);
  const alphabet = rng.chance(0.5) ? 'GET / HTTP/1.1\r\n\r\nHost: h:\t ' : null;
  for (let i = 0; i < n; i++) {
    if (alphabet !== null && rng.chance(0.8)) b[i] = alphabet.charCodeAt(rng.int(alphabet.length));
    else b[i] = rng.chance(0.3) ? rng.pick(SPECIALS) : rng.int(256);
  }
  return b;
}

/** `n` random bytes, framing bytes (CR, LF...) frequent: chunk data may contain anything. */
function exactBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = rng.chance(0.2) ? rng.pick(SPECIALS) : rng.int(256);
  return b;
}

/** One random mutation of `b`. */
function mutate(rng: Rng, b: Buffer): Buffer {
  const n = b.length;
  const at = rng.int(n + 1);
  switch (rng.int(11)) {
    case 0: // byte flip
      if (n > 0) b[rng.int(n)] = rng.int(256);
      return b;
    case 1: // bit flip
      if (n > 0) b[rng.int(n)]! ^= 1 << rng.int(8);
      return b;
    case 2: // insert a framing byte
      return Buffer.concat([b.subarray(0, at), Buffer.from([rng.pick(SPECIALS)]), b.subarray(at)]);
    case 3: {
      // delete a range
      const len = 1 + rng.int(8);
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(n, at + len))]);
    }
    case 4: // truncate
      return b.subarray(0, at);
    case 5: {
      // duplicate a range somewhere else
      const s = rng.int(n + 1);
      const e = Math.min(n, s + 1 + rng.int(40));
      return Buffer.concat([b.subarray(0, at), b.subarray(s, e), b.subarray(at)]);
    }
    case 6: {
      // insert a random header line after a CRLF
      const crlf = b.indexOf('\r\n', at);
      if (crlf < 0) return b;
      const name = rng.chance(0.5) ? rng.pick(NAMES) : randomBytes(rng, 8).toString('latin1');
      const line = Buffer.from(
        `${name}:${rng.chance(0.5) ? rng.pick(VALUES) : randomBytes(rng, 10).toString('latin1')}\r\n`,
        'latin1',
      );
      return Buffer.concat([b.subarray(0, crlf + 2), line, b.subarray(crlf + 2)]);
    }
    case 7: {
      // CRLF → LF, or → CR
      const crlf = b.indexOf('\r\n', at);
      if (crlf < 0) return b;
      return Buffer.concat([
        b.subarray(0, crlf),
        rng.chance(0.7) ? b.subarray(crlf + 1) : b.subarray(crlf, crlf + 1),
        b.subarray(crlf + 2),
      ]);
    }
    case 8: {
      // a long run of one byte (request line or section over its limit), rarely
      if (!rng.chance(0.1)) return b;
      const len = rng.pick([8000, 8193, 9000, 33000]);
      return Buffer.concat([b.subarray(0, at), Buffer.alloc(len, rng.pick([0x61, 0x2f, 0x20])), b.subarray(at)]);
    }
    case 9: {
      // many header lines (field count limit)
      const crlf = b.indexOf('\r\n');
      if (crlf < 0 || !rng.chance(0.2)) return b;
      const lines = Buffer.from('X-F: v\r\n'.repeat(95 + rng.int(10)), 'latin1');
      return Buffer.concat([b.subarray(0, crlf + 2), lines, b.subarray(crlf + 2)]);
    }
    default: {
      // a fold: line start whitespace
      const crlf = b.indexOf('\r\n', at);
      if (crlf < 0) return b;
      return Buffer.concat([b.subarray(0, crlf + 2), Buffer.from(rng.chance(0.5) ? ' ' : '\t'), b.subarray(crlf + 2)]);
    }
  }
}

/** The head-parser input of case `i`: a mutated request (1 to 4 mutations), or random bytes. */
export function headInput(rng: Rng): Buffer {
  if (rng.chance(0.1)) return randomBytes(rng, 200);
  let b = Buffer.from(baseRequest(rng)); // a copy: mutations write in place
  const m = rng.chance(0.2) ? 0 : 1 + rng.int(3);
  for (let k = 0; k < m; k++) b = Buffer.from(mutate(rng, b));
  return b;
}

/** Random cut points: a split of [0, len) into pieces (some of one byte). */
function cuts(rng: Rng, len: number): number[] {
  const out: number[] = [];
  let p = 0;
  while (p < len) {
    p += rng.chance(0.3) ? 1 : 1 + rng.int(Math.max(1, len >> 1));
    out.push(Math.min(p, len));
  }
  return out;
}

// ─── Head parser properties ─────────────────────────────────────────────────────────────────────────────────

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const TCHAR_RE = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]";
const REQUEST_LINE_RE = new RegExp(`^${TCHAR_RE}+ [\\x21\\x22\\x24-\\x7e]+ HTTP/[0-9]\\.[0-9]$`);
const FIELD_LINE_RE = new RegExp(`^${TCHAR_RE}+:[\\t\\x20-\\x7e\\x80-\\xff]*$`);
const STATUSES = new Set([400, 413, 414, 431, 501, 505]);

/**
 * Reference syntax check of a complete head (request line through the last field line, CRLFs removed), written
 * from the ABNF of RFC 9112 §3 and §5 independently of the parser: true when every line is well-formed.
 */
export function referenceSyntaxOk(head: string): boolean {
  const lines = head.split('\r\n');
  if (lines.some((l) => l.includes('\r') || l.includes('\n'))) return false;
  if (!REQUEST_LINE_RE.test(lines[0]!)) return false;
  return lines.slice(1).every((l) => FIELD_LINE_RE.test(l));
}

/** Counts of outcomes, for the bench's report. */
export interface Outcomes {
  inputs: number;
  head: number;
  incomplete: number;
  errors: Map<number, number>;
}

export function newOutcomes(): Outcomes {
  return { inputs: 0, head: 0, incomplete: 0, errors: new Map() };
}

function describeInput(seed: number, i: number, b: Buffer): string {
  const shown = b.length > 600 ? b.subarray(0, 600) : b;
  return `seed ${seed} case ${i} (${b.length} bytes): ${JSON.stringify(shown.toString('latin1'))}`;
}

/** The result of feeding `buf` in pieces cut at `points`, as a connection does (a fresh buffer per read). */
function parseSplit(
  buf: Buffer,
  points: number[],
  prefix: number,
  limits: HeadLimits,
): { r: HeadResult; base: number } {
  const p = new HeadParser(limits);
  // The first read lands after `prefix` bytes of an earlier request; later reads get a new buffer (Buffer.concat).
  let pending = Buffer.concat([Buffer.alloc(prefix, 0x58), buf.subarray(0, points[0])]);
  let start = prefix;
  let base = -prefix; // input offset of pending[0]
  let prev = points[0]!;
  let r: HeadResult = p.parse(pending, start, pending.length);
  for (let k = 1; k < points.length && r.kind === 'incomplete'; k++) {
    pending = Buffer.concat([pending.subarray(start), buf.subarray(prev, points[k])]);
    base += start;
    start = 0;
    prev = points[k]!;
    r = p.parse(pending, 0, pending.length);
  }
  return { r, base };
}

/** Checks every property for one input; throws an AssertionError naming the case. */
export function checkHead(buf: Buffer, rng: Rng, limits: HeadLimits, where: () => string, out: Outcomes): void {
  let whole: HeadResult;
  try {
    whole = new HeadParser(limits).parse(buf, 0, buf.length);
  } catch (err) {
    assert.fail(`parse threw ${String(err)} for ${where()}`);
  }
  out.inputs++;
  // Leading empty lines are skipped (RFC 9112 §2.2): the head proper starts after them.
  let lead = 0;
  while (buf[lead] === 0x0d && buf[lead + 1] === 0x0a) lead += 2;
  const firstEnd = buf.indexOf(CRLFCRLF, lead);
  if (whole.kind === 'incomplete') {
    out.incomplete++;
    assert.equal(firstEnd, -1, `incomplete although a CRLFCRLF ends a head: ${where()}`);
  } else if (whole.kind === 'error') {
    const s = whole.error.status;
    out.errors.set(s, (out.errors.get(s) ?? 0) + 1);
    assert.ok(STATUSES.has(s), `error status ${s}: ${where()}`);
    if (firstEnd >= 0 && lead <= 16) {
      const text = buf.toString('latin1', lead, firstEnd);
      if (!referenceSyntaxOk(text))
        assert.ok(s === 400 || s === 414 || s === 431, `invalid syntax answered ${s}: ${where()}`);
    }
  } else {
    out.head++;
    const h = whole.head;
    assert.ok(lead <= 16, `head after ${lead / 2} empty lines: ${where()}`);
    assert.equal(whole.end, firstEnd + 4, `head end: ${where()}`);
    const text = buf.toString('latin1', lead, firstEnd);
    assert.ok(referenceSyntaxOk(text), `head accepted with invalid syntax: ${where()}`);
    assert.ok(firstEnd + 4 - lead <= limits.maxHeaderBytes, `head over maxHeaderBytes: ${where()}`);
    const rl = text.indexOf('\r\n');
    assert.ok((rl < 0 ? text.length : rl) <= limits.maxRequestLine, `request line over limit: ${where()}`);
    assert.ok(text.split('\r\n').length - 1 <= limits.maxHeaderCount, `too many fields accepted: ${where()}`);
    assertValidHead(h, where);
  }
  // The same input in pieces, sometimes behind the bytes of an earlier request in the same buffer.
  const prefix = rng.chance(0.2) ? 1 + rng.int(20) : 0;
  let split: { r: HeadResult; base: number };
  try {
    split = parseSplit(buf, cuts(rng, buf.length), prefix, limits);
  } catch (err) {
    assert.fail(`split parse threw ${String(err)} for ${where()}`);
  }
  if (whole.kind === 'head') {
    assert.equal(split.r.kind, 'head', `split gave ${JSON.stringify(split.r)}, whole gave a head: ${where()}`);
    if (split.r.kind === 'head') {
      assert.equal(split.r.end + split.base, whole.end, `split head end: ${where()}`);
      assert.deepEqual(split.r.head, whole.head, `split head differs: ${where()}`);
    }
  } else if (whole.kind === 'error') {
    // The status must not depend on the split; the reason (log text only) may: a partial head is checked for bare
    // CR/LF as it arrives, a whole one line by line, so with two faults each may name a different one first.
    assert.equal(split.r.kind, 'error', `split gave ${split.r.kind}, whole gave ${whole.error.status}: ${where()}`);
    if (split.r.kind === 'error')
      assert.equal(
        split.r.error.status,
        whole.error.status,
        `split status differs (${split.r.error.reason} / ${whole.error.reason}): ${where()}`,
      );
  } else {
    assert.equal(split.r.kind, 'incomplete', `split gave ${split.r.kind}, whole was incomplete: ${where()}`);
  }
}

/** A head as the parser returns it must be usable as is by the router (RequestHead's documented invariants). */
function assertValidHead(h: RequestHead, where: () => string): void {
  // Any token but CONNECT, which names no resource here (501): the router answers 501 to one it does not know.
  assert.ok(isToken(h.method) && h.method !== 'CONNECT', `method ${h.method}: ${where()}`);
  assert.ok(h.minor === 0 || h.minor === 1, `minor ${h.minor}: ${where()}`);
  assert.match(h.target, /^[\x21\x22\x24-\x7e]+$/, `target: ${where()}`);
  // Origin-form and absolute-form give a path; only `OPTIONS *` gives the asterisk (RFC 9112 §3.2.4).
  if (h.rawPath === '*') assert.ok(h.method === 'OPTIONS' && h.target === '*', `asterisk-form: ${where()}`);
  else assert.ok(h.rawPath.startsWith('/'), `rawPath ${JSON.stringify(h.rawPath)}: ${where()}`);
  assert.ok(!/[?#\s]/.test(h.rawPath), `rawPath ${JSON.stringify(h.rawPath)}: ${where()}`);
  assert.ok(!(h.chunked && h.contentLength >= 0), `both chunked and Content-Length: ${where()}`);
  assert.ok(
    Number.isSafeInteger(h.contentLength) && h.contentLength >= -1,
    `contentLength ${h.contentLength}: ${where()}`,
  );
  if (h.chunked) assert.equal(h.minor, 1, `chunked in HTTP/1.0: ${where()}`);
  if (h.minor === 1) assert.ok(h.host.length > 0, `HTTP/1.1 without a host: ${where()}`);
  assert.equal(h.host, h.host.toLowerCase(), `host not lower case: ${where()}`);
  for (const [k, v] of h.headers) {
    assert.match(k, new RegExp(`^${TCHAR_RE}+$`), `header name ${JSON.stringify(k)}: ${where()}`);
    assert.equal(k, k.toLowerCase(), `header name case ${k}: ${where()}`);
    assert.ok(!/[\0\r\n]/.test(v), `header value ${JSON.stringify(v)}: ${where()}`);
    // OWS is trimmed; a repeated field joins its values with ", " even when one is empty (RFC 9110 §5.3).
    assert.ok(!/^[ \t]|(^|[^,;])[ \t]+$/.test(v), `header value not trimmed ${JSON.stringify(v)}: ${where()}`);
  }
}

/** Fuzzes the head parser with `n` inputs from `seed`; `limits` small or default. Throws on the first violation. */
export function fuzzHeads(n: number, seed: number, out: Outcomes = newOutcomes()): Outcomes {
  const rng = new Rng(seed);
  const small: HeadLimits = { maxRequestLine: 64, maxHeaderBytes: 256, maxHeaderCount: 4 };
  for (let i = 0; i < n; i++) {
    const b = headInput(rng);
    const limits = rng.chance(0.1) ? small : DEFAULT_LIMITS;
    checkHead(b, rng, limits, () => describeInput(seed, i, b), out);
  }
  return out;
}

// ─── Chunked decoder ────────────────────────────────────────────────────────────────────────────────────────

/** A valid chunked body (random sizes, extensions, trailer), its data, and bytes of the next request after it. */
function chunkedInput(rng: Rng): { body: Buffer; data: Buffer } {
  const parts: string[] = [];
  const data: string[] = [];
  const n = rng.int(5);
  for (let i = 0; i < n; i++) {
    const size = rng.chance(0.8) ? 1 + rng.int(20) : 1 + rng.int(3000);
    const chunk = rng.chance(0.5)
      ? Buffer.alloc(size, 0x61 + rng.int(26)).toString('latin1')
      : exactBytes(rng, size).toString('latin1');
    let hex = size.toString(16);
    if (rng.chance(0.2)) hex = hex.toUpperCase();
    if (rng.chance(0.1)) hex = '000' + hex;
    let ext = '';
    if (rng.chance(0.2)) ext = rng.pick([';a', ';a=b', ' ;a=b', ';a="x y"', '; a = "q\\"z"', ';a;b=c', '\t;x']);
    parts.push(`${hex}${ext}\r\n${chunk}\r\n`);
    data.push(chunk);
  }
  parts.push(rng.chance(0.1) ? '000' : '0');
  if (rng.chance(0.1)) parts.push(';last=1');
  parts.push('\r\n');
  if (rng.chance(0.3)) parts.push(rng.pick(['X-Sum: 1\r\n', 'Expires: never\r\n', 'a:\r\n', 'X-A: 1\r\nX-A: 2\r\n']));
  parts.push('\r\n');
  if (rng.chance(0.4)) parts.push('GET /next HTTP/1.1\r\n\r\n');
  return { body: Buffer.from(parts.join(''), 'latin1'), data: Buffer.from(data.join(''), 'latin1') };
}

type ChunkedOutcome =
  | { kind: 'done'; consumed: number; data: Buffer; trailers: Map<string, string> }
  | { kind: 'error'; at: number; status: number; reason: string }
  | { kind: 'incomplete'; data: Buffer };

/** Runs a fresh decoder over `buf` in pieces (one piece when `points` is [len]). */
function decodeSplit(
  buf: Buffer,
  points: number[],
  limits: { maxTrailerBytes: number; maxLineBytes: number },
): ChunkedOutcome {
  const dec = new ChunkedDecoder(limits);
  const data: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    // A separate Buffer per piece, with junk around it, as reads arrive.
    const piece = Buffer.concat([Buffer.from('JJ'), buf.subarray(prev, p), Buffer.from('KK')]);
    const at = dec.decode(piece, 2, piece.length - 2, (c) => data.push(Buffer.from(c)));
    if (dec.error !== null)
      return { kind: 'error', at: prev + at - 2, status: dec.error.status, reason: dec.error.reason };
    if (dec.done)
      return { kind: 'done', consumed: prev + at - 2, data: Buffer.concat(data), trailers: new Map(dec.trailers) };
    assert.equal(at, piece.length - 2, 'decode stopped early without done or error');
    assert.equal(dec.received, Buffer.concat(data).length, 'received differs from the data handed out');
    prev = p;
  }
  return { kind: 'incomplete', data: Buffer.concat(data) };
}

const EXT_RE = new RegExp(
  `^[0-9A-Fa-f]+(?:[ \\t]*;[ \\t]*${TCHAR_RE}+(?:[ \\t]*=[ \\t]*(?:${TCHAR_RE}+|"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x20-\\x7e\\x80-\\xff])*"))?)*$`,
);

/**
 * Reference decoder of a whole input, from RFC 9112 §7.1 (line at a time): 'incomplete' when the input stops
 * before the end (the real decoder may already have seen an error there: only done/error are compared exactly).
 */
export function referenceChunked(
  b: Buffer,
  limits: { maxTrailerBytes: number; maxLineBytes: number },
):
  | { kind: 'done'; consumed: number; data: Buffer; trailers: Map<string, string> }
  | { kind: 'error' }
  | { kind: 'incomplete' } {
  let pos = 0;
  const data: Buffer[] = [];
  for (;;) {
    const lf = b.indexOf(0x0a, pos);
    if (lf < 0) return { kind: 'incomplete' };
    const line = b.toString('latin1', pos, lf);
    if (!line.endsWith('\r')) return { kind: 'error' };
    const content = line.slice(0, -1);
    if (content.length + 1 > limits.maxLineBytes) return { kind: 'error' };
    if (!EXT_RE.test(content)) return { kind: 'error' };
    const hex = /^[0-9A-Fa-f]+/.exec(content)![0];
    if (hex.replace(/^0+/, '').length > 15) return { kind: 'error' }; // leading zeros do not count
    const size = parseInt(hex, 16);
    if (size > Number.MAX_SAFE_INTEGER) return { kind: 'error' };
    pos = lf + 1;
    if (size === 0) break;
    if (b.length < pos + size) return { kind: 'incomplete' };
    data.push(b.subarray(pos, pos + size));
    pos += size;
    if (pos < b.length && b[pos] !== 0x0d) return { kind: 'error' };
    if (pos + 1 < b.length && b[pos + 1] !== 0x0a) return { kind: 'error' };
    if (pos + 2 > b.length) return { kind: 'incomplete' };
    pos += 2;
  }
  // Trailer section: field lines, then an empty line (§7.1.2).
  const trailers = new Map<string, string>();
  const trailerStart = pos;
  for (;;) {
    const lf = b.indexOf(0x0a, pos);
    const lineEnd = lf < 0 ? b.length : lf + 1;
    if (lineEnd - trailerStart > limits.maxTrailerBytes) return { kind: 'error' };
    if (lf < 0) return { kind: 'incomplete' };
    const line = b.toString('latin1', pos, lf);
    pos = lf + 1;
    if (!line.endsWith('\r') || line.slice(0, -1).includes('\r')) return { kind: 'error' };
    const content = line.slice(0, -1);
    if (content === '') return { kind: 'done', consumed: pos, data: Buffer.concat(data), trailers };
    const m = new RegExp(`^(${TCHAR_RE}+):[ \\t]*([\\t\\x20-\\x7e\\x80-\\xff]*?)[ \\t]*$`).exec(content);
    if (m === null) return { kind: 'error' };
    const name = m[1]!.toLowerCase();
    if (PROHIBITED_TRAILERS.has(name)) continue; // RFC 9110 §6.5.1: dropped, never merged
    const prev = trailers.get(name);
    trailers.set(name, prev === undefined ? m[2]! : `${prev}, ${m[2]!}`);
  }
}

/** Fuzzes the chunked decoder with `n` inputs from `seed`. Throws on the first violation. */
export function fuzzChunked(n: number, seed: number, out: Outcomes = newOutcomes()): Outcomes {
  const rng = new Rng(seed);
  for (let i = 0; i < n; i++) {
    const { body, data } = chunkedInput(rng);
    let b = Buffer.from(body);
    const m = rng.chance(0.25) ? 0 : 1 + rng.int(3);
    for (let k = 0; k < m; k++) b = Buffer.from(mutate(rng, b));
    const random = rng.chance(0.03);
    if (random) b = Buffer.from(randomBytes(rng, 100));
    const limits = rng.chance(0.1)
      ? { maxTrailerBytes: 20, maxLineBytes: 8 }
      : { maxTrailerBytes: 16384, maxLineBytes: 4096 };
    const where = (): string => describeInput(seed, i, b);
    let whole: ChunkedOutcome;
    let split: ChunkedOutcome;
    try {
      whole = decodeSplit(b, [b.length], limits);
      split = decodeSplit(b, cuts(rng, b.length), limits);
    } catch (err) {
      assert.fail(`decode threw ${String(err)} for ${where()}`);
    }
    out.inputs++;
    if (whole.kind === 'done') out.head++;
    else if (whole.kind === 'incomplete') out.incomplete++;
    else out.errors.set(whole.status, (out.errors.get(whole.status) ?? 0) + 1);
    if (whole.kind === 'error') assert.equal(whole.status, 400, `chunked error status: ${where()}`);
    assert.deepEqual(split, whole, `split decode differs from whole: ${where()}`);
    const ref = referenceChunked(b, limits);
    if (ref.kind === 'done') {
      assert.equal(whole.kind, 'done', `reference done, decoder ${whole.kind}: ${where()}`);
      if (whole.kind === 'done') {
        assert.equal(whole.consumed, ref.consumed, `consumed: ${where()}`);
        assert.ok(whole.data.equals(ref.data), `data: ${where()}`);
        assert.deepEqual(whole.trailers, ref.trailers, `trailers: ${where()}`);
      }
    } else if (ref.kind === 'error') {
      assert.equal(whole.kind, 'error', `reference error, decoder ${whole.kind}: ${where()}`);
    } else {
      assert.notEqual(whole.kind, 'done', `reference incomplete, decoder done: ${where()}`);
    }
    if (m === 0 && !random && limits.maxLineBytes === 4096) {
      // Unmutated: the body decodes to exactly its data and stops where it ends.
      assert.equal(whole.kind, 'done', `a valid body: ${where()}`);
      if (whole.kind === 'done') assert.ok(whole.data.equals(data), `data of a valid body: ${where()}`);
    }
  }
  return out;
}

// ─── The tests ──────────────────────────────────────────────────────────────────────────────────────────────

if (process.env['FUZZ_PARSER_BENCH'] !== '1') {
  const SEED = Number(process.env['FUZZ_SEED'] ?? 20240611);

  describe('parser fuzzing (seeded; FUZZ_SEED to change the seed)', () => {
    test('the PRNG is deterministic', () => {
      const a = new Rng(7);
      const b = new Rng(7);
      const xs = Array.from({ length: 5 }, () => a.u32());
      assert.deepEqual(
        Array.from({ length: 5 }, () => b.u32()),
        xs,
      );
      assert.notDeepEqual(
        Array.from({ length: 5 }, () => new Rng(8).u32()),
        xs,
      );
    });

    test('the reference syntax check agrees with the RFC on known lines', () => {
      assert.equal(referenceSyntaxOk('GET / HTTP/1.1\r\nHost: h'), true);
      assert.equal(referenceSyntaxOk('GET / HTTP/1.1\r\nHost : h'), false);
      assert.equal(referenceSyntaxOk('GET / HTTP/1.1\r\n Host: h'), false);
      assert.equal(referenceSyntaxOk('GET / HTTP/1.1\r\nHost: h\rx'), false);
      assert.equal(referenceSyntaxOk('GET /#a HTTP/1.1'), false);
      assert.equal(referenceSyntaxOk('GET  / HTTP/1.1'), false);
      const ok = referenceChunked(Buffer.from('5;a="b\\"c"\r\nhello\r\n0\r\nX: 1\r\n\r\nrest'), {
        maxTrailerBytes: 100,
        maxLineBytes: 100,
      });
      assert.equal(ok.kind, 'done');
      if (ok.kind === 'done') {
        assert.equal(ok.consumed, 30);
        assert.equal(ok.data.toString(), 'hello');
        assert.deepEqual([...ok.trailers], [['x', '1']]);
      }
      assert.equal(
        referenceChunked(Buffer.from('5 \r\nhello\r\n0\r\n\r\n'), { maxTrailerBytes: 100, maxLineBytes: 100 }).kind,
        'error',
      );
    });

    test('the generators produce every outcome (the properties are not vacuous)', () => {
      const h = fuzzHeads(5000, SEED + 1);
      assert.ok(h.head > 300, `heads: ${h.head}`);
      assert.ok(h.incomplete > 100, `incomplete: ${h.incomplete}`);
      for (const s of [400, 414, 431, 501, 505])
        assert.ok((h.errors.get(s) ?? 0) > 0, `no ${s} in ${JSON.stringify([...h.errors])}`);
      const c = fuzzChunked(3000, SEED + 2);
      assert.ok(
        c.head > 300 && c.incomplete > 30 && (c.errors.get(400) ?? 0) > 300,
        JSON.stringify([c.head, c.incomplete, [...c.errors]]),
      );
    });

    test('head parser: 150,000 inputs, whole and split', () => {
      const out = fuzzHeads(150_000, SEED);
      assert.equal(out.inputs, 150_000);
    });

    test('chunked decoder: 50,000 inputs, whole and split, against the reference', () => {
      const out = fuzzChunked(50_000, SEED);
      assert.equal(out.inputs, 50_000);
    });
  });
}
