import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CgiHeaderScanner,
  interpretCgiFields,
  parseCgiLine,
  type CgiScanResult,
} from '../../src/handlers/cgi/headers.js';

/** Feeds `text` (latin1) to a fresh scanner in pieces of `step` bytes; returns the first non-'more' result. */
function scan(text: string | Buffer, step = Infinity, limit?: number): CgiScanResult {
  const s = new CgiHeaderScanner(limit);
  const buf = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  if (step === Infinity) return s.push(buf);
  for (let i = 0; i < buf.length; i += step) {
    const r = s.push(buf.subarray(i, Math.min(buf.length, i + step)));
    if (r.kind !== 'more') return r;
  }
  return { kind: 'more' };
}

function done(r: CgiScanResult): Extract<CgiScanResult, { kind: 'done' }> {
  if (r.kind !== 'done') assert.fail(`expected done, got ${JSON.stringify(r)}`);
  return r;
}

function errorKind(r: CgiScanResult): string {
  if (r.kind !== 'error') assert.fail(`expected error, got ${JSON.stringify(r)}`);
  return r.error.kind;
}

describe('CgiHeaderScanner', () => {
  it('reads a CRLF block and returns the start of the body', () => {
    const r = done(scan('Content-Type: text/plain\r\nX-A: 1\r\n\r\nhello'));
    assert.equal(r.head.status, 200);
    assert.equal(r.head.headers, 'Content-Type: text/plain\r\nX-A: 1\r\n');
    assert.equal(r.head.contentLength, -1);
    assert.equal(r.rest.toString(), 'hello');
  });

  it('accepts bare LF line ends and mixed ones (RFC 3875 §6.3)', () => {
    assert.equal(done(scan('Content-Type: text/plain\n\nbody')).rest.toString(), 'body');
    const r = done(scan('Content-Type: a/b\r\nX-B: 2\n\r\nrest'));
    assert.equal(r.head.headers, 'Content-Type: a/b\r\nX-B: 2\r\n');
    assert.equal(r.rest.toString(), 'rest');
  });

  it('gives the same result when the output arrives a byte at a time', () => {
    const text = 'Status: 201 Created\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\n';
    const r = done(scan(text + 'b', 1));
    assert.equal(r.head.status, 201);
    assert.equal(r.head.contentLength, 4);
    assert.equal(r.rest.length, 0); // the blank line ended in its own piece; 'b' is the next piece
    const r2 = done(scan(text + 'body', text.length - 1));
    assert.equal(r2.rest.toString(), 'body');
  });

  it('returns more until the blank line', () => {
    assert.deepEqual(scan('Content-Type: text/plain\r\n'), { kind: 'more' });
    assert.deepEqual(scan('Content-Type: text/pl'), { kind: 'more' });
  });

  it('fails at once on a line that is not a header, without waiting for the blank line', () => {
    assert.equal(errorKind(scan('this is not a header\r\n')), 'bad-line');
    assert.equal(errorKind(scan('Content-Type: a/b\r\n<html>\r\n')), 'bad-line');
  });

  it('refuses whitespace before the colon, folded lines and control characters', () => {
    assert.equal(errorKind(scan('Content-Type : a/b\r\n\r\n')), 'bad-line');
    assert.equal(errorKind(scan('Content-Type: a/b\r\n  folded\r\n\r\n')), 'bad-line');
    assert.equal(errorKind(scan('X-A: a\rb\r\n\r\n')), 'bad-line');
    assert.equal(errorKind(scan(': no name\r\n\r\n')), 'bad-line');
  });

  it('refuses a header block over its limit', () => {
    assert.equal(errorKind(scan('X-A: ' + 'a'.repeat(100) + '\r\n\r\n', Infinity, 64)), 'too-large');
    assert.equal(errorKind(scan('X-A: ' + 'a'.repeat(100), 7, 64)), 'too-large');
    // Exactly at the limit is fine.
    const exact = 'Content-Type: x\r\n\r\n';
    assert.equal(done(scan(exact + 'tail', Infinity, exact.length)).rest.toString(), 'tail');
  });

  it('keeps non-ASCII bytes of values as latin1', () => {
    const r = done(
      scan(
        Buffer.concat([
          Buffer.from('Content-Type: a/b\r\nX-N: caf'),
          Buffer.from([0xc3, 0xa9]),
          Buffer.from('\r\n\r\n'),
        ]),
      ),
    );
    assert.equal(r.head.headers, 'Content-Type: a/b\r\nX-N: caf\u00c3\u00a9\r\n');
  });
});

describe('parseCgiLine', () => {
  it('splits and trims', () => {
    assert.deepEqual(parseCgiLine('Status:404 Not Found'), ['Status', '404 Not Found']);
    assert.deepEqual(parseCgiLine('X-Empty:'), ['X-Empty', '']);
    assert.deepEqual(parseCgiLine('X-T: \t v \t'), ['X-T', 'v']);
    assert.equal(parseCgiLine('no colon'), null);
  });
});

describe('interpretCgiFields', () => {
  const ok = (fields: [string, string][]) => {
    const r = interpretCgiFields(fields);
    if (!r.ok) assert.fail(`expected ok, got ${r.error.message}`);
    return r.head;
  };
  const bad = (fields: [string, string][]) => {
    const r = interpretCgiFields(fields);
    if (r.ok) assert.fail('expected an error');
    return r.error.kind;
  };

  it('takes the status from Status and drops its reason phrase', () => {
    const h = ok([
      ['Status', '404 Not Found'],
      ['Content-Type', 'text/html'],
    ]);
    assert.equal(h.status, 404);
    assert.equal(h.headers, 'Content-Type: text/html\r\n');
    assert.equal(ok([['status', '503']]).status, 503);
  });

  it('refuses a bad or repeated Status', () => {
    assert.equal(bad([['Status', 'abc']]), 'bad-status');
    assert.equal(bad([['Status', '99']]), 'bad-status');
    assert.equal(bad([['Status', '1000']]), 'bad-status');
    assert.equal(bad([['Status', '100 Continue']]), 'bad-status');
    assert.equal(bad([['Status', '600']]), 'bad-status');
    assert.equal(
      bad([
        ['Status', '200'],
        ['Status', '404'],
      ]),
      'duplicate',
    );
  });

  it('needs Content-Type, Location or Status (RFC 3875 §6.2)', () => {
    assert.equal(bad([['X-A', '1']]), 'no-cgi-field');
    assert.equal(bad([]), 'no-cgi-field');
  });

  it('treats a path Location without Status as a local redirect (§6.2.2)', () => {
    const h = ok([['Location', '/index.html?a=1']]);
    assert.equal(h.localRedirect, true);
    assert.equal(h.location, '/index.html?a=1');
    assert.equal(h.status, 302);
  });

  it('answers 302 for a client redirect, or the given Status (§6.2.3, §6.2.4)', () => {
    const c = ok([['Location', 'http://example.com/']]);
    assert.equal(c.localRedirect, false);
    assert.equal(c.status, 302);
    assert.equal(c.headers, 'Location: http://example.com/\r\n');
    const n = ok([['Location', '//example.com/x']]);
    assert.equal(n.localRedirect, false);
    const s = ok([
      ['Status', '301 Moved'],
      ['Location', '/moved'],
    ]);
    assert.equal(s.localRedirect, false);
    assert.equal(s.status, 301);
    assert.equal(s.headers, 'Location: /moved\r\n');
    assert.equal(
      bad([
        ['Location', '/a'],
        ['Location', '/b'],
      ]),
      'duplicate',
    );
  });

  it('reads Content-Length and refuses a bad or conflicting one', () => {
    assert.equal(
      ok([
        ['Content-Type', 'a/b'],
        ['Content-Length', '42'],
      ]).contentLength,
      42,
    );
    assert.equal(
      ok([
        ['Content-Type', 'a/b'],
        ['Content-Length', '0'],
      ]).contentLength,
      0,
    );
    assert.equal(
      ok([
        ['Content-Type', 'a/b'],
        ['Content-Length', '7'],
        ['Content-Length', '7'],
      ]).contentLength,
      7,
    );
    assert.equal(
      bad([
        ['Content-Type', 'a/b'],
        ['Content-Length', '-1'],
      ]),
      'bad-content-length',
    );
    assert.equal(
      bad([
        ['Content-Type', 'a/b'],
        ['Content-Length', '1e3'],
      ]),
      'bad-content-length',
    );
    assert.equal(
      bad([
        ['Content-Type', 'a/b'],
        ['Content-Length', ''],
      ]),
      'bad-content-length',
    );
    assert.equal(
      bad([
        ['Content-Type', 'a/b'],
        ['Content-Length', '5'],
        ['Content-Length', '6'],
      ]),
      'bad-content-length',
    );
    assert.equal(
      bad([
        ['Content-Type', 'a/b'],
        ['Content-Type', 'c/d'],
      ]),
      'duplicate',
    );
  });

  it('drops hop-by-hop fields and those the server writes itself', () => {
    const h = ok([
      ['Content-Type', 'text/plain'],
      ['Connection', 'close'],
      ['Transfer-Encoding', 'chunked'],
      ['Keep-Alive', 'timeout=5'],
      ['Date', 'yesterday'],
      ['Server', 'evil'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
      ['X-Powered-By', 'PHP'],
    ]);
    assert.equal(h.headers, 'Content-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Powered-By: PHP\r\n');
  });

  it('takes the session headers out and never forwards them (DESIGN §7)', () => {
    const h = ok([
      ['Content-Type', 'text/plain'],
      ['X-Session-Data', 'visits=2&name=Ada'],
      ['X-Session-End', '1'],
    ]);
    assert.equal(h.sessionData, 'visits=2&name=Ada');
    assert.equal(h.sessionEnd, true);
    assert.equal(h.headers, 'Content-Type: text/plain\r\n');
    const n = ok([
      ['Content-Type', 'text/plain'],
      ['x-session-end', '0'],
      ['X-Session-Data', ''],
    ]);
    assert.equal(n.sessionEnd, false);
    assert.equal(n.sessionData, '');
    assert.equal(ok([['Content-Type', 'a/b']]).sessionData, null);
  });
});
