/**
 * Request smuggling (RFC 9112 §6-§7, RFC 9110 §5; DESIGN §5 "be strict"): every ambiguous framing is refused with
 * 400 and the connection closed, so bytes after it can never be read as a second request. Each payload is sent
 * in one write together with a pipelined probe, `GET /probe.txt`, that would answer 200 with a marker if it were
 * ever parsed; the test reads exactly one response (the 400), then the close, and checks the marker never shows.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { RawClient, type RawResponse } from '../helpers/http.js';

const MARKER = 'SMUGGLED-PROBE-7c1e';
const PROBE = 'GET /probe.txt HTTP/1.1\r\nHost: localhost\r\n\r\n';
/** Generous: other suites run at the same time on a small machine. */
const WAIT_MS = 15_000;

const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  body_limit 1m
  location / {
    methods GET
    root {DIR}/www
  }
  location /up {
    methods GET POST DELETE
    root {DIR}/www/up
  }
}
`;

let srv: RunningServer;
let upDir: string;

before(async () => {
  srv = await startServer({ config: CONFIG, files: { 'www/probe.txt': MARKER + '\n', 'www/up/.keep': '' } });
  upDir = path.join(srv.dir, 'www/up');
});

after(async () => {
  await srv.stop();
});

/** Files in the upload directory other than the placeholder. */
function uploads(): string[] {
  return fs
    .readdirSync(upDir)
    .filter((n) => n !== '.keep')
    .sort();
}

/** Removes every upload, so each test starts from an empty directory. */
function clearUploads(): void {
  for (const n of uploads()) fs.rmSync(path.join(upDir, n), { force: true });
}

/**
 * Sends `payload` + the probe in one write; expects exactly one response with `status` (400 unless told), then
 * the server's close with nothing after it, and no trace of the probe's answer anywhere.
 */
async function expectRejected(payload: string, status = 400): Promise<RawResponse> {
  clearUploads();
  const c = await RawClient.connect(srv.port);
  try {
    c.send(payload + PROBE);
    const r = await c.read({ timeoutMs: WAIT_MS });
    const rest = await c.waitClose(WAIT_MS);
    assert.equal(r.status, status, `status for ${JSON.stringify(payload)}`);
    assert.equal(r.header('connection'), 'close', 'a refused request closes the connection');
    assert.ok(!r.body.toString('latin1').includes(MARKER), 'probe answered inside the error');
    assert.equal(rest.toString('latin1'), '', 'bytes after the error response: a second request was parsed');
    assert.deepEqual(uploads(), [], 'a refused request left a file behind');
    return r;
  } finally {
    c.close();
  }
}

/** Sends `payload` + the probe; expects the payload's own answer, then the probe's 200 (the framing was right). */
async function expectFramed(payload: string, firstStatus: number): Promise<RawResponse> {
  clearUploads();
  const c = await RawClient.connect(srv.port);
  try {
    c.send(payload + PROBE);
    const r1 = await c.read({ timeoutMs: WAIT_MS });
    assert.equal(r1.status, firstStatus, `first status for ${JSON.stringify(payload)}`);
    const r2 = await c.read({ timeoutMs: WAIT_MS });
    assert.equal(r2.status, 200);
    assert.equal(r2.body.toString(), MARKER + '\n');
    return r1;
  } finally {
    c.close();
  }
}

const POST = 'POST /up/f.txt HTTP/1.1\r\nHost: localhost\r\n';
/** A chunked body whose bytes, read as a length-delimited or unframed body, would leave a request behind. */
const CHUNKED_BODY = '5\r\nhello\r\n0\r\n\r\n';

describe('Content-Length and Transfer-Encoding together (RFC 9112 §6.1)', () => {
  test('CL then TE', async () => {
    await expectRejected(`${POST}Content-Length: 15\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_BODY}`);
  });
  test('TE then CL', async () => {
    await expectRejected(`${POST}Transfer-Encoding: chunked\r\nContent-Length: 15\r\n\r\n${CHUNKED_BODY}`);
  });
  test('TE then CL 0 (the body would otherwise be the next request)', async () => {
    await expectRejected(`${POST}Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n${CHUNKED_BODY}`);
  });
  test('CL with an unknown TE', async () => {
    await expectRejected(`${POST}Content-Length: 5\r\nTransfer-Encoding: gzip\r\n\r\nhello`);
  });
});

describe('Transfer-Encoding values other than exactly "chunked" (RFC 9112 §6.1, DESIGN §5)', () => {
  const values = [
    'xchunked',
    'chunkedx',
    'chunked, identity',
    'identity, chunked',
    'identity',
    'gzip, chunked',
    'chunked, chunked',
    'chunked,',
    ',chunked',
    '"chunked"',
    'chunked;q=1',
    'ch unked',
    'chunk',
    '',
  ];
  for (const v of values) {
    test(`Transfer-Encoding: ${JSON.stringify(v)}`, async () => {
      await expectRejected(`${POST}Transfer-Encoding: ${v}\r\n\r\n${CHUNKED_BODY}`);
    });
  }
  test('Transfer-Encoding twice (two lines)', async () => {
    await expectRejected(`${POST}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_BODY}`);
  });
  test('Transfer-Encoding: chunked then identity on a second line', async () => {
    await expectRejected(`${POST}Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n${CHUNKED_BODY}`);
  });
  test('Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1: faulty framing)', async () => {
    await expectRejected(
      `POST /up/f.txt HTTP/1.0\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_BODY}`,
    );
  });
  test('Transfer-Encoding and Content-Length in an HTTP/1.0 request', async () => {
    await expectRejected(
      `POST /up/f.txt HTTP/1.0\r\nHost: localhost\r\nContent-Length: 15\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_BODY}`,
    );
  });
});

describe('whitespace the RFC allows is not smuggling', () => {
  // RFC 9110 §5.5 / RFC 9112 §5.1: OWS before and after a field value is not part of it, and transfer-coding
  // names are case-insensitive (RFC 9112 §7). These frame as chunked: the upload stores "hello", then the probe,
  // a genuine second request, is answered.
  for (const v of [' chunked', '\tchunked', 'chunked ', 'chunked\t', ' \t chunked \t ', 'Chunked', 'CHUNKED']) {
    test(`Transfer-Encoding:${JSON.stringify(v)} frames the body as chunked`, async () => {
      await expectFramed(`${POST}Transfer-Encoding:${v}\r\n\r\n${CHUNKED_BODY}`, 201);
      assert.deepEqual(uploads(), ['f.txt']);
      assert.equal(fs.readFileSync(path.join(upDir, 'f.txt'), 'latin1'), 'hello');
    });
  }
  test('Content-Length with surrounding OWS is the length', async () => {
    await expectFramed(`${POST}Content-Length: \t5 \r\n\r\nhello`, 201);
    assert.equal(fs.readFileSync(path.join(upDir, 'f.txt'), 'latin1'), 'hello');
  });
});

describe('field syntax (RFC 9112 §5)', () => {
  test('space before the colon: "Transfer-Encoding : chunked"', async () => {
    await expectRejected(`${POST}Transfer-Encoding : chunked\r\n\r\n${CHUNKED_BODY}`);
  });
  test('tab before the colon', async () => {
    await expectRejected(`${POST}Transfer-Encoding\t: chunked\r\n\r\n${CHUNKED_BODY}`);
  });
  test('space before the colon of Content-Length', async () => {
    await expectRejected(`${POST}Content-Length : 5\r\n\r\nhello`);
  });
  test('leading tab: "\\tTransfer-Encoding: chunked" after a field (obs-fold, §5.2)', async () => {
    await expectRejected(`${POST}X-A: b\r\n\tTransfer-Encoding: chunked\r\n\r\n${CHUNKED_BODY}`);
  });
  test('leading space before the first field (§2.2)', async () => {
    await expectRejected(
      `POST /up/f.txt HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: localhost\r\n\r\n${CHUNKED_BODY}`,
    );
  });
  test('leading tab before the first field (§2.2)', async () => {
    await expectRejected(
      `POST /up/f.txt HTTP/1.1\r\n\tTransfer-Encoding: chunked\r\nHost: localhost\r\n\r\n${CHUNKED_BODY}`,
    );
  });
  test('obs-fold continuing Transfer-Encoding', async () => {
    await expectRejected(`${POST}Transfer-Encoding: identity\r\n chunked\r\n\r\n${CHUNKED_BODY}`);
  });
  test('obs-fold continuing Content-Length', async () => {
    await expectRejected(`${POST}Content-Length: 1\r\n 5\r\n\r\nhello`);
  });
  test('obs-fold of an ordinary header', async () => {
    await expectRejected(`GET /probe.txt HTTP/1.1\r\nHost: localhost\r\nX-Long: part one\r\n part two\r\n\r\n`);
  });
  test('obs-fold of Host', async () => {
    await expectRejected(`GET /probe.txt HTTP/1.1\r\nHost:\r\n localhost\r\n\r\n`);
  });
  test('bare CR inside a value', async () => {
    await expectRejected(`GET /probe.txt HTTP/1.1\r\nHost: localhost\r\nX-A: a\rTransfer-Encoding: chunked\r\n\r\n`);
  });
  test('bare CR inside Transfer-Encoding', async () => {
    await expectRejected(`${POST}Transfer-Encoding: chunked\r\r\n\r\n${CHUNKED_BODY}`);
  });
  test('bare LF ending a field line', async () => {
    await expectRejected(`${POST}Transfer-Encoding: chunked\n\r\n${CHUNKED_BODY}`);
  });
  test('bare LF ending the request line', async () => {
    await expectRejected(`GET /probe.txt HTTP/1.1\nHost: localhost\r\n\r\n`);
  });
  test('bare LF ending the head (LF LF)', async () => {
    await expectRejected(`GET /probe.txt HTTP/1.1\r\nHost: localhost\n\n`);
  });
  test('bare LF inside a value', async () => {
    await expectRejected(`GET /probe.txt HTTP/1.1\r\nHost: localhost\r\nX-A: a\nTransfer-Encoding: chunked\r\n\r\n`);
  });
  test('NUL in a value', async () => {
    await expectRejected(`GET /probe.txt HTTP/1.1\r\nHost: localhost\r\nX-A: a\0b\r\n\r\n`);
  });
  test('NUL in Transfer-Encoding', async () => {
    await expectRejected(`${POST}Transfer-Encoding: chunked\0\r\n\r\n${CHUNKED_BODY}`);
  });
  test('NUL in a field name', async () => {
    await expectRejected(`${POST}Transfer-Encoding\0: chunked\r\n\r\n${CHUNKED_BODY}`);
  });
  test('vertical tab and form feed in a value', async () => {
    await expectRejected(`${POST}Transfer-Encoding:\x0bchunked\r\n\r\n${CHUNKED_BODY}`);
    await expectRejected(`${POST}Transfer-Encoding: chunked\x0c\r\n\r\n${CHUNKED_BODY}`);
  });
  test('DEL in a value', async () => {
    await expectRejected(`GET /probe.txt HTTP/1.1\r\nHost: localhost\r\nX-A: a\x7f\r\n\r\n`);
  });
  test('a field name with a non-token byte', async () => {
    await expectRejected(`${POST}Transfer-Encoding(x): chunked\r\n\r\n${CHUNKED_BODY}`);
    await expectRejected(`${POST}Transfer Encoding: chunked\r\n\r\n${CHUNKED_BODY}`);
  });
  test('an empty field name', async () => {
    await expectRejected(`${POST}: chunked\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_BODY}`);
  });
  test('a line without a colon', async () => {
    await expectRejected(`${POST}Transfer-Encoding chunked\r\n\r\n${CHUNKED_BODY}`);
  });
});

describe('Content-Length values (RFC 9112 §6.3: 1*DIGIT, a single value)', () => {
  const values = [
    '+5',
    '-5',
    '0x5',
    '5 5',
    '5,5',
    '5, 5',
    '5.0',
    '5e0',
    '',
    ' ',
    'five',
    '5\xa0',
    '05a',
    '99999999999999999999',
  ];
  for (const v of values) {
    test(`Content-Length: ${JSON.stringify(v)}`, async () => {
      await expectRejected(`${POST}Content-Length: ${v}\r\n\r\nhello`);
    });
  }
  test('duplicate Content-Length, same value', async () => {
    await expectRejected(`${POST}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`);
  });
  test('duplicate Content-Length, different values', async () => {
    await expectRejected(`${POST}Content-Length: 5\r\nContent-Length: 0\r\n\r\nhello`);
  });
  test('duplicate Content-Length, different values, smaller first', async () => {
    await expectRejected(`${POST}Content-Length: 0\r\nContent-Length: 5\r\n\r\nhello`);
  });
  test('duplicate Content-Length with different case names', async () => {
    await expectRejected(`${POST}content-length: 5\r\nCONTENT-LENGTH: 0\r\n\r\nhello`);
  });
  test('a length over body_limit is 413 before the body, then close', async () => {
    await expectRejected(`${POST}Content-Length: 2000000\r\n\r\nhello`, 413);
  });
});

describe('chunked framing (RFC 9112 §7.1)', () => {
  const TE = `${POST}Transfer-Encoding: chunked\r\n\r\n`;
  const bodies: Array<[string, string]> = [
    ['oversized chunk size', 'ffffffffffffffffff\r\nhello\r\n0\r\n\r\n'],
    ['chunk size just over 2^53', '20000000000001\r\nhello\r\n0\r\n\r\n'],
    ['16 significant hex digits', '1000000000000005\r\nhello\r\n0\r\n\r\n'],
    ['leading space before the size', ' 5\r\nhello\r\n0\r\n\r\n'],
    ['leading "+"', '+5\r\nhello\r\n0\r\n\r\n'],
    ['leading "-"', '-5\r\nhello\r\n0\r\n\r\n'],
    ['leading "0x"', '0x5\r\nhello\r\n0\r\n\r\n'],
    ['trailing junk after the size', '5z\r\nhello\r\n0\r\n\r\n'],
    ['trailing space then CRLF', '5 \r\nhello\r\n0\r\n\r\n'],
    ['empty size line', '\r\nhello\r\n0\r\n\r\n'],
    ['bare LF after the size', '5\nhello\r\n0\r\n\r\n'],
    ['bare CR after the size', '5\rhello\r\n0\r\n\r\n'],
    ['data longer than the size', '3\r\nhello\r\n0\r\n\r\n'],
    ['data shorter than the size (next size eaten)', '7\r\nhello\r\n0\r\n\r\n'],
    ['data not followed by CRLF', '5\r\nhelloXX0\r\n\r\n'],
    ['data followed by bare LF', '5\r\nhello\n0\r\n\r\n'],
    ['bad extension (no name)', '5;\r\nhello\r\n0\r\n\r\n'],
    ['bad extension (unterminated quote)', '5;a="x\r\nhello\r\n0\r\n\r\n'],
    ['extension with bare LF', '5;a=b\nhello\r\n0\r\n\r\n'],
    ['obs-fold in the trailer', '5\r\nhello\r\n0\r\nX-A: b\r\n c\r\n\r\n'],
    ['bare LF ending the trailer', '5\r\nhello\r\n0\r\nX-A: b\n\r\n'],
    ['bare LF as the last line', '5\r\nhello\r\n0\r\n\n'],
    ['bare CR in the trailer', '5\r\nhello\r\n0\r\nX-A: b\rc\r\n\r\n'],
    ['space before the colon in the trailer', '5\r\nhello\r\n0\r\nX-A : b\r\n\r\n'],
    ['NUL in the trailer', '5\r\nhello\r\n0\r\nX-A: \0\r\n\r\n'],
  ];
  for (const [name, body] of bodies) {
    test(name, async () => {
      await expectRejected(TE + body);
    });
  }
  test('a size with 20 digits, 19 of them leading zeros, is 5 (as nginx reads it): framed exactly', async () => {
    await expectFramed(`${TE}00000000000000000005\r\nhello\r\n0\r\n\r\n`, 201);
    assert.equal(fs.readFileSync(path.join(upDir, 'f.txt'), 'latin1'), 'hello');
  });
  // RFC 9110 §6.5.1: framing and routing fields may not be trailers; they are dropped, never merged, so they can
  // neither re-frame the body nor swallow or reroute the pipelined request behind it.
  const dropped = [
    ['Transfer-Encoding in the trailer', '5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['Content-Length in the trailer', '5\r\nhello\r\n0\r\nContent-Length: 50\r\n\r\n'],
    ['Host in the trailer', '5\r\nhello\r\n0\r\nHost: evil\r\n\r\n'],
  ] as const;
  for (const [name, body] of dropped) {
    test(`${name}: dropped, the body and the pipelined request framed exactly`, async () => {
      await expectFramed(TE + body, 201);
      assert.equal(fs.readFileSync(path.join(upDir, 'f.txt'), 'latin1'), 'hello');
    });
  }
  test('a valid chunked body with extensions and a trailer is framed exactly', async () => {
    await expectFramed(`${TE}5;name=val;q="a b"\r\nhello\r\n0\r\nX-Check: yes\r\n\r\n`, 201);
    assert.equal(fs.readFileSync(path.join(upDir, 'f.txt'), 'latin1'), 'hello');
  });
  test('a chunked body over body_limit is 413 mid-stream, then close', async () => {
    const big = 'x'.repeat(600 * 1024);
    const hex = big.length.toString(16);
    await expectRejected(`${TE}${hex}\r\n${big}\r\n${hex}\r\n${big}\r\n0\r\n\r\n`, 413);
  });
});

describe('request line', () => {
  const lines = [
    'GET  /probe.txt HTTP/1.1',
    'GET /probe.txt  HTTP/1.1',
    'GET\t/probe.txt HTTP/1.1',
    'GET /probe.txt HTTP/1.1 ',
    'GET /pro be.txt HTTP/1.1',
    'GET /probe.txt http/1.1',
    'GET /probe.txt HTTP/1.1x',
    ' GET /probe.txt HTTP/1.1',
  ];
  for (const l of lines) {
    test(JSON.stringify(l), async () => {
      await expectRejected(`${l}\r\nHost: localhost\r\n\r\n`);
    });
  }
  test('repeated Host', async () => {
    await expectRejected('GET /probe.txt HTTP/1.1\r\nHost: localhost\r\nHost: evil\r\n\r\n');
  });
  test('missing Host in HTTP/1.1', async () => {
    await expectRejected('GET /probe.txt HTTP/1.1\r\n\r\n');
  });
});

describe('the server still works after all of that', () => {
  test('a plain GET is answered and no uncaught exception was logged', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send(PROBE);
      const r = await c.read({ timeoutMs: WAIT_MS });
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), MARKER + '\n');
    } finally {
      c.close();
    }
    assert.equal(srv.proc.exitCode, null);
    assert.ok(!/uncaught/i.test(srv.output()), srv.output());
  });
});
