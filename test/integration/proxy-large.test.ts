/**
 * A 1 GiB download and a 1 GiB upload through the proxy with the server's RSS sampled (issue 18): memory stays
 * flat because each side paces the other (the client pauses for 2 s mid-download, the upstream for 2 s
 * mid-upload: a proxy that buffered would grow by what the fast side sends meanwhile). Both bodies are hashed
 * at both ends.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get } from '../helpers/http.js';
import { httpBackend, type HttpBackend } from '../helpers/backend.js';

const SIZE = Number(process.env['PROXY_LARGE_MIB'] ?? '1024') * 1024 * 1024;
const PIECE = randomBytes(1024 * 1024);
/** A first, smaller transfer of the same kind: its peak is the baseline (buffer pools and the garbage collector's
 *  working size are reached there; how far depends on the Node version, 35 MiB on 20 and more on 26). */
const WARM = Math.min(SIZE, 256 * 1024 * 1024);
/** RSS growth allowed over the warm-up's peak, in MiB: a proxy that buffered would grow with the size. */
const SLACK_MIB = 48;

let srv: RunningServer;
let backend: HttpBackend;
let uploadHash = '';
let uploadBytes = 0;

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
  return Number(m?.[1] ?? '0');
}

/** Samples the server's RSS every 100 ms until stopped; returns the peak. */
function sampler(pid: number): { stop: () => number } {
  let peak = rssKiB(pid);
  const t = setInterval(() => {
    peak = Math.max(peak, rssKiB(pid));
  }, 100);
  return {
    stop: () => {
      clearInterval(t);
      return Math.max(peak, rssKiB(pid));
    },
  };
}

function expectedHash(): string {
  const h = createHash('sha1');
  for (let n = 0; n < SIZE; n += PIECE.length) h.update(PIECE.subarray(0, Math.min(PIECE.length, SIZE - n)));
  return h.digest('hex');
}

before(async () => {
  backend = await httpBackend(
    (req, res) => {
      if (req.url === '/warm') {
        res.end('warm');
        return;
      }
      if (req.method === 'GET') {
        const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n') ?? SIZE);
        res.setHeader('Content-Length', String(size));
        let sent = 0;
        const pump = (): void => {
          while (sent < size) {
            const piece = PIECE.subarray(0, Math.min(PIECE.length, size - sent));
            sent += piece.length;
            if (!res.write(piece)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      const h = createHash('sha1');
      let n = 0;
      let paused = false;
      const size = Number(req.headers['content-length'] ?? SIZE);
      req.on('data', (c: Buffer) => {
        h.update(c);
        n += c.length;
        if (!paused && n > size / 4) {
          paused = true; // the upstream stops reading for 2 s
          req.pause();
          setTimeout(() => req.resume(), 2000);
        }
      });
      req.on('end', () => {
        uploadHash = h.digest('hex');
        uploadBytes = n;
        res.end('stored');
      });
    },
    { readBody: false },
  );
  srv = await startServer({
    config: `server {
  host 127.0.0.1
  port {PORT}
  body_limit 0
  location / {
    proxy_pass http://127.0.0.1:${backend.port}
  }
}
`,
  });
  await get(srv.port, '/warm');
});

after(async () => {
  await srv.stop();
  await backend.close();
});

const pid = (): number => srv.proc.pid ?? 0;

/** Downloads `size` bytes through the proxy, stalling 2 s at a quarter; returns the bytes and their SHA-1. */
function download(size: number): Promise<{ body: number; hash: string; head: string }> {
  const h = createHash('sha1');
  let body = 0;
  let head = '';
  let pending = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const c = net.connect(srv.port, '127.0.0.1', () => {
      c.write(`GET /big?n=${size} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    });
    let stalled = false;
    c.on('data', (d: Buffer) => {
      if (head === '') {
        pending = Buffer.concat([pending, d]);
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        head = pending.toString('latin1', 0, end);
        d = pending.subarray(end + 4);
      }
      h.update(d);
      body += d.length;
      if (!stalled && body > size / 4) {
        stalled = true;
        c.pause();
        setTimeout(() => c.resume(), 2000);
      }
    });
    c.on('end', () => {
      resolve({ body, hash: h.digest('hex'), head });
    });
    c.on('error', reject);
  });
}

test(
  `a ${SIZE / 1048576} MiB download through the proxy, with a client that stalls, keeps RSS flat`,
  { timeout: 300_000 },
  async () => {
    const base = rssKiB(pid());
    const w = sampler(pid());
    assert.equal((await download(WARM)).body, WARM);
    const warm = w.stop();
    const s = sampler(pid());
    const t0 = Date.now();
    const r = await download(SIZE);
    const peak = s.stop();
    const secs = (Date.now() - t0) / 1000;
    console.log(
      `download: ${SIZE / 1048576} MiB in ${secs.toFixed(1)} s; server RSS ${base} KiB, ` +
        `peak ${warm} KiB over ${WARM / 1048576} MiB, ${peak} KiB over ${SIZE / 1048576} MiB`,
    );
    assert.match(r.head, new RegExp(`^HTTP/1.1 200[^]*Content-Length: ${SIZE}`));
    assert.equal(r.body, SIZE);
    assert.equal(r.hash, expectedHash());
    assert.ok(peak - warm < SLACK_MIB * 1024, `RSS grew ${((peak - warm) / 1024).toFixed(1)} MiB past the warm-up's`);
  },
);

/** Uploads `size` bytes through the proxy (the upstream stalls 2 s at a quarter); returns the reply. */
function upload(size: number): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = '';
    const c = net.connect(srv.port, '127.0.0.1', () => {
      c.write(`POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`);
      let sent = 0;
      const pump = (): void => {
        while (sent < size) {
          const piece = PIECE.subarray(0, Math.min(PIECE.length, size - sent));
          sent += piece.length;
          if (!c.write(piece)) {
            c.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    c.on('data', (d: Buffer) => (out += d.toString('latin1')));
    c.on('end', () => {
      resolve(out);
    });
    c.on('error', reject);
  });
}

test(
  `a ${SIZE / 1048576} MiB upload through the proxy, to an upstream that stalls, keeps RSS flat`,
  { timeout: 300_000 },
  async () => {
    const base = rssKiB(pid());
    const w = sampler(pid());
    assert.match(await upload(WARM), /^HTTP\/1.1 200[^]*stored$/);
    const warm = w.stop();
    const s = sampler(pid());
    const t0 = Date.now();
    const reply = await upload(SIZE);
    const peak = s.stop();
    const secs = (Date.now() - t0) / 1000;
    console.log(
      `upload: ${SIZE / 1048576} MiB in ${secs.toFixed(1)} s; server RSS ${base} KiB, ` +
        `peak ${warm} KiB over ${WARM / 1048576} MiB, ${peak} KiB over ${SIZE / 1048576} MiB`,
    );
    assert.match(reply, /^HTTP\/1.1 200[^]*stored$/);
    assert.equal(uploadBytes, SIZE);
    assert.equal(uploadHash, expectedHash());
    assert.ok(peak - warm < SLACK_MIB * 1024, `RSS grew ${((peak - warm) / 1024).toFixed(1)} MiB past the warm-up's`);
  },
);
