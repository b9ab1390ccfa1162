/**
 * NativeTransport and NativeListener through real sockets: the harness (test/native/harness.ts) and small
 * servers written here, hit by raw node:net clients and curl, all on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TransportEvents } from '../../src/server/transport.js';
import { NativeListener } from '../../src/server/native/listener.js';
import type { NativeTransport } from '../../src/server/native/transport.js';
import { until } from '../helpers/wait.js';
import { startNativeHarness, type Harness } from '../native/harness.js';
import {
  connect,
  delay,
  ensureTool,
  exchange,
  mustNative,
  native,
  readAll,
  splitResponses,
} from '../native/support.js';

const n = native();
const skip = typeof n === 'string' ? n : false;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const GET = (p: string, close = false): string =>
  `GET ${p} HTTP/1.1\r\nHost: t\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;

/** A listener whose connections are served by `make(t)`; closed by the returned function. */
function serve(
  make: (t: NativeTransport) => TransportEvents,
  highWaterMark?: number,
): { port: number; close: () => void } {
  const { loop } = mustNative(n);
  const opts = highWaterMark !== undefined ? { highWaterMark } : {};
  const r = NativeListener.listen(loop, { host: '127.0.0.1', port: 0, transport: opts }, (t) => t.bind(make(t)));
  if (!r.ok) throw new Error(r.error);
  const l = r.value;
  return { port: l.port, close: () => l.close() };
}

/** Events that do nothing, to override piecemeal. */
const quiet = (): TransportEvents => ({ onData() {}, onEnd() {}, onDrain() {}, onClose() {} });

function run(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 30_000, maxBuffer: 64 << 20 }, (e, stdout) =>
      e ? reject(e) : resolve(stdout),
    );
  });
}

describe('NativeTransport through the harness', { skip }, () => {
  let h: Harness;
  let file: string;
  let fileData: Buffer;

  before(() => {
    file = path.join(os.tmpdir(), `native-transport-${process.pid}.bin`);
    fileData = randomBytes(5 * 1024 * 1024);
    fs.writeFileSync(file, fileData);
    h = startNativeHarness('127.0.0.1', 0, { file });
  });
  after(() => {
    h.close();
    fs.rmSync(file, { force: true });
  });

  it('serves 200 concurrent keep-alive connections, 5 requests each', async () => {
    const clients = await Promise.all(Array.from({ length: 200 }, () => connect(h.port)));
    await until(() => h.connections === 200, '200 connections accepted');
    await Promise.all(
      clients.map(async (s) => {
        for (let i = 0; i < 5; i++) {
          const [body] = await exchange(s, GET('/'), 1);
          assert.equal(body?.length, 1024);
          assert.ok(body?.every((c) => c === 0x78));
        }
        s.end();
      }),
    );
    await until(() => h.connections === 0, 'all connections closed by the server after the clients ended');
  });

  it('answers 50 pipelined requests, sent in one write, in order', async () => {
    const s = await connect(h.port);
    const reqs = Array.from({ length: 50 }, (_, i) => GET(`/big?n=${(i + 1) * 997}`)).join('');
    const bodies = await exchange(s, reqs, 50);
    bodies.forEach((b, i) => assert.equal(b.length, (i + 1) * 997, `response ${i} out of order or cut`));
    s.destroy();
  });

  it('sends a 5 MiB file by sendfile, byte for byte, to a fast reader and to a slow one', async () => {
    const fast = await connect(h.port);
    const all = readAll(fast);
    fast.write(GET('/file', true));
    const [body] = splitResponses(await all);
    assert.ok(body !== undefined && body.equals(fileData), 'fast reader got other bytes');

    const slow = await connect(h.port);
    const parts: Buffer[] = [];
    const done = new Promise<void>((resolve) => slow.once('end', () => resolve()));
    slow.on('data', (d: Buffer) => {
      parts.push(d);
      slow.pause();
      setTimeout(() => slow.resume(), 1);
    });
    slow.write(GET('/file', true));
    await done;
    const [body2] = splitResponses(Buffer.concat(parts));
    assert.ok(body2 !== undefined && body2.equals(fileData), 'slow reader got other bytes');
  });

  it('accepts a 5 MiB upload, sha256 compared', async () => {
    const s = await connect(h.port);
    const up = randomBytes(5 * 1024 * 1024);
    const [body] = await exchange(
      s,
      Buffer.concat([Buffer.from(`POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: ${up.length}\r\n\r\n`), up]),
      1,
    );
    assert.equal(body?.toString(), `${up.length} ${sha(up)}`);
    s.destroy();
  });

  it('curl: three requests on one keep-alive connection, and Connection: close', async (t) => {
    const why = ensureTool('curl');
    if (why !== null) {
      t.skip(why);
      return;
    }
    const url = `http://127.0.0.1:${h.port}`;
    const w = ['-o', '/dev/null', '-w', '%{http_code} %{size_download} %{num_connects}\\n'];
    const out = await run('curl', ['-s', ...w, `${url}/`, ...w, `${url}/a`, ...w, `${url}/b`]);
    assert.deepEqual(out.trim().split('\n'), ['200 1024 1', '200 1024 0', '200 1024 0']);
    const closed = await run('curl', ['-s', '-H', 'Connection: close', ...w, `${url}/`, ...w, `${url}/`]);
    assert.deepEqual(closed.trim().split('\n'), ['200 1024 1', '200 1024 1']);
    const bin = await new Promise<Buffer>((resolve, reject) =>
      execFile('curl', ['-s', `${url}/file`], { encoding: 'buffer', maxBuffer: 64 << 20 }, (e, stdout) =>
        e ? reject(e) : resolve(stdout),
      ),
    );
    assert.ok(bin.equals(fileData));
  });
});

describe('NativeTransport semantics', { skip }, () => {
  after(async () => {
    // Every test closed what it opened: nothing is left in the epoll set (a leak would also hold the process).
    const { loop } = mustNative(n);
    await until(() => loop.registered === 0, 'the epoll set to empty', 2000).catch(() => undefined);
    assert.equal(loop.registered, 0, `${loop.registered} descriptors still registered`);
  });

  it('large writes: a slow reader makes write() say false, the queue stays bounded, onDrain resumes', async () => {
    const HWM = 64 * 1024;
    const TOTAL = 8 * 1024 * 1024;
    const chunk = randomBytes(64 * 1024);
    let falses = 0;
    let drains = 0;
    let maxQueued = 0;
    let closed = false;
    const srv = serve((t) => {
      let sent = 0;
      const pump = (): void => {
        while (sent < TOTAL) {
          sent += chunk.length;
          const ok = t.write(Buffer.from(chunk));
          maxQueued = Math.max(maxQueued, t.writableLength);
          if (!ok) {
            falses++;
            return;
          }
        }
        t.closeAfterWrite();
      };
      setImmediate(pump);
      return {
        ...quiet(),
        onDrain() {
          drains++;
          pump();
        },
        onClose() {
          closed = true;
        },
      };
    }, HWM);
    try {
      const s = await connect(srv.port);
      const h = createHash('sha256');
      let got = 0;
      s.on('data', (d: Buffer) => {
        h.update(d);
        got += d.length;
        s.pause();
        setTimeout(() => s.resume(), 1);
      });
      await new Promise<void>((resolve) => s.once('end', () => resolve()));
      assert.equal(got, TOTAL);
      const expect = createHash('sha256');
      for (let i = 0; i < TOTAL / chunk.length; i++) expect.update(chunk);
      assert.equal(h.digest('hex'), expect.digest('hex'));
      assert.ok(falses > 0, 'write() never said false');
      assert.ok(drains >= falses, `onDrain ${drains} times for ${falses} falses`);
      assert.ok(maxQueued <= HWM + chunk.length, `queue grew to ${maxQueued}`);
      await until(() => closed, 'onClose after closeAfterWrite');
    } finally {
      srv.close();
    }
  });

  it('half-close: the peer FIN is onEnd, writing goes on after it, then both sides close', async () => {
    const order: string[] = [];
    let received = 0;
    const srv = serve((t) => ({
      ...quiet(),
      onData(d) {
        received += d.length;
      },
      onEnd() {
        order.push('end');
        t.write(Buffer.from(`got ${received} bytes`));
        t.end();
      },
      onClose() {
        order.push('close');
      },
    }));
    try {
      const s = await connect(srv.port);
      const all = readAll(s);
      s.end('hello');
      assert.equal((await all).toString(), 'got 5 bytes');
      await until(() => order.length === 2, 'server onClose');
      assert.deepEqual(order, ['end', 'close']);
    } finally {
      srv.close();
    }
  });

  it('peer reset: onClose without onEnd, also while a large write is queued; the registration is released', async () => {
    const { loop } = mustNative(n);
    const base = loop.registered;
    const seen: string[] = [];
    let big = false;
    const srv = serve((t) => ({
      onData() {
        seen.push('data');
        if (big) for (let i = 0; i < 64; i++) t.write(Buffer.alloc(256 * 1024)); // far more than the socket takes
      },
      onEnd() {
        seen.push('end');
      },
      onDrain() {},
      onClose() {
        seen.push('close');
      },
    }));
    try {
      const s1 = await connect(srv.port);
      s1.write('abc');
      await until(() => seen.includes('data'), 'first bytes');
      s1.resetAndDestroy();
      await until(() => seen.includes('close'), 'onClose after RST');
      assert.deepEqual(seen, ['data', 'close']);

      seen.length = 0;
      big = true;
      const s2 = await connect(srv.port);
      s2.pause(); // reads nothing: the server's queue stays full
      s2.write('go');
      await until(() => seen.includes('data'), 'request'); // its writes were flushed in that same turn
      s2.resetAndDestroy();
      await until(() => seen.includes('close'), 'onClose after RST with output queued');
      assert.equal(seen.includes('end'), false);
      assert.equal(loop.registered, base + 1); // only the listener is left
    } finally {
      srv.close();
    }
    assert.equal(loop.registered, base);
  });

  it('fd reuse within one batch: an event for a closed fd whose number was reused is dropped by generation', async () => {
    const { addon, loop } = mustNative(n);
    const ts: NativeTransport[] = [];
    let reusedFd = -1;
    let reusedGen = 0;
    let oldFd = -1;
    let eventsForNew = 0;
    let staleBefore = 0;
    let windowAtB = -1;
    const srv = serve((t) => {
      ts.push(t);
      const me = ts.length;
      return {
        ...quiet(),
        onEnd() {
          t.destroy();
        },
        onData() {
          if (me !== 2) return;
          // B's event runs first in the batch; A's (its peer closed) is still to come in the same batch.
          windowAtB = loop.window;
          staleBefore = loop.stale;
          const a = ts[0];
          if (a === undefined) return;
          oldFd = a.fd;
          a.destroy(); // close(2) now: the number is free
          reusedFd = addon.listenTcp('127.0.0.1', 0, 1, false); // lowest free number: A's
          reusedGen = loop.register(reusedFd, addon.constants.EPOLLIN, {
            onEvents: () => {
              eventsForNew++;
            },
          });
        },
      };
    });
    try {
      const a = await connect(srv.port);
      const b = await connect(srv.port);
      await until(() => ts.length === 2, 'both accepted and bound');
      b.write('x'); // ready first
      a.end(); // then A: readable (EOF)
      // A's event is in the same batch as B's, dispatched right after B's handler returns: done by now.
      await until(() => reusedFd >= 0, 'B handled');
      assert.equal(reusedFd, oldFd, 'the new descriptor did not reuse the number (test premise)');
      assert.equal(loop.stale, staleBefore + 1, 'the stale event was not dropped');
      assert.equal(eventsForNew, 0, "the new registration received the old descriptor's event");
      assert.ok(windowAtB > 0);
      loop.close(reusedFd, reusedGen, true);
      a.destroy();
      b.destroy();
    } finally {
      srv.close();
    }
  });

  it('pause: no wake-ups and no CPU while paused with data pending; resume delivers all of it', async () => {
    const { loop } = mustNative(n);
    const held: { t: NativeTransport | null } = { t: null };
    let received = 0;
    let ended = false;
    const srv = serve((t) => {
      held.t = t;
      return {
        ...quiet(),
        onData(d) {
          received += d.length;
          t.pause();
        },
        onEnd() {
          ended = true;
          t.destroy();
        },
      };
    });
    try {
      const s = await connect(srv.port);
      const payload = randomBytes(8 * 1024 * 1024);
      s.end(payload); // far more than the kernel buffers hold: most of it waits in the client
      await until(() => received > 0, 'first chunk');
      await delay(20); // the client fills the kernel buffers meanwhile: data pending is the point
      const w0 = loop.window;
      const c0 = process.cpuUsage();
      const start = Date.now();
      await delay(300);
      const cpu = process.cpuUsage(c0);
      const wakeups = loop.window - w0;
      const cpuMs = (cpu.user + cpu.system) / 1000;
      assert.ok(wakeups <= 3, `${wakeups} wake-ups in ${Date.now() - start} ms while paused`);
      assert.ok(cpuMs < 100, `${cpuMs} ms of CPU in 300 ms while paused`);
      const before = received;
      assert.ok(before < payload.length);
      held.t?.resume();
      // One read per wake-up, and pause() again after each: resume in a loop until all arrived.
      const timer = setInterval(() => held.t?.resume(), 1);
      try {
        await until(() => ended, 'all data and EOF after resume', 20_000);
      } finally {
        clearInterval(timer);
      }
      assert.equal(received, payload.length);
    } finally {
      srv.close();
    }
  });

  it('paused after both FINs (EPOLLHUP): parked, no spinning; resume reads what is left, then closes', async () => {
    const { loop } = mustNative(n);
    const held: { t: NativeTransport | null } = { t: null };
    let received = 0;
    const order: string[] = [];
    const srv = serve((t) => {
      held.t = t;
      return {
        ...quiet(),
        onData(d) {
          if (received === 0) {
            t.pause();
            t.end(); // our FIN: with the peer's, the socket reports EPOLLHUP at every wake-up
          }
          received += d.length;
        },
        onEnd() {
          order.push('end');
        },
        onClose() {
          order.push('close');
        },
      };
    });
    try {
      const s = await connect(srv.port);
      const payload = randomBytes(200 * 1024);
      const gotEnd = new Promise<void>((resolve) => s.once('end', () => resolve()));
      s.end(payload);
      await gotEnd; // the server's FIN arrived: both directions are shut
      const w0 = loop.window;
      const c0 = process.cpuUsage();
      await delay(300);
      const cpu = process.cpuUsage(c0);
      assert.ok(loop.window - w0 <= 3, `${loop.window - w0} wake-ups while paused after HUP`);
      assert.ok((cpu.user + cpu.system) / 1000 < 100);
      assert.equal(order.length, 0, `events while parked: ${order.join()}`);
      const timer = setInterval(() => held.t?.resume(), 1);
      try {
        held.t?.resume();
        await until(() => order.includes('close'), 'close after the rest was read', 10_000);
      } finally {
        clearInterval(timer);
      }
      assert.equal(received, payload.length);
      assert.deepEqual(order, ['end', 'close']);
    } finally {
      srv.close();
    }
  });

  it('destroy: onClose comes later, never from inside destroy(); every call after it is a no-op', async () => {
    let inDestroy = false;
    let closedInside = false;
    let closes = 0;
    let after: { write: boolean; send: number; len: number } | null = null;
    let eventsAfterClose = 0;
    let closedFlag = false;
    const srv = serve((t) => ({
      onData() {
        if (closedFlag) eventsAfterClose++;
        inDestroy = true;
        t.destroy();
        inDestroy = false;
        t.destroy();
        after = { write: t.write(Buffer.from('x')), send: t.sendFile(0, 0, 10), len: t.writableLength };
        t.pause();
        t.resume();
        t.end();
        t.closeAfterWrite();
      },
      onEnd() {
        if (closedFlag) eventsAfterClose++;
      },
      onDrain() {
        if (closedFlag) eventsAfterClose++;
      },
      onClose() {
        if (inDestroy) closedInside = true;
        closes++;
        closedFlag = true;
      },
    }));
    try {
      const s = await connect(srv.port);
      const all = readAll(s);
      s.write('hi');
      assert.equal((await all).length, 0);
      await until(() => closes > 0, 'onClose');
      await delay(20); // only a chance for a wrong late event to show up: it cannot make the test pass
      assert.equal(closedInside, false);
      assert.equal(closes, 1);
      assert.equal(eventsAfterClose, 0);
      assert.deepEqual(after, { write: true, send: -os.constants.errno.EPIPE, len: 0 });
    } finally {
      srv.close();
    }
  });

  it('addresses: remote and local address and port of both IPv4 and IPv6 listeners', async () => {
    const { loop } = mustNative(n);
    let seen: string[] = [];
    const srv = serve((t) => {
      seen = [t.remoteAddress, String(t.remotePort), t.localAddress, String(t.localPort)];
      t.destroy();
      return quiet();
    });
    let s: net.Socket | null = null;
    try {
      s = await connect(srv.port);
      await until(() => seen.length > 0, 'accepted');
      assert.deepEqual(seen, ['127.0.0.1', String(s.localPort), '127.0.0.1', String(srv.port)]);
    } finally {
      s?.destroy();
      srv.close();
    }
    const r6 = NativeListener.listen(loop, { host: '[::1]', port: 0, ipv6Only: true }, (t) => {
      seen = [t.remoteAddress, t.localAddress];
      t.destroy();
    });
    if (!r6.ok) return; // no IPv6 loopback here
    try {
      seen = [];
      const s6 = await connect(r6.value.port, '::1');
      await until(() => seen.length > 0, 'accepted on ::1');
      assert.deepEqual(seen, ['::1', '::1']);
      s6.destroy();
    } finally {
      r6.value.close();
    }
  });

  it('listen: a port in use is an error Result naming EADDRINUSE', () => {
    const { loop } = mustNative(n);
    const a = NativeListener.listen(loop, { host: '127.0.0.1', port: 0 }, () => undefined);
    assert.ok(a.ok);
    if (!a.ok) return;
    const b = NativeListener.listen(loop, { host: '127.0.0.1', port: a.value.port }, () => undefined);
    a.value.close();
    assert.equal(b.ok, false);
    if (!b.ok) assert.match(b.error, /EADDRINUSE/);
    const c = NativeListener.listen(loop, { host: 'localhost', port: 0 }, () => undefined);
    assert.equal(c.ok, false);
  });
});
