/**
 * Timeouts (DESIGN §5): an incomplete head → 408 and close within client_header_timeout (plus the 250 ms sweep);
 * a stalled body → 408; an idle keep-alive connection and a connection that never sends anything are closed
 * silently. Times are measured, not slept: each test waits for the event and checks when it came.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { RawClient } from '../helpers/http.js';

const TIMEOUT_MS = 1000;
/** The sweep's period (src/server/timeouts.ts): a deadline fires at most this late. */
const SWEEP_MS = 250;
/** Scheduling slack for a loaded CI machine. */
const SLACK_MS = 400;

const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  client_header_timeout 1s
  client_body_timeout 1s
  keepalive_timeout 1s
  location / {
    methods GET POST
    root {DIR}/www
  }
}
`;

let srv: RunningServer;

before(async () => {
  srv = await startServer({ config: CONFIG, files: { 'www/a.txt': 'alpha\n' } });
});

after(async () => {
  await srv.stop();
  fs.rmSync(srv.dir, { recursive: true, force: true });
});

/** Asserts that `elapsed` lies in [timeout - 50, timeout + sweep + slack]. */
function assertAround(elapsed: number, what: string): void {
  assert.ok(elapsed >= TIMEOUT_MS - 50, `${what} after ${elapsed} ms: too early (timeout ${TIMEOUT_MS} ms)`);
  assert.ok(
    elapsed <= TIMEOUT_MS + SWEEP_MS + SLACK_MS,
    `${what} after ${elapsed} ms: too late (timeout ${TIMEOUT_MS} ms)`,
  );
}

describe('timeouts', () => {
  test('half a head, then quiet: 408 within client_header_timeout, then close', async () => {
    const start = Date.now();
    const c = await RawClient.connect(srv.port);
    try {
      c.send('GET /a.txt HTTP/1.1\r\nHo');
      const r = await c.read({ timeoutMs: 5000 });
      assertAround(Date.now() - start, '408');
      assert.equal(r.status, 408);
      assert.equal(r.reason, 'Request Timeout');
      assert.equal(r.header('connection'), 'close');
      assert.match(r.body.toString(), /408 Request Timeout/);
      assert.equal((await c.waitClose(2000)).length, 0);
    } finally {
      c.close();
    }
  });

  test('the header timeout bounds the whole head: a byte every 200 ms does not keep it alive', async () => {
    const start = Date.now();
    const c = await RawClient.connect(srv.port);
    try {
      const wire = 'GET /a.txt HTTP/1.1\r\nHost: localhost\r\n';
      let i = 0;
      const drip = setInterval(() => {
        if (i < wire.length && !c.closed) c.send(wire[i++]!);
      }, 200);
      try {
        const r = await c.read({ timeoutMs: 5000 });
        assertAround(Date.now() - start, '408');
        assert.equal(r.status, 408);
      } finally {
        clearInterval(drip);
      }
      await c.waitClose(2000);
    } finally {
      c.close();
    }
  });

  test('a connection that sends nothing is closed silently', async () => {
    const start = Date.now();
    const c = await RawClient.connect(srv.port);
    try {
      const rest = await c.waitClose(5000);
      assertAround(Date.now() - start, 'close');
      assert.equal(rest.toString('latin1'), '', 'no bytes, no 408');
    } finally {
      c.close();
    }
  });

  test('an idle keep-alive connection is closed silently after keepalive_timeout', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send('GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const r = await c.read();
      assert.equal(r.status, 200);
      assert.equal(r.header('connection'), 'keep-alive');
      const idleFrom = Date.now();
      const rest = await c.waitClose(5000);
      assertAround(Date.now() - idleFrom, 'keep-alive close');
      assert.equal(rest.toString('latin1'), '', 'an idle close sends nothing');
    } finally {
      c.close();
    }
  });

  test('each request restarts the keep-alive timer: requests 400 ms apart outlive the timeout', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      const start = Date.now();
      for (let i = 0; i < 5; i++) {
        c.send('GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n');
        const r = await c.read();
        assert.equal(r.status, 200, `request ${i}`);
        await new Promise((res) => setTimeout(res, 400));
        assert.equal(c.closed, false, `closed before request ${i + 1}`);
      }
      assert.ok(Date.now() - start > 1.5 * TIMEOUT_MS);
    } finally {
      c.close();
    }
  });

  test('a stalled request body: 408 after client_body_timeout, nothing stored', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send('POST /stalled.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789');
      const start = Date.now();
      const r = await c.read({ timeoutMs: 5000 });
      assertAround(Date.now() - start, '408');
      assert.equal(r.status, 408);
      assert.equal(r.header('connection'), 'close');
      await c.waitClose(2000);
    } finally {
      c.close();
    }
    assert.deepEqual(fs.readdirSync(path.join(srv.dir, 'www')), ['a.txt']);
  });

  test('a body that keeps flowing is not timed out', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      const parts = 6;
      c.send(`POST /flowing.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${parts}\r\nConnection: close\r\n\r\n`);
      for (let i = 0; i < parts; i++) {
        await new Promise((res) => setTimeout(res, 300)); // 1.8 s in all, each gap under the 1 s timeout
        c.send(String(i));
      }
      const r = await c.read({ timeoutMs: 3000 });
      assert.equal(r.status, 201);
    } finally {
      c.close();
    }
    assert.equal(fs.readFileSync(path.join(srv.dir, 'www/flowing.txt'), 'latin1'), '012345');
    fs.unlinkSync(path.join(srv.dir, 'www/flowing.txt'));
  });
});
