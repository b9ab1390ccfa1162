/**
 * Access control through real sockets (issue 20): allow/deny from three distinct sources (127.0.0.1, 127.0.0.2,
 * ::1, and 127.0.0.1 arriving IPv4-mapped on a dual-stack socket), nginx's inheritance, auth_basic against user
 * files made by Debian's htpasswd in every format, satisfy all|any, CGI's AUTH_TYPE/REMOTE_USER, $remote_user.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MAIN, startServer, type RunningServer } from '../helpers/server.js';
import { RawClient, type RawResponse } from '../helpers/http.js';
import { ensureHtpasswd } from '../helpers/htpasswd.js';

/** One GET from `from` to `host`:`port`. */
async function fetchFrom(
  port: number,
  urlPath: string,
  opts: { host?: string; from?: string; auth?: string } = {},
): Promise<RawResponse> {
  const c = await RawClient.connect(port, opts.host ?? '127.0.0.1', opts.from);
  try {
    const auth = opts.auth === undefined ? '' : `Authorization: Basic ${Buffer.from(opts.auth).toString('base64')}\r\n`;
    c.send(`GET ${urlPath} HTTP/1.1\r\nHost: localhost\r\n${auth}Connection: close\r\n\r\n`);
    return await c.read();
  } finally {
    c.close();
  }
}

const USERS: Record<string, { flag: string[]; password: string }> = {
  bcrypt: { flag: ['-B'], password: 'b-pass' },
  bcrypt10: { flag: ['-B', '-C', '10'], password: 'b10 pass' },
  apr1: { flag: ['-m'], password: 'pässwörd' },
  sha1: { flag: ['-s'], password: 's:pass' },
  sha256: { flag: ['-2'], password: 'two-five-six' },
  sha512: { flag: ['-5', '-r', '6000'], password: 'five-one-two' },
};

const CONFIG = `server {
  listen 127.0.0.1:{PORT}
  listen [::]:{PORT2}
  access_log {DIR}/access.log
  deny 127.0.0.3
  location / {
    root {DIR}/www
  }
  location /open {
    root {DIR}/www
    allow all
  }
  location /v4only {
    root {DIR}/www
    allow 127.0.0.1
    deny all
  }
  location /net {
    root {DIR}/www
    deny 127.0.0.2
    allow 127.0.0.0/8
    allow ::1
    deny all
  }
  location /v6 {
    root {DIR}/www
    allow ::1/128
    deny all
  }
  location /private {
    root {DIR}/www
    auth_basic "Secret Area"
    auth_basic_user_file {DIR}/users
  }
  location /both {
    root {DIR}/www
    allow 127.0.0.2
    deny all
    auth_basic "Both"
    auth_basic_user_file {DIR}/users
  }
  location /either {
    root {DIR}/www
    satisfy any
    allow 127.0.0.2
    deny all
    auth_basic "Either"
    auth_basic_user_file {DIR}/users
  }
  location /cgi {
    root {DIR}/cgi
    cgi .sh /bin/sh
    auth_basic "Scripts"
    auth_basic_user_file {DIR}/users
  }
}
`;

describe('allow / deny / auth_basic / satisfy', () => {
  let srv: RunningServer;
  let v4: number;
  let v6: number;

  before(async () => {
    ensureHtpasswd();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'access-users-'));
    const users = path.join(tmp, 'users');
    fs.writeFileSync(users, '# made by htpasswd\n');
    for (const [name, u] of Object.entries(USERS)) execFileSync('htpasswd', ['-b', ...u.flag, users, name, u.password]);
    srv = await startServer({
      config: CONFIG,
      files: {
        'www/a.txt': 'hello\n',
        users: fs.readFileSync(users),
        'cgi/env.sh': 'printf "Content-Type: text/plain\\r\\n\\r\\n"; echo "type=$AUTH_TYPE user=$REMOTE_USER"\n',
      },
    });
    fs.rmSync(tmp, { recursive: true, force: true });
    v4 = srv.ports[0]!;
    v6 = srv.ports[1]!;
  });
  after(async () => {
    await srv.stop();
  });

  test('first match wins, per source address and family', async () => {
    const cases: [string, { host?: string; from?: string }, number][] = [
      ['/v4only/a.txt', { from: '127.0.0.1' }, 200],
      ['/v4only/a.txt', { from: '127.0.0.2' }, 403],
      ['/v4only/a.txt', { host: '::1' }, 403],
      ['/net/a.txt', { from: '127.0.0.1' }, 200],
      ['/net/a.txt', { from: '127.0.0.2' }, 403],
      ['/net/a.txt', { host: '::1' }, 200],
      ['/v6/a.txt', { host: '::1' }, 200],
      ['/v6/a.txt', { from: '127.0.0.1' }, 403],
    ];
    for (const [p, o, want] of cases) {
      const port = o.host === '::1' ? v6 : v4;
      const r = await fetchFrom(port, p, o);
      assert.equal(r.status, want, `${p} from ${o.from ?? o.host ?? ''}`);
    }
  });

  test('an IPv4-mapped client on a dual-stack socket is judged by the IPv4 rules', async () => {
    // 127.0.0.2 to [::]:PORT2 arrives as ::ffff:127.0.0.2.
    assert.equal((await fetchFrom(v6, '/v4only/a.txt', { from: '127.0.0.1' })).status, 200);
    assert.equal((await fetchFrom(v6, '/v4only/a.txt', { from: '127.0.0.2' })).status, 403);
    assert.equal((await fetchFrom(v6, '/net/a.txt', { from: '127.0.0.2' })).status, 403);
  });

  test('a location without rules inherits the server level; one with any rule replaces it', async () => {
    assert.equal((await fetchFrom(v4, '/a.txt', { from: '127.0.0.3' })).status, 403);
    assert.equal((await fetchFrom(v4, '/a.txt', { from: '127.0.0.2' })).status, 200);
    assert.equal((await fetchFrom(v4, '/open/a.txt', { from: '127.0.0.3' })).status, 200);
    // A path no location matches is judged by the server level too.
    assert.equal((await fetchFrom(v4, '/a.txt', { from: '127.0.0.3' })).status, 403);
  });

  test('auth_basic: 401 with the challenge, every htpasswd format accepted, wrong ones refused', async () => {
    const none = await fetchFrom(v4, '/private/a.txt');
    assert.equal(none.status, 401);
    assert.equal(none.header('www-authenticate'), 'Basic realm="Secret Area", charset="UTF-8"');
    let i = 0;
    for (const [name, u] of Object.entries(USERS)) {
      const good = await fetchFrom(v4, '/private/a.txt', { auth: `${name}:${u.password}` });
      assert.equal(good.status, 200, name);
      assert.equal(good.body.toString(), 'hello\n');
      // Other addresses, two in turn, so the failure budget of one address (a burst of 5) is not what is being
      // tested here: a lone check is quick enough for seven failures in a row to exceed it.
      const from = i++ % 2 === 0 ? '127.0.0.2' : '127.0.0.5';
      const bad = await fetchFrom(v4, '/private/a.txt', { auth: `${name}:${u.password}x`, from });
      assert.equal(bad.status, 401, `${name} with a wrong password`);
    }
    assert.equal((await fetchFrom(v4, '/private/a.txt', { auth: 'nobody:x', from: '127.0.0.5' })).status, 401);
  });

  test('satisfy all needs both; satisfy any either', async () => {
    const cred = `apr1:${USERS['apr1']!.password}`;
    assert.equal((await fetchFrom(v4, '/both/a.txt', { from: '127.0.0.1', auth: cred })).status, 403);
    assert.equal((await fetchFrom(v4, '/both/a.txt', { from: '127.0.0.2' })).status, 401);
    assert.equal((await fetchFrom(v4, '/both/a.txt', { from: '127.0.0.2', auth: cred })).status, 200);
    assert.equal((await fetchFrom(v4, '/either/a.txt', { from: '127.0.0.2' })).status, 200);
    assert.equal((await fetchFrom(v4, '/either/a.txt', { from: '127.0.0.1' })).status, 401);
    assert.equal((await fetchFrom(v4, '/either/a.txt', { from: '127.0.0.1', auth: cred })).status, 200);
  });

  test('CGI sees AUTH_TYPE and REMOTE_USER; the access log shows $remote_user', async () => {
    const r = await fetchFrom(v4, '/cgi/env.sh', { auth: `sha1:${USERS['sha1']!.password}` });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'type=Basic user=sha1\n');
    const log = path.join(srv.dir, 'access.log');
    const deadline = Date.now() + 5000;
    let text = '';
    while (Date.now() < deadline && !/ - sha1 \[.*"GET \/cgi\/env\.sh/.test(text)) {
      await new Promise((res) => setTimeout(res, 100));
      text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
    }
    assert.match(text, / - sha1 \[.*"GET \/cgi\/env\.sh/);
    assert.match(text, /127\.0\.0\.1 - - \[.*"GET \/private\/a\.txt HTTP\/1\.1" 401/);
  });

  test('the user file is read again when it changes', async () => {
    const users = path.join(srv.dir, 'users');
    assert.equal((await fetchFrom(v4, '/private/a.txt', { auth: 'late:comer', from: '127.0.0.3' })).status, 403);
    execFileSync('htpasswd', ['-b', '-m', users, 'late', 'comer']);
    assert.equal((await fetchFrom(v4, '/private/a.txt', { auth: 'late:comer' })).status, 200);
    execFileSync('htpasswd', ['-D', users, 'late']);
    assert.equal((await fetchFrom(v4, '/private/a.txt', { auth: 'late:comer' })).status, 401);
  });
});

describe('auth_basic_user_file checked at load', () => {
  test('an unknown hash format is a config error naming the line of the user file', () => {
    ensureHtpasswd();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'access-bad-'));
    try {
      const users = path.join(dir, 'users');
      fs.writeFileSync(users, '# users\n');
      execFileSync('htpasswd', ['-b', '-B', users, 'ok', 'pw']);
      // htpasswd -d writes the old DES crypt(3), which we do not accept.
      execFileSync('htpasswd', ['-b', '-d', users, 'des', 'pw']);
      const conf = path.join(dir, 'test.conf');
      fs.writeFileSync(
        conf,
        `server {\n  listen 127.0.0.1:1\n  location / {\n    root ${dir}\n    auth_basic "x"\n    auth_basic_user_file ${users}\n  }\n}\n`,
      );
      const r = spawnSync(process.execPath, [MAIN, '-t', conf], { encoding: 'utf8' });
      assert.equal(r.status, 1, r.stderr);
      assert.ok(r.stderr.includes(`${users}:3:5: unknown password hash format`), r.stderr);
      assert.ok(r.stderr.includes('for user "des"'), r.stderr);
      assert.ok(r.stderr.includes(`(auth_basic_user_file at ${conf}:6:26)`), r.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
