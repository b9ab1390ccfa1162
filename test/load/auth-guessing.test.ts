/**
 * A password-guessing loop beside a normal client (issue 20): clients on 20 source addresses guess a bcrypt
 * (cost 10) password as fast as the server answers, for AUTH_GUESS_SECONDS (default 60); a normal client fetches a
 * file every 10 ms. The normal client's p99 stays under 20 ms, and the server's RSS does not keep growing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { startServer, type RunningServer } from '../helpers/server.js';
import { RawClient } from '../helpers/http.js';
import { ensureHtpasswd } from '../helpers/htpasswd.js';

const SECONDS = Number(process.env['AUTH_GUESS_SECONDS'] ?? 60);
const GUESSERS = Number(process.env['AUTH_GUESSERS'] ?? 20);

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

let srv: RunningServer;
before(async () => {
  ensureHtpasswd();
  const users = execFileSync('htpasswd', ['-nbB', '-C', '10', 'alice', 'right'], { encoding: 'utf8' });
  srv = await startServer({
    config: `server {
  listen 127.0.0.1:{PORT}
  location / {
    root {DIR}/www
  }
  location /private {
    root {DIR}/www
    auth_basic "private"
    auth_basic_user_file {DIR}/users
  }
}
`,
    files: { 'www/a.txt': 'a\n', users },
  });
});
after(async () => {
  await srv.stop();
});

test(`${GUESSERS} addresses guessing bcrypt passwords for ${SECONDS} s: a normal client's p99 < 20 ms`, async () => {
  const pid = srv.proc.pid ?? 0;
  const end = Date.now() + SECONDS * 1000;
  let guesses = 0;
  const statuses = new Map<number, number>();
  const guess = async (i: number): Promise<void> => {
    let c = await RawClient.connect(srv.port, '127.0.0.1', `127.0.1.${i + 1}`);
    for (let n = 0; Date.now() < end; n++) {
      const auth = Buffer.from(`alice:wrong${n}`).toString('base64');
      c.send(`GET /private/a.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${auth}\r\n\r\n`);
      try {
        const r = await c.read({ timeoutMs: 30_000 });
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        guesses++;
      } catch {
        c.close();
        c = await RawClient.connect(srv.port, '127.0.0.1', `127.0.1.${i + 1}`);
      }
    }
    c.close();
  };
  const latencies: number[] = [];
  const rss: number[] = [];
  const normal = async (): Promise<void> => {
    const c = await RawClient.connect(srv.port, '127.0.0.1', '127.0.0.1');
    let lastSample = 0;
    while (Date.now() < end) {
      const t0 = performance.now();
      c.send('GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n');
      const r = await c.read();
      latencies.push(performance.now() - t0);
      assert.equal(r.status, 200);
      if (Date.now() - lastSample >= 1000) {
        lastSample = Date.now();
        rss.push(rssKiB(pid));
      }
      await new Promise((res) => setTimeout(res, 10));
    }
    c.close();
  };
  await Promise.all([normal(), ...Array.from({ length: GUESSERS }, (_, i) => guess(i))]);
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? Infinity;
  const p50 = latencies[Math.floor(latencies.length / 2)] ?? Infinity;
  const third = Math.max(1, Math.floor(rss.length / 3));
  const early = Math.max(...rss.slice(0, third));
  const late = Math.max(...rss.slice(-third));
  console.log(
    `# ${guesses} guesses (${[...statuses].map(([s, n]) => `${s}: ${n}`).join(', ')}); normal client ` +
      `${latencies.length} requests, p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms; RSS ${early} → ${late} KiB`,
  );
  if (GUESSERS > 0) assert.ok((statuses.get(401) ?? 0) > 0, 'some guesses were checked');
  assert.ok(p99 < 20, `p99 ${p99.toFixed(2)} ms`);
  // Bounded state: the last third of the run holds no more than the first third plus a little.
  assert.ok(late <= early + 16 * 1024, `RSS grew from ${early} to ${late} KiB`);
});
