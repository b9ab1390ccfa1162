/**
 * siege over HTTPS (issue 16): 10 concurrent users for 5 s against the real server's TLS listener (a certificate
 * made by test/helpers/tls.ts), once on keep-alive connections (many requests per handshake) and once with
 * `Connection: close` (a full TLS handshake for every request), on a page and a 64 KiB file (several TLS
 * records). Each run: 100 % availability, 0 failed transactions, no siege error lines; the server still answers.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { retryHungSiege, siege, type Siege } from '../helpers/siege.js';
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

/** siege -b -c 10 -t 5S, run once more if siege hangs after its run (test/helpers/siege.ts). */
function siegeRun(
  t: TestContext,
  urls: readonly string[],
  connection: 'keep-alive' | 'close',
): Promise<Awaited<Siege['done']>> {
  return retryHungSiege(t, () => siege(srv.dir, urls, { concurrency: 10, seconds: 5, connection }).done);
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
