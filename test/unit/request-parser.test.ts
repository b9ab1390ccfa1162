import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HeadParser, type HeadResult } from '../../src/http/request-parser.js';
import type { HeadLimits, RequestHead } from '../../src/http/request.js';

const SMALL: HeadLimits = { maxRequestLine: 64, maxHeaderBytes: 256, maxHeaderCount: 4 };

function parseText(text: string, limits?: HeadLimits): HeadResult {
  const buf = Buffer.from(text, 'latin1');
  return new HeadParser(limits).parse(buf, 0, buf.length);
}

function head(text: string, limits?: HeadLimits): RequestHead {
  const r = parseText(text, limits);
  if (r.kind !== 'head') assert.fail(`expected a head, got ${JSON.stringify(r)}`);
  return r.head;
}

function status(text: string, limits?: HeadLimits): number {
  const r = parseText(text, limits);
  if (r.kind !== 'error') assert.fail(`expected an error, got ${r.kind}`);
  return r.error.status;
}

/** A GET with the given extra header lines (each without CRLF) and Host: h. */
function get(...lines: string[]): string {
  return ['GET / HTTP/1.1', 'Host: h', ...lines].join('\r\n') + '\r\n\r\n';
}

/** Feeds `text` to one parser in pieces cut at `cuts`, growing the visible part of one buffer. */
function feed(text: string, cuts: number[], opts: { spare?: boolean; offset?: number; limits?: HeadLimits } = {}) {
  const offset = opts.offset ?? 0;
  // With `spare`, bytes after `end` are present in the buffer (a CRLFCRLF among them must not be seen).
  const tail = opts.spare ? '\r\n\r\nX\r\n\r\n' : '';
  const buf = Buffer.from('J'.repeat(offset) + text + tail, 'latin1');
  const parser = new HeadParser(opts.limits);
  const results: HeadResult[] = [];
  for (const cut of [...cuts, text.length]) {
    const r = parser.parse(buf, offset, offset + cut);
    results.push(r);
    if (r.kind !== 'incomplete') break;
  }
  return results;
}

const TYPICAL =
  'GET /index.html?lang=en&x=1 HTTP/1.1\r\n' +
  'Host: Example.COM:8080\r\n' +
  'User-Agent: test/1.0\r\n' +
  'Accept: */*\r\n' +
  'X-Custom:  padded value \t\r\n' +
  'Cookie: a=1\r\n' +
  'cookie: b=2\r\n' +
  '\r\n';

describe('HeadParser: a well-formed request', () => {
  it('fills every field of RequestHead', () => {
    const r = parseText(TYPICAL);
    assert.equal(r.kind, 'head');
    if (r.kind !== 'head') return;
    assert.equal(r.end, TYPICAL.length);
    assert.deepEqual(r.head, {
      method: 'GET',
      target: '/index.html?lang=en&x=1',
      minor: 1,
      headers: new Map([
        ['host', 'Example.COM:8080'],
        ['user-agent', 'test/1.0'],
        ['accept', '*/*'],
        ['x-custom', 'padded value'],
        ['cookie', 'a=1; b=2'],
      ]),
      contentLength: -1,
      chunked: false,
      keepAlive: true,
      host: 'example.com',
      rawPath: '/index.html',
      query: 'lang=en&x=1',
      expectContinue: false,
    });
  });

  it('accepts each implemented method', () => {
    for (const m of ['GET', 'HEAD', 'POST', 'DELETE']) {
      assert.equal(head(`${m} / HTTP/1.1\r\nHost: h\r\n\r\n`).method, m);
    }
  });

  it('accepts a head with no field when HTTP/1.0', () => {
    const h = head('GET / HTTP/1.0\r\n\r\n');
    assert.equal(h.minor, 0);
    assert.equal(h.host, '');
    assert.equal(h.keepAlive, false);
    assert.equal(h.headers.size, 0);
  });

  it('returns incomplete until the empty line arrives', () => {
    assert.deepEqual(parseText('GET / HTTP/1.1\r\nHost: h\r\n'), { kind: 'incomplete' });
    assert.deepEqual(parseText('GET / HTTP/1.1\r\nHost: h\r\n\r'), { kind: 'incomplete' });
    assert.deepEqual(parseText(''), { kind: 'incomplete' });
  });

  it('leaves bytes after the head alone (end points past the CRLFCRLF)', () => {
    const text = 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc';
    const r = parseText(text);
    assert.equal(r.kind, 'head');
    if (r.kind === 'head') assert.equal(r.end, text.length - 3);
  });
});

describe('HeadParser: empty lines and line endings (RFC 9112 §2.2)', () => {
  it('ignores up to 8 empty lines before the request line', () => {
    const r = parseText('\r\n'.repeat(8) + get());
    assert.equal(r.kind, 'head');
    if (r.kind === 'head') assert.equal(r.end, 16 + get().length);
    assert.equal(head('\r\n' + get()).method, 'GET');
  });

  it('rejects a 9th empty line with 400', () => {
    assert.equal(status('\r\n'.repeat(9) + get()), 400);
  });

  it('waits on empty lines only', () => {
    assert.deepEqual(parseText('\r\n\r\n'), { kind: 'incomplete' });
    assert.deepEqual(parseText('\r'), { kind: 'incomplete' });
  });

  it('rejects a bare LF: leading, ending the request line, ending a field, as the empty line', () => {
    assert.equal(status('\n' + get()), 400);
    assert.equal(status('GET / HTTP/1.1\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET / HTTP/1.1\r\nHost: h\n\r\n'), 400);
    assert.equal(status('GET / HTTP/1.1\r\nHost: h\r\nX: 1\n\r\n\r\n'), 400);
    assert.equal(status('GET / HTTP/1.1\r\nHost: h\n\n'), 400); // no CRLFCRLF at all: caught early
  });

  it('rejects a bare CR: leading, inside a value, at a line start', () => {
    assert.equal(status('\rGET / HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status(get('X: a\rb')), 400);
    assert.equal(status(get('\rX: a')), 400);
    assert.equal(status('GET / HTTP/1.1\r\nHost: h\rX: 1\r\n'), 400); // partial head: caught early
  });
});

describe('HeadParser: request line (RFC 9112 §3)', () => {
  it('requires exactly one SP between the parts', () => {
    assert.equal(status('GET  / HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET /  HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET / HTTP/1.1 \r\nHost: h\r\n\r\n'), 400);
    assert.equal(status(' GET / HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET /\tHTTP/1.1\r\nHost: h\r\n\r\n'), 400);
  });

  it('rejects a missing target or version', () => {
    assert.equal(status('GET HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET /\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET\r\nHost: h\r\n\r\n'), 400);
  });

  it('requires the method to be a token', () => {
    assert.equal(status('GE(T / HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GE\x00T / HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
  });

  it('answers 501 to CONNECT and leaves every other method token to the router', () => {
    assert.equal(status('CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n'), 501);
    for (const m of ['PATCH', 'get', 'PROPFIND', "X-M!#$%&'*+-.^_`|~"]) {
      assert.equal(head(`${m} / HTTP/1.1\r\nHost: h\r\n\r\n`).method, m); // case kept (RFC 9110 §9.1)
    }
  });

  it('accepts visible ASCII in the target and rejects other bytes and #', () => {
    assert.equal(
      head('GET /a-._~!$&\'()*+,;=:@%20[]{}|\\^`"<> HTTP/1.1\r\nHost: h\r\n\r\n').rawPath,
      '/a-._~!$&\'()*+,;=:@%20[]{}|\\^`"<>',
    );
    assert.equal(status('GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET /caf\xe9 HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
  });

  it('parses HTTP/1.0 and HTTP/1.1', () => {
    assert.equal(head('GET / HTTP/1.1\r\nHost: h\r\n\r\n').minor, 1);
    assert.equal(head('GET / HTTP/1.0\r\n\r\n').minor, 0);
  });

  it('answers 505 to other HTTP/D.D versions', () => {
    assert.equal(status('GET / HTTP/2.0\r\nHost: h\r\n\r\n'), 505);
    assert.equal(status('GET / HTTP/1.2\r\nHost: h\r\n\r\n'), 505);
    assert.equal(status('GET / HTTP/0.9\r\nHost: h\r\n\r\n'), 505);
    assert.equal(status('GET / HTTP/3.1\r\nHost: h\r\n\r\n'), 505);
  });

  it('answers 400 to a malformed version', () => {
    for (const v of ['http/1.1', 'HTTP/1.10', 'HTTP/2', 'HTTP/1', 'HTTP/1.x', 'HTTPS/1.1', 'HTTP/11', 'HTTP 1.1']) {
      assert.equal(status(`GET / ${v}\r\nHost: h\r\n\r\n`), 400, v);
    }
  });

  it('answers 414 to a request line over maxRequestLine, and accepts one at the limit', () => {
    const line = (n: number) => `GET /${'a'.repeat(n - 14)} HTTP/1.1`; // n bytes long
    assert.equal(line(64).length, 64);
    assert.equal(head(line(64) + '\r\nHost: h\r\n\r\n', SMALL).target.length, 51);
    assert.equal(status(line(65) + '\r\nHost: h\r\n\r\n', SMALL), 414);
    // The whole line was valid but too long; a long method is 414 too.
    assert.equal(status('G'.repeat(70) + ' / HTTP/1.1\r\nHost: h\r\n\r\n', SMALL), 414);
  });

  it('answers 414 as soon as maxRequestLine + 1 bytes arrived without a CRLF', () => {
    const parser = new HeadParser(SMALL);
    const buf = Buffer.from('GET /' + 'a'.repeat(200), 'latin1');
    assert.deepEqual(parser.parse(buf, 0, 20), { kind: 'incomplete' });
    assert.deepEqual(parser.parse(buf, 0, 64), { kind: 'incomplete' });
    const r = parser.parse(buf, 0, 65);
    assert.equal(r.kind === 'error' && r.error.status, 414);
    // A CR as the 65th byte may still be followed by LF: not yet too long.
    const withCr = Buffer.from('GET /' + 'a'.repeat(59) + '\r', 'latin1');
    assert.equal(withCr.length, 65);
    assert.deepEqual(new HeadParser(SMALL).parse(withCr, 0, 65), { kind: 'incomplete' });
  });

  it('answers 414 with the default limit of 8 KiB', () => {
    const buf = Buffer.from('GET /' + 'a'.repeat(8 * 1024), 'latin1');
    const r = new HeadParser().parse(buf, 0, buf.length);
    assert.equal(r.kind === 'error' && r.error.status, 414);
  });
});

describe('HeadParser: request-target forms (RFC 9112 §3.2)', () => {
  it('splits origin-form at the first ?, without decoding', () => {
    const h = head('GET /a%20b/c?x=%41&y=?z HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.equal(h.rawPath, '/a%20b/c');
    assert.equal(h.query, 'x=%41&y=?z');
    const e = head('GET /p? HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.equal(e.rawPath, '/p');
    assert.equal(e.query, '');
    const n = head('GET /p HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.equal(n.rawPath, '/p');
    assert.equal(n.query, '');
  });

  it('takes host, path and query from absolute-form, overriding Host', () => {
    const h = head('GET http://Other.Example:8080/a/b?q=1 HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.equal(h.target, 'http://Other.Example:8080/a/b?q=1');
    assert.equal(h.host, 'other.example');
    assert.equal(h.rawPath, '/a/b');
    assert.equal(h.query, 'q=1');
    assert.equal(h.headers.get('host'), 'h');
  });

  it('accepts https and any scheme case, and defaults the path to /', () => {
    const a = head('GET HTTPS://x.test HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.equal(a.host, 'x.test');
    assert.equal(a.rawPath, '/');
    assert.equal(a.query, '');
    const b = head('GET hTTp://x.test?k=v HTTP/1.1\r\nHost: h\r\n\r\n');
    assert.equal(b.rawPath, '/');
    assert.equal(b.query, 'k=v');
    const c = head('GET http://[::1]:80/p HTTP/1.0\r\n\r\n');
    assert.equal(c.host, '[::1]');
    assert.equal(c.rawPath, '/p');
  });

  it('rejects other schemes, userinfo, an empty or invalid authority', () => {
    assert.equal(status('GET ftp://x.test/ HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET http://user@x.test/ HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET http://x.test:abc/ HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET http:/x.test/ HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
  });

  it('rejects * and authority-form with GET, and a relative target', () => {
    assert.equal(status('GET * HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET x.test:443 HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET index.html HTTP/1.1\r\nHost: h\r\n\r\n'), 400);
  });
});

describe('HeadParser: field lines (RFC 9112 §5, RFC 9110 §5.5)', () => {
  it('trims OWS around the value and allows no space after the colon', () => {
    const h = head(get('A:x', 'B: \t y z \t ', 'C:'));
    assert.equal(h.headers.get('a'), 'x');
    assert.equal(h.headers.get('b'), 'y z');
    assert.equal(h.headers.get('c'), '');
  });

  it('lower-cases names, known and unknown', () => {
    const h = head(get('USER-AGENT: u', 'X-Odd-NAME: v', 'aCcEpT: a'));
    assert.deepEqual([...h.headers.keys()], ['host', 'user-agent', 'x-odd-name', 'accept']);
  });

  it('keeps obs-text bytes (0x80-0xFF) as latin1 characters', () => {
    assert.equal(head(get('X: caf\xe9 \xff')).headers.get('x'), 'caf\xe9 \xff');
  });

  it('rejects whitespace between name and colon', () => {
    assert.equal(status(get('X : 1')), 400);
    assert.equal(status(get('X\t: 1')), 400);
    assert.equal(status('GET / HTTP/1.1\r\nHost : h\r\n\r\n'), 400);
  });

  it('rejects obs-fold', () => {
    assert.equal(status(get('X: a', ' b')), 400);
    assert.equal(status(get('X: a', '\tb')), 400);
  });

  it('rejects an empty name, a non-token name, a line without colon', () => {
    assert.equal(status(get(': v')), 400);
    assert.equal(status(get('X(1): v')), 400);
    assert.equal(status(get('X\x00: v')), 400);
    assert.equal(status(get('NoColon')), 400);
  });

  it('rejects control bytes in a value: NUL, DEL, 0x01, VT', () => {
    for (const c of ['\x00', '\x7f', '\x01', '\x0b', '\x1f']) {
      assert.equal(status(get(`X: a${c}b`)), 400, JSON.stringify(c));
    }
  });

  it('joins repeated fields with ", " and cookies with "; "', () => {
    const h = head(get('Accept: a', 'X-A: 1', 'accept: b', 'x-a: 2', 'Cookie: c=1', 'COOKIE: d=2'));
    assert.equal(h.headers.get('accept'), 'a, b');
    assert.equal(h.headers.get('x-a'), '1, 2');
    assert.equal(h.headers.get('cookie'), 'c=1; d=2');
  });

  it('answers 431 to more than maxHeaderCount fields, and accepts exactly that many', () => {
    assert.equal(head(get('A: 1', 'B: 2', 'C: 3'), SMALL).headers.size, 4);
    assert.equal(status(get('A: 1', 'B: 2', 'C: 3', 'D: 4'), SMALL), 431);
  });

  it('answers 431 with the default limit of 100 fields', () => {
    const lines = Array.from({ length: 99 }, (_, k) => `X-${k}: v`);
    assert.equal(head(get(...lines)).headers.size, 100);
    assert.equal(status(get(...lines, 'Y: 1')), 431);
  });

  it('answers 431 to a section over maxHeaderBytes, and accepts one at the limit', () => {
    const base = get('X: ');
    const pad = SMALL.maxHeaderBytes - base.length;
    const exact = get('X: ' + 'v'.repeat(pad));
    assert.equal(exact.length, 256);
    assert.equal(head(exact, SMALL).headers.get('x')?.length, pad);
    assert.equal(status(get('X: ' + 'v'.repeat(pad + 1)), SMALL), 431);
  });

  it('answers 431 while incomplete once maxHeaderBytes are exceeded', () => {
    const text = 'GET / HTTP/1.1\r\nHost: h\r\nX: ' + 'v'.repeat(300);
    const parser = new HeadParser(SMALL);
    const buf = Buffer.from(text, 'latin1');
    assert.deepEqual(parser.parse(buf, 0, 256), { kind: 'incomplete' });
    const r = parser.parse(buf, 0, 257);
    assert.equal(r.kind === 'error' && r.error.status, 431);
  });
});

describe('HeadParser: Host (RFC 9112 §3.2, RFC 9110 §7.2)', () => {
  it('requires Host in HTTP/1.1', () => {
    assert.equal(status('GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'), 400);
  });

  it('gives "" without Host in HTTP/1.0 and uses it when present', () => {
    assert.equal(head('GET / HTTP/1.0\r\n\r\n').host, '');
    assert.equal(head('GET / HTTP/1.0\r\nHost: A.b\r\n\r\n').host, 'a.b');
  });

  it('rejects a repeated Host, even with the same value', () => {
    assert.equal(status('GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n'), 400);
    assert.equal(status('GET / HTTP/1.1\r\nHost: h\r\nhost: i\r\n\r\n'), 400);
  });

  it('lower-cases and strips the port', () => {
    const cases: [string, string][] = [
      ['Example.COM', 'example.com'],
      ['example.com:8080', 'example.com'],
      ['127.0.0.1:80', '127.0.0.1'],
      ['[::1]', '[::1]'],
      ['[2001:DB8::1]:443', '[2001:db8::1]'],
      ["a-b_c~d.e!$&'()*+,;=", "a-b_c~d.e!$&'()*+,;="],
      ['x%2Dy', 'x%2dy'],
      ['h:65535', 'h'],
    ];
    for (const [value, host] of cases) {
      assert.equal(head(`GET / HTTP/1.1\r\nHost: ${value}\r\n\r\n`).host, host, value);
    }
  });

  it('rejects invalid host syntax', () => {
    const bad = [
      '',
      'a b',
      'a/b',
      'a@b',
      'h:',
      'h:x',
      'h:123456',
      'h:1:2',
      '[::1',
      '[]',
      '[::g]',
      'a%2',
      'a%zz',
      ':80',
      'h\xe9',
    ];
    for (const value of bad) {
      assert.equal(status(`GET / HTTP/1.1\r\nHost: ${value}\r\n\r\n`), 400, JSON.stringify(value));
    }
  });
});

describe('HeadParser: Content-Length (RFC 9112 §6.3)', () => {
  const cl = (v: string) => `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ${v}\r\n\r\n`;

  it('parses 1*DIGIT up to 15 digits', () => {
    assert.equal(head(cl('0')).contentLength, 0);
    assert.equal(head(cl('42')).contentLength, 42);
    assert.equal(head(cl('007')).contentLength, 7);
    assert.equal(head(cl('999999999999999')).contentLength, 999999999999999);
    assert.equal(head(get()).contentLength, -1);
  });

  it('rejects signs, spaces inside, lists, hex, empty and 16 digits', () => {
    for (const v of ['+1', '-1', '1 2', '1,1', '1, 1', '0x10', '', '1e3', '1000000000000000', '١']) {
      assert.equal(status(cl(v)), 400, JSON.stringify(v));
    }
  });

  it('rejects a repeated Content-Length, even with the same value', () => {
    assert.equal(status('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n'), 400);
  });
});

describe('HeadParser: Transfer-Encoding (RFC 9112 §6.1)', () => {
  const te = (v: string) => `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ${v}\r\n\r\n`;

  it('accepts chunked, case-insensitive, OWS trimmed', () => {
    for (const v of ['chunked', 'Chunked', 'CHUNKED', ' chunked\t']) {
      const h = head(te(v));
      assert.equal(h.chunked, true, v);
      assert.equal(h.contentLength, -1);
    }
    assert.equal(head(get()).chunked, false);
  });

  it('rejects any other coding or list', () => {
    const bad = ['gzip', 'chunked, identity', 'gzip, chunked', 'xchunked', 'chunked;q=1', '', 'identity', 'chunked,'];
    for (const v of bad) {
      assert.equal(status(te(v)), 400, JSON.stringify(v));
    }
  });

  it('rejects a repeated Transfer-Encoding', () => {
    const twice = 'Transfer-Encoding: chunked\r\n'.repeat(2);
    assert.equal(status(`POST / HTTP/1.1\r\nHost: h\r\n${twice}\r\n`), 400);
  });

  it('rejects Transfer-Encoding with Content-Length, in either order', () => {
    assert.equal(status('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n'), 400);
    assert.equal(status('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'), 400);
  });

  it('rejects Transfer-Encoding in an HTTP/1.0 request', () => {
    assert.equal(status('POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n'), 400);
  });
});

describe('HeadParser: Connection and Expect', () => {
  const v11 = (c: string) => head(`GET / HTTP/1.1\r\nHost: h\r\nConnection: ${c}\r\n\r\n`).keepAlive;
  const v10 = (c: string) => head(`GET / HTTP/1.0\r\nConnection: ${c}\r\n\r\n`).keepAlive;

  it('keeps HTTP/1.1 alive unless close is listed', () => {
    assert.equal(head(get()).keepAlive, true);
    assert.equal(v11('keep-alive'), true);
    assert.equal(v11('upgrade'), true);
    assert.equal(v11('close'), false);
    assert.equal(v11('Close'), false);
    assert.equal(v11('foo, CLOSE'), false);
    assert.equal(v11('keep-alive ,close'), false);
    assert.equal(v11('closed'), true);
  });

  it('keeps HTTP/1.0 alive only with keep-alive', () => {
    assert.equal(head('GET / HTTP/1.0\r\n\r\n').keepAlive, false);
    assert.equal(v10('keep-alive'), true);
    assert.equal(v10('Keep-Alive'), true);
    assert.equal(v10('foo,  keep-alive'), true);
    assert.equal(v10('keep-alive, close'), false);
    assert.equal(v10('keep-alives'), false);
  });

  it('reads options across repeated Connection fields', () => {
    const h = head(get('Connection: keep-alive', 'Connection: close'));
    assert.equal(h.headers.get('connection'), 'keep-alive, close');
    assert.equal(h.keepAlive, false);
  });

  it('sets expectContinue for 100-continue only', () => {
    assert.equal(head(get('Expect: 100-continue')).expectContinue, true);
    assert.equal(head(get('Expect: 100-Continue')).expectContinue, true);
    assert.equal(head(get('Expect: 200-ok')).expectContinue, false);
    assert.equal(head(get('Expect: 100-continuex')).expectContinue, false);
    assert.equal(head(get()).expectContinue, false);
  });
});

describe('HeadParser: pipelining and incremental input', () => {
  it('parses pipelined requests from one buffer', () => {
    const a = 'GET /a HTTP/1.1\r\nHost: h\r\n\r\n';
    const b = 'POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n';
    const body = 'hello';
    const c = '\r\nDELETE /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n';
    const buf = Buffer.from(a + b + body + c, 'latin1');
    const parser = new HeadParser();
    const r1 = parser.parse(buf, 0, buf.length);
    assert.ok(r1.kind === 'head');
    assert.equal(r1.end, a.length);
    assert.equal(r1.head.rawPath, '/a');
    parser.reset();
    const r2 = parser.parse(buf, r1.end, buf.length);
    assert.ok(r2.kind === 'head');
    assert.equal(r2.end, a.length + b.length);
    assert.equal(r2.head.method, 'POST');
    assert.equal(r2.head.contentLength, 5);
    assert.equal(buf.toString('latin1', r2.end, r2.end + 5), body);
    parser.reset();
    const r3 = parser.parse(buf, r2.end + 5, buf.length);
    assert.ok(r3.kind === 'head');
    assert.equal(r3.end, buf.length);
    assert.equal(r3.head.method, 'DELETE');
    assert.equal(r3.head.keepAlive, false);
  });

  it('gives the same head for every two-piece split', () => {
    const whole = parseText(TYPICAL);
    for (let k = 0; k < TYPICAL.length; k++) {
      for (const spare of [false, true]) {
        const rs = feed(TYPICAL, [k], { spare });
        const last = rs[rs.length - 1];
        assert.deepEqual(last, whole, `split at ${k}, spare ${spare}`);
        for (const r of rs.slice(0, -1)) assert.equal(r.kind, 'incomplete');
      }
    }
  });

  it('gives the same head fed one byte at a time, also from a non-zero start', () => {
    const text = '\r\n\r\n' + TYPICAL;
    const cuts = Array.from({ length: text.length - 1 }, (_, k) => k + 1);
    for (const offset of [0, 7]) {
      const rs = feed(text, cuts, { offset, spare: true });
      assert.equal(rs.length, text.length);
      const last = rs.at(-1);
      assert.ok(last?.kind === 'head');
      assert.equal(last.end, offset + text.length);
      const whole = parseText(TYPICAL);
      assert.ok(whole.kind === 'head');
      assert.deepEqual(last.head, whole.head);
    }
  });

  it('resumes after a compaction that moved the head to another start', () => {
    const parser = new HeadParser();
    const first = Buffer.from('xxGET / HTTP/1.1\r\nHo', 'latin1');
    assert.deepEqual(parser.parse(first, 2, first.length), { kind: 'incomplete' });
    const moved = Buffer.from('GET / HTTP/1.1\r\nHost: h\r\n\r\n', 'latin1');
    const r = parser.parse(moved, 0, moved.length);
    assert.ok(r.kind === 'head');
    assert.equal(r.head.host, 'h');
  });

  it('handles a head longer than the first decode window', () => {
    const text = get('X-Long: ' + 'v'.repeat(5000), 'Y: 1');
    const h = head(text);
    assert.equal(h.headers.get('x-long')?.length, 5000);
    assert.equal(h.headers.get('y'), '1');
    // And with pipelined bytes after it in the same buffer.
    const buf = Buffer.from(text + get(), 'latin1');
    const r = new HeadParser().parse(buf, 0, buf.length);
    assert.ok(r.kind === 'head');
    assert.equal(r.end, text.length);
  });

  it('catches errors early in a partial head fed byte by byte', () => {
    const text = 'GET / HTTP/1.1\r\nX: a\nb';
    const cuts = Array.from({ length: text.length - 1 }, (_, k) => k + 1);
    const rs = feed(text, cuts);
    const last = rs.at(-1);
    assert.equal(rs.length, text.indexOf('\n', 16) + 1);
    assert.ok(last?.kind === 'error');
    assert.equal(last.error.status, 400);
  });

  it('never throws, and any split agrees with the whole (randomised)', () => {
    let seed = 0x9e3779b9;
    const rand = (n: number): number => {
      // mulberry32: a small PRNG with good low bits, seeded so that a failure can be replayed.
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const bases = [
      TYPICAL,
      'POST /up HTTP/1.1\r\nHost: h:80\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n',
      'GET http://a.b/c?d HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 12\r\n\r\n',
      '\r\nDELETE /x HTTP/1.1\r\nHost: [::1]\r\n\r\n',
      'GET /v HTTP/2.0\r\nHost: h\r\n\r\n',
      'CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n',
    ];
    const pieces = [
      'GET',
      'PATCH',
      ' ',
      '/',
      '?',
      '#',
      'HTTP/1.1',
      'HTTP/2.0',
      '\r\n',
      '\r',
      '\n',
      'Host: x',
      ':',
      '\t',
      '\x00',
      '\x7f',
      '\xff',
      'x',
      'Connection: close',
      'Content-Length: 1',
      'Transfer-Encoding: gzip',
      '\r\n\r\n',
      '%',
      '@',
      '1',
    ];
    const seen = new Set<string>();
    for (let n = 0; n < 3000; n++) {
      let text = bases[rand(bases.length)] ?? '';
      for (let m = rand(4); m > 0; m--) {
        const at = rand(text.length + 1);
        const op = rand(3);
        if (op === 0) text = text.slice(0, at) + (pieces[rand(pieces.length)] ?? '') + text.slice(at);
        else if (op === 1) text = text.slice(0, at) + text.slice(at + 1 + rand(3));
        else text = text.slice(0, at) + String.fromCharCode(rand(256)) + text.slice(at + 1);
      }
      if (rand(5) === 0) text = text.slice(0, rand(text.length + 1));
      const whole = parseText(text);
      assert.ok(['incomplete', 'head', 'error'].includes(whole.kind));
      seen.add(whole.kind === 'error' ? String(whole.error.status) : whole.kind);
      const cut = rand(text.length + 1);
      const split = feed(text, cut === text.length ? [] : [cut], { spare: true });
      const bytewise = feed(
        text,
        Array.from({ length: Math.max(0, text.length - 1) }, (_, k) => k + 1),
      );
      for (const r of [split.at(-1), bytewise.at(-1)]) {
        assert.ok(r !== undefined);
        // Statuses agree; reasons may differ (a partial head fails at its first bare CR or LF).
        const msg = JSON.stringify(text);
        assert.equal(r.kind, whole.kind, msg);
        if (whole.kind === 'error' && r.kind === 'error') assert.equal(r.error.status, whole.error.status, msg);
        if (whole.kind === 'head') assert.deepEqual(r, whole, msg);
      }
    }
    // The inputs reach every outcome.
    assert.deepEqual([...seen].sort(), ['400', '501', '505', 'head', 'incomplete']);
  });
});
