/**
 * siege over HTTPS (issue 16): 10 concurrent users for 5 s against the real server's TLS listener (a certificate
 * made by test/helpers/tls.ts), once on keep-alive connections (many requests per handshake) and once with
 * `Connection: close` (a full TLS handshake for every request), on a page and a 64 KiB file (several TLS
 * records). Each run: 100 % availability, 0 failed transactions, no siege error lines; the server still answers.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { siege, type Siege } from '../helpers/siege.js';
import { becomes } from '../helpers/wait.js';
import { httpsServer, localhostCertificate, TlsClient } from '../helpers/tls.js';
import { ensureTool } from '../native/support.js';

const missing = ensureTool('siege') ?? ensureTool('openssl');
if (missing !== null) throw new Error(missing);

let certs = '';
let srv: RunningServer;
const BLOB = randomBytes(64 * 1024);

before(async () => {
  certs = localhostCertificate();
  srv = await startServer({
    config: httpsServer(
      certs,
      `  keepalive_timeout 30s
  access_log {DIR}/access.log
`,
    ),
    files: { 'www/index.html': '<!doctype html><title>siege</title><p>hello over TLS</p>\n', 'www/blob.bin': BLOB },
  });
});

after(async () => {
  await srv?.stop();
  fs.rmSync(certs, { recursive: true, force: true });
});

/** Server-side sockets on `port` with bytes the server has not read (ss's Recv-Q). */
function unreadSockets(port: number): number {
  const r = spawnSync('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => Number(l.trim().split(/\s+/)[0] ?? 0) > 0).length;
}

/**
 * siege -b -c 10 -t 5S, watched as bench/lib.mjs's runSiege does: siege 4.0.7 sometimes never exits after a timed
 * run (JoeDog/siege#66, README "Connection bursts"). Still running 9 s after its start, the server's sockets are
 * looked at and siege is killed at 10 s: a hang while the server holds unread request bytes fails the test, any
 * other is run once more.
 */
async function siegeRun(
  t: TestContext,
  urls: readonly string[],
  connection: 'keep-alive' | 'close',
): Promise<Awaited<Siege['done']>> {
  for (let attempt = 1; ; attempt++) {
    const run = siege(srv.dir, urls, { concurrency: 10, seconds: 5, connection, killAfterSeconds: 10 });
    let unread = -1;
    const look = setTimeout(() => (unread = unreadSockets(srv.port)), 9000);
    try {
      return await run.done;
    } catch (e) {
      if (unread !== 0 || attempt > 1)
        throw new Error(`siege hung (${unread} server sockets with unread bytes)`, { cause: e });
      t.diagnostic('siege hung after its run with no request unread by the server (JoeDog/siege#66); once more');
    } finally {
      clearTimeout(look);
    }
  }
}

describe('siege over HTTPS', () => {
  for (const connection of ['keep-alive', 'close'] as const) {
    test(
      `siege -b -c 10 -t 5S, Connection: ${connection}: 100 % available, 0 failed`,
      { timeout: 60_000 },
      async (t) => {
        const base = `https://localhost:${srv.port}`;
        const { report, alerts, out } = await siegeRun(t, [`${base}/`, `${base}/blob.bin`], connection);
        t.diagnostic(
          `${report.transactions} transactions, ${report.transaction_rate} trans/s, ${report.availability} % available`,
        );
        assert.ok(report.transactions > 0, out);
        assert.equal(report.availability, 100, out);
        assert.equal(report.failed_transactions, 0, out);
        // siege's own count of successes is sometimes one above its transactions over TLS with Connection: close
        // (seen with siege 4.0.7; never on plain HTTP): the server's access log is the count that matters.
        assert.ok(report.successful_transactions >= report.transactions, out);
        // The access log is flushed within a second (src/server/logs.ts): poll until it holds siege's count.
        const log = path.join(srv.dir, 'access.log');
        const logged = (): string[] =>
          fs.existsSync(log) ? [...fs.readFileSync(log, 'utf8').matchAll(/" (\d{3}) /g)].map((m) => m[1] ?? '') : [];
        const ok = await becomes(() => logged().length >= report.transactions, 5000, 100);
        const statuses = logged();
        assert.ok(ok, `${statuses.length} logged, ${report.transactions} by siege`);
        assert.deepEqual([...new Set(statuses)], ['200']);
        fs.truncateSync(log);
        assert.deepEqual(alerts, []);
        // Still serving, and serving the right bytes, after the run.
        const c = await TlsClient.connect(srv.port, 'localhost', fs.readFileSync(path.join(certs, 'ca.crt')));
        try {
          const r = await c.request('GET /blob.bin HTTP/1.1\r\nHost: localhost\r\n\r\n');
          assert.equal(r.status, 200);
          assert.ok(r.body.equals(BLOB));
        } finally {
          c.close();
        }
      },
    );
  }
});
