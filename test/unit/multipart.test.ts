import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boundaryOf, isFormData, MultipartParser } from '../../src/http/multipart.js';
import type { MultipartSink, PartInfo } from '../../src/http/multipart.js';

interface Part {
  name: string;
  filename: string | null;
  contentType: string | null;
  data: Buffer;
}

/** A sink that records parts and checks the callback order. */
class Collector implements MultipartSink {
  parts: Part[] = [];
  infos: PartInfo[] = [];
  chunks: Buffer[] = [];
  emitted = 0;
  private open = false;
  private cur: Buffer[] = [];
  partBegin(info: PartInfo): void {
    assert.equal(this.open, false, 'partBegin inside a part');
    this.open = true;
    this.infos.push(info);
    this.cur = [];
  }
  partData(chunk: Buffer): void {
    assert.equal(this.open, true, 'partData outside a part');
    assert.ok(chunk.length > 0, 'empty partData');
    this.cur.push(Buffer.from(chunk)); // copy: a test must not depend on buffer reuse
    this.chunks.push(chunk);
    this.emitted += chunk.length;
  }
  partEnd(): void {
    assert.equal(this.open, true, 'partEnd outside a part');
    this.open = false;
    const info = this.infos[this.infos.length - 1] as PartInfo;
    this.parts.push({
      name: info.name,
      filename: info.filename,
      contentType: info.contentType,
      data: Buffer.concat(this.cur),
    });
  }
}

const B = 'XyZ-boundary';

function parse(
  body: Buffer | string,
  pieces?: Buffer[],
  boundary = B,
  limits?: { maxPartHeaderBytes?: number; maxParts?: number },
) {
  const sink = new Collector();
  const p = new MultipartParser(boundary, sink, limits);
  const buf = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  for (const piece of pieces ?? [buf]) p.write(piece);
  p.end();
  return { sink, parser: p };
}

function part(headers: string, body: string | Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`--${B}\r\n${headers}\r\n\r\n`, 'utf8'),
    typeof body === 'string' ? Buffer.from(body, 'latin1') : body,
    Buffer.from('\r\n'),
  ]);
}

function form(...parts: Buffer[]): Buffer {
  return Buffer.concat([...parts, Buffer.from(`--${B}--\r\n`)]);
}

const simple = (parts: Part[]) => parts.map((p) => [p.name, p.filename, p.contentType, p.data.toString('latin1')]);

// --- boundaryOf / isFormData ---

test('boundaryOf: token and quoted boundaries, case-insensitive type and parameter', () => {
  assert.equal(boundaryOf('multipart/form-data; boundary=abc123'), 'abc123');
  assert.equal(boundaryOf('Multipart/Form-Data; BOUNDARY=----WebKitFormBoundaryA1b2'), '----WebKitFormBoundaryA1b2');
  assert.equal(boundaryOf('multipart/form-data; charset=utf-8; boundary="a b:c=d?"'), 'a b:c=d?');
  assert.equal(boundaryOf('multipart/form-data;boundary=x ; charset=utf-8'), 'x');
  assert.equal(boundaryOf('multipart/form-data; boundary=' + 'a'.repeat(70)), 'a'.repeat(70));
});

test('boundaryOf: null for other types and for missing or invalid boundaries', () => {
  assert.equal(boundaryOf('multipart/mixed; boundary=abc'), null);
  assert.equal(boundaryOf('application/x-www-form-urlencoded'), null);
  assert.equal(boundaryOf('multipart/form-data'), null);
  assert.equal(boundaryOf('multipart/form-data; boundary='), null);
  assert.equal(boundaryOf('multipart/form-data; boundary=""'), null);
  assert.equal(boundaryOf('multipart/form-data; boundary=' + 'a'.repeat(71)), null);
  assert.equal(boundaryOf('multipart/form-data; boundary="ends with space "'), null);
  assert.equal(boundaryOf('multipart/form-data; boundary=a!b'), null); // "!" is not a bchar
  assert.equal(boundaryOf('multipart/form-data; boundary=a; boundary=b'), null);
  assert.equal(boundaryOf('multipart/form-data; boundary="unterminated'), null);
});

test('isFormData tells a bad form from a non-form', () => {
  assert.equal(isFormData('multipart/form-data'), true);
  assert.equal(isFormData('MULTIPART/FORM-DATA; boundary='), true);
  assert.equal(isFormData('multipart/form-datax'), false);
  assert.equal(isFormData('text/plain'), false);
  assert.equal(isFormData(''), false);
});

// --- parsing ---

test('one part', () => {
  const { sink, parser } = parse(form(part('Content-Disposition: form-data; name="field"', 'hello')));
  assert.equal(parser.error, null);
  assert.equal(parser.done, true);
  assert.deepEqual(simple(sink.parts), [['field', null, null, 'hello']]);
  assert.deepEqual([...(sink.infos[0] as PartInfo).headers], [['content-disposition', 'form-data; name="field"']]);
});

test('several parts, file and plain fields', () => {
  const body = form(
    part('Content-Disposition: form-data; name="a"', '1'),
    part(
      'Content-Disposition: form-data; name="upload"; filename="notes.txt"\r\nContent-Type: text/plain',
      'line1\r\nline2\r\n',
    ),
    part('content-disposition: FORM-DATA; NAME=b', 'two'),
  );
  const { sink, parser } = parse(body);
  assert.equal(parser.error, null);
  assert.deepEqual(simple(sink.parts), [
    ['a', null, null, '1'],
    ['upload', 'notes.txt', 'text/plain', 'line1\r\nline2\r\n'],
    ['b', null, null, 'two'],
  ]);
});

test('filename* (RFC 8187) wins over filename; raw UTF-8 filename is decoded', () => {
  const body = form(
    part(
      `Content-Disposition: form-data; name="f"; filename="fallback.txt"; filename*=UTF-8''%E2%82%AC%20rates.txt`,
      'x',
    ),
    part(`Content-Disposition: form-data; name="g"; filename*=utf-8'en'a%2Fb`, 'y'),
    part('Content-Disposition: form-data; name="h"; filename="caf\u00e9.txt"', 'z'),
    part(`Content-Disposition: form-data; name="i"; filename*=iso-8859-1''caf%E9`, 'w'),
  );
  const { sink, parser } = parse(body);
  assert.equal(parser.error, null);
  assert.deepEqual(
    sink.parts.map((p) => p.filename),
    ['\u20ac rates.txt', 'a/b', 'caf\u00e9.txt', 'caf\u00e9'],
  );
});

test('quoted names with backslash escapes, and OWS around "="', () => {
  const body = form(
    part('Content-Disposition: form-data; name="a\\"b\\\\c"; filename="x\\y;z.txt"', '1'),
    part('Content-Disposition: form-data ; name = "sp ace" ;filename=""', '2'),
  );
  const { sink, parser } = parse(body);
  assert.equal(parser.error, null);
  assert.deepEqual(simple(sink.parts), [
    // A backslash escapes only a quote or a backslash; browsers send others raw (Windows paths).
    ['a"b\\c', 'x\\y;z.txt', null, '1'],
    ['sp ace', '', null, '2'],
  ]);
});

test('body containing boundary lookalikes that are not delimiters', () => {
  const tricky =
    `\r\n--${B.slice(0, 5)}` + // CRLF + prefix of the boundary
    `--${B}` + // boundary without the preceding CRLF
    `\r\n-${B}` + // one dash only
    '\r\r\n\n--\r\n' +
    `\r\n--${B.slice(0, -1)}` + // all but the last char
    `\r`; // a trailing CR right before the real delimiter
  const { sink, parser } = parse(form(part('Content-Disposition: form-data; name="t"', tricky)));
  assert.equal(parser.error, null);
  assert.deepEqual(simple(sink.parts), [['t', null, null, tricky]]);
});

test('a 0-byte file and a part without Content-Type', () => {
  const body = form(
    part(
      'Content-Disposition: form-data; name="empty"; filename="e.bin"\r\nContent-Type: application/octet-stream',
      '',
    ),
    part('Content-Disposition: form-data; name="n"', ''),
  );
  const { sink, parser } = parse(body);
  assert.equal(parser.error, null);
  assert.deepEqual(simple(sink.parts), [
    ['empty', 'e.bin', 'application/octet-stream', ''],
    ['n', null, null, ''],
  ]);
});

const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const binary = Buffer.concat([allBytes, Buffer.from(`\r\n--${B.slice(0, 3)}`), allBytes.reverse()]);

test('binary body with every byte value', () => {
  const { sink, parser } = parse(form(part('Content-Disposition: form-data; name="bin"; filename="b"', binary)));
  assert.equal(parser.error, null);
  assert.equal(sink.parts.length, 1);
  assert.deepEqual((sink.parts[0] as Part).data, binary);
});

test('preamble and epilogue are ignored; transport padding after delimiters is accepted', () => {
  const body = Buffer.concat([
    Buffer.from(`This is the preamble.\r\n--${B.slice(0, 4)} not yet\r\n`),
    Buffer.from(`--${B} \t\r\nContent-Disposition: form-data; name="p"\r\n\r\nv\r\n`),
    Buffer.from(`--${B}--  \r\nepilogue with --${B}\r\n and junk`),
  ]);
  const { sink, parser } = parse(body);
  assert.equal(parser.error, null);
  assert.equal(parser.done, true);
  assert.deepEqual(simple(sink.parts), [['p', null, null, 'v']]);
});

test('missing closing delimiter is an error on end()', () => {
  const body = part('Content-Disposition: form-data; name="a"', 'abc');
  const sink = new Collector();
  const p = new MultipartParser(B, sink);
  p.write(body);
  assert.equal(p.error, null);
  assert.equal(p.done, false);
  p.end();
  assert.equal(p.done, false);
  assert.deepEqual(p.error, { status: 400, reason: 'multipart body ended before the closing delimiter' });
  assert.equal(sink.parts.length, 0); // the part never ended: the caller discards it

  assert.equal(parse('').parser.error?.status, 400);
  assert.equal(parse(`--${B}`).parser.error?.status, 400);
  assert.equal(parse(`--${B}-`).parser.error?.status, 400);
  assert.equal(parse('no delimiter at all').parser.error?.status, 400);
});

test('a closing delimiter alone is a valid empty form', () => {
  const { sink, parser } = parse(`--${B}--`);
  assert.equal(parser.error, null);
  assert.equal(parser.done, true);
  assert.equal(sink.parts.length, 0);
});

const splitBody = form(
  part('Content-Disposition: form-data; name="a"', `x\r\n--${B.slice(0, 7)}y`),
  part(
    'Content-Disposition: form-data; name="f"; filename="f.bin"\r\nContent-Type: application/octet-stream',
    binary.subarray(0, 40),
  ),
  part('Content-Disposition: form-data; name="e"', ''),
);
const expected = simple(parse(splitBody).sink.parts);

test('every split into two pieces gives identical parts', () => {
  assert.equal(expected.length, 3);
  for (let i = 0; i <= splitBody.length; i++) {
    const { sink, parser } = parse(splitBody, [splitBody.subarray(0, i), splitBody.subarray(i)]);
    assert.equal(parser.error, null, `split at ${i}`);
    assert.deepEqual(simple(sink.parts), expected, `split at ${i}`);
  }
});

test('one byte at a time gives identical parts', () => {
  const pieces = Array.from({ length: splitBody.length }, (_, i) => splitBody.subarray(i, i + 1));
  const { sink, parser } = parse(splitBody, pieces);
  assert.equal(parser.error, null);
  assert.deepEqual(simple(sink.parts), expected);
});

test('pseudo-random splits into many pieces give identical parts', () => {
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let round = 0; round < 300; round++) {
    const pieces: Buffer[] = [];
    for (let at = 0; at < splitBody.length;) {
      const n = 1 + rand(B.length * 2 + 6);
      pieces.push(splitBody.subarray(at, at + n));
      at += n;
    }
    const { sink, parser } = parse(splitBody, pieces);
    assert.equal(parser.error, null, `round ${round}`);
    assert.deepEqual(simple(sink.parts), expected, `round ${round}`);
  }
});

test('large body streams as subarrays of the input, holding back at most boundary+4 bytes', () => {
  const sink = new Collector();
  const p = new MultipartParser(B, sink);
  p.write(Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="big"; filename="big"\r\n\r\n`));
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  chunk[chunk.length - 1] = 0x0d; // ends with a possible delimiter start
  let fed = 0;
  for (let i = 0; i < 64; i++) {
    p.write(chunk);
    fed += chunk.length;
    assert.ok(fed - sink.emitted <= B.length + 4, `held back ${fed - sink.emitted}`);
  }
  // Most data is passed through as views on the caller's buffers, not copies.
  const views = sink.chunks.filter((c) => c.buffer === chunk.buffer).length;
  assert.ok(views >= 63, `views ${views}`);
  p.write(Buffer.from(`\r\n--${B}--`));
  p.end();
  assert.equal(p.error, null);
  assert.equal(sink.emitted, fed);
  assert.equal((sink.parts[0] as Part).data.length, fed);
});

test('malformed part headers are 400', () => {
  const cases: [string, string][] = [
    ['Content-Disposition form-data; name="a"', 'malformed part header line'],
    ['Content-Disposition : form-data; name="a"', 'invalid part header field name'],
    ['X: 1\r\n folded', 'folded part header line'],
    ['Content-Type: text/plain', 'part without Content-Disposition'],
    ['', 'part without Content-Disposition'],
    ['Content-Disposition: attachment; name="a"', 'part Content-Disposition is not form-data'],
    ['Content-Disposition: form-data; filename="a"', 'part Content-Disposition has no name'],
    ['Content-Disposition: form-data; name="a', 'malformed part Content-Disposition parameter value'],
    ['Content-Disposition: form-data; name', 'malformed part Content-Disposition parameter'],
    ['Content-Disposition: form-data; name="a" x', 'malformed part Content-Disposition'],
    ['Content-Disposition: form-data; name="a"; NAME="b"', 'repeated Content-Disposition parameter name'],
    [`Content-Disposition: form-data; name="a"; filename*=UTF-8''%ZZ`, 'malformed filename* parameter'],
    [`Content-Disposition: form-data; name="a"; filename*=UTF-8''%FF`, 'malformed filename* parameter'],
    [`Content-Disposition: form-data; name="a"; filename*=koi8-r''a`, 'malformed filename* parameter'],
    [
      'Content-Disposition: form-data; name="a"\r\nContent-Disposition: form-data; name="b"',
      'repeated part header content-disposition',
    ],
    ['Content-Disposition: form-data; name="a\u0000"', 'invalid character in part header value'],
    ['Content-Disposition: form-data; name="a"\nX: y', 'invalid character in part header value'],
  ];
  for (const [headers, reason] of cases) {
    const { sink, parser } = parse(form(part(headers, 'data')));
    assert.deepEqual(parser.error, { status: 400, reason }, JSON.stringify(headers));
    assert.equal(sink.infos.length, 0);
  }
});

test('garbage after a delimiter is 400', () => {
  for (const body of [`--${B}X\r\n`, `--${B} x\r\n`, `--${B}\rX`, `--${B}-x`]) {
    assert.deepEqual(parse(body).parser.error, { status: 400, reason: 'malformed multipart delimiter line' }, body);
  }
});

test('part header section over the limit is 400; at the limit it is accepted', () => {
  const h = 'Content-Disposition: form-data; name="a"\r\nX-Pad: ' + 'p'.repeat(100);
  const size = Buffer.byteLength(h) + 4; // with the terminating empty line
  assert.equal(parse(form(part(h, 'd')), undefined, B, { maxPartHeaderBytes: size }).parser.error, null);
  assert.deepEqual(parse(form(part(h, 'd')), undefined, B, { maxPartHeaderBytes: size - 1 }).parser.error, {
    status: 400,
    reason: 'part header section too large',
  });
  // Default 16 KiB, fed in small pieces.
  const huge = form(part('Content-Disposition: form-data; name="a"\r\nX-Pad: ' + 'p'.repeat(16 * 1024), 'd'));
  const pieces = [];
  for (let i = 0; i < huge.length; i += 1000) pieces.push(huge.subarray(i, i + 1000));
  assert.equal(parse(huge, pieces).parser.error?.reason, 'part header section too large');
});

test('more than maxParts parts is 400', () => {
  const p = (i: number) => part(`Content-Disposition: form-data; name="f${i}"`, String(i));
  const three = form(p(1), p(2), p(3));
  assert.equal(parse(three, undefined, B, { maxParts: 3 }).parser.error, null);
  const r = parse(three, undefined, B, { maxParts: 2 });
  assert.deepEqual(r.parser.error, { status: 400, reason: 'more than 2 multipart parts' });
  assert.equal(r.sink.parts.length, 2);
  const many = form(...Array.from({ length: 1001 }, (_, i) => p(i)));
  assert.equal(parse(many).parser.error?.reason, 'more than 1000 multipart parts');
});

test('input after an error or after done is ignored', () => {
  const sink = new Collector();
  const p = new MultipartParser(B, sink);
  p.write(Buffer.from(`--${B}--`));
  p.write(Buffer.from(`\r\n--${B}\r\nContent-Disposition: form-data; name="late"\r\n\r\nx\r\n--${B}--`));
  p.end();
  assert.equal(p.done, true);
  assert.equal(p.error, null);
  assert.equal(sink.infos.length, 0);
});

test('an invalid boundary given to the constructor is an error', () => {
  const p = new MultipartParser('', new Collector());
  assert.deepEqual(p.error, { status: 400, reason: 'invalid multipart boundary' });
});

test('a throwing sink leaves the parser inert', () => {
  let calls = 0;
  const sink: MultipartSink = {
    partBegin: () => {
      calls++;
      throw new Error('disk full');
    },
    partData: () => {
      calls++;
    },
    partEnd: () => {
      calls++;
    },
  };
  const p = new MultipartParser(B, sink);
  const body = form(part('Content-Disposition: form-data; name="a"', 'x'));
  assert.throws(() => {
    p.write(body);
  }, /disk full/);
  p.write(body);
  p.end();
  assert.equal(calls, 1);
});
