/**
 * HTTP basics through real sockets (issue 3): the headers every response carries, HEAD, 404/405, the redirect
 * directive, and request bodies (Content-Length and chunked with extensions and trailers) stored by POST.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get, RawClient, rawRequest, type RawResponse } from '../helpers/http.js';

const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  body_limit 1m
  location / {
    methods GET
    root {DIR}/www
    default_file index.html
  }
  location /up {
    methods GET POST
    root {DIR}/up
  }
  location /old {
    redirect /new/place
  }
}
`;

const INDEX = '<!DOCTYPE html><title>home</title><h1>home</h1>\n';
const TEXT = 'hello, world\n';

/** IMF-fixdate, RFC 9110 §5.6.7. */
const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;

let srv: RunningServer;

before(async () => {
  srv = await startServer({
    config: CONFIG,
    files: { 'www/index.html': INDEX, 'www/a.txt': TEXT, 'up/.keep': '' },
  });
});

after(async () => {
  await srv.stop();
  fs.rmSync(srv.dir, { recursive: true, force: true });
});

/** Header names of a response, in order, without Date (which may differ by a second between two responses). */
function headersWithoutDate(r: RawResponse): string[] {
  return r.rawHead
    .split('\r\n')
    .slice(1)
    .filter((l) => l !== '' && !/^date:/i.test(l));
}

describe('headers every response carries', () => {
  test('GET of a file: status line, Date, Server, Content-Type, Content-Length, exact body', async () => {
    const before = Date.now();
    const r = await get(srv.port, '/a.txt');
    assert.equal(r.version, 'HTTP/1.1');
    assert.equal(r.status, 200);
    assert.equal(r.reason, 'OK');
    assert.equal(r.body.toString(), TEXT);
    assert.equal(r.header('content-length'), String(Buffer.byteLength(TEXT)));
    assert.equal(r.header('content-type'), 'text/plain; charset=utf-8');
    assert.match(r.header('server') ?? '', /^localhost\/\d+\.\d+\.\d+$/);
    const date = r.header('date') ?? '';
    assert.match(date, IMF_FIXDATE);
    const t = Date.parse(date);
    assert.ok(t >= Math.floor(before / 1000) * 1000 - 1000 && t <= Date.now() + 1000, `Date ${date} is not now`);
    assert.equal(r.headers.get('date')?.length, 1);
    assert.equal(r.headers.get('content-length')?.length, 1);
    assert.equal(r.header('transfer-encoding'), undefined);
  });

  test('error responses carry Date, Server and Content-Length too', async () => {
    const r = await get(srv.port, '/missing.txt');
    assert.equal(r.status, 404);
    assert.match(r.header('date') ?? '', IMF_FIXDATE);
    assert.match(r.header('server') ?? '', /^localhost\//);
    assert.equal(r.header('content-length'), String(r.body.length));
    assert.equal(r.header('content-type'), 'text/html; charset=utf-8');
    assert.match(r.body.toString(), /404 Not Found/);
  });

  test('GET / serves the default file', async () => {
    const r = await get(srv.port, '/');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), INDEX);
    assert.equal(r.header('content-type'), 'text/html; charset=utf-8');
  });
});

describe('HEAD', () => {
  test('HEAD of a file: the same headers as GET and no body (the next response follows at once)', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      // HEAD then GET on one connection: had HEAD sent a body, the second read would see it instead of a status line.
      c.send('HEAD /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const h = await c.read({ head: true });
      const g = await c.read();
      assert.equal(h.status, 200);
      assert.equal(g.status, 200);
      assert.deepEqual(headersWithoutDate(h), headersWithoutDate(g));
      assert.equal(h.header('content-length'), String(Buffer.byteLength(TEXT)));
      assert.equal(g.body.toString(), TEXT);
    } finally {
      c.close();
    }
  });

  test('HEAD of a missing file: 404 head, no body', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send(
        'HEAD /nope HTTP/1.1\r\nHost: localhost\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
      );
      const h = await c.read({ head: true });
      assert.equal(h.status, 404);
      assert.ok(Number(h.header('content-length')) > 0, 'HEAD 404 announces the length of the page GET would get');
      const g = await c.read();
      assert.equal(g.status, 200);
      assert.equal(g.body.toString(), TEXT);
    } finally {
      c.close();
    }
  });

  test('HEAD of the default file via a directory URL', async () => {
    const r = await rawRequest(srv.port, 'HEAD / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', {
      head: true,
    });
    assert.equal(r.status, 200);
    assert.equal(r.header('content-length'), String(Buffer.byteLength(INDEX)));
  });
});

describe('405, redirect', () => {
  test('a method the location does not allow: 405 with Allow', async () => {
    const r = await rawRequest(srv.port, 'DELETE /a.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    assert.equal(r.status, 405);
    assert.equal(r.reason, 'Method Not Allowed');
    assert.equal(r.header('allow'), 'GET, HEAD, OPTIONS');
    assert.match(r.body.toString(), /405 Method Not Allowed/);
    assert.ok(fs.existsSync(path.join(srv.dir, 'www/a.txt')));
  });

  test('POST with a body to a GET-only location: 405, and the connection stays usable', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send('POST /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello');
      const r = await c.read();
      assert.equal(r.status, 405);
      assert.equal(r.header('allow'), 'GET, HEAD, OPTIONS');
      c.send('GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const g = await c.read();
      assert.equal(g.status, 200);
      assert.equal(g.body.toString(), TEXT);
    } finally {
      c.close();
    }
  });

  test('Allow lists the location methods (GET implies HEAD)', async () => {
    const r = await rawRequest(srv.port, 'DELETE /up/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    assert.equal(r.status, 405);
    assert.equal(r.header('allow'), 'GET, HEAD, POST, OPTIONS');
  });

  test('redirect location: 301 with Location', async () => {
    const r = await get(srv.port, '/old');
    assert.equal(r.status, 301);
    assert.equal(r.reason, 'Moved Permanently');
    assert.equal(r.header('location'), '/new/place');
    assert.equal(r.header('content-length'), String(r.body.length));
  });

  test('redirect location also below its prefix', async () => {
    const r = await get(srv.port, '/old/deeper/page.html');
    assert.equal(r.status, 301);
    assert.equal(r.header('location'), '/new/place');
  });

  test('a prefix match stops at a segment boundary: /oldx is not /old', async () => {
    const r = await get(srv.port, '/oldx');
    assert.equal(r.status, 404);
  });
});

describe('request bodies', () => {
  /** Reads a stored upload back with GET. */
  async function fetchBack(url: string): Promise<Buffer> {
    const r = await get(srv.port, url);
    assert.equal(r.status, 200, `GET ${url}`);
    return r.body;
  }

  test('POST with Content-Length stores the body: 201 with Location, GET returns it byte for byte', async () => {
    const body = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff));
    const head = `POST /up/cl.bin HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const r = await rawRequest(srv.port, Buffer.concat([Buffer.from(head, 'latin1'), body]));
    assert.equal(r.status, 201);
    assert.equal(r.header('location'), '/up/cl.bin');
    assert.deepEqual(await fetchBack('/up/cl.bin'), body);
  });

  test('chunked body with extensions and trailers is decoded', async () => {
    const parts = ['Hello, ', 'chunked ', 'world', '!\r\n\u00ff'];
    const bodyBytes = Buffer.from(parts.join(''), 'latin1');
    const chunks =
      `7;name=value\r\n${parts[0]}\r\n` +
      `8;quoted="a \\"b\\" c";flag\r\n${parts[1]}\r\n` +
      `5 ; ext = tok\r\n${parts[2]}\r\n` +
      `4\r\n${parts[3]}\r\n` +
      `0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n`;
    const head =
      'POST /up/chunked.txt HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    const r = await rawRequest(srv.port, head + chunks);
    assert.equal(r.status, 201, r.body.toString());
    assert.equal(r.header('location'), '/up/chunked.txt');
    assert.deepEqual(await fetchBack('/up/chunked.txt'), bodyBytes);
  });

  test('chunked body split into single bytes and large chunks, uppercase hex', async () => {
    const big = Buffer.alloc(70_000, 0x61);
    for (let i = 0; i < big.length; i += 1000) big[i] = 0x30 + ((i / 1000) % 10);
    const head = 'POST /up/split.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n';
    const wire = Buffer.concat([
      Buffer.from(head, 'latin1'),
      Buffer.from(`${big.length.toString(16).toUpperCase()}\r\n`, 'latin1'),
      big,
      Buffer.from('\r\n1\r\nZ\r\n0\r\n\r\n', 'latin1'),
    ]);
    const c = await RawClient.connect(srv.port);
    try {
      // Write the framing around the data in small pieces so that every decoder state sees a split.
      const cut = head.length + 10;
      for (let i = 0; i < cut; i++) c.send(wire.subarray(i, i + 1));
      c.send(wire.subarray(cut, wire.length - 12));
      for (let i = wire.length - 12; i < wire.length; i++) {
        await new Promise((r) => setImmediate(r));
        c.send(wire.subarray(i, i + 1));
      }
      const r = await c.read();
      assert.equal(r.status, 201, r.body.toString());
    } finally {
      c.close();
    }
    assert.deepEqual(await fetchBack('/up/split.txt'), Buffer.concat([big, Buffer.from('Z')]));
  });

  test('a request pipelined after a chunked body is answered on the same connection', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send(
        'POST /up/pipe.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' +
          'GET /up/pipe.txt HTTP/1.1\r\nHost: localhost\r\n\r\n',
      );
      const p = await c.read();
      assert.equal(p.status, 201);
      const g = await c.read();
      assert.equal(g.status, 200);
      assert.equal(g.body.toString(), 'abc');
    } finally {
      c.close();
    }
  });

  test('POST without a body is length 0 (RFC 9112 §6.3), not 411: an empty file is stored', async () => {
    const r = await rawRequest(
      srv.port,
      'POST /up/empty.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
      { timeoutMs: 2000 },
    );
    assert.equal(r.status, 201);
    assert.equal((await fetchBack('/up/empty.txt')).length, 0);
  });

  test('POST with Content-Length: 0 stores an empty file', async () => {
    const r = await rawRequest(
      srv.port,
      'POST /up/zero.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      { timeoutMs: 2000 },
    );
    assert.equal(r.status, 201);
    assert.equal((await fetchBack('/up/zero.txt')).length, 0);
  });

  test('Expect: 100-continue gets 100 Continue, then the final response', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send('POST /up/cont.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n');
      const interim = await c.read();
      assert.equal(interim.status, 100);
      c.send('data');
      const r = await c.read();
      assert.equal(r.status, 201);
    } finally {
      c.close();
    }
    assert.equal((await fetchBack('/up/cont.txt')).toString(), 'data');
  });
});
