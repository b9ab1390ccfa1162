/**
 * Sessions in Redis across instances (issue 21): two instances of ours behind HAProxy (round-robin, health checks),
 * `session_store redis://…`, the CGI session demo. A client's visit counter goes 1, 2, 3… whichever instance
 * answers; the key's expiry is the idle timeout; one instance killed under siege loses no session and HAProxy keeps
 * availability; Redis stopped answers 503 on session locations only, and sessions work again once it is back. The
 * documented deployment (contrib/haproxy.cfg, contrib/behind-haproxy.conf) passes haproxy -c and our -t.
 * redis-server and haproxy are started here in a temp dir and stopped by PID.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { freePort, MAIN, REPO, startServer, stopProcess, type RunningServer } from '../helpers/server.js';
import { get } from '../helpers/http.js';
import { startRedis, stopRedis } from '../helpers/redis.js';
import { have, siege } from '../helpers/siege.js';
import { becomes } from '../helpers/wait.js';
import { RedisClient } from '../../src/session/redis-client.js';
import type { RespValue } from '../../src/session/resp.js';

const run = promisify(execFile);
const SKIP = !have('redis-server')
  ? 'redis-server is not installed (apt-get install redis-server)'
  : !have('haproxy')
    ? 'haproxy is not installed (apt-get install haproxy)'
    : false;

const IDLE_S = 600;

/** One instance of ours: the session demo in Redis, a static page, and which instance answered. */
const config = (name: string, redisPort: number): string => `server {
  host 127.0.0.1
  port {PORT}
  session_store redis://127.0.0.1:${redisPort} prefix=test:
  session_timeout ${IDLE_S}s
  location / {
    methods GET
    root {DIR}/www
    add_header X-Instance ${name} always
  }
  location /cgi-bin {
    methods GET POST
    root {DIR}/cgi-bin
    cgi .py /usr/bin/python3
    session on
    add_header X-Instance ${name} always
  }
}
`;

const FILES = (): Record<string, string | Buffer> => ({
  'www/index.html': 'home\n',
  'cgi-bin/session.py': fs.readFileSync(path.join(REPO, 'cgi-bin', 'session.py')),
});

function startHaproxy(dir: string, port: number, backends: readonly number[]): Promise<ChildProcess> {
  const cfg = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    cfg,
    [
      'global',
      '  maxconn 512',
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 30s',
      '  timeout server 30s',
      '  retries 3',
      '  option redispatch',
      'frontend fe',
      `  bind 127.0.0.1:${port}`,
      '  default_backend be',
      'backend be',
      '  balance roundrobin',
      '  option httpchk GET /index.html',
      ...backends.map((p, i) => `  server s${i} 127.0.0.1:${p} check inter 200ms fall 1 rise 1`),
      '',
    ].join('\n'),
  );
  const p = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`haproxy did not listen:\n${out}`));
    }, 10_000);
    p.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`haproxy exited with ${code}:\n${out}`));
    });
    void becomes(
      async () => {
        try {
          return (await get(port, '/index.html')).status === 200;
        } catch {
          return false;
        }
      },
      10_000,
      50,
    ).then((ok) => {
      clearTimeout(t);
      if (ok) resolve(p);
      else reject(new Error(`haproxy does not answer:\n${out}`));
    });
  });
}

/** curl with a cookie jar, as a browser keeps it; returns the response head. */
async function curl(jar: string, url: string): Promise<string> {
  const { stdout } = await run('curl', ['-s', '-c', jar, '-b', jar, '-D', '-', '-o', '/dev/null', url]);
  return stdout;
}

const visits = (head: string): number => Number(/^X-Visits: (\d+)\r$/im.exec(head)?.[1] ?? NaN);
const instance = (head: string): string => /^X-Instance: (\w+)\r$/im.exec(head)?.[1] ?? '?';
const statusOf = (head: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? NaN);

const call = (c: RedisClient, args: string[]): Promise<RespValue> =>
  new Promise((resolve, reject) => {
    c.command(args, (e, v) => {
      if (e !== null) reject(e);
      else resolve(v);
    });
  });

describe('sessions in Redis behind HAProxy', { skip: SKIP, timeout: 120_000 }, () => {
  let dir = '';
  let redisPort = 0;
  let redis: ChildProcess | null = null;
  let haproxy: ChildProcess | null = null;
  let a: RunningServer | null = null;
  let b: RunningServer | null = null;
  let front = '';

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-redis-sessions-'));
    redisPort = await freePort();
    redis = await startRedis(dir, redisPort);
    a = await startServer({ config: config('a', redisPort), files: FILES() });
    b = await startServer({ config: config('b', redisPort), files: FILES() });
    const hp = await freePort();
    haproxy = await startHaproxy(dir, hp, [a.port, b.port]);
    front = `http://127.0.0.1:${hp}`;
  });

  after(async () => {
    if (haproxy !== null) await stopProcess(haproxy);
    await a?.stop();
    await b?.stop();
    if (redis !== null) await stopRedis(redis);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the documented deployment is valid: contrib/haproxy.cfg (haproxy -c), contrib/behind-haproxy.conf (-t)', async () => {
    await run('haproxy', ['-c', '-f', path.join(REPO, 'contrib', 'haproxy.cfg')]);
    const site = path.join(dir, 'contrib-site');
    fs.mkdirSync(path.join(site, 'www'), { recursive: true });
    fs.mkdirSync(path.join(site, 'cgi-bin'), { recursive: true });
    const conf = path.join(site, 'behind-haproxy.conf');
    const text = fs.readFileSync(path.join(REPO, 'contrib', 'behind-haproxy.conf'), 'utf8');
    assert.match(text, /session_store redis:\/\//);
    fs.writeFileSync(conf, text.replaceAll('/srv/', `${site}/`));
    const { stdout } = await run(process.execPath, [MAIN, '-t', conf]);
    assert.match(stdout, /configuration is valid/);
  });

  test('a visit counter counts on, whichever instance answers; the key expires after the idle timeout', async () => {
    const jar = path.join(dir, 'jar-counter');
    const seen: number[] = [];
    const who = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const head = await curl(jar, `${front}/cgi-bin/session.py`);
      assert.equal(statusOf(head), 200, head);
      seen.push(visits(head));
      who.add(instance(head));
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...who].sort(), ['a', 'b'], 'round-robin reached both instances');
    const sid = /\tsid\t([A-Za-z0-9_-]{22})$/m.exec(fs.readFileSync(jar, 'utf8'))?.[1];
    assert.ok(sid !== undefined, 'the jar holds the sid cookie');
    const c = new RedisClient({ host: '127.0.0.1', port: redisPort, user: null, password: null, db: 0 });
    try {
      assert.ok(await becomes(() => c.up, 5000));
      const ttl = await call(c, ['PTTL', `test:${sid}`]);
      assert.ok(typeof ttl === 'number' && ttl > (IDLE_S - 30) * 1000 && ttl <= IDLE_S * 1000, `PTTL ${String(ttl)}`);
      const stored = await call(c, ['GET', `test:${sid}`]);
      assert.ok(Buffer.isBuffer(stored) && stored.toString().includes('visits=6'), String(stored));
    } finally {
      c.close();
    }
  });

  test('an instance killed under siege: HAProxy fails over, availability >= 99.5 %, no session lost', async () => {
    const jar = path.join(dir, 'jar-failover');
    assert.equal(visits(await curl(jar, `${front}/cgi-bin/session.py`)), 1);
    const load = siege(dir, [`${front}/index.html`], { concurrency: 10, seconds: 6 });
    await new Promise((r) => setTimeout(r, 1500));
    const victim = b;
    assert.ok(victim !== null);
    await stopProcess(victim.proc, 'SIGKILL');
    const after: number[] = [];
    for (let i = 0; i < 4; i++) {
      const head = await curl(jar, `${front}/cgi-bin/session.py`);
      assert.equal(statusOf(head), 200, head);
      after.push(visits(head));
    }
    assert.deepEqual(after, [2, 3, 4, 5], 'the session survived its instance');
    const { report } = await load.done;
    assert.ok(report.transactions > 100, `transactions ${report.transactions}`);
    assert.ok(report.availability >= 99.5, `availability ${report.availability} %`);
    b = await startServer({ config: config('b', redisPort), files: FILES() });
  });

  test('Redis stopped: 503 on session locations only; back: sessions work again without a restart', async () => {
    const srv = a;
    assert.ok(srv !== null && redis !== null);
    await stopRedis(redis);
    redis = null;
    assert.ok(
      await becomes(async () => (await get(srv.port, '/cgi-bin/session.py')).status === 503, 10_000, 50),
      'a session location answers 503',
    );
    assert.equal((await get(srv.port, '/index.html')).status, 200, 'a location without sessions still serves');
    assert.match(srv.output(), /session_store redis:\/\/127\.0\.0\.1:\d+ unavailable/);
    const logged = (srv.output().match(/unavailable: /g) ?? []).length;
    for (let i = 0; i < 20; i++) assert.equal((await get(srv.port, '/cgi-bin/session.py')).status, 503);
    assert.ok((srv.output().match(/unavailable: /g) ?? []).length <= logged + 1, 'the failure line is rate-limited');
    redis = await startRedis(dir, redisPort);
    assert.ok(
      await becomes(async () => (await get(srv.port, '/cgi-bin/session.py')).status === 200, 15_000, 100),
      'sessions resume once Redis is back',
    );
    const jar = path.join(dir, 'jar-after');
    assert.deepEqual(
      [visits(await curl(jar, `${front}/cgi-bin/session.py`)), visits(await curl(jar, `${front}/cgi-bin/session.py`))],
      [1, 2],
    );
  });
});
