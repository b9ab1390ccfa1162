#!/usr/bin/env node
// Upload memory check (DESIGN §6 "Bodies stream to disk: memory does not grow with upload size"): starts the real
// server (build/src/main.js, body_limit 0), streams a 200 MiB multipart body over a raw socket (generated on the fly,
// written with backpressure), samples the server's RSS (/proc/PID/status VmRSS) every 50 ms, then checks the stored
// file's size and sha256. Prints `rss before X MiB, peak Y MiB, growth Z MiB`; exits 1 if growth >= 30 MiB or the
// upload is wrong.
//
// "before" is the peak RSS during a 64 MiB warm-up upload. V8 frees the Buffers of socket reads only when their external
// memory reaches its pressure threshold, so any Node server that reads fast settles ~35-45 MiB above its cold RSS
// (a 10-line `socket.on('data', d => fs.writeSync(fd, d))` server: +43 MiB) whatever the upload size; the warm-up
// reaches that plateau first, so the growth measured is what the 200 MiB upload adds. The cold figure is printed
// too; `--warmup 0` makes it the baseline.
//
// Usage: node bench/upload-rss.mjs [--mib N] [--limit MIB] [--warmup MIB]   (run `npx tsc -p tsconfig.test.json`)
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(REPO, 'build/src/main.js');
const args = process.argv.slice(2);
/** @type {(name: string, dflt: number) => number} */
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const MIB = 1024 * 1024;
const SIZE = opt('mib', 200) * MIB;
const LIMIT_MIB = opt('limit', 30);
const WARMUP = opt('warmup', 64) * MIB;
const CHUNK = 64 * 1024;
const SAMPLE_MS = 50;
const DEADLINE_MS = 25_000;
const BOUNDARY = 'rss-bench-boundary-5b1c0e7d';

/** @param {string} msg */
function recordFailure(msg) {
  process.stderr.write(`upload-rss: ${msg}\n`);
  process.exitCode = 1;
}

/**
 * The server's resident set in MiB, or null once it is gone.
 * @param {number | undefined} pid
 * @returns {number | null}
 */
function rssMiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m === null ? null : Number(m[1]) / 1024;
  } catch {
    return null;
  }
}

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      if (addr === null || typeof addr === 'string') {
        reject(new Error(`listening socket has no TCP address: ${String(addr)}`));
        return;
      }
      const p = addr.port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * Starts the server; resolves once it printed its listening line.
 * @param {string} dir
 * @param {number} port
 */
async function startServer(dir, port) {
  const conf = path.join(dir, 'rss.conf');
  fs.writeFileSync(
    conf,
    `server {
  host 127.0.0.1
  port ${port}
  body_limit 0
  client_body_timeout 20s
  location /up {
    methods GET POST
    root ${dir}/up
  }
}
`,
  );
  const proc = spawn(process.execPath, [MAIN, conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stderr.on('data', (d) => (out += d));
  /** @type {Promise<void>} */
  const listening = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 10_000);
    proc.stdout.on('data', (d) => {
      out += d;
      if (/^listening on /m.test(out)) {
        clearTimeout(t);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`server exited with ${code}: ${out}`));
    });
  });
  await listening;
  return proc;
}

/**
 * Reads one HTTP response head (and a Content-Length body) from the socket.
 * @param {net.Socket} sock
 * @returns {Promise<{ status: number, location: string | null }>}
 */
function readResponse(sock) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    /** @param {Buffer} d */
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.toString('latin1', 0, end);
      if (/^HTTP\/1\.1 100 /.test(head)) {
        buf = buf.subarray(end + 4);
        return;
      }
      const len = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      sock.off('data', onData);
      const status = Number(head.slice(9, 12));
      const location = /^location:\s*(.*)$/im.exec(head)?.[1]?.trim() ?? null;
      resolve({ status, location });
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.once('close', () =>
      reject(new Error(`connection closed; got ${JSON.stringify(buf.toString('latin1', 0, 200))}`)),
    );
  });
}

/**
 * Streams a multipart upload of SIZE generated bytes named `name`; resolves with the response and the sha256 of
 * the file content sent. Chunks are made as they are needed and written only while the socket accepts them.
 * @param {number} port
 * @param {string} name
 * @param {number} size
 */
async function upload(port, name, size) {
  const pre = Buffer.from(
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="f"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    'latin1',
  );
  const post = Buffer.from(`\r\n--${BOUNDARY}--\r\n`, 'latin1');
  const head = Buffer.from(
    `POST /up/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\n` +
      `Content-Length: ${pre.length + size + post.length}\r\nConnection: close\r\n\r\n`,
    'latin1',
  );
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const response = readResponse(sock);
  response.catch(() => undefined); // awaited below; a rejection before then must not crash the bench
  let closed = false;
  sock.once('close', () => (closed = true));
  const hash = createHash('sha256');
  const base = randomBytes(CHUNK);
  sock.write(Buffer.concat([head, pre]));
  for (let sent = 0, i = 0; sent < size; i++) {
    const n = Math.min(CHUNK, size - sent);
    const chunk = Buffer.from(base.subarray(0, n)); // a fresh buffer: the socket owns it until flushed
    chunk.writeUInt32LE(i, 0); // every chunk differs, so a lost or repeated chunk changes the hash
    hash.update(chunk);
    sent += n;
    if (closed) throw new Error('connection closed during the upload');
    if (!sock.write(chunk)) {
      /** @type {Promise<void>} */
      const drained = new Promise((resolve) => {
        const go = () => {
          sock.off('drain', go);
          sock.off('close', go);
          resolve();
        };
        sock.on('drain', go);
        sock.on('close', go);
      });
      await drained;
    }
  }
  sock.write(post);
  const res = await response;
  sock.destroy();
  return { ...res, sha: hash.digest('hex') };
}

/**
 * sha256 and size of a file, read synchronously in bounded pieces.
 * @param {string} p
 */
function fileDigest(p) {
  const fd = fs.openSync(p, 'r');
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(MIB);
  let size = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      size += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { size, sha: hash.digest('hex') };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-rss-'));
  fs.mkdirSync(path.join(dir, 'up'));
  const guard = setTimeout(() => {
    recordFailure(`did not finish within ${DEADLINE_MS} ms`);
    process.exit(1);
  }, DEADLINE_MS);
  guard.unref();
  const port = await freePort();
  const proc = await startServer(dir, port);
  try {
    const cold = rssMiB(proc.pid);
    // "before" is the warm-up's peak, not one sample after it: a garbage collection that happens to run just
    // then would put the baseline below the plateau and count the plateau itself as growth.
    let warmPeak = cold ?? 0;
    const warmSampler = setInterval(() => {
      const r = rssMiB(proc.pid);
      if (r !== null && r > warmPeak) warmPeak = r;
    }, SAMPLE_MS);
    let warm;
    try {
      warm = await upload(port, 'warmup.bin', WARMUP);
    } finally {
      clearInterval(warmSampler);
    }
    if (warm.status !== 201) throw new Error(`warm-up upload answered ${warm.status}`);
    const now = rssMiB(proc.pid);
    if (now === null) throw new Error('cannot read the server RSS');
    const before = Math.max(warmPeak, now);
    let peak = before;
    const sampler = setInterval(() => {
      const r = rssMiB(proc.pid);
      if (r !== null && r > peak) peak = r;
    }, SAMPLE_MS);
    const t0 = Date.now();
    let res;
    try {
      res = await upload(port, 'big.bin', SIZE);
    } finally {
      clearInterval(sampler);
    }
    const after = rssMiB(proc.pid);
    if (after !== null && after > peak) peak = after;
    const secs = (Date.now() - t0) / 1000;
    const growth = peak - before;
    process.stdout.write(
      `rss at start ${cold?.toFixed(1)} MiB, peak during a ${WARMUP / MIB} MiB warm-up upload ${before.toFixed(1)} MiB\n` +
        `uploaded ${SIZE / MIB} MiB in ${secs.toFixed(2)} s (${(SIZE / MIB / secs).toFixed(0)} MiB/s)\n` +
        `rss before ${before.toFixed(1)} MiB, peak ${peak.toFixed(1)} MiB, growth ${growth.toFixed(1)} MiB\n`,
    );
    if (res.status !== 201) recordFailure(`upload answered ${res.status}`);
    else if (res.location !== '/up/big.bin') recordFailure(`Location ${res.location}`);
    const stored = path.join(dir, 'up', 'big.bin');
    if (!fs.existsSync(stored)) recordFailure('big.bin was not stored');
    else {
      const d = fileDigest(stored);
      if (d.size !== SIZE) recordFailure(`stored ${d.size} bytes, sent ${SIZE}`);
      else if (d.sha !== res.sha) recordFailure(`stored sha256 ${d.sha} differs from sent ${res.sha}`);
      else process.stdout.write(`stored file: ${d.size} bytes, sha256 matches\n`);
    }
    const leftovers = fs.readdirSync(path.join(dir, 'up')).filter((n) => n.startsWith('.upload-'));
    if (leftovers.length > 0) recordFailure(`temporary files left: ${leftovers.join(' ')}`);
    if (growth >= LIMIT_MIB) recordFailure(`RSS grew by ${growth.toFixed(1)} MiB (limit ${LIMIT_MIB} MiB)`);
  } finally {
    /** @type {Promise<void>} */
    const exited = new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  recordFailure(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
