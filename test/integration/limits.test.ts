/**
 * limit_req and limit_conn through real sockets (issue 20): a train of simultaneous requests gets as many
 * rejections as nginx gives the same train (±1), with and without nodelay; delayed requests are delayed; another
 * source address has its own budget; limit_conn counts requests in progress per address.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { RawClient, type RawResponse } from '../helpers/http.js';
import { nginxAvailable, startNginx, type RunningNginx } from '../helpers/nginx.js';

async function getFrom(port: number, urlPath: string, from?: string): Promise<RawResponse> {
  const c = await RawClient.connect(port, '127.0.0.1', from);
  try {
    c.send(`GET ${urlPath} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    return await c.read({ timeoutMs: 10_000 });
  } finally {
    c.close();
  }
}

/** `n` requests at once (each on its own connection, all connected before any is sent); statuses and the time
 *  the last answer took. */
async function train(port: number, urlPath: string, n: number): Promise<{ statuses: number[]; ms: number }> {
  const clients = await Promise.all(Array.from({ length: n }, () => RawClient.connect(port)));
  const t0 = performance.now();
  for (const c of clients) c.send(`GET ${urlPath} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  const res = await Promise.all(clients.map((c) => c.read({ timeoutMs: 10_000 })));
  const ms = performance.now() - t0;
  for (const c of clients) c.close();
  return { statuses: res.map((r) => r.status), ms };
}

const count = (xs: number[], v: number): number => xs.filter((x) => x === v).length;

const CONFIG = `server {
  listen 127.0.0.1:{PORT}
  location / {
    root {DIR}/www
  }
  location /delay {
    root {DIR}/www
    limit_req rate=10r/s burst=5
  }
  location /nodelay {
    root {DIR}/www
    limit_req rate=10r/s burst=5 nodelay
  }
  location /status {
    root {DIR}/www
    limit_req rate=1r/m
    limit_req_status 503
  }
  location /cgi {
    root {DIR}/cgi
    cgi .sh /bin/sh
    limit_conn 1
  }
}
`;

describe('limit_req / limit_conn', () => {
  let srv: RunningServer;
  let nginx: RunningNginx | null = null;
  let www: string;

  before(async () => {
    www = fs.mkdtempSync(path.join(os.tmpdir(), 'limits-www-'));
    for (const d of ['delay', 'nodelay']) {
      fs.mkdirSync(path.join(www, d));
      fs.writeFileSync(path.join(www, d, 'a.txt'), 'a\n');
    }
    fs.chmodSync(www, 0o755);
    srv = await startServer({
      config: CONFIG,
      files: {
        'www/a.txt': 'a\n',
        'cgi/slow.sh': 'sleep 1\nprintf "Content-Type: text/plain\\r\\n\\r\\nslow\\n"\n',
      },
    });
    if (nginxAvailable()) {
      nginx = await startNginx({
        root: www,
        httpExtra:
          'limit_req_zone $binary_remote_addr zone=d:1m rate=10r/s; limit_req_zone $binary_remote_addr zone=n:1m rate=10r/s;',
        serverExtra:
          'location /delay { limit_req zone=d burst=5; } location /nodelay { limit_req zone=n burst=5 nodelay; }',
      });
    }
  });
  after(async () => {
    await srv.stop();
    await nginx?.stop();
    fs.rmSync(www, { recursive: true, force: true });
  });

  test('rate=10r/s burst=5: as many rejections as nginx, the burst delayed', async () => {
    const ours = await train(srv.port, '/delay/a.txt', 20);
    assert.equal(count(ours.statuses, 200) + count(ours.statuses, 429), 20, ours.statuses.join(' '));
    // 1 at once and 5 in the burst; a train that took over 100 ms to arrive (a loaded machine) fits one more.
    const rejectedHere = count(ours.statuses, 429);
    assert.ok(rejectedHere === 14 || rejectedHere === 13, ours.statuses.join(' '));
    // Five were delayed by 100..500 ms (the sweep runs every 250 ms, so the last waits 500..750 ms).
    assert.ok(ours.ms >= 450, `the burst was answered in ${ours.ms.toFixed(0)} ms`);
    if (nginx === null) return;
    const theirs = await train(nginx.port, '/delay/a.txt', 20);
    const rejected = count(theirs.statuses, 503);
    assert.ok(
      Math.abs(rejected - count(ours.statuses, 429)) <= 1,
      `nginx rejected ${rejected}: ${theirs.statuses.join(' ')}`,
    );
  });

  test('nodelay: the burst at once, the same rejections as nginx', async () => {
    const ours = await train(srv.port, '/nodelay/a.txt', 20);
    const rejectedHere = count(ours.statuses, 429);
    assert.ok(rejectedHere === 14 || rejectedHere === 13, ours.statuses.join(' '));
    if (nginx === null) return;
    const theirs = await train(nginx.port, '/nodelay/a.txt', 20);
    const rejected = count(theirs.statuses, 503);
    assert.ok(
      Math.abs(rejected - count(ours.statuses, 429)) <= 1,
      `nginx rejected ${rejected}: ${theirs.statuses.join(' ')}`,
    );
  });

  test('429 carries Retry-After; limit_req_status sets the status; each address has its own bucket', async () => {
    assert.equal((await getFrom(srv.port, '/status/a.txt')).status, 200);
    const over = await getFrom(srv.port, '/status/a.txt');
    assert.equal(over.status, 503);
    // One request a minute, kept as nginx keeps it (16 thousandths a second): about 60 s.
    const wait = Number(over.header('retry-after'));
    assert.ok(wait >= 55 && wait <= 65, `Retry-After ${wait}`);
    assert.equal((await getFrom(srv.port, '/status/a.txt', '127.0.0.2')).status, 200);
    const r = await train(srv.port, '/nodelay/a.txt', 8);
    const refused = await getFrom(srv.port, '/nodelay/a.txt');
    assert.ok(count(r.statuses, 429) >= 1);
    assert.equal(refused.status, 429);
    assert.match(refused.header('retry-after') ?? '', /^[1-9]\d*$/);
    // Other locations are not limited.
    assert.equal((await getFrom(srv.port, '/a.txt')).status, 200);
  });

  test('limit_conn 1: a second request in progress from the same address is refused, another address is not', async () => {
    const first = getFrom(srv.port, '/cgi/slow.sh');
    await new Promise((r) => setTimeout(r, 300)); // the first is in progress (its script sleeps 1 s)
    const second = await getFrom(srv.port, '/cgi/slow.sh');
    const other = getFrom(srv.port, '/cgi/slow.sh', '127.0.0.2');
    assert.equal(second.status, 429);
    assert.equal((await first).status, 200);
    assert.equal((await other).status, 200);
    // Released once the first is over.
    assert.equal((await getFrom(srv.port, '/cgi/slow.sh')).status, 200);
  });
});
