/**
 * Safe defaults (issue 13, DESIGN §9), through real sockets: writes are opt-in, nothing uploaded can ever run
 * (the shipped config.conf is attacked location by location), OPTIONS and TRACE, 415 for a raw POST to a
 * directory, prohibited trailer fields dropped, hidden dot-files, symlinks that leave the root, an error page
 * deleted at run time, and hostile upload names.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { copyExampleSite, startExampleSite, type ExampleSite } from '../helpers/example-site.js';
import { get, rawRequest, type RawResponse } from '../helpers/http.js';
import { multipartRequest } from '../helpers/multipart.js';
import { REPO, startServer, type RunningServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

/** What a script prints when it runs; its source holds "6*7", never "42". */
const RAN = 'RAN-42';
const SCRIPTS: Record<string, string> = {
  '.py': '#!/usr/bin/env python3\nprint("Content-Type: text/plain\\n\\nRAN-" + str(6*7))\n',
  '.php': '<?php echo "RAN-" . (6*7); ?>\n',
};

const raw = (
  port: number,
  target: string,
  method: string,
  body: string,
  host = 'localhost',
  extra = '',
): Promise<RawResponse> =>
  rawRequest(
    port,
    `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );

describe('the shipped config.conf: upload a script into every location, then request it', () => {
  let site: string;
  let ex: ExampleSite;
  const before_: string[] = [];

  before(async () => {
    site = copyExampleSite();
    before_.push(...fs.readdirSync(path.join(site, 'cgi-bin')).sort());
    ex = await startExampleSite('3s', site);
  });
  after(async () => {
    await ex.server.stop();
    fs.rmSync(site, { recursive: true, force: true });
  });

  test('nothing runs: every upload is refused (405/404/403) or stored where it is only ever served as text', async () => {
    const config = loadConfig(path.join(REPO, 'config.conf'));
    assert.ok(config.ok, 'config.conf must be valid');
    const port = ex.server.port;
    let tried = 0;
    for (const server of config.config.servers) {
      const host = server.serverNames[0] ?? 'localhost';
      for (const loc of server.locations) {
        const dir = loc.path === '/' ? '/' : `${loc.path}/`;
        for (const [ext, source] of Object.entries(SCRIPTS)) {
          const name = `pwn-${loc.path.replace(/\W/g, '') || 'root'}${ext}`;
          const form = await rawRequest(
            port,
            multipartRequest(dir, [{ name: 'file', filename: name, content: source }], host),
          );
          const direct = await raw(port, `${dir}${name}`, 'POST', source, host);
          tried += 2;
          for (const r of [form, direct]) {
            assert.ok([201, 301, 403, 404, 405].includes(r.status), `POST into ${host}${dir}: ${r.status}`);
            assert.ok(!r.body.toString().includes(RAN), `POST into ${host}${dir} ran something`);
          }
          const fetched = await rawRequest(
            port,
            `GET ${dir}${name} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
          );
          assert.ok(!fetched.body.toString().includes(RAN), `GET ${host}${dir}${name} ran the upload`);
          if (fetched.status === 200 && loc.status) {
            assert.match(fetched.body.toString(), /^Active connections: /, 'a status location answers with counters');
          } else if (fetched.status === 200) {
            // Stored (only /uploads allows it): served as the bytes uploaded, never run.
            assert.equal(fetched.body.toString(), source, `${host}${dir}${name}`);
            assert.ok(form.status === 201 || direct.status === 201);
          } else {
            // 301: a redirect location, which serves nothing of its own.
            assert.ok([301, 404, 405].includes(fetched.status), `GET ${host}${dir}${name}: ${fetched.status}`);
          }
        }
      }
    }
    assert.ok(tried >= 24, `only ${tried} uploads tried`);
    assert.deepEqual(fs.readdirSync(path.join(site, 'cgi-bin')).sort(), before_, 'a file appeared among the scripts');
  });
});

describe('writes are opt-in; a CGI location never stores or deletes', () => {
  let srv: RunningServer;
  before(async () => {
    srv = await startServer({
      config: `server {
  host 127.0.0.1
  port {PORT}
  location / {
    root {DIR}/www
  }
  location /cgi {
    root {DIR}/cgi
    cgi .py /usr/bin/python3
  }
  location /cgi-rw {
    methods GET POST DELETE
    root {DIR}/cgi
    cgi .py /usr/bin/python3
  }
  location /up {
    methods GET POST
    root {DIR}/up
  }
}
`,
      files: {
        'www/a.txt': 'a\n',
        'www/d/b.txt': 'b\n',
        'cgi/echo.py':
          '#!/usr/bin/env python3\nimport os, sys\nsys.stdout.write("Content-Type: text/plain\\r\\n\\r\\n" + os.environ["REQUEST_METHOD"] + ":" + sys.stdin.read())\n',
        'cgi/readme.txt': 'read me\n',
        'up/.keep': '',
      },
    });
  });
  after(async () => {
    await srv.stop();
  });

  test('a location without "methods" is read-only: POST and DELETE → 405 with Allow, nothing changes', async () => {
    for (const [method, target] of [
      ['POST', '/a.txt'],
      ['POST', '/d/'],
      ['DELETE', '/a.txt'],
      ['POST', '/new.txt'],
    ] as const) {
      const r = await raw(srv.port, target, method, 'x=1');
      assert.equal(r.status, 405, `${method} ${target}`);
      assert.equal(r.header('allow'), 'GET, HEAD, OPTIONS');
    }
    assert.equal(fs.readFileSync(path.join(srv.dir, 'www/a.txt'), 'utf8'), 'a\n');
    assert.ok(!fs.existsSync(path.join(srv.dir, 'www/new.txt')));
    assert.equal((await get(srv.port, '/a.txt')).status, 200);
  });

  test('without "methods", POST reaches CGI scripts only', async () => {
    const r = await raw(srv.port, '/cgi/echo.py', 'POST', 'hello');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'POST:hello');
    const notScript = await raw(srv.port, '/cgi/readme.txt', 'POST', 'x');
    assert.equal(notScript.status, 405);
    assert.equal(notScript.header('allow'), 'GET, HEAD, OPTIONS');
    assert.equal((await get(srv.port, '/cgi/readme.txt')).body.toString(), 'read me\n');
  });

  test('even with POST and DELETE in "methods", a CGI location stores and deletes nothing', async () => {
    const upload = await rawRequest(
      srv.port,
      multipartRequest('/cgi-rw/', [{ name: 'f', filename: 'evil.py', content: SCRIPTS['.py'] ?? '' }]),
    );
    assert.equal(upload.status, 405);
    assert.equal(upload.header('allow'), 'GET, HEAD, OPTIONS');
    assert.equal(
      (await raw(srv.port, '/cgi-rw/evil.py', 'POST', 'x')).status,
      404,
      'no script by that name: nothing was stored',
    );
    const del = await raw(srv.port, '/cgi-rw/readme.txt', 'DELETE', '');
    assert.equal(del.status, 405);
    assert.ok(fs.existsSync(path.join(srv.dir, 'cgi/readme.txt')));
    assert.deepEqual(fs.readdirSync(path.join(srv.dir, 'cgi')).sort(), ['echo.py', 'readme.txt']);
    // DELETE of a script is a request for the script, which `methods` allows here.
    const scriptDelete = await raw(srv.port, '/cgi-rw/echo.py', 'DELETE', '');
    assert.equal(scriptDelete.body.toString(), 'DELETE:');
  });

  test('OPTIONS → 204 with Allow; OPTIONS * → 204; TRACE → 405 with Allow', async () => {
    const o = await raw(srv.port, '/a.txt', 'OPTIONS', '');
    assert.equal(o.status, 204);
    assert.equal(o.header('allow'), 'GET, HEAD, OPTIONS');
    assert.equal((await raw(srv.port, '/up/', 'OPTIONS', '')).header('allow'), 'GET, HEAD, POST, OPTIONS');
    assert.equal((await raw(srv.port, '/cgi/echo.py', 'OPTIONS', '')).header('allow'), 'GET, HEAD, POST, OPTIONS');
    const star = await raw(srv.port, '*', 'OPTIONS', '');
    assert.equal(star.status, 204);
    assert.equal(star.header('allow'), 'GET, HEAD, POST, DELETE, OPTIONS');
    const t = await raw(srv.port, '/a.txt', 'TRACE', '');
    assert.equal(t.status, 405);
    assert.equal(t.header('allow'), 'GET, HEAD, OPTIONS');
    assert.ok(!t.body.toString().includes('TRACE /a.txt'), 'TRACE never echoes the request');
  });

  test('a raw (non-multipart) POST to a directory URL → 415 with a short reason', async () => {
    const r = await raw(srv.port, '/up/', 'POST', 'just bytes', 'localhost', 'Content-Type: text/plain\r\n');
    assert.equal(r.status, 415);
    assert.match(r.body.toString(), /multipart\/form-data/);
    assert.deepEqual(fs.readdirSync(path.join(srv.dir, 'up')), ['.keep']);
  });

  test('a chunked body whose trailer holds Content-Type and Vary is stored (the fields are dropped)', async () => {
    const r = await rawRequest(
      srv.port,
      'POST /up/t.txt HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
        '5\r\nhello\r\n0\r\nContent-Type: text/evil\r\nVary: *\r\nX-Checksum: 1\r\n\r\n',
    );
    assert.equal(r.status, 201);
    const back = await get(srv.port, '/up/t.txt');
    assert.equal(back.body.toString(), 'hello');
    assert.equal(back.header('content-type'), 'text/plain; charset=utf-8');
  });
});

describe('hidden files, symlinks, error pages', () => {
  let srv: RunningServer;
  let errorLog: string;
  const logLines = (): string[] =>
    fs.existsSync(errorLog)
      ? fs
          .readFileSync(errorLog, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [];

  before(async () => {
    srv = await startServer({
      config: `server {
  host 127.0.0.1
  port {PORT}
  error_log {DIR}/error.log
  error_page 404 {DIR}/pages/404.html
  location / {
    methods GET POST DELETE
    root {DIR}/www
    directory_listing on
  }
  location /open {
    root {DIR}/open
    dotfiles allow
    directory_listing on
  }
  location /follow {
    root {DIR}/follow
    disable_symlinks off
    gzip on
  }
  location /same {
    root {DIR}/follow
    gzip on
  }
  location /strict {
    root {DIR}/strict
    disable_symlinks on
  }
}
`,
      files: {
        'www/.env': 'SECRET=1\n',
        'www/sub/.git/config': '[core]\n',
        'www/.well-known/acme-challenge/tok': 'challenge\n',
        'www/.well-known/.hidden': 'no\n',
        'www/shown.txt': 'shown\n',
        'open/.env': 'OPEN=1\n',
        'follow/.keep': '',
        'strict/real.txt': 'real\n',
        'outside.txt': 'OUTSIDE\n',
        'outside-big.txt': 'OUTSIDE, and long enough to be worth compressing. '.repeat(40),
        'pages/404.html': '<h1>custom 404</h1>\n',
      },
    });
    errorLog = path.join(srv.dir, 'error.log');
    fs.symlinkSync(path.join(srv.dir, 'outside.txt'), path.join(srv.dir, 'www/out.txt'));
    fs.symlinkSync(path.join(srv.dir, 'www/shown.txt'), path.join(srv.dir, 'www/in.txt'));
    fs.symlinkSync(path.join(srv.dir, 'outside.txt'), path.join(srv.dir, 'follow/out.txt'));
    fs.symlinkSync(path.join(srv.dir, 'outside-big.txt'), path.join(srv.dir, 'follow/big.txt'));
    fs.symlinkSync(path.join(srv.dir, 'strict/real.txt'), path.join(srv.dir, 'strict/in.txt'));
  });
  after(async () => {
    await srv.stop();
  });

  test('a path segment starting with "." is 404 for every method; /.well-known/ is served', async () => {
    for (const p of ['/.env', '/sub/.git/config', '/.well-known/.hidden', '/%2eenv']) {
      assert.equal((await get(srv.port, p)).status, 404, p);
    }
    assert.equal((await raw(srv.port, '/.env', 'DELETE', '')).status, 404);
    assert.equal((await raw(srv.port, '/.htaccess', 'POST', 'x')).status, 404);
    assert.ok(fs.existsSync(path.join(srv.dir, 'www/.env')));
    assert.ok(!fs.existsSync(path.join(srv.dir, 'www/.htaccess')));
    const acme = await get(srv.port, '/.well-known/acme-challenge/tok');
    assert.equal(acme.status, 200);
    assert.equal(acme.body.toString(), 'challenge\n');
    assert.ok(!(await get(srv.port, '/')).body.toString().includes('.env'), 'the listing hides dot-files');
  });

  test('dotfiles allow serves and lists them', async () => {
    const r = await get(srv.port, '/open/.env');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'OPEN=1\n');
    assert.match((await get(srv.port, '/open/')).body.toString(), /\.env/);
  });

  test('a symlink out of the root → 403 and one error-log line naming the path; links inside are followed', async () => {
    const before_ = logLines().length;
    const r = await get(srv.port, '/out.txt');
    assert.equal(r.status, 403);
    assert.ok(!r.body.toString().includes('OUTSIDE'));
    await until(() => logLines().length > before_, 'the error-log line');
    const added = logLines().slice(before_);
    assert.equal(added.length, 1, added.join('\n'));
    assert.ok(added[0]?.includes(path.join(srv.dir, 'www/out.txt')), added[0]);
    assert.equal((await get(srv.port, '/in.txt')).body.toString(), 'shown\n');
  });

  test('disable_symlinks off follows any link; on refuses even a link inside the root', async () => {
    assert.equal((await get(srv.port, '/follow/out.txt')).body.toString(), 'OUTSIDE\n');
    assert.equal((await get(srv.port, '/strict/in.txt')).status, 403);
    assert.equal((await get(srv.port, '/strict/real.txt')).body.toString(), 'real\n');
  });

  test('a file cached where links are followed is still refused where they are not (same files, both caches)', async () => {
    assert.equal((await get(srv.port, '/follow/out.txt')).body.toString(), 'OUTSIDE\n');
    assert.equal((await get(srv.port, '/same/out.txt')).status, 403, 'the small-file cache');
    const gz = { 'Accept-Encoding': 'gzip' };
    const followed = await get(srv.port, '/follow/big.txt', gz);
    assert.equal(followed.status, 200);
    assert.equal(followed.header('content-encoding'), 'gzip');
    const refused = await get(srv.port, '/same/big.txt', gz);
    assert.equal(refused.status, 403, 'the encoded-variant cache');
    assert.ok(!refused.body.toString('latin1').includes('OUTSIDE'));
  });

  test('an error_page file deleted at run time: the built-in page, and one error-log line', async () => {
    assert.match((await get(srv.port, '/missing-1')).body.toString(), /custom 404/);
    fs.unlinkSync(path.join(srv.dir, 'pages/404.html'));
    const before_ = logLines().length;
    const r = await get(srv.port, '/missing-2');
    assert.equal(r.status, 404);
    assert.match(r.body.toString(), /<h1>404 Not Found<\/h1>/);
    await until(() => logLines().length > before_, 'the error-log line');
    const added = logLines().slice(before_);
    assert.equal(added.length, 1, added.join('\n'));
    assert.match(
      added[0] ?? '',
      /error_page ".*pages\/404\.html" for 404 cannot be read \(ENOENT\): built-in page sent/,
    );
  });
});

describe('upload names', () => {
  let srv: RunningServer;
  let up: string;
  before(async () => {
    srv = await startServer({
      config: `server {\n  host 127.0.0.1\n  port {PORT}\n  location /up {\n    methods GET POST\n    root {DIR}/up\n  }\n}\n`,
      files: { 'up/.keep': '' },
    });
    up = path.join(srv.dir, 'up');
  });
  after(async () => {
    await srv.stop();
  });
  const stored = (): string[] =>
    fs
      .readdirSync(up)
      .filter((n) => n !== '.keep')
      .sort();
  const send = (filename: string): Promise<RawResponse> =>
    rawRequest(srv.port, multipartRequest('/up/', [{ name: 'f', filename, content: `content of ${filename}` }]));

  test('only what follows the last / or \\ is kept', async () => {
    assert.equal((await send('..\\..\\x.txt')).status, 201);
    assert.equal((await send('C:\\Users\\me\\photo.jpg')).status, 201);
    assert.deepEqual(stored(), ['photo.jpg', 'x.txt']);
  });

  test('no leading dots: ".upload-77.part" is stored visibly as upload-77.part', async () => {
    const r = await send('.upload-77.part');
    assert.equal(r.status, 201);
    assert.equal(r.header('location'), '/up/upload-77.part');
    assert.equal((await get(srv.port, '/up/upload-77.part')).body.toString(), 'content of .upload-77.part');
  });

  test('bidi controls are removed, so a listed name cannot spoof its extension', async () => {
    const r = await send('invoice\u202efdp.exe');
    assert.equal(r.status, 201);
    assert.ok(fs.existsSync(path.join(up, 'invoicefdp.exe')));
  });

  test('a name with nothing usable left → 400, nothing stored', async () => {
    const before_ = stored();
    const r = await send('...');
    assert.equal(r.status, 400);
    assert.deepEqual(stored(), before_);
  });

  test('a raw POST whose name is too long for the filesystem → 400, not 500', async () => {
    const r = await raw(srv.port, `/up/${'n'.repeat(300)}.txt`, 'POST', 'x');
    assert.equal(r.status, 400);
    assert.ok(!r.body.toString().includes('Error:'), 'no stack trace');
  });
});
