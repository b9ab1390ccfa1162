/**
 * Error responses through real sockets (issue 3, DESIGN §5): every malformed request is 400 and closes; limits give
 * 413, 414 and 431; unknown methods 501; other HTTP versions 505. Each error uses the server's error_page file when
 * one is set, else the built-in page, and the status line is the true status.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { RawClient } from '../helpers/http.js';

const CUSTOM_CODES = [400, 404, 405, 413, 414, 431, 501, 505] as const;

/** Server A ({PORT}) has an error_page per code; server B ({PORT2}) has none and uses the built-in pages. */
const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  body_limit 1k
  client_header_timeout 2s
${CUSTOM_CODES.map((c) => `  error_page ${c} {DIR}/errors/${c}.html`).join('\n')}
  location / {
    methods GET
    root {DIR}/www
  }
  location /up {
    methods GET POST
    root {DIR}/up
  }
}
server {
  host 127.0.0.1
  port {PORT2}
  body_limit 1k
  client_header_timeout 2s
  location / {
    methods GET
    root {DIR}/www
  }
  location /up {
    methods GET POST
    root {DIR}/up
  }
}
`;

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
};

const customPage = (code: number): string => `<!DOCTYPE html><title>custom</title><p>custom page for ${code}</p>\n`;

let srv: RunningServer;
let portA: number;
let portB: number;

const files: Record<string, string> = { 'www/a.txt': 'AAA\n', 'up/.keep': '' };
for (const c of CUSTOM_CODES) files[`errors/${c}.html`] = customPage(c);

before(async () => {
  srv = await startServer({ config: CONFIG, files });
  portA = srv.ports[0]!;
  portB = srv.ports[1]!;
});

after(async () => {
  await srv.stop();
  fs.rmSync(srv.dir, { recursive: true, force: true });
});

const H = 'Host: localhost\r\n';

/** Sends `wire` on a fresh connection, expects exactly one error response, then the server closing the socket. */
async function expectError(port: number, wire: string | Buffer, status: number): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    c.send(wire);
    const r = await c.read({ timeoutMs: 3000 });
    assert.equal(r.status, status, `status for ${JSON.stringify(wire.toString().slice(0, 80))}: ${r.body.toString()}`);
    assert.equal(r.version, 'HTTP/1.1');
    assert.equal(r.reason, REASONS[status]);
    assert.equal(r.header('connection'), 'close');
    assert.equal(r.header('content-type'), 'text/html; charset=utf-8');
    assert.equal(r.header('content-length'), String(r.body.length));
    assert.match(r.header('date') ?? '', / GMT$/);
    assert.match(r.header('server') ?? '', /^localhost\//);
    if (port === portA) {
      assert.equal(r.body.toString(), customPage(status));
    } else {
      const title = `${status} ${REASONS[status]}`;
      assert.match(r.body.toString(), new RegExp(`<title>${title}</title>`));
      assert.match(r.body.toString(), new RegExp(`<h1>${title}</h1>`));
    }
    // Nothing more (in particular no answer to anything that followed the bad request), then the close.
    const rest = await c.waitClose(3000);
    assert.equal(rest.toString('latin1'), '');
  } finally {
    c.close();
  }
}

/** Both servers: custom page on A, built-in page on B. */
async function expectBoth(wire: string | Buffer, status: number): Promise<void> {
  await expectError(portA, wire, status);
  await expectError(portB, wire, status);
}

describe('400 Bad Request, then close', () => {
  const cases: Array<[string, string]> = [
    ['a request line that is not one', `GARBAGE\r\n${H}\r\n`],
    ['two spaces after the method', `GET  / HTTP/1.1\r\n${H}\r\n`],
    ['two spaces before the version', `GET /  HTTP/1.1\r\n${H}\r\n`],
    ['a trailing space after the version', `GET / HTTP/1.1 \r\n${H}\r\n`],
    ['a tab as separator', `GET\t/ HTTP/1.1\r\n${H}\r\n`],
    ['no version (HTTP/0.9 style)', `GET /\r\n${H}\r\n`],
    ['lower-case http/1.1', `GET / http/1.1\r\n${H}\r\n`],
    ['a version without minor', `GET / HTTP/1\r\n${H}\r\n`],
    ['a target that is neither origin- nor absolute-form', `GET a.txt HTTP/1.1\r\n${H}\r\n`],
    ['a fragment in the target', `GET /a.txt#x HTTP/1.1\r\n${H}\r\n`],
    ['userinfo in an absolute-form target', `GET http://user@localhost/a.txt HTTP/1.1\r\n${H}\r\n`],
    ['missing Host in HTTP/1.1', 'GET /a.txt HTTP/1.1\r\nAccept: */*\r\n\r\n'],
    ['two Host fields', `GET /a.txt HTTP/1.1\r\n${H}Host: other\r\n\r\n`],
    ['an invalid Host', 'GET /a.txt HTTP/1.1\r\nHost: bad host\r\n\r\n'],
    ['a Host with a bad port', 'GET /a.txt HTTP/1.1\r\nHost: localhost:80x\r\n\r\n'],
    ['a space between field name and colon', `GET /a.txt HTTP/1.1\r\nHost : localhost\r\n\r\n`],
    ['a tab between field name and colon', `GET /a.txt HTTP/1.1\r\n${H}X-A\t: 1\r\n\r\n`],
    ['obs-fold', `GET /a.txt HTTP/1.1\r\n${H}X-Folded: a\r\n b\r\n\r\n`],
    ['obs-fold with a tab', `GET /a.txt HTTP/1.1\r\n${H}X-Folded: a\r\n\tb\r\n\r\n`],
    ['a field line without a colon', `GET /a.txt HTTP/1.1\r\n${H}NoColon\r\n\r\n`],
    ['an empty field name', `GET /a.txt HTTP/1.1\r\n${H}: value\r\n\r\n`],
    ['a bare LF ending the request line', `GET /a.txt HTTP/1.1\n${H}\r\n`],
    ['bare LFs throughout', 'GET /a.txt HTTP/1.1\nHost: localhost\n\n'],
    ['a bare LF ending a field line', `GET /a.txt HTTP/1.1\r\n${H}X-A: 1\nX-B: 2\r\n\r\n`],
    ['a bare CR inside a field line', `GET /a.txt HTTP/1.1\r\n${H}X-A: 1\rX-B: 2\r\n\r\n`],
    ['a bare CR in the request line', `GET /a.txt\rHTTP/1.1\r\n${H}\r\n`],
    ['NUL in a field value', `GET /a.txt HTTP/1.1\r\n${H}X-A: a\0b\r\n\r\n`],
    ['NUL in a field name', `GET /a.txt HTTP/1.1\r\n${H}X-\0A: b\r\n\r\n`],
    ['a control byte in a field value', `GET /a.txt HTTP/1.1\r\n${H}X-A: a\x01b\r\n\r\n`],
    ['DEL in a field value', `GET /a.txt HTTP/1.1\r\n${H}X-A: a\x7fb\r\n\r\n`],
    ['Content-Length not a number', `POST /up/x HTTP/1.1\r\n${H}Content-Length: abc\r\n\r\n`],
    ['Content-Length negative', `POST /up/x HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`],
    ['Content-Length with a sign', `POST /up/x HTTP/1.1\r\n${H}Content-Length: +3\r\n\r\nabc`],
    ['Content-Length as a list', `POST /up/x HTTP/1.1\r\n${H}Content-Length: 3, 3\r\n\r\nabc`],
    ['Content-Length empty', `POST /up/x HTTP/1.1\r\n${H}Content-Length: \r\n\r\n`],
    ['Content-Length in hex', `POST /up/x HTTP/1.1\r\n${H}Content-Length: 0x3\r\n\r\nabc`],
    ['two differing Content-Lengths', `POST /up/x HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`],
    [
      'Content-Length and Transfer-Encoding',
      `POST /up/x HTTP/1.1\r\n${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
    ],
    [
      'Transfer-Encoding and Content-Length (other order)',
      `POST /up/x HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
    ],
    ['a transfer coding other than chunked', `POST /up/x HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`],
    ['a transfer coding list', `POST /up/x HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`],
    ['Transfer-Encoding in HTTP/1.0', `POST /up/x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
  ];
  for (const [name, wire] of cases) {
    test(name, async () => {
      await expectBoth(wire, 400);
    });
  }

  test('a valid request pipelined behind a bad one is never answered', async () => {
    await expectError(portA, `GET / http/1.1\r\n${H}\r\nGET /a.txt HTTP/1.1\r\n${H}\r\n`, 400);
  });

  test('a smuggled request inside a CL+TE body is never answered', async () => {
    const wire = `POST /up/x HTTP/1.1\r\n${H}Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /a.txt HTTP/1.1\r\n${H}\r\n`;
    await expectError(portA, wire, 400);
  });
});

describe('400 for bad chunked framing, then close', () => {
  const head = `POST /up/chunk.txt HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`;
  const cases: Array<[string, string]> = [
    ['a chunk size that is not hex', 'zz\r\nabc\r\n0\r\n\r\n'],
    ['a negative chunk size', '-1\r\na\r\n0\r\n\r\n'],
    ['a 0x prefix', '0x3\r\nabc\r\n0\r\n\r\n'],
    ['an empty chunk-size line', '\r\nabc\r\n0\r\n\r\n'],
    ['a chunk size with 16 hex digits', 'ffffffffffffffff\r\nabc\r\n0\r\n\r\n'],
    ['a space inside the chunk size', '1 2\r\nab\r\n0\r\n\r\n'],
    ['a chunk size ended by a bare LF', '3\nabc\r\n0\r\n\r\n'],
    ['chunk data longer than its size', '3\r\nabcd\r\n0\r\n\r\n'],
    ['chunk data not followed by CRLF', '3\r\nabcXY0\r\n\r\n'],
    ['a bad chunk extension', '3;=x\r\nabc\r\n0\r\n\r\n'],
    ['an unterminated quoted extension value', '3;a="x\r\nabc\r\n0\r\n\r\n'],
    ['a bare LF in the trailer section', '3\r\nabc\r\n0\r\nX-T: 1\n\r\n'],
  ];
  for (const [name, body] of cases) {
    test(name, async () => {
      await expectBoth(head + body, 400);
      assert.deepEqual(fs.readdirSync(path.join(srv.dir, 'up')), ['.keep'], 'a rejected upload leaves nothing behind');
    });
  }
});

describe('413 Content Too Large', () => {
  test('Content-Length over body_limit is answered before the body is sent, then the connection closes', async () => {
    for (const port of [portA, portB]) {
      const c = await RawClient.connect(port);
      try {
        // Only the head is sent: the answer must not wait for 5000 bytes that never come.
        c.send(`POST /up/big.bin HTTP/1.1\r\n${H}Content-Length: 5000\r\n\r\n`);
        const r = await c.read({ timeoutMs: 1500 });
        assert.equal(r.status, 413);
        assert.equal(r.reason, 'Content Too Large');
        assert.equal(r.header('connection'), 'close');
        if (port === portA) assert.equal(r.body.toString(), customPage(413));
        else assert.match(r.body.toString(), /<title>413 Content Too Large<\/title>/);
        assert.equal((await c.waitClose(3000)).length, 0);
      } finally {
        c.close();
      }
    }
    assert.deepEqual(fs.readdirSync(path.join(srv.dir, 'up')), ['.keep']);
  });

  test('413 also when the client sends the body right behind the head (lingering close, no reset before the answer)', async () => {
    const c = await RawClient.connect(portA);
    try {
      c.send(
        Buffer.concat([
          Buffer.from(`POST /up/big.bin HTTP/1.1\r\n${H}Content-Length: 200000\r\n\r\n`, 'latin1'),
          Buffer.alloc(200_000, 0x41),
        ]),
      );
      const r = await c.read({ timeoutMs: 3000 });
      assert.equal(r.status, 413);
      assert.equal(r.body.toString(), customPage(413));
      await c.waitClose(5000);
    } finally {
      c.close();
    }
    assert.deepEqual(fs.readdirSync(path.join(srv.dir, 'up')), ['.keep']);
  });

  test('a body exactly at body_limit is accepted', async () => {
    const c = await RawClient.connect(portA);
    try {
      c.send(`POST /up/limit.bin HTTP/1.1\r\n${H}Content-Length: 1024\r\nConnection: close\r\n\r\n` + 'x'.repeat(1024));
      const r = await c.read({ timeoutMs: 3000 });
      assert.equal(r.status, 201);
    } finally {
      c.close();
    }
    assert.equal(fs.readFileSync(path.join(srv.dir, 'up/limit.bin')).length, 1024);
    fs.unlinkSync(path.join(srv.dir, 'up/limit.bin'));
  });

  test('a chunked body crossing body_limit: 413 mid-stream, close, nothing stored', async () => {
    for (const port of [portA, portB]) {
      const c = await RawClient.connect(port);
      try {
        c.send(`POST /up/chunked-big.bin HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`);
        c.send(`258\r\n${'a'.repeat(600)}\r\n`); // 600 bytes: under the limit, nothing to answer yet
        c.send(`258\r\n${'b'.repeat(600)}\r\n`); // 1200 bytes: over 1024
        const r = await c.read({ timeoutMs: 3000 });
        assert.equal(r.status, 413);
        assert.equal(r.header('connection'), 'close');
        if (port === portA) assert.equal(r.body.toString(), customPage(413));
        await c.waitClose(5000);
      } finally {
        c.close();
      }
    }
    assert.deepEqual(fs.readdirSync(path.join(srv.dir, 'up')), ['.keep']);
  });
});

describe('414, 431: limits of the head', () => {
  test('a 9 KiB request target: 414', async () => {
    await expectBoth(`GET /${'a'.repeat(9 * 1024)} HTTP/1.1\r\n${H}\r\n`, 414);
  });

  test('a 9 KiB request target is refused before the head ends (no CRLF sent yet)', async () => {
    await expectError(portA, `GET /${'a'.repeat(9 * 1024)}`, 414);
  });

  test('a target just under 8 KiB is not 414', async () => {
    const c = await RawClient.connect(portA);
    try {
      c.send(`GET /${'a'.repeat(8000)} HTTP/1.1\r\n${H}\r\n`);
      const r = await c.read();
      assert.equal(r.status, 404);
    } finally {
      c.close();
    }
  });

  test('40 KiB of header fields: 431', async () => {
    const fields = Array.from({ length: 40 }, (_, i) => `X-Pad-${i}: ${'v'.repeat(1000)}\r\n`).join('');
    await expectBoth(`GET /a.txt HTTP/1.1\r\n${H}${fields}\r\n`, 431);
  });

  test('101 header fields: 431', async () => {
    const fields = Array.from({ length: 100 }, (_, i) => `X-F${i}: ${i}\r\n`).join('');
    await expectBoth(`GET /a.txt HTTP/1.1\r\n${H}${fields}\r\n`, 431);
  });

  test('100 header fields are accepted', async () => {
    const fields = Array.from({ length: 99 }, (_, i) => `X-F${i}: ${i}\r\n`).join('');
    const c = await RawClient.connect(portA);
    try {
      c.send(`GET /a.txt HTTP/1.1\r\n${H}${fields}\r\n`);
      const r = await c.read();
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'AAA\n');
    } finally {
      c.close();
    }
  });
});

describe('501, 505', () => {
  test('CONNECT is not implemented (this server does not tunnel): 501 and close', async () => {
    await expectBoth(`CONNECT localhost:443 HTTP/1.1\r\n${H}\r\n`, 501);
  });

  test('HTTP/2.0: 505', async () => {
    await expectBoth(`GET / HTTP/2.0\r\n${H}\r\n`, 505);
  });

  test('HTTP/3.0 and HTTP/0.9: 505', async () => {
    await expectError(portA, `GET / HTTP/3.0\r\n${H}\r\n`, 505);
    await expectError(portA, `GET / HTTP/0.9\r\n${H}\r\n`, 505);
  });

  // RFC 9110 §2.5 lets a server treat a higher 1.x minor as 1.1; DESIGN §5 is stricter ("a version other than 1.0
  // and 1.1 → 505") and the parser follows it, so HTTP/1.2 is 505.
  test('HTTP/1.2: 505 (DESIGN §5)', async () => {
    await expectError(portA, `GET / HTTP/1.2\r\n${H}\r\n`, 505);
  });
});

describe('errors that keep the connection', () => {
  test('404 and 405 use the error pages and keep the connection open', async () => {
    for (const port of [portA, portB]) {
      const c = await RawClient.connect(port);
      try {
        c.send(`GET /missing HTTP/1.1\r\n${H}\r\n`);
        const r404 = await c.read();
        assert.equal(r404.status, 404);
        assert.equal(r404.header('connection'), 'keep-alive');
        if (port === portA) assert.equal(r404.body.toString(), customPage(404));
        else assert.match(r404.body.toString(), /<title>404 Not Found<\/title>/);
        c.send(`DELETE /a.txt HTTP/1.1\r\n${H}\r\n`);
        const r405 = await c.read();
        assert.equal(r405.status, 405);
        assert.equal(r405.header('allow'), 'GET, HEAD, OPTIONS');
        if (port === portA) assert.equal(r405.body.toString(), customPage(405));
        else assert.match(r405.body.toString(), /<title>405 Method Not Allowed<\/title>/);
        c.send(`GET /a.txt HTTP/1.1\r\n${H}\r\n`);
        const ok = await c.read();
        assert.equal(ok.status, 200);
        assert.equal(ok.body.toString(), 'AAA\n');
      } finally {
        c.close();
      }
    }
  });

  test('a method no location lists (BREW, PUT, PATCH, lower-case get) is 501 with the error page, kept open', async () => {
    for (const port of [portA, portB]) {
      const c = await RawClient.connect(port);
      try {
        for (const wire of [
          `BREW / HTTP/1.1\r\n${H}\r\n`,
          `get /a.txt HTTP/1.1\r\n${H}\r\n`, // methods are case-sensitive (RFC 9110 §9.1)
          `PUT /up/x HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc`,
          `PATCH /up/x HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
        ]) {
          c.send(wire);
          const r = await c.read();
          assert.equal(r.status, 501, wire);
          assert.equal(r.reason, 'Not Implemented');
          assert.equal(r.header('connection'), 'keep-alive');
          if (port === portA) assert.equal(r.body.toString(), customPage(501));
          else assert.match(r.body.toString(), /<title>501 Not Implemented<\/title>/);
        }
        c.send(`GET /a.txt HTTP/1.1\r\n${H}\r\n`);
        assert.equal((await c.read()).body.toString(), 'AAA\n', 'the bodies were read past, not taken as requests');
        assert.equal(fs.existsSync(path.join(srv.dir, 'up/x')), false);
      } finally {
        c.close();
      }
    }
  });

  test('an error page that changes on disk is served fresh', async () => {
    const p = path.join(srv.dir, 'errors/404.html');
    const c = await RawClient.connect(portA);
    try {
      fs.writeFileSync(p, 'changed 404 page, longer than before\n');
      c.send(`GET /missing HTTP/1.1\r\n${H}\r\n`);
      const r = await c.read();
      assert.equal(r.status, 404);
      assert.equal(r.body.toString(), 'changed 404 page, longer than before\n');
    } finally {
      c.close();
      fs.writeFileSync(p, customPage(404));
    }
  });
});
