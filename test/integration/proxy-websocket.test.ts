/**
 * WebSocket / Upgrade tunnels through proxy_pass (issue 18), over real sockets: an echo backend on node:http's
 * 'upgrade' event, a raw client with its own RFC 6455 codec (test/helpers/websocket.ts). No configuration asks for
 * the tunnel: a request with `Upgrade` and `Connection: upgrade` is passed on, and a 101 turns the connection into
 * a tunnel. Runs on whichever transport LOCALHOST_TRANSPORT names; the TLS listener is node:tls on both.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { hasHead, rawBackend, type RawBackend } from '../helpers/backend.js';
import { RawClient } from '../helpers/http.js';
import { makeCa, makeLeaf } from '../helpers/tls.js';
import { until } from '../helpers/wait.js';
import {
  acceptFor,
  BINARY,
  CLOSE,
  echoBackend,
  frame,
  handshakeRequest,
  PING,
  PONG,
  TEXT,
  WsClient,
  type EchoBackend,
} from '../helpers/websocket.js';

let srv: RunningServer;
let echo: EchoBackend;
/** Answers 101 to whatever it is asked, Upgrade or not. */
let switcher: RawBackend;
let certs = '';

before(async () => {
  echo = await echoBackend();
  switcher = await rawBackend((s, all) => {
    if (!hasHead(all)) return false;
    s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nraw bytes');
    return true;
  });
  certs = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-ws-tls-'));
  makeCa(certs);
  makeLeaf(certs, 'site', 'localhost');
  const up = `http://127.0.0.1:${echo.port}`;
  // keepalive_timeout and client_header_timeout 1s: shorter than the idle tunnel's proxy_read_timeout (3s), so
  // a tunnel that outlives them shows that neither applies to it.
  const locations = `
  location / {
    root {DIR}/www
  }
  location /ws/ {
    proxy_pass ${up}
  }
  location /ws-idle/ {
    proxy_pass ${up}
    proxy_read_timeout 3s
  }
  location /switcher/ {
    proxy_pass http://127.0.0.1:${switcher.port}
  }
  location /ws-nginx/ {
    proxy_pass ${up}
    proxy_set_header Upgrade $http_upgrade
    proxy_set_header Connection "upgrade"
  }
`;
  const config = `server {
  host 127.0.0.1
  port {PORT}
  keepalive_timeout 1s
  client_header_timeout 1s
  access_log {DIR}/access.log
  error_log {DIR}/error.log
${locations}}
server {
  listen 127.0.0.1:{PORT2} ssl
  ssl_certificate ${certs}/site.crt
  ssl_certificate_key ${certs}/site.key
${locations}}
`;
  srv = await startServer({ config, files: { 'www/index.html': 'static page\n' } });
});

after(async () => {
  await srv.stop();
  await echo.close();
  await switcher.close();
  fs.rmSync(certs, { recursive: true, force: true });
});

/** Connects and completes the handshake for `p`; returns the client and the 101 head. */
async function open(
  p: string,
  opts: { secure?: boolean; after?: Buffer } = {},
): Promise<{ ws: WsClient; head: string }> {
  const ws = await WsClient.connect(opts.secure === true ? (srv.ports[1] ?? 0) : srv.port, opts.secure === true);
  const hs = handshakeRequest(p);
  // Request head and whatever follows it, in one write: bytes behind the head must reach the backend too.
  ws.send(Buffer.concat([Buffer.from(hs.text, 'latin1'), opts.after ?? Buffer.alloc(0)]));
  const head = await ws.response();
  assert.match(head, /^HTTP\/1\.1 101 Switching Protocols\r\n/, head);
  assert.match(head, new RegExp(`\r\nSec-WebSocket-Accept: ${acceptFor(hs.key).replace(/[+/]/g, '\\$&')}\r\n`), head);
  return { ws, head };
}

const errorLog = (): string => {
  try {
    return fs.readFileSync(path.join(srv.dir, 'error.log'), 'utf8');
  } catch {
    return '';
  }
};
const accessLines = (marker: string): string[] => {
  let text = '';
  try {
    text = fs.readFileSync(path.join(srv.dir, 'access.log'), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => l.includes(marker));
};

/** Echoes `count` text messages with up to `window` in flight; checks each comes back in order, unchanged. */
async function echoTexts(ws: WsClient, count: number, window: number): Promise<void> {
  const msg = (i: number): string => `message ${i} ` + 'abcdefghij'.repeat(i % 30); // 10..310 bytes: 7- and 16-bit lengths
  let sent = 0;
  let got = 0;
  while (got < count) {
    while (sent < count && sent - got < window) ws.sendFrame(TEXT, msg(sent++));
    const [f] = await ws.next(1, 10_000);
    assert.ok(f !== undefined);
    assert.equal(f.opcode, TEXT);
    const text = f.payload.toString();
    if (text !== msg(got)) assert.fail(`message ${got}: got ${JSON.stringify(text.slice(0, 40))}`);
    got++;
  }
}

describe('WebSocket through proxy_pass', () => {
  test('10,000 masked text messages come back in order and unchanged; the 101 carries the backend fields', async () => {
    const { ws, head } = await open('/ws/echo');
    assert.match(head, /\r\nUpgrade: websocket\r\n/i);
    assert.match(head, /\r\nConnection: upgrade\r\n/i);
    assert.match(head, /\r\nX-Backend: echo\r\n/);
    assert.doesNotMatch(head, /Content-Length|Transfer-Encoding|keep-alive|Connection: close/i);
    const hs = echo.handshakes.at(-1);
    assert.ok(hs !== undefined);
    assert.equal(hs.headers.upgrade, 'websocket');
    assert.equal(hs.headers.connection, 'upgrade');
    assert.equal(hs.headers['sec-websocket-version'], '13');
    assert.equal(hs.raw.filter(([n]) => n.toLowerCase() === 'connection').length, 1);
    await echoTexts(ws, 10_000, 50);
    ws.sendFrame(PING, 'p');
    const [pong] = await ws.next();
    assert.equal(pong?.opcode, PONG);
    ws.sendFrame(CLOSE, Buffer.from([0x03, 0xe8]));
    const [close] = await ws.next();
    assert.equal(close?.opcode, CLOSE);
    await ws.closed(); // the backend's FIN after its close frame, passed on, ends the tunnel
  });

  test('binary messages of 64 KiB and more keep their bytes and order while the client reads late (backpressure)', async () => {
    const { ws } = await open('/ws/binary');
    const sizes = [65_536, 65_537, 200_000, 1 << 20];
    for (let i = 0; sizes.length < 36; i++) sizes.push(1 << 20);
    const payloads = sizes.map((n) => randomBytes(n));
    const queuedBefore = echo.maxQueued;
    ws.socket.pause(); // not reading: the echoes must pile up at the backend, not in the server
    for (const p of payloads) ws.sendFrame(BINARY, p);
    // With the server paused on its full client side, the backend's own queue fills.
    await until(() => echo.maxQueued > queuedBefore + 4 * 1024 * 1024, 'the backend to queue 4 MiB unread', 20_000);
    ws.socket.resume();
    const frames = await ws.next(payloads.length, 30_000);
    frames.forEach((f, i) => {
      assert.equal(f.opcode, BINARY);
      const want = payloads[i] ?? Buffer.alloc(0);
      assert.equal(f.payload.length, want.length, `message ${i}`);
      assert.ok(f.payload.equals(want), `message ${i} differs`);
    });
    ws.close();
  });

  test('bytes the client sends right behind the handshake, and the backend right behind its 101, are kept', async () => {
    const early = Buffer.concat(['one', 'two', 'three'].map((t) => frame(TEXT, Buffer.from(t), true)));
    const { ws } = await open('/ws/greet', { after: early });
    const frames = await ws.next(4);
    assert.deepEqual(
      frames.map((f) => f.payload.toString()),
      ['hello', 'one', 'two', 'three'],
    );
    ws.close();
  });

  test('a backend answering 200 or 403 instead of 101: a normal response, and the connection serves HTTP on', async () => {
    for (const status of [200, 403]) {
      const c = await RawClient.connect(srv.port);
      const hs = handshakeRequest(`/ws/status-${status}`);
      c.send(hs.text);
      const r = await c.read();
      assert.equal(r.status, status);
      assert.equal(r.body.toString(), `refused ${status}`);
      assert.equal(r.header('upgrade'), undefined);
      assert.notEqual(r.header('connection'), 'close');
      c.send('GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n');
      const next = await c.read();
      assert.equal(next.status, 200);
      assert.equal(next.body.toString(), 'static page\n');
      c.close();
    }
  });

  test('a plain request through the same location still goes with Connection: close, without Upgrade', async () => {
    const c = await RawClient.connect(srv.port);
    c.send('GET /ws/plain HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    const r = await c.read();
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'plain /ws/plain');
    c.close();
  });

  test("nginx's recipe (proxy_set_header Upgrade and Connection) works the same, without doubled fields", async () => {
    const { ws } = await open('/ws-nginx/x');
    const hs = echo.handshakes.at(-1);
    assert.ok(hs !== undefined);
    assert.deepEqual(
      hs.raw.filter(([n]) => /^(connection|upgrade)$/i.test(n)).map(([n, v]) => `${n.toLowerCase()}: ${v}`),
      ['upgrade: websocket', 'connection: upgrade'],
    );
    await echoTexts(ws, 10, 1);
    ws.close();
  });

  test('a 101 to a request that asked for no Upgrade is a bad head: 502, and the bytes behind it never pass', async () => {
    const c = await RawClient.connect(srv.port);
    c.send('GET /switcher/x HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = await c.read();
    assert.equal(r.status, 502);
    assert.doesNotMatch(r.body.toString(), /raw bytes/);
    c.close();
    await until(() => errorLog().includes('upstream sent 101 Switching Protocols to a request without Upgrade'), 'log');
  });

  test('an Upgrade to a static location is ignored: a normal 200, and the connection stays HTTP', async () => {
    const c = await RawClient.connect(srv.port);
    c.send(handshakeRequest('/index.html').text);
    const r = await c.read();
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'static page\n');
    assert.equal(r.header('upgrade'), undefined);
    c.send('GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal((await c.read()).status, 200);
    c.close();
  });

  test('a backend killed mid-tunnel closes the client connection; the server serves on', async () => {
    const before = echo.sockets.length;
    const { ws } = await open('/ws/killed');
    await echoTexts(ws, 5, 1);
    await until(() => echo.sockets.length > before, 'the backend socket');
    echo.sockets.at(-1)?.destroy();
    await ws.closed();
    const c = await RawClient.connect(srv.port);
    c.send('GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal((await c.read()).status, 200);
    c.close();
    const again = await open('/ws/after');
    await echoTexts(again.ws, 5, 1);
    again.ws.close();
  });

  test('an idle tunnel outlives keepalive_timeout and client_header_timeout, and closes after proxy_read_timeout', async () => {
    const { ws } = await open('/ws-idle/quiet');
    await echoTexts(ws, 1, 1);
    // 1.6 s without a byte: past both 1 s timeouts (and a sweep tick), well within proxy_read_timeout 3s.
    await new Promise((r) => setTimeout(r, 1600));
    assert.equal(ws.isClosed, false, 'closed by an HTTP timeout');
    await echoTexts(ws, 1, 1);
    const quietFrom = Date.now();
    await ws.closed(10_000);
    const idle = Date.now() - quietFrom;
    assert.ok(idle >= 2700, `closed after ${idle} ms of quiet, before proxy_read_timeout 3s`);
    assert.ok(idle < 6000, `closed only after ${idle} ms`);
    await until(() => errorLog().includes('upstream timed out while proxying upgraded connection'), 'the log line');
  });

  test('the access log has one line with 101 for a tunnel, once it ended', async () => {
    const marker = `/ws/logged-${Date.now()}`;
    const { ws } = await open(marker);
    await echoTexts(ws, 3, 1);
    ws.sendFrame(CLOSE, Buffer.alloc(0));
    await ws.closed();
    await until(() => accessLines(marker).length > 0, 'the access-log line');
    const lines = accessLines(marker);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0] ?? '', new RegExp(`"GET ${marker} HTTP/1\\.1" 101 \\d+`));
  });

  test('over TLS: the same tunnel, 1,000 messages and a 1 MiB one', async () => {
    const { ws } = await open('/ws/tls', { secure: true });
    await echoTexts(ws, 1000, 20);
    const big = randomBytes(1 << 20);
    ws.sendFrame(BINARY, big);
    const [f] = await ws.next(1, 10_000);
    assert.equal(digest(f?.payload ?? Buffer.alloc(0)), digest(big));
    ws.sendFrame(CLOSE, Buffer.alloc(0));
    await ws.closed();
  });
});

function digest(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
