/**
 * Path traversal (DESIGN §6 "Paths"): whatever the encoding of the dots and slashes, nothing outside a location's
 * root is ever read, listed, written or deleted. Each attempt must get 400, 403 or 404 (or a 301/405 that serves
 * nothing), and never the secret's bytes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get, rawRequest, type RawResponse } from '../helpers/http.js';

const SECRET = 'TOP-SECRET-4f1c9e\n';

const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  location / {
    methods GET
    root {DIR}/www
    directory_listing on
  }
  location /files {
    methods GET
    root {DIR}/www/files
    directory_listing on
  }
  location /up {
    methods GET POST DELETE
    root {DIR}/www/up
  }
}
`;

let srv: RunningServer;

before(async () => {
  srv = await startServer({
    config: CONFIG,
    files: {
      'secret.txt': SECRET,
      'outside/secret.txt': SECRET,
      'www/index.txt': 'public\n',
      'www/files/a.txt': 'file a\n',
      'www/up/victim.txt': 'keep me\n',
    },
  });
  // Symlinks inside the root that point outside it (a file and a directory), and one that stays inside.
  fs.symlinkSync(path.join(srv.dir, 'secret.txt'), path.join(srv.dir, 'www/link.txt'));
  fs.symlinkSync(path.join(srv.dir, 'outside'), path.join(srv.dir, 'www/linkdir'));
  fs.symlinkSync(path.join(srv.dir, 'secret.txt'), path.join(srv.dir, 'www/files/escape.txt'));
  fs.symlinkSync('/etc', path.join(srv.dir, 'www/files/etc'));
  fs.symlinkSync(path.join(srv.dir, 'www/files/a.txt'), path.join(srv.dir, 'www/inside-link.txt'));
});

after(async () => {
  await srv.stop();
  fs.rmSync(srv.dir, { recursive: true, force: true });
});

const REFUSED = new Set([400, 403, 404]);

/** Nothing secret in the answer: no secret bytes, no /etc/passwd, no listing of the outside directory. */
function assertNothingLeaked(r: RawResponse, what: string): void {
  const body = r.body.toString('latin1');
  assert.ok(!body.includes('TOP-SECRET'), `${what}: secret served (status ${r.status})`);
  assert.ok(!/root:.*:0:0:/.test(body), `${what}: /etc/passwd served (status ${r.status})`);
  assert.ok(!body.includes('secret.txt'), `${what}: outside directory listed (status ${r.status})`);
  assert.ok(!body.includes('passwd'), `${what}: /etc listed (status ${r.status})`);
}

async function attempt(target: string, expectRefused = true): Promise<RawResponse> {
  const r = await rawRequest(srv.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  assertNothingLeaked(r, target);
  if (expectRefused) assert.ok(REFUSED.has(r.status), `${target}: status ${r.status}, expected 400/403/404`);
  return r;
}

describe('traversal attempts on GET', () => {
  const targets = [
    '/../secret.txt',
    '/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.txt',
    '/%2e%2e%2fsecret.txt',
    '/..%2fsecret.txt',
    '/.%2e/secret.txt',
    '/files/../../secret.txt',
    '/files/..%2f..%2fsecret.txt',
    '/files/%2e%2e/%2e%2e/secret.txt',
    '/files/../../etc/passwd',
    '/files/../../../../../../etc/passwd',
    '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
    '/%252e%252e/secret.txt',
    '/%c0%ae%c0%ae/secret.txt',
    '/%c0%af..%c0%afsecret.txt',
    '/%e0%80%ae%e0%80%ae/secret.txt',
    '/%00',
    '/index.txt%00',
    '/index.txt%00.html',
    '/files/a.txt%00/../../secret.txt',
    '/..\\secret.txt',
    '/..\\..\\secret.txt',
    '/files/..\\..\\secret.txt',
    '/%5c..%5csecret.txt',
    '/files/%5c..%5c..%5csecret.txt',
    '//etc/passwd',
    '/./../secret.txt',
    '/files/./.././../secret.txt',
    '/%2fetc%2fpasswd',
    '/%',
    '/%zz',
  ];
  for (const t of targets) {
    test(`GET ${t}`, async () => {
      await attempt(t);
    });
  }

  test('NUL and invalid UTF-8 are 400', async () => {
    for (const t of ['/%00', '/index.txt%00', '/%c0%ae%c0%ae/secret.txt', '/%ff', '/%']) {
      assert.equal((await attempt(t)).status, 400, t);
    }
  });

  test('dot segments that stay inside the root resolve normally', async () => {
    const r = await get(srv.port, '/files/../index.txt');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'public\n');
    const r2 = await get(srv.port, '/files/x/../a.txt');
    assert.equal(r2.body.toString(), 'file a\n');
  });

  test('absolute-form: GET http://localhost/../../etc/passwd', async () => {
    for (const t of [
      'http://localhost/../../etc/passwd',
      'http://localhost/%2e%2e/%2e%2e/secret.txt',
      'http://localhost/files/../../secret.txt',
    ]) {
      await attempt(t);
    }
  });

  test('a symlink inside the root pointing to a file outside it is not followed', async () => {
    await attempt('/link.txt');
    await attempt('/files/escape.txt');
  });

  test('a symlink inside the root pointing to a directory outside it is not followed', async () => {
    await attempt('/linkdir/secret.txt');
    await attempt('/linkdir/');
    await attempt('/files/etc/passwd');
    await attempt('/files/etc/');
  });

  test('a symlink that stays inside the root is served', async () => {
    const r = await get(srv.port, '/inside-link.txt');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'file a\n');
  });

  test('the listing of the root shows the symlink names but serves nothing outside', async () => {
    const r = await get(srv.port, '/');
    assert.equal(r.status, 200);
    assert.ok(!r.body.toString().includes('TOP-SECRET'));
    await attempt('/link.txt');
  });
});

describe('traversal attempts that write or delete', () => {
  async function send(method: string, target: string, body = ''): Promise<RawResponse> {
    const r = await rawRequest(
      srv.port,
      `${method} ${target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      { timeoutMs: 3000 },
    );
    assertNothingLeaked(r, `${method} ${target}`);
    return r;
  }

  test('POST cannot create a file outside the root', async () => {
    for (const t of [
      '/up/../../pwned.txt',
      '/up/..%2f..%2fpwned.txt',
      '/up/%2e%2e/%2e%2e/pwned.txt',
      '/up/..\\..\\pwned.txt',
      '/up/%2e%2e%5c%2e%2e%5cpwned.txt',
    ]) {
      const r = await send('POST', t, 'pwned');
      // A backslash is an ordinary byte of a file name on POSIX: "..\..\pwned.txt" may be stored inside the root.
      if (!t.includes('\\') && !t.includes('%5c')) assert.ok(r.status >= 400, `POST ${t}: status ${r.status}`);
    }
    const found: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(d, e.name));
        else if (e.name.includes('pwned')) found.push(path.join(d, e.name));
      }
    };
    walk(srv.dir);
    // A literal file named "..\..\pwned.txt" inside the upload root would be harmless; anything elsewhere is not.
    assert.deepEqual(
      found.filter((f) => path.dirname(f) !== path.join(srv.dir, 'www/up')),
      [],
    );
  });

  test('POST cannot overwrite a file outside the root through a symlink', async () => {
    fs.symlinkSync(path.join(srv.dir, 'secret.txt'), path.join(srv.dir, 'www/up/trap.txt'));
    try {
      await rawRequest(
        srv.port,
        'POST /up/trap.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 6\r\nConnection: close\r\n\r\nevil!\n',
        { timeoutMs: 3000 },
      );
      assert.equal(fs.readFileSync(path.join(srv.dir, 'secret.txt'), 'latin1'), SECRET);
    } finally {
      fs.rmSync(path.join(srv.dir, 'www/up/trap.txt'), { force: true });
    }
  });

  test('DELETE cannot remove a file outside the root', async () => {
    for (const t of [
      '/up/../../secret.txt',
      '/up/%2e%2e/%2e%2e/secret.txt',
      '/up/..%2f..%2fsecret.txt',
      '/up/..%5c..%5csecret.txt',
    ]) {
      const r = await send('DELETE', t);
      assert.ok(r.status >= 400, `DELETE ${t}: status ${r.status}`);
    }
    assert.equal(fs.readFileSync(path.join(srv.dir, 'secret.txt'), 'latin1'), SECRET);
    assert.equal(fs.readFileSync(path.join(srv.dir, 'www/up/victim.txt'), 'latin1'), 'keep me\n');
  });

  test('DELETE through a symlink to a file outside the root leaves the target alone', async () => {
    fs.symlinkSync(path.join(srv.dir, 'outside/secret.txt'), path.join(srv.dir, 'www/up/del-trap.txt'));
    try {
      await rawRequest(srv.port, 'DELETE /up/del-trap.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', {
        timeoutMs: 3000,
      });
      assert.equal(fs.readFileSync(path.join(srv.dir, 'outside/secret.txt'), 'latin1'), SECRET);
    } finally {
      fs.rmSync(path.join(srv.dir, 'www/up/del-trap.txt'), { force: true });
    }
  });
});
