/**
 * The reverse proxy through real sockets (issue 18): URI mapping with and without a URI part, the headers sent
 * and passed back (defaults, proxy_set_header, hide/pass, hop-by-hop both ways), bodies both ways in either
 * framing, streaming without buffering, 502/504 with their log lines, and an upstream killed mid-body.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get, RawClient, rawRequest } from '../helpers/http.js';
import { hasHead, httpBackend, rawBackend, type HttpBackend, type RawBackend } from '../helpers/backend.js';
import { until } from '../helpers/wait.js';

let srv: RunningServer;
let echo: HttpBackend;
let raw: RawBackend;
let silent: RawBackend;
let deaf: RawBackend;
let rawMode = 'hop';

before(async () => {
  echo = await httpBackend((req, res, seen) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname.endsWith('/chunks')) {
      // Two pieces with a pause between: the first must reach the client before the second is written.
      res.write('first;');
      setTimeout(() => res.end('second'), Number(u.searchParams.get('gap') ?? '300')).unref();
      return;
    }
    if (u.pathname.endsWith('/hash')) {
      res.end(`${seen.bodyBytes}`);
      return;
    }
    res.setHeader('X-Accel-Redirect', '/internal');
    res.setHeader('X-Powered-By', 'node');
    res.setHeader('X-Pad', 'pad');
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ method: seen.method, url: seen.url, raw: seen.raw, n: seen.bodyBytes }));
  });
  raw = await rawBackend((s, all) => {
    if (!hasHead(all)) return false;
    if (rawMode === 'hop') {
      s.end(
        'HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nConnection: close, X-Internal\r\nX-Internal: secret\r\n' +
          'Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nTrailer: X-T\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\nok',
      );
    } else if (rawMode === 'close-delimited') {
      s.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n' + 'z'.repeat(100_000));
    } else if (rawMode === 'chunked') {
      s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n');
    } else if (rawMode === 'interim') {
      s.end(
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nc',
      );
    } else if (rawMode === 'garbage') {
      s.end('HTTP/1.1 OK\r\n\r\n');
    } else if (rawMode === 'kill') {
      // A promised 10 MB, 1 MB of it, then the upstream dies.
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n');
      s.write(Buffer.alloc(1_000_000, 0x61), () => {
        setTimeout(() => s.destroy(), 50);
      });
    }
    return true;
  });
  silent = await rawBackend(() => true); // reads, never answers
  deaf = await rawBackend(() => true);
  const config = `server {
  host 127.0.0.1
  port {PORT}
  body_limit 0
  location / {
    proxy_pass http://127.0.0.1:${echo.port}
  }
  location /api/ {
    proxy_pass http://127.0.0.1:${echo.port}/v1/
  }
  location /map {
    proxy_pass http://127.0.0.1:${echo.port}/other
  }
  location /sethost {
    proxy_pass http://127.0.0.1:${echo.port}
    proxy_set_header Host $host
    proxy_set_header X-Custom "$request_method $remote_addr via $scheme"
    proxy_set_header X-Forwarded-Proto https
    proxy_hide_header X-Powered-By
    proxy_pass_header X-Accel-Redirect
  }
  location /raw {
    proxy_pass http://127.0.0.1:${raw.port}
  }
  location /down {
    proxy_pass http://127.0.0.1:1
  }
  location /slow {
    proxy_pass http://127.0.0.1:${silent.port}
    proxy_read_timeout 1s
  }
  location /deaf {
    proxy_pass http://127.0.0.1:${deaf.port}
    proxy_send_timeout 1s
  }
}
`;
  srv = await startServer({ config });
});

after(async () => {
  await srv.stop();
  await echo.close();
  await raw.close();
  await silent.close();
  await deaf.close();
});

interface Echoed {
  method: string;
  url: string;
  raw: [string, string][];
  n: number;
}
const echoed = (body: Buffer): Echoed => JSON.parse(body.toString()) as Echoed;
const field = (e: Echoed, name: string): string[] =>
  e.raw.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);

describe('URI mapping (as nginx maps it)', () => {
  test('without a URI part the target goes as the client sent it, query and escapes included', async () => {
    const r = await get(srv.port, '/a/b%2Fc/%7Euser?x=1&y=%20');
    assert.equal(r.status, 200);
    assert.equal(echoed(r.body).url, '/a/b%2Fc/%7Euser?x=1&y=%20');
  });
  test('with a URI part the location prefix is replaced and the path encoded again', async () => {
    assert.equal(echoed((await get(srv.port, '/api/items/a%20b?q=1')).body).url, '/v1/items/a%20b?q=1');
    assert.equal(echoed((await get(srv.port, '/api/')).body).url, '/v1/');
    assert.equal(echoed((await get(srv.port, '/map/x')).body).url, '/other/x');
    assert.equal(echoed((await get(srv.port, '/map')).body).url, '/other');
  });
});

describe('request headers', () => {
  test('Host is the upstream, X-Forwarded-* and X-Real-IP are set, a client X-Forwarded-For is appended to', async () => {
    const r = await get(srv.port, '/h', {
      Host: 'site.test:8080',
      'X-Forwarded-For': '203.0.113.7',
      'X-Real-IP': '6.6.6.6',
    });
    const e = echoed(r.body);
    assert.deepEqual(field(e, 'host'), [`127.0.0.1:${echo.port}`]);
    assert.deepEqual(field(e, 'x-forwarded-for'), ['203.0.113.7, 127.0.0.1']);
    assert.deepEqual(field(e, 'x-real-ip'), ['127.0.0.1']);
    assert.deepEqual(field(e, 'x-forwarded-proto'), ['http']);
    assert.deepEqual(field(e, 'x-forwarded-host'), ['site.test']);
  });
  test('proxy_set_header: Host $host, variables, a default replaced', async () => {
    const e = echoed((await get(srv.port, '/sethost', { Host: 'Site.Test:8080' })).body);
    assert.deepEqual(field(e, 'host'), ['site.test']);
    assert.deepEqual(field(e, 'x-custom'), ['GET 127.0.0.1 via http']);
    assert.deepEqual(field(e, 'x-forwarded-proto'), ['https']);
  });
  test('hop-by-hop fields and those Connection lists are not forwarded (RFC 9110 §7.6.1)', async () => {
    const r = await rawRequest(
      srv.port,
      'GET /hop HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\nKeep-Alive: 300\r\n' +
        'TE: trailers\r\nProxy-Connection: keep-alive\r\nTrailer: X\r\nX-Public: 2\r\n\r\n',
    );
    const e = echoed(r.body);
    const names = e.raw.map(([k]) => k.toLowerCase());
    for (const hop of ['x-private', 'keep-alive', 'te', 'proxy-connection', 'trailer'])
      assert.ok(!names.includes(hop), `${hop} forwarded: ${names.join(',')}`);
    assert.deepEqual(field(e, 'connection'), ['close']);
    assert.deepEqual(field(e, 'x-public'), ['2']);
  });
});

describe('response headers', () => {
  test('hidden by default, proxy_hide_header, proxy_pass_header; Server and Date are ours', async () => {
    const plain = await get(srv.port, '/x');
    assert.equal(plain.header('x-accel-redirect'), undefined);
    assert.equal(plain.header('x-pad'), undefined);
    assert.equal(plain.header('x-powered-by'), 'node');
    assert.equal(plain.header('content-type'), 'application/json');
    assert.deepEqual(plain.headers.get('server'), ['localhost/0.1.0']);
    const set = await get(srv.port, '/sethost');
    assert.equal(set.header('x-powered-by'), undefined);
    assert.equal(set.header('x-accel-redirect'), '/internal');
  });
  test('hop-by-hop fields from the upstream are removed', async () => {
    rawMode = 'hop';
    const r = await get(srv.port, '/raw');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'ok');
    for (const hop of ['keep-alive', 'x-internal', 'proxy-connection', 'upgrade', 'trailer'])
      assert.equal(r.header(hop), undefined, hop);
    assert.equal(r.header('x-kept'), 'yes');
  });
  test('interim 1xx responses are skipped', async () => {
    rawMode = 'interim';
    const r = await get(srv.port, '/raw');
    assert.equal(r.status, 201);
    assert.equal(r.body.toString(), 'c');
  });
});

describe('bodies', () => {
  test('a Content-Length upload streams upstream whole', async () => {
    const body = Buffer.alloc(3_000_000, 0x62);
    const r = await rawRequest(
      srv.port,
      Buffer.concat([Buffer.from(`POST /hash HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n`), body]),
      { timeoutMs: 20_000 },
    );
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), String(body.length));
  });
  test('a chunked upload goes upstream chunked, every byte', async () => {
    const c = await RawClient.connect(srv.port);
    c.send('POST /hash HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n');
    for (let i = 0; i < 50; i++) c.send(`2710\r\n${'q'.repeat(10_000)}\r\n`);
    c.send('0\r\n\r\n');
    const r = await c.read({ timeoutMs: 10_000 });
    c.close();
    assert.equal(r.body.toString(), '500000');
    const last = echo.seen[echo.seen.length - 1];
    assert.equal(last?.headers['transfer-encoding'], 'chunked');
  });
  test('a chunked response is decoded and framed again; trailers are dropped', async () => {
    rawMode = 'chunked';
    const r = await get(srv.port, '/raw');
    assert.equal(r.body.toString(), 'hello world');
    assert.equal(r.header('transfer-encoding'), 'chunked');
  });
  test('a close-delimited HTTP/1.0 response is passed whole, chunked to a 1.1 client', async () => {
    rawMode = 'close-delimited';
    const r = await get(srv.port, '/raw');
    assert.equal(r.body.length, 100_000);
    assert.equal(r.header('transfer-encoding'), 'chunked');
  });
  test('a streamed response passes each flush as it comes (no buffering)', async () => {
    const c = await RawClient.connect(srv.port);
    const t0 = Date.now();
    c.send('GET /chunks?gap=1500 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    let got = '';
    c.socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    await until(() => got.includes('first;'), 'the first piece', 1400);
    assert.ok(Date.now() - t0 < 1400, 'the first piece waited for the second');
    assert.ok(!got.includes('second'));
    await c.waitClose(5000);
    c.close();
  });
  test('HEAD gets the upstream head and no body', async () => {
    const r = await rawRequest(srv.port, 'HEAD /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', { head: true });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0);
    assert.equal(echo.seen[echo.seen.length - 1]?.method, 'HEAD');
  });
});

describe('failures', () => {
  test('an upstream that refuses is 502, and the error log names it', async () => {
    const r = await get(srv.port, '/down/x');
    assert.equal(r.status, 502);
    await until(
      () => /connect\(\) failed \(ECONNREFUSED\).*upstream "http:\/\/127\.0\.0\.1:1\/down\/x"/.test(srv.output()),
      'the log line',
    );
  });
  test('an upstream that never answers is 504 after proxy_read_timeout', async () => {
    const t0 = Date.now();
    const r = await get(srv.port, '/slow');
    const ms = Date.now() - t0;
    assert.equal(r.status, 504);
    assert.ok(ms >= 900 && ms < 3000, `${ms} ms`);
    await until(
      () => new RegExp(`timed out while reading from upstream.*127\\.0\\.0\\.1:${silent.port}`).test(srv.output()),
      'log',
    );
  });
  test('an upstream that does not read the body is 504 after proxy_send_timeout', async () => {
    const deafServerSockets = deaf.sockets;
    const c = await RawClient.connect(srv.port);
    const big = Buffer.alloc(64 * 1024 * 1024, 0x63);
    c.send(`POST /deaf HTTP/1.1\r\nHost: a\r\nContent-Length: ${big.length}\r\n\r\n`);
    await until(() => deafServerSockets.length > 0, 'the upstream connection');
    deafServerSockets[0]?.pause(); // it stops reading: our writes fill its buffers
    c.socket.write(big);
    const r = await c.read({ timeoutMs: 10_000 });
    c.close();
    assert.equal(r.status, 504);
    await until(() => /timed out while sending to upstream/.test(srv.output()), 'log');
  });
  test('an invalid upstream head is 502', async () => {
    rawMode = 'garbage';
    assert.equal((await get(srv.port, '/raw')).status, 502);
  });
  test('an upstream killed mid-body: the client sees the response cut, the server keeps serving', async () => {
    rawMode = 'kill';
    const c = await RawClient.connect(srv.port);
    c.send('GET /raw HTTP/1.1\r\nHost: a\r\n\r\n');
    const rest = await c.waitClose(10_000);
    c.close();
    const head = rest.toString('latin1', 0, rest.indexOf('\r\n\r\n'));
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.match(head, /Content-Length: 10000000/);
    assert.ok(rest.length < 10_000_000, 'a cut response, not a complete one');
    const after = await get(srv.port, '/still');
    assert.equal(after.status, 200);
    assert.equal(echoed(after.body).url, '/still');
  });
  test('a client that leaves mid-download closes the upstream connection', async () => {
    const before = echo.connections;
    const closed = echo.closed;
    const c = await RawClient.connect(srv.port);
    c.send('GET /chunks?gap=60000 HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => echo.connections > before, 'the upstream connection');
    await c.read({ timeoutMs: 50 }).catch(() => undefined); // the first piece arrives; the second is a minute away
    c.close();
    // The echo's pending response would hold its socket for a minute: it closes because we closed ours.
    await until(() => echo.closed > closed, 'the upstream connection closed', 3000);
  });
});
