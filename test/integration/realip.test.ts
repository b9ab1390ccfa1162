/**
 * set_real_ip_from / real_ip_header / real_ip_recursive (nginx's realip, issue 18) through real sockets from two
 * source addresses: 127.0.0.1 is the trusted proxy, 127.0.0.2 an untrusted client (and ::1 over IPv6). The
 * address a trusted peer forwards must reach CGI's REMOTE_ADDR, the access log, allow/deny, limit_req and the
 * proxy's X-Real-IP/X-Forwarded-For; an untrusted peer's header must change nothing. HAProxy in front
 * (`option forwardfor`) is the real-peer case, and nginx beside us answers a corpus of header values the same.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { httpBackend, type HttpBackend } from '../helpers/backend.js';
import { nginxAvailable, startNginx, type RunningNginx } from '../helpers/nginx.js';
import { RawClient, type RawResponse } from '../helpers/http.js';
import { freePort, MAIN, startServer, type RunningServer } from '../helpers/server.js';
import { until, valueOf } from '../helpers/wait.js';

/** One GET to `host`:`port` from `from`, with extra header lines. */
async function getFrom(
  port: number,
  urlPath: string,
  opts: { from?: string; host?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const c = await RawClient.connect(port, opts.host ?? '127.0.0.1', opts.from);
  try {
    const extra = Object.entries(opts.headers ?? {})
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    c.send(`GET ${urlPath} HTTP/1.1\r\nHost: localhost\r\n${extra}Connection: close\r\n\r\n`);
    return await c.read();
  } finally {
    c.close();
  }
}
const xff = (v: string): Record<string, string> => ({ 'X-Forwarded-For': v });

/** The CGI script's answer: "addr=… port=…". */
const ENV_SH = 'printf "Content-Type: text/plain\\r\\n\\r\\n"; echo "addr=$REMOTE_ADDR port=$REMOTE_PORT"\n';

const config = (backend: number): string => `
log_format real '$remote_addr $realip_remote_addr "$request" $status'
server {
  listen 127.0.0.1:{PORT}
  listen [::]:{PORT2}
  access_log {DIR}/access.log real
  set_real_ip_from 127.0.0.1
  set_real_ip_from ::1
  set_real_ip_from 10.0.0.0/8
  real_ip_header X-Forwarded-For
  location / {
    root {DIR}/www
  }
  location /cgi {
    root {DIR}/cgi
    cgi .sh /bin/sh
  }
  location /blocked {
    root {DIR}/www
    deny 203.0.113.66
    deny 2001:db8::66
    allow all
  }
  location /limited {
    root {DIR}/www
    limit_req rate=1r/m
  }
  location /slow {
    root {DIR}/cgi
    cgi .sh /bin/sh
    limit_conn 1
  }
  location /xri {
    root {DIR}/cgi
    cgi .sh /bin/sh
    real_ip_header X-Real-IP
  }
  location /loctrust {
    root {DIR}/cgi
    cgi .sh /bin/sh
    set_real_ip_from 127.0.0.2
  }
  location /proxy {
    proxy_pass http://127.0.0.1:${backend}
    proxy_set_header X-Peer $realip_remote_addr
  }
}
server {
  listen 127.0.0.1:{PORT3}
  set_real_ip_from 127.0.0.1
  set_real_ip_from 10.0.0.0/8
  real_ip_header X-Forwarded-For
  real_ip_recursive on
  location /cgi {
    root {DIR}/cgi
    cgi .sh /bin/sh
  }
}
`;

describe('set_real_ip_from / real_ip_header / real_ip_recursive', () => {
  let srv: RunningServer;
  let backend: HttpBackend;
  let v4: number;
  let v6: number;
  let rec: number;
  const addrOf = async (port: number, p: string, opts: Parameters<typeof getFrom>[2]): Promise<string> => {
    const r = await getFrom(port, p, opts);
    assert.equal(r.status, 200, r.body.toString());
    return r.body.toString().trim();
  };

  before(async () => {
    backend = await httpBackend();
    srv = await startServer({
      config: config(backend.port),
      files: {
        'www/a.txt': 'hello\n', // /blocked/a.txt and /limited/a.txt too (root replaces the prefix)
        'cgi/env.sh': ENV_SH, // /xri/env.sh and /loctrust/env.sh too (root replaces the prefix)
        // Creates the file its query names (so the test knows it is in progress), then waits (at most 5 s) for
        // "go" beside it.
        'cgi/wait.sh':
          'touch "$QUERY_STRING"; go="$(dirname "$QUERY_STRING")/go"; i=0\n' +
          'while [ ! -e "$go" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done\n' +
          'printf "Content-Type: text/plain\\r\\n\\r\\n"; echo done\n',
      },
    });
    [v4, v6, rec] = [srv.ports[0] ?? 0, srv.ports[1] ?? 0, srv.ports[2] ?? 0];
  });
  after(async () => {
    await srv.stop();
    await backend.close();
  });

  test("a trusted peer's X-Forwarded-For is CGI's REMOTE_ADDR and the access log's $remote_addr", async () => {
    assert.equal(await addrOf(v4, '/cgi/env.sh', { headers: xff('203.0.113.7') }), 'addr=203.0.113.7 port=');
    // With recursion off the last address counts, trusted or not; a port in the value is REMOTE_PORT.
    assert.equal(
      await addrOf(v4, '/cgi/env.sh', { headers: xff('198.51.100.1, 203.0.113.8:4711') }),
      'addr=203.0.113.8 port=4711',
    );
    // No header: the peer itself.
    assert.match(await addrOf(v4, '/cgi/env.sh', {}), /^addr=127\.0\.0\.1 port=\d+$/);
    const log = path.join(srv.dir, 'access.log');
    const text = await valueOf('the access log lines', () => {
      const t = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
      return t.split('\n').filter((l) => l.includes('/cgi/env.sh')).length >= 3 ? t : undefined;
    });
    assert.match(text, /^203\.0\.113\.7 127\.0\.0\.1 "GET \/cgi\/env\.sh HTTP\/1\.1" 200$/m);
    assert.match(text, /^203\.0\.113\.8 127\.0\.0\.1 "GET \/cgi\/env\.sh HTTP\/1\.1" 200$/m);
    assert.match(text, /^127\.0\.0\.1 127\.0\.0\.1 "GET \/cgi\/env\.sh HTTP\/1\.1" 200$/m);
  });

  test("an untrusted peer's header is ignored", async () => {
    const r = await addrOf(v4, '/cgi/env.sh', { from: '127.0.0.2', headers: xff('203.0.113.7') });
    assert.match(r, /^addr=127\.0\.0\.2 port=\d+$/);
    // X-Real-IP is not the configured header: ignored even from the trusted peer.
    assert.match(await addrOf(v4, '/cgi/env.sh', { headers: { 'X-Real-IP': '203.0.113.9' } }), /^addr=127\.0\.0\.1 /);
  });

  test('IPv6: a trusted ::1 forwards an IPv6 client; 127.0.0.2 on the dual-stack socket stays untrusted', async () => {
    const six = { host: '::1', headers: xff('2001:DB8:0:0::5') };
    assert.equal(await addrOf(v6, '/cgi/env.sh', six), 'addr=2001:db8::5 port=');
    assert.equal(
      await addrOf(v6, '/cgi/env.sh', { headers: xff('::ffff:203.0.113.4') }),
      'addr=::ffff:203.0.113.4 port=',
    );
    // 127.0.0.1 arrives IPv4-mapped on [::] and is trusted as 127.0.0.1; 127.0.0.2 is not.
    assert.equal(await addrOf(v6, '/cgi/env.sh', { headers: xff('203.0.113.3') }), 'addr=203.0.113.3 port=');
    assert.match(
      await addrOf(v6, '/cgi/env.sh', { from: '127.0.0.2', headers: xff('203.0.113.3') }),
      /addr=127\.0\.0\.2 /,
    );
  });

  test('deny keyed on the real address blocks the forwarded client, not the proxy forwarding another', async () => {
    const blocked = (from: string | undefined, value: string | null, host?: string): Promise<number> =>
      getFrom(host === undefined ? v4 : v6, '/blocked/a.txt', {
        ...(from !== undefined ? { from } : {}),
        ...(host !== undefined ? { host } : {}),
        headers: value === null ? {} : xff(value),
      }).then((r) => r.status);
    assert.equal(await blocked(undefined, '203.0.113.66'), 403);
    assert.equal(await blocked(undefined, '203.0.113.67'), 200);
    assert.equal(await blocked(undefined, null), 200);
    assert.equal(await blocked(undefined, '2001:db8::66', '::1'), 403);
    // The untrusted peer cannot have itself denied (or let in) by naming someone else.
    assert.equal(await blocked('127.0.0.2', '203.0.113.66'), 200);
  });

  test('real_ip_recursive: off takes the last address, on the rightmost untrusted one', async () => {
    const chain = xff('198.51.100.1, 203.0.113.9, 10.1.2.3');
    assert.equal(await addrOf(v4, '/cgi/env.sh', { headers: chain }), 'addr=10.1.2.3 port=');
    assert.equal(await addrOf(rec, '/cgi/env.sh', { headers: chain }), 'addr=203.0.113.9 port=');
    // Every hop trusted: the leftmost (nginx); two X-Forwarded-For fields are one list.
    assert.equal(await addrOf(rec, '/cgi/env.sh', { headers: xff('10.0.0.5, 10.1.2.3') }), 'addr=10.0.0.5 port=');
    const two = await RawClient.connect(rec);
    two.send(
      'GET /cgi/env.sh HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.2\r\nX-Forwarded-For: 10.9.9.9\r\n' +
        'Connection: close\r\n\r\n',
    );
    assert.equal((await two.read()).body.toString().trim(), 'addr=198.51.100.2 port=');
    two.close();
    // Untrusted peer: nothing, recursive or not.
    assert.match(await addrOf(rec, '/cgi/env.sh', { from: '127.0.0.2', headers: chain }), /^addr=127\.0\.0\.2 /);
  });

  test('limit_req is keyed by the real address', async () => {
    const st = async (from: string | undefined, value: string): Promise<number> =>
      (await getFrom(v4, '/limited/a.txt', { ...(from !== undefined ? { from } : {}), headers: xff(value) })).status;
    assert.equal(await st(undefined, '203.0.113.20'), 200);
    assert.equal(await st(undefined, '203.0.113.20'), 429); // 1r/m, no burst
    assert.equal(await st(undefined, '203.0.113.21'), 200); // the same peer forwarding another client
    // The untrusted peer is its own key, whatever it names.
    assert.equal(await st('127.0.0.2', '203.0.113.22'), 200);
    assert.equal(await st('127.0.0.2', '203.0.113.23'), 429);
  });

  test('limit_conn is keyed by the real address', async () => {
    const st = async (mark: string, from: string | undefined, value: string): Promise<number> => {
      const opts = { ...(from !== undefined ? { from } : {}), headers: xff(value) };
      return (await getFrom(v4, `/slow/wait.sh?${path.join(srv.dir, mark)}`, opts)).status;
    };
    const running = (...marks: string[]): boolean => marks.every((m) => fs.existsSync(path.join(srv.dir, m)));
    const first = st('a', undefined, '203.0.113.30');
    await until(() => running('a'), 'the first request to be in progress');
    // While it runs, another client through the same peer, and the untrusted peer (its own key), are let in ...
    const others = [st('b', undefined, '203.0.113.31'), st('c', '127.0.0.2', '203.0.113.30')];
    await until(() => running('b', 'c'), 'the other two to be in progress');
    // ... and the first one's client, through the same peer, is refused at once.
    assert.equal(await st('d', undefined, '203.0.113.30'), 429);
    assert.equal(running('d'), false);
    fs.writeFileSync(path.join(srv.dir, 'go'), '');
    assert.deepEqual(await Promise.all([first, ...others]), [200, 200, 200]);
  });

  test("a location's own settings apply when the server's changed nothing (nginx's preaccess phase)", async () => {
    // The server level reads X-Forwarded-For; /xri reads X-Real-IP.
    const xri = { headers: { 'X-Real-IP': '198.51.100.20' } };
    assert.equal(await addrOf(v4, '/xri/env.sh', xri), 'addr=198.51.100.20 port=');
    // /loctrust trusts 127.0.0.2, which the server level does not.
    const lt = { from: '127.0.0.2', headers: xff('198.51.100.21') };
    assert.equal(await addrOf(v4, '/loctrust/env.sh', lt), 'addr=198.51.100.21 port=');
    assert.match(await addrOf(v4, '/cgi/env.sh', lt), /^addr=127\.0\.0\.2 /);
  });

  test("the proxy sends the real address as X-Real-IP and in X-Forwarded-For; $realip_remote_addr the peer's", async () => {
    const r = await getFrom(v4, '/proxy/x', { headers: xff('198.51.100.1, 203.0.113.7') });
    assert.equal(r.status, 200);
    const seen = backend.seen.at(-1);
    assert.ok(seen !== undefined);
    assert.equal(seen.headers['x-real-ip'], '203.0.113.7');
    // As nginx: the list as received, plus $remote_addr.
    assert.equal(seen.headers['x-forwarded-for'], '198.51.100.1, 203.0.113.7, 203.0.113.7');
    assert.equal(seen.headers['x-peer'], '127.0.0.1');
    await getFrom(v4, '/proxy/y', { from: '127.0.0.2', headers: xff('203.0.113.7') });
    assert.equal(backend.seen.at(-1)?.headers['x-real-ip'], '127.0.0.2');
    assert.equal(backend.seen.at(-1)?.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.2');
  });

  test('a bad CIDR, a host name and proxy_protocol are configuration errors at FILE:LINE:COL', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'realip-conf-'));
    try {
      const conf = path.join(dir, 'test.conf');
      fs.writeFileSync(
        conf,
        'server {\n  listen 127.0.0.1:1\n  set_real_ip_from 10.0.0.0/33\n  set_real_ip_from proxy.example\n' +
          '  real_ip_header proxy_protocol\n  location / {\n    root .\n    set_real_ip_from 2001:db8::/129\n  }\n}\n',
      );
      const r = spawnSync(process.execPath, [MAIN, '-t', conf], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.ok(r.stderr.includes(`${conf}:3:20: bad set_real_ip_from "10.0.0.0/33"`), r.stderr);
      assert.ok(r.stderr.includes(`${conf}:4:20: bad set_real_ip_from "proxy.example"`), r.stderr);
      assert.ok(r.stderr.includes(`${conf}:5:18: "real_ip_header proxy_protocol" is not supported`), r.stderr);
      assert.ok(r.stderr.includes(`${conf}:8:22: bad set_real_ip_from "2001:db8::/129"`), r.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** HAProxy is in .ci/run's list; a machine without it skips this part. */
const HAPROXY = spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).status === 0;

describe('behind HAProxy (option forwardfor)', { skip: HAPROXY ? false : 'haproxy is not installed' }, () => {
  let srv: RunningServer;
  let hap: ChildProcess | null = null;
  let front = 0;
  let hapOut = '';

  before(async () => {
    srv = await startServer({
      config: `server {
  listen 127.0.0.1:{PORT}
  access_log {DIR}/access.log
  set_real_ip_from 127.0.0.3
  real_ip_header X-Forwarded-For
  location /cgi {
    root {DIR}/cgi
    cgi .sh /bin/sh
  }
  location /blocked {
    root {DIR}/www
    deny 127.0.0.2
  }
}
`,
      files: { 'cgi/env.sh': ENV_SH, 'www/a.txt': 'hello\n' },
    });
    front = await freePort();
    const cfg = path.join(srv.dir, 'haproxy.cfg');
    // HAProxy connects to us from 127.0.0.3 (`source`), the one trusted address.
    fs.writeFileSync(
      cfg,
      `defaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n  timeout server 10s\n` +
        `frontend f\n  bind 127.0.0.1:${front}\n  option forwardfor\n  default_backend b\n` +
        `backend b\n  source 127.0.0.3\n  server s1 127.0.0.1:${srv.port}\n`,
    );
    const p = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    hap = p;
    p.stdout.on('data', (d: Buffer) => (hapOut += d.toString()));
    p.stderr.on('data', (d: Buffer) => (hapOut += d.toString()));
    await until(
      async () => {
        try {
          const c = await RawClient.connect(front);
          c.close();
          return true;
        } catch {
          return p.exitCode !== null ? Promise.reject(new Error(`haproxy exited: ${hapOut}`)) : false;
        }
      },
      'haproxy to listen',
      5000,
      50,
    );
  });
  after(async () => {
    const p = hap;
    if (p !== null && p.exitCode === null) {
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await gone;
    }
    await srv.stop();
  });

  test("the client's own address reaches REMOTE_ADDR, the access log and deny through HAProxy", async () => {
    assert.match(
      await getFrom(front, '/cgi/env.sh', { from: '127.0.0.2' }).then((r) => r.body.toString()),
      /^addr=127\.0\.0\.2 port=$/m,
    );
    assert.match(
      (await getFrom(front, '/cgi/env.sh', { from: '127.0.0.1' })).body.toString(),
      /^addr=127\.0\.0\.1 port=$/m,
    );
    assert.equal((await getFrom(front, '/blocked/a.txt', { from: '127.0.0.2' })).status, 403);
    assert.equal((await getFrom(front, '/blocked/a.txt', { from: '127.0.0.1' })).status, 200);
    // A client's forged header cannot pass for another address: HAProxy appends the real one, the last counts.
    assert.equal(
      (await getFrom(front, '/blocked/a.txt', { from: '127.0.0.2', headers: xff('127.0.0.9') })).status,
      403,
    );
    const log = path.join(srv.dir, 'access.log');
    await until(
      () => fs.existsSync(log) && /^127\.0\.0\.2 - - \[.*"GET \/cgi\/env\.sh/m.test(fs.readFileSync(log, 'utf8')),
      'the access log line of 127.0.0.2',
    );
    // Straight to us from 127.0.0.2, the header is not believed.
    assert.match(
      (await getFrom(srv.port, '/cgi/env.sh', { from: '127.0.0.2', headers: xff('10.0.0.1') })).body.toString(),
      /addr=127\.0\.0\.2 /,
    );
  });
});

/** The same realip settings through nginx and through us, from the trusted and the untrusted peer. */
describe('side by side with nginx', { skip: nginxAvailable() ? false : 'nginx is not installed' }, () => {
  // Only the locations trust anyone: nginx's preaccess phase, and add_header shows the address it settled on.
  const loc = (name: string, root: string): string => `  location = /${name} {
    root ${root};
    set_real_ip_from 127.0.0.1;
    set_real_ip_from 10.0.0.0/8;
    set_real_ip_from 2001:db8::/32;
    real_ip_header X-Forwarded-For;
    real_ip_recursive ${name};
    add_header X-Addr "$remote_addr $realip_remote_addr" always;
  }`;
  const servers = (root: string): string =>
    `server {\n  listen 127.0.0.1:{PORT};\n${loc('off', root)}\n${loc('on', root)}\n}\n`;
  let ours: RunningServer;
  let theirs: RunningNginx;
  before(async () => {
    ours = await startServer({ config: servers('{DIR}/www'), files: { 'www/off': 'off\n', 'www/on': 'on\n' } });
    fs.chmodSync(ours.dir, 0o755);
    theirs = await startNginx({ root: ours.dir, servers: servers(path.join(ours.dir, 'www')) });
  });
  after(async () => {
    await theirs.stop();
    await ours.stop();
  });

  test('the same $remote_addr for every list, recursive or not, trusted peer or not', async () => {
    const values = [
      '203.0.113.7',
      '198.51.100.1, 203.0.113.7',
      '203.0.113.7, 10.1.2.3',
      '198.51.100.1,203.0.113.9, 10.1.2.3 ,10.0.0.4',
      '203.0.113.7 10.1.2.3',
      '10.0.0.5, 10.1.2.3',
      'garbage',
      '203.0.113.7, garbage',
      'garbage, 10.1.2.3',
      '203.0.113.8:4711',
      '[2001:db8::7]:80',
      '2001:DB8::7',
      '2001:db8:0:0:1:0:0:1',
      '2001:db8::9, 198.51.100.3',
      '::ffff:203.0.113.4',
      '[::1]',
      '203.0.113.7:0',
      ' , ',
    ];
    const diffs: string[] = [];
    let changed = 0;
    for (const from of ['127.0.0.1', '127.0.0.2'])
      for (const p of ['/off', '/on'])
        for (const v of values) {
          const a = await getFrom(ours.port, p, { from, headers: xff(v) });
          const b = await getFrom(theirs.port, p, { from, headers: xff(v) });
          const line = `${from} ${p} "${v}": ours ${a.status} "${a.header('x-addr') ?? ''}", nginx ${b.status} "${b.header('x-addr') ?? ''}"`;
          if (a.status !== b.status || a.header('x-addr') !== b.header('x-addr')) diffs.push(line);
          const mine = a.header('x-addr') ?? '';
          assert.ok(mine.endsWith(` ${from}`), line); // $realip_remote_addr is always the peer
          if (!mine.startsWith(`${from} `)) changed++;
        }
    assert.deepEqual(diffs, []);
    assert.ok(changed >= 20, `only ${changed} addresses replaced`);
  });
});
