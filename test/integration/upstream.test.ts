/**
 * `upstream` blocks (issue 18): smooth weighted round robin, the next server on a connect error, passive health
 * (max_fails/fail_timeout), backups, pooled keep-alive connections reused, and a pooled connection the upstream
 * closed retried once for an idempotent request only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get, rawRequest } from '../helpers/http.js';
import { httpBackend, rawBackend, type HttpBackend, type RawBackend } from '../helpers/backend.js';

let srv: RunningServer;
let a: HttpBackend;
let b: HttpBackend;
let c: HttpBackend;
let flaky: RawBackend;

before(async () => {
  a = await httpBackend((_req, res) => res.end('A'));
  b = await httpBackend((_req, res) => res.end('B'));
  c = await httpBackend((_req, res) => res.end('C'));
  // Answers the first request of each connection (keep-alive), and drops the connection at the second.
  flaky = await rawBackend((s, all) => {
    const heads = all.toString('latin1').split('\r\n\r\n').length - 1;
    if (heads === 1) s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nfresh');
    if (heads >= 2) s.destroy();
    return heads >= 2;
  });
  const config = `upstream weighted {
  server 127.0.0.1:${a.port} weight=2
  server 127.0.0.1:${b.port}
}
upstream halfdead {
  server 127.0.0.1:1 max_fails=1 fail_timeout=30s
  server 127.0.0.1:${c.port}
}
upstream withbackup {
  server 127.0.0.1:${a.port}
  server 127.0.0.1:${c.port} backup
}
upstream onlybackup {
  server 127.0.0.1:1
  server 127.0.0.1:${c.port} backup
}
upstream pooled {
  server 127.0.0.1:${b.port}
  keepalive 4
}
upstream flaky {
  server 127.0.0.1:${flaky.port}
  keepalive 2
}
server {
  host 127.0.0.1
  port {PORT}
  location /w { proxy_pass http://weighted }
  location /h { proxy_pass http://halfdead }
  location /b { proxy_pass http://withbackup }
  location /ob { proxy_pass http://onlybackup }
  location /p { proxy_pass http://pooled }
  location /direct { proxy_pass http://127.0.0.1:${b.port} }
  location /f {
    methods GET POST
    proxy_pass http://flaky
  }
}
`;
  srv = await startServer({ config });
});

after(async () => {
  await srv.stop();
  for (const x of [a, b, c, flaky]) await x.close();
});

async function bodies(path: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await get(srv.port, path)).body.toString());
  return out;
}
const count = (xs: string[], v: string): number => xs.filter((x) => x === v).length;

describe('balancing', () => {
  test('weighted round robin: weight=2 gets two of every three requests, interleaved', async () => {
    const got = await bodies('/w', 30);
    assert.equal(count(got, 'A'), 20);
    assert.equal(count(got, 'B'), 10);
    assert.ok(!got.join('').includes('BB'), `smooth: ${got.join('')}`);
  });
  test('a server that refuses: the next one answers, and max_fails takes it out for fail_timeout', async () => {
    const before = (srv.output().match(/connect\(\) failed/g) ?? []).length;
    const got = await bodies('/h', 10);
    assert.deepEqual(got, Array<string>(10).fill('C'));
    const failures = (srv.output().match(/connect\(\) failed/g) ?? []).length - before;
    assert.equal(failures, 1, 'the dead server was tried once, then skipped');
  });
  test('a backup serves only while every primary is down', async () => {
    assert.deepEqual(await bodies('/b', 6), Array<string>(6).fill('A'));
    assert.deepEqual(await bodies('/ob', 3), Array<string>(3).fill('C'));
  });
});

describe('keep-alive pool', () => {
  test('pooled connections are reused; without keepalive each request opens one', async () => {
    const before = b.connections;
    await bodies('/p', 20);
    assert.equal(b.connections - before, 1);
    const seen = b.seen[b.seen.length - 1];
    assert.equal(seen?.headers.connection, 'keep-alive');
    const direct = b.connections;
    await bodies('/direct', 5);
    assert.equal(b.connections - direct, 5);
  });
  test('a pooled connection the upstream dropped is retried once on a fresh one for GET', async () => {
    assert.equal((await get(srv.port, '/f')).body.toString(), 'fresh');
    const conns = flaky.sockets.length;
    const r = await get(srv.port, '/f');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'fresh');
    assert.equal(flaky.sockets.length, conns + 1, 'a new connection after the dropped one');
  });
  test('... but not for POST, which is not idempotent: 502', async () => {
    await get(srv.port, '/f'); // leaves a pooled connection that drops at its next request
    const conns = flaky.sockets.length;
    const r = await rawRequest(
      srv.port,
      'POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
    );
    assert.equal(r.status, 502);
    assert.equal(flaky.sockets.length, conns, 'no second attempt');
  });
});
