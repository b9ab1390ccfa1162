/**
 * Fuzzing over TCP (hardening: never crash, never leak). For a bounded time (10 s; FUZZ_SECONDS to lengthen,
 * FUZZ_SEED to change the seeded PRNG) many concurrent connections send mutated and random requests, whole,
 * byte by byte with pauses, pipelined, or cut off by a close or a reset. Every byte the server sends back must
 * begin with a status line. Afterwards the server still answers a normal GET exactly, is alive, logged no uncaught
 * exception, its descriptor count comes back near the baseline, no CGI child is left, and no partial upload
 * remains on disk.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get } from '../helpers/http.js';
import { becomes } from '../helpers/wait.js';

const SECONDS = Number(process.env['FUZZ_SECONDS'] ?? 10);
const SEED = Number(process.env['FUZZ_SEED'] ?? 424242);
const WORKERS = 24;

const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  body_limit 64k
  client_header_timeout 2s
  client_body_timeout 2s
  keepalive_timeout 2s
  send_timeout 3s
  cgi_timeout 3s
  location / {
    methods GET POST DELETE
    root {DIR}/www
    default_file index.html
    directory_listing on
  }
  location /up {
    methods GET POST DELETE
    root {DIR}/www/up
    directory_listing on
  }
  location /cgi-bin {
    methods GET POST
    root {DIR}/cgi
    cgi .py /usr/bin/python3
  }
}
`;

const INDEX = '<p>fuzz target index</p>\n';
const HELLO_PY = `import os, sys
if os.environ.get("CONTENT_LENGTH"):
    sys.stdin.buffer.read()
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\nhello " + os.environ.get("QUERY_STRING", "") + "\\n")
`;

/** sfc32, seeded: the same FUZZ_SEED gives the same requests (timing still varies). */
class Rng {
  private s = [0x9e3779b9, 0x243f6a88, 0xb7e15162, 0];
  constructor(seed: number) {
    this.s[3] = seed >>> 0;
    for (let i = 0; i < 12; i++) this.u32();
  }
  u32(): number {
    const [a, b, c, d] = this.s as [number, number, number, number];
    const t = (((a + b) | 0) + d) | 0;
    this.s = [b ^ (b >>> 9), (c + (c << 3)) | 0, (((c << 21) | (c >>> 11)) + t) | 0, (d + 1) | 0];
    return t >>> 0;
  }
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

const BOUNDARY = 'fuzzboundary';
const MULTIPART = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="m.txt"\r\n\r\nmultipart data\r\n--${BOUNDARY}--\r\n`;

/** Valid requests of every kind the server handles; the fuzzer mutates them. */
const TEMPLATES: readonly string[] = [
  'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n',
  'GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
  'HEAD /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n',
  'GET /big.bin HTTP/1.1\r\nHost: localhost\r\nRange: bytes=0-99,200-299\r\n\r\n',
  'GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n',
  'GET /up/ HTTP/1.1\r\nHost: localhost\r\n\r\n',
  'GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  'GET /index.html HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: "x", *\r\nAccept-Encoding: gzip\r\n\r\n',
  'POST /up/f.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\r\nhello world',
  'POST /up/c.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n',
  'POST /up/e.txt HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody',
  `POST /up/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${MULTIPART.length}\r\n\r\n${MULTIPART}`,
  'DELETE /up/f.txt HTTP/1.1\r\nHost: localhost\r\n\r\n',
  'GET /cgi-bin/hello.py?a=1 HTTP/1.1\r\nHost: localhost\r\n\r\n',
  'POST /cgi-bin/hello.py HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nx=1',
  'POST /cgi-bin/hello.py HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nx=1\r\n0\r\n\r\n',
  'GET http://localhost/index.html HTTP/1.1\r\nHost: other\r\n\r\n',
];
const SPECIALS = [0x0d, 0x0a, 0x00, 0x20, 0x09, 0x3a, 0x7f, 0xff, 0x2c, 0x3b];

function mutate(rng: Rng, b: Buffer): Buffer {
  const at = rng.int(b.length + 1);
  switch (rng.int(7)) {
    case 0:
      if (b.length > 0) b[rng.int(b.length)] = rng.int(256);
      return b;
    case 1:
      return Buffer.concat([b.subarray(0, at), Buffer.from([rng.pick(SPECIALS)]), b.subarray(at)]);
    case 2:
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(10)))]);
    case 3:
      return b.subarray(0, at);
    case 4: {
      const s = rng.int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), b.subarray(s, Math.min(b.length, s + 1 + rng.int(30))), b.subarray(at)]);
    }
    case 5: {
      // A body or a length that disagrees with the framing.
      const lens = ['0', '1', '99999', '70000', '-1', '5, 5'];
      return Buffer.from(
        b.toString('latin1').replace(/Content-Length: \d+/, `Content-Length: ${rng.pick(lens)}`),
        'latin1',
      );
    }
    default:
      return Buffer.concat([
        b.subarray(0, at),
        Buffer.alloc(rng.int(3000), rng.pick([0x61, 0x2f, 0x30])),
        b.subarray(at),
      ]);
  }
}

/** One request's bytes: a template mutated 0-3 times, or random bytes; sometimes several pipelined. */
function requestBytes(rng: Rng): Buffer {
  if (rng.chance(0.08)) {
    const n = rng.int(400);
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = rng.chance(0.3) ? rng.pick(SPECIALS) : rng.int(256);
    return b;
  }
  const count = rng.chance(0.2) ? 2 + rng.int(5) : 1;
  const parts: Buffer[] = [];
  for (let k = 0; k < count; k++) {
    let b = Buffer.from(rng.pick(TEMPLATES), 'latin1');
    const m = rng.chance(0.25) ? 0 : 1 + rng.int(3);
    for (let i = 0; i < m; i++) b = Buffer.from(mutate(rng, b));
    parts.push(b);
  }
  return Buffer.concat(parts);
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What the fuzzer saw, for the report and the assertions. */
interface Tally {
  connections: number;
  refused: number;
  withResponse: number;
  badStart: string[];
}

/** One connection: send `data` in the chosen way, read whatever comes back, end it. */
async function oneConnection(port: number, rng: Rng, tally: Tally): Promise<void> {
  const data = requestBytes(rng);
  const mode = rng.int(6);
  const sock = net.connect({ port, host: '127.0.0.1' });
  const received: Buffer[] = [];
  let closed = false;
  let answered: () => void = () => undefined;
  /** Resolves a little after the first bytes come back (the rest of a small answer follows at once). */
  const answer = new Promise<void>((resolve) => (answered = () => setTimeout(resolve, 50)));
  sock.on('data', (d: Buffer) => {
    if (received.length === 0) answered();
    received.push(d);
  });
  sock.on('error', () => undefined);
  const ended = new Promise<void>((resolve) =>
    sock.on('close', () => {
      closed = true;
      resolve();
    }),
  );
  const connected = await new Promise<boolean>((resolve) => {
    sock.once('connect', () => {
      resolve(true);
    });
    sock.once('error', () => {
      resolve(false);
    });
  });
  tally.connections++;
  if (!connected) {
    tally.refused++;
    return;
  }
  try {
    switch (mode) {
      case 0: // all at once, then wait for the (first) answer
      case 1: // all at once, then wait for the close (the server's timeout for an idle or stalled connection)
        sock.write(data);
        await Promise.race([ended, mode === 0 ? answer : delay(1500), delay(1500)]);
        break;
      case 2: {
        // slowly, in small pieces with pauses
        let p = 0;
        while (p < data.length && !closed) {
          const n = 1 + rng.int(20);
          sock.write(data.subarray(p, p + n));
          p += n;
          await delay(rng.int(40));
        }
        await Promise.race([ended, delay(1000)]);
        break;
      }
      case 3: // part of it, then a FIN
        sock.end(data.subarray(0, rng.int(data.length + 1)));
        await Promise.race([ended, delay(1000)]);
        break;
      case 4: // part of it, then a reset
        sock.write(data.subarray(0, rng.int(data.length + 1)));
        await delay(rng.int(30));
        sock.resetAndDestroy();
        break;
      default: // all of it, then a reset before the answer is read
        sock.write(data);
        await delay(rng.int(10));
        sock.resetAndDestroy();
        break;
    }
  } finally {
    if (!closed) sock.destroy();
  }
  const got = Buffer.concat(received);
  if (got.length > 0) {
    tally.withResponse++;
    if (!/^HTTP\/1\.1 [1-5]\d\d /.test(got.toString('latin1', 0, Math.min(got.length, 13)))) {
      tally.badStart.push(
        JSON.stringify(got.toString('latin1', 0, 80)) + ' for ' + JSON.stringify(data.toString('latin1', 0, 120)),
      );
    }
  }
}

let srv: RunningServer;
let pid: number;

before(async () => {
  srv = await startServer({
    config: CONFIG,
    files: {
      'www/index.html': INDEX,
      'www/big.bin': Buffer.alloc(300 * 1024, 0x42),
      'www/up/.keep': '',
      'cgi/hello.py': HELLO_PY,
    },
  });
  pid = srv.proc.pid!;
});

after(async () => {
  await srv.stop();
});

const fdCount = (): number => fs.readdirSync(`/proc/${pid}/fd`).length;

/** Child processes of the server (CGI scripts), from /proc. */
function children(): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe(`TCP fuzzing for ${SECONDS} s (seed ${SEED})`, () => {
  test('the server survives, answers correctly, and releases every descriptor, child and temp file', async (t) => {
    // Warm up: the first request opens whatever the server keeps open for good (log files, cached fds).
    for (const p of ['/index.html', '/cgi-bin/hello.py', '/up/']) await get(srv.port, p);
    await becomes(() => children().length === 0, 5000, 100);
    const baseline = fdCount();

    const tally: Tally = { connections: 0, refused: 0, withResponse: 0, badStart: [] };
    const deadline = Date.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, w) => {
        const rng = new Rng(SEED * 31 + w);
        while (Date.now() < deadline) await oneConnection(srv.port, rng, tally);
      }),
    );
    t.diagnostic(`${tally.connections} connections, ${tally.withResponse} answered, ${tally.refused} refused`);

    assert.equal(srv.proc.exitCode, null, `server exited:\n${srv.output().slice(-2000)}`);
    assert.ok(!/uncaught/i.test(srv.output()), srv.output().slice(-4000));
    assert.deepEqual(tally.badStart, [], 'responses not starting with a status line');
    assert.ok(tally.connections > WORKERS * 5, `too few connections: ${tally.connections}`);
    assert.equal(tally.refused, 0, 'connections refused while fuzzing');

    // Timeouts are 2-3 s and lingering closes 2 s: give the server time to let everything go.
    const settled = await becomes(() => fdCount() <= baseline + 2, 20_000, 100);
    assert.ok(settled, `descriptors: ${fdCount()} now, ${baseline} before`);
    assert.ok(await becomes(() => children().length === 0, 10_000, 100), `CGI children left: ${children().join(' ')}`);
    const leftovers = fs.readdirSync(path.join(srv.dir, 'www/up')).filter((n) => n.endsWith('.part'));
    assert.deepEqual(leftovers, [], 'partial uploads left on disk');

    const r = await get(srv.port, '/index.html');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), INDEX);
    const r2 = await get(srv.port, '/cgi-bin/hello.py?after=1');
    assert.equal(r2.status, 200);
    assert.equal(r2.body.toString(), 'hello after=1\n');
    assert.equal(srv.proc.exitCode, null);
  });
});
