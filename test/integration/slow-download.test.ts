/**
 * One thread serves everyone (DESIGN §2): while a client downloads a 200 MiB file (slowly, or as fast as loopback
 * allows), another client's small GET is answered in milliseconds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get } from '../helpers/http.js';

const BIG_SIZE = 200 * 1024 * 1024;
const SMALL = 'small and quick\n';
const ROUNDS = 20;
const LIMIT_MS = 100;

const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  send_timeout 30s
  location / {
    methods GET
    root {DIR}/www
  }
}
`;

let srv: RunningServer;

before(async () => {
  srv = await startServer({ config: CONFIG, files: { 'www/small.txt': SMALL } });
  // Sparse: 200 MiB of zeros that take no disk space.
  const big = path.join(srv.dir, 'www/big.bin');
  fs.writeFileSync(big, '');
  fs.truncateSync(big, BIG_SIZE);
});

after(async () => {
  await srv.stop();
  fs.rmSync(srv.dir, { recursive: true, force: true });
});

/** A raw download of /big.bin; `slow` reads a little, then pauses 20 ms, over and over. */
class Download {
  received = 0;
  headSeen = false;
  closed = false;
  private readonly socket: net.Socket;

  constructor(port: number, slow: boolean) {
    this.socket = net.connect({ port, host: '127.0.0.1' });
    this.socket.on('connect', () => this.socket.write('GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n'));
    this.socket.on('data', (d: Buffer) => {
      if (!this.headSeen) {
        const s = d.toString('latin1');
        assert.match(s, /^HTTP\/1\.1 200 /);
        assert.ok(s.includes(`Content-Length: ${BIG_SIZE}\r\n`), 'announces the full length');
        this.headSeen = true;
      }
      this.received += d.length;
      if (slow) {
        this.socket.pause();
        setTimeout(() => this.socket.resume(), 20);
      }
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => (this.closed = true));
  }

  /** Resolves once at least `n` bytes have arrived. */
  async waitFor(n: number, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.received < n) {
      if (Date.now() > end) throw new Error(`download stalled at ${this.received} bytes`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Times `ROUNDS` small GETs, each on a new connection; returns the durations in ms. */
async function timeSmallGets(port: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    const r = await get(port, '/small.txt');
    times.push(performance.now() - t0);
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), SMALL);
  }
  return times;
}

describe('a big download does not hold up other clients', () => {
  test('while a slow client downloads 200 MiB, small GETs answer in < 100 ms each', async () => {
    const dl = new Download(srv.port, true);
    try {
      await dl.waitFor(256 * 1024);
      const before = dl.received;
      const times = await timeSmallGets(srv.port);
      const worst = Math.max(...times);
      assert.ok(
        worst < LIMIT_MS,
        `slowest small GET took ${worst.toFixed(1)} ms: ${times.map((t) => t.toFixed(1)).join(' ')}`,
      );
      // The download was really in progress all along: still open, still moving, far from done.
      await dl.waitFor(before + 1);
      assert.equal(dl.closed, false);
      assert.ok(dl.received < BIG_SIZE, 'the slow client cannot have read it all');
    } finally {
      dl.close();
    }
  });

  test('while another process downloads 200 MiB at full speed (again and again), small GETs answer in < 100 ms each', async () => {
    // The fast reader is another process, so that its reading does not slow this process's measurements. It says
    // "started" at its first bytes and starts over whenever a download completes, so the load lasts until killed.
    const reader = `
      const net = require('node:net');
      let first = true;
      const go = () => {
        const s = net.connect(${srv.port}, '127.0.0.1', () => s.write('GET /big.bin HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'));
        s.on('data', () => { if (first) { first = false; process.stdout.write('started\\n'); } });
        s.on('close', go);
        s.on('error', () => undefined);
      };
      go();`;
    const child = spawn(process.execPath, ['-e', reader], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', () => {
          resolve();
        });
        child.on('exit', (code) => {
          reject(new Error(`reader exited with ${code}`));
        });
      });
      const times = await timeSmallGets(srv.port);
      const worst = Math.max(...times);
      assert.ok(
        worst < LIMIT_MS,
        `slowest small GET took ${worst.toFixed(1)} ms: ${times.map((t) => t.toFixed(1)).join(' ')}`,
      );
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('the full 200 MiB arrives, exactly the announced length', async () => {
    const socket = net.connect({ port: srv.port, host: '127.0.0.1' });
    let received = 0;
    let headEnd = -1;
    let head = '';
    const done = new Promise<void>((resolve, reject) => {
      socket.on('data', (d: Buffer) => {
        if (headEnd < 0) {
          head += d.toString('latin1');
          const i = head.indexOf('\r\n\r\n');
          if (i < 0) return;
          headEnd = i + 4;
          received = Buffer.byteLength(head, 'latin1') - headEnd;
        } else {
          received += d.length;
        }
        if (received >= BIG_SIZE) resolve();
      });
      socket.on('error', reject);
      socket.on('close', () => {
        reject(new Error(`closed after ${received} bytes`));
      });
    });
    socket.write('GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n');
    try {
      await done;
      assert.equal(received, BIG_SIZE, 'exactly the announced length, nothing more');
      assert.match(head, /^HTTP\/1\.1 200 /);
    } finally {
      socket.removeAllListeners('close');
      socket.destroy();
    }
  });
});
