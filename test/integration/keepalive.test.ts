/**
 * Persistent connections (RFC 9112 §9.3, DESIGN §5): keep-alive by default in 1.1 and on request in 1.0, many
 * requests on one connection, pipelining answered in order, a head fed one byte at a time, and closes on request.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { startServer, type RunningServer } from '../helpers/server.js';
import { RawClient } from '../helpers/http.js';

const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  client_header_timeout 5s
  keepalive_timeout 5s
  location / {
    methods GET POST
    root {DIR}/www
    default_file index.html
  }
}
`;

const N_PIPE = 10;
/** Distinct files, each a different size so that a mix-up shows in the framing too. */
const pipeFile = (i: number): string => `file number ${i}\n${'#'.repeat(i * 37)}\n`;

let srv: RunningServer;

before(async () => {
  const files: Record<string, string> = { 'www/index.html': '<p>index</p>\n', 'www/a.txt': 'alpha\n' };
  for (let i = 0; i < N_PIPE; i++) files[`www/p${i}.txt`] = pipeFile(i);
  srv = await startServer({ config: CONFIG, files });
});

after(async () => {
  await srv.stop();
  fs.rmSync(srv.dir, { recursive: true, force: true });
});

const req = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n${extra}\r\n`;

describe('keep-alive', () => {
  test('100 requests on one connection', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      for (let i = 0; i < 100; i++) {
        const path = `/p${i % N_PIPE}.txt`;
        c.send(req(path));
        const r = await c.read();
        assert.equal(r.status, 200, `request ${i}`);
        assert.equal(r.header('connection'), 'keep-alive');
        assert.equal(r.body.toString(), pipeFile(i % N_PIPE), `request ${i}`);
        assert.equal(c.closed, false);
      }
    } finally {
      c.close();
    }
  });

  test('10 pipelined requests in one write are answered in order', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      let wire = '';
      for (let i = 0; i < N_PIPE; i++) wire += req(`/p${i}.txt`);
      c.send(wire);
      for (let i = 0; i < N_PIPE; i++) {
        const r = await c.read();
        assert.equal(r.status, 200, `response ${i}`);
        assert.equal(r.body.toString(), pipeFile(i), `response ${i} is for request ${i}`);
      }
    } finally {
      c.close();
    }
  });

  test('pipelined requests mixing 200, 404, HEAD and a POST body are answered in order', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send(
        req('/p1.txt') +
          req('/missing') +
          'HEAD /p2.txt HTTP/1.1\r\nHost: localhost\r\n\r\n' +
          'POST /posted.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\n\r\nposted' +
          req('/posted.txt') +
          req('/p3.txt', 'Connection: close\r\n'),
      );
      const r1 = await c.read();
      assert.equal(r1.body.toString(), pipeFile(1));
      assert.equal((await c.read()).status, 404);
      const h = await c.read({ head: true });
      assert.equal(h.status, 200);
      assert.equal(h.header('content-length'), String(pipeFile(2).length));
      assert.equal((await c.read()).status, 201);
      const back = await c.read();
      assert.equal(back.status, 200);
      assert.equal(back.body.toString(), 'posted');
      const last = await c.read();
      assert.equal(last.body.toString(), pipeFile(3));
      assert.equal(last.header('connection'), 'close');
      assert.equal((await c.waitClose(3000)).length, 0);
    } finally {
      c.close();
    }
  });

  test('a pipeline split across writes at odd places', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      let wire = '';
      for (let i = 0; i < N_PIPE; i++) wire += req(`/p${i}.txt`);
      for (let at = 0; at < wire.length; at += 13) {
        c.send(wire.slice(at, at + 13));
        await new Promise((r) => setImmediate(r));
      }
      for (let i = 0; i < N_PIPE; i++) assert.equal((await c.read()).body.toString(), pipeFile(i));
    } finally {
      c.close();
    }
  });

  test('a request fed one byte at a time', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      const wire = req('/p7.txt', 'User-Agent: slow-typist\r\nAccept: */*\r\n');
      c.socket.setNoDelay(true); // each byte leaves as its own segment
      for (const ch of wire) {
        c.send(ch);
        await new Promise((r) => setTimeout(r, 1));
      }
      const r = await c.read();
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), pipeFile(7));
      // The connection is still usable afterwards.
      c.send(req('/a.txt'));
      assert.equal((await c.read()).body.toString(), 'alpha\n');
    } finally {
      c.close();
    }
  });

  test('HTTP/1.0 without keep-alive: the server closes after the response', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send('GET /a.txt HTTP/1.0\r\n\r\n');
      const r = await c.read();
      assert.equal(r.status, 200);
      assert.equal(r.version, 'HTTP/1.1');
      assert.equal(r.header('connection'), 'close');
      assert.equal(r.header('content-length'), '6');
      assert.equal(r.body.toString(), 'alpha\n');
      assert.equal((await c.waitClose(3000)).length, 0);
    } finally {
      c.close();
    }
  });

  test('HTTP/1.0 with Connection: keep-alive stays open', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      for (let i = 0; i < 3; i++) {
        c.send('GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
        const r = await c.read();
        assert.equal(r.status, 200);
        assert.equal(r.header('connection'), 'keep-alive');
        assert.equal(r.body.toString(), 'alpha\n');
      }
      assert.equal(c.closed, false);
      // The last one without keep-alive closes.
      c.send('GET /a.txt HTTP/1.0\r\n\r\n');
      assert.equal((await c.read()).header('connection'), 'close');
      await c.waitClose(3000);
    } finally {
      c.close();
    }
  });

  test('Connection: close in HTTP/1.1 closes after the response', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send(req('/a.txt', 'Connection: close\r\n'));
      const r = await c.read();
      assert.equal(r.status, 200);
      assert.equal(r.header('connection'), 'close');
      assert.equal(r.body.toString(), 'alpha\n');
      assert.equal((await c.waitClose(3000)).length, 0);
    } finally {
      c.close();
    }
  });

  test('Connection: close among other options, any case', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send(req('/a.txt', 'Connection: TE, Close\r\n'));
      const r = await c.read();
      assert.equal(r.header('connection'), 'close');
      await c.waitClose(3000);
    } finally {
      c.close();
    }
  });

  test('requests pipelined after Connection: close are not answered', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send(req('/p0.txt', 'Connection: close\r\n') + req('/p1.txt'));
      const r = await c.read();
      assert.equal(r.body.toString(), pipeFile(0));
      assert.equal((await c.waitClose(3000)).length, 0);
    } finally {
      c.close();
    }
  });

  test('a client that half-closes after its request still gets the whole response', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send(req('/p9.txt'));
      c.socket.end();
      const r = await c.read();
      assert.equal(r.body.toString(), pipeFile(9));
      await c.waitClose(3000);
    } finally {
      c.close();
    }
  });
});

test('keepalive_timeout 0 turns keep-alive off: an HTTP/1.1 response says close and the server closes', async () => {
  const off = await startServer({
    config: `server {\n  listen 127.0.0.1:{PORT}\n  keepalive_timeout 0\n  location / {\n    root {DIR}/www\n  }\n}\n`,
    files: { 'www/a.txt': 'alpha\n' },
  });
  const c = await RawClient.connect(off.port);
  try {
    c.send('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = await c.read();
    assert.equal(r.status, 200);
    assert.equal(r.header('connection'), 'close');
    assert.equal(r.body.toString(), 'alpha\n');
    assert.equal((await c.waitClose(3000)).length, 0);
  } finally {
    c.close();
    await off.stop();
    fs.rmSync(off.dir, { recursive: true, force: true });
  }
});
