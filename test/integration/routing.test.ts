/**
 * nginx's routing idioms through real sockets (issue 17): location modifiers and their order, regex captures,
 * variables, return, rewrite, try_files (SPA, front controller through CGI with $args kept, =CODE), error_page
 * as an internal redirect with its status rules, the cycle limit, add_header inheritance and expires.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get, rawRequest, type RawResponse } from '../helpers/http.js';
import { until } from '../helpers/wait.js';

const PY = process.env['PYTHON'] ?? '/usr/bin/python3';

const CONFIG = `server {
  listen 127.0.0.1:{PORT}
  server_name site.test
  error_page 404 /errors/404.html
  error_page 410 =200 /errors/gone.html
  error_page 418 = /teapot
  error_page 403 /loop/x
  rewrite ^/old-server/(.*)$ /new/$1 permanent
  add_header X-Server-Level on
  location / {
    root {DIR}/www
    default_file index.html
  }
  location = /exact {
    return 200 "exact $uri"
  }
  location /images {
    root {DIR}/www/images
  }
  location ^~ /static/ {
    return 200 "stop $uri"
  }
  location ~ \\.(png|gif)$ {
    return 200 "regex $1 for $uri"
  }
  location ~* \\.JPG$ {
    return 200 "caseless $uri"
  }
  location ~ ^/users/(\\d+)/posts/(\\d+)$ {
    return 301 /u/$1/p/$2?from=$arg_from
  }
  location /vars {
    return 200 "$scheme|$host|$server_name|$server_port|$request_uri|$uri|$args|$arg_a|$is_args|$remote_addr|$request_method|$http_x_thing|$document_root"
  }
  location /rw {
    rewrite ^/rw/last/(.*)$ /exact last
    rewrite ^/rw/break/(.*)$ /$1 break
    rewrite ^/rw/redirect/(.*)$ /target/$1 redirect
    rewrite ^/rw/perm/(.*)$ /target/$1? permanent
    rewrite ^/rw/abs$ http://elsewhere.test/x
    rewrite ^/rw/args$ /vars?b=2 last
    root {DIR}/www
  }
  location /cycle {
    rewrite ^ /cycle/again last
  }
  location /app {
    root {DIR}/www/app
    default_file index.html
    try_files $uri $uri/ /app/index.html
  }
  location ~ ^/people/(\\w+)/photo$ {
    alias {DIR}/www/people/$1.txt
  }
  location ~ ^/site/([a-z]+)/ {
    root {DIR}/www/sites/$1
  }
  location /drop {
    root {DIR}/www/drop
    methods GET POST DELETE
    try_files $uri $uri.html /drop/index.html
  }
  location /ro {
    root {DIR}/www/ro
    try_files $uri /drop/index.html
  }
  location /assets {
    root {DIR}/www/assets
    try_files $uri =404
  }
  location /wiki {
    root {DIR}/cgi
    try_files $uri /cgi/front.py?page=$uri&$args
  }
  location /cgi {
    root {DIR}/cgi
    cgi .py ${PY}
  }
  location /teapot {
    return 200 "tea"
  }
  location /brew {
    return 418
  }
  location /gone {
    return 410
  }
  location /loop {
    try_files $uri /loop/again
  }
  location /forbidden {
    return 403
  }
  location /hdr {
    root {DIR}/www/hdr
    add_header X-Loc one
    add_header X-Always two always
    expires 1h
  }
  location /inherit {
    root {DIR}/www/inherit
    expires epoch
  }
  location /max {
    root {DIR}/www/max
    expires max
  }
}
`;

const FILES: Record<string, string> = {
  'www/index.html': 'home\n',
  'www/page.html': 'page\n',
  'www/errors/404.html': 'custom 404\n',
  'www/errors/gone.html': 'gone page\n',
  'www/images/logo.txt': 'logo\n',
  'www/app/index.html': 'spa\n',
  'www/drop/index.html': 'drop index\n',
  'www/people/ada.txt': 'photo of ada\n',
  'www/sites/blue/site/blue/page.txt': 'blue page\n',
  'www/drop/old.txt': 'old\n',
  'www/drop/page.html': 'page\n',
  'www/ro/.keep': '',
  'www/app/main.js': 'js\n',
  'www/app/sub/index.html': 'sub\n',
  'www/assets/app.css': 'css\n',
  'www/hdr/file.txt': 'h\n',
  'www/inherit/file.txt': 'i\n',
  'www/max/file.txt': 'm\n',
  'www/hello.txt': 'hello\n',
  'cgi/front.py':
    '#!/usr/bin/env python3\nimport os\nprint("Content-Type: text/plain")\nprint()\n' +
    'print("q=" + os.environ.get("QUERY_STRING", "") + " m=" + os.environ["REQUEST_METHOD"] + " uri=" + os.environ.get("REQUEST_URI", ""))\n',
  'cgi/existing.txt': 'real file\n',
};

let srv: RunningServer;
before(async () => {
  srv = await startServer({ config: CONFIG, files: FILES });
});
after(async () => {
  await srv.stop();
});

const body = (r: { body: Buffer }): string => r.body.toString();

describe('location modifiers and their order', () => {
  test('= matches only the exact path', async () => {
    const r = await get(srv.port, '/exact');
    assert.equal(r.status, 200);
    assert.equal(body(r), 'exact /exact');
    const other = await get(srv.port, '/exact/more');
    assert.equal(other.status, 404);
  });
  test('a regex beats a shorter prefix; ^~ stops the regex search', async () => {
    assert.equal(body(await get(srv.port, '/a/b.png')), 'regex png for /a/b.png');
    assert.equal(body(await get(srv.port, '/images/x.gif')), 'regex gif for /images/x.gif');
    assert.equal(body(await get(srv.port, '/static/x.png')), 'stop /static/x.png');
  });
  test('~* ignores case, ~ does not', async () => {
    assert.equal(body(await get(srv.port, '/a/photo.jpg')), 'caseless /a/photo.jpg');
    assert.equal((await get(srv.port, '/a/b.PNG')).status, 404);
  });
  test('the longest prefix serves when no regex matches (root replaces the prefix)', async () => {
    const r = await get(srv.port, '/images/logo.txt');
    assert.equal(r.status, 200);
    assert.equal(body(r), 'logo\n');
  });
  test('captures reach return', async () => {
    const r = await get(srv.port, '/users/12/posts/7?from=feed');
    assert.equal(r.status, 301);
    assert.equal(r.header('location'), '/u/12/p/7?from=feed');
  });
});

describe('variables', () => {
  test('each one expands', async () => {
    const r = await get(srv.port, '/vars/x%20y?a=1&c=3', { Host: 'Site.Test:8080', 'X-Thing': 'thing' });
    const parts = body(r).split('|');
    assert.deepEqual(parts, [
      'http',
      'site.test',
      'site.test',
      String(srv.port),
      '/vars/x%20y?a=1&c=3',
      '/vars/x y',
      'a=1&c=3',
      '1',
      '?',
      '127.0.0.1',
      'GET',
      'thing',
      '',
    ]);
  });
});

describe('return and rewrite', () => {
  test('server-level rewrite runs before any location', async () => {
    const r = await get(srv.port, '/old-server/a/b?q=1');
    assert.equal(r.status, 301);
    assert.equal(r.header('location'), '/new/a/b?q=1');
  });
  test('last searches the locations again', async () => {
    assert.equal(body(await get(srv.port, '/rw/last/zzz')), 'exact /exact');
  });
  test('break serves the new URI in this location', async () => {
    const r = await get(srv.port, '/rw/break/hello.txt');
    assert.equal(r.status, 200);
    assert.equal(body(r), 'hello\n');
  });
  test('redirect is 302 and keeps the arguments; permanent is 301 and "?" drops them', async () => {
    const r = await get(srv.port, '/rw/redirect/p?x=1');
    assert.equal(r.status, 302);
    assert.equal(r.header('location'), '/target/p?x=1');
    const p = await get(srv.port, '/rw/perm/p?x=1');
    assert.equal(p.status, 301);
    assert.equal(p.header('location'), '/target/p');
  });
  test('an absolute replacement redirects (302)', async () => {
    const r = await get(srv.port, '/rw/abs');
    assert.equal(r.status, 302);
    assert.equal(r.header('location'), 'http://elsewhere.test/x');
  });
  test('new arguments come first, the old ones follow', async () => {
    const parts = body(await get(srv.port, '/rw/args?a=9')).split('|');
    assert.equal(parts[5], '/vars');
    assert.equal(parts[6], 'b=2&a=9');
    assert.equal(parts[7], '9');
  });
  test('a rewrite cycle stops after 10 with 500', async () => {
    const r = await get(srv.port, '/cycle');
    assert.equal(r.status, 500);
    // The log line travels on the server's stderr pipe, which may arrive after the response.
    await until(() => /rewrite or internal redirection cycle/.test(srv.output()), 'the cycle logged');
  });
});

describe('captures in root and alias', () => {
  test('alias with a capture is the file itself; root with one gets the URI appended', async () => {
    const photo = await get(srv.port, '/people/ada/photo');
    assert.equal(photo.status, 200);
    assert.equal(body(photo), 'photo of ada\n');
    assert.equal((await get(srv.port, '/people/bob/photo')).status, 404);
    const page = await get(srv.port, '/site/blue/page.txt');
    assert.equal(page.status, 200);
    assert.equal(body(page), 'blue page\n');
    assert.equal((await get(srv.port, '/site/red/page.txt')).status, 404);
  });
});

describe('try_files', () => {
  test('the SPA fallback answers 200 with index.html for a client route', async () => {
    const r = await get(srv.port, '/app/settings/profile');
    assert.equal(r.status, 200);
    assert.equal(body(r), 'spa\n');
  });
  test('an existing file and an existing directory ($uri/) are served', async () => {
    assert.equal(body(await get(srv.port, '/app/main.js')), 'js\n');
    // nginx: "$uri/" finds the directory, and the URI without its slash gets the slash redirect.
    const r = await get(srv.port, '/app/sub');
    assert.equal(r.status, 301);
    assert.equal(r.header('location'), '/app/sub/');
    const d = await get(srv.port, '/app/sub/');
    assert.equal(d.status, 200);
    assert.equal(body(d), 'sub\n');
  });
  test('in an upload location POST and DELETE skip try_files: the path named, never a candidate or the fallback', async () => {
    const send = (m: string, p: string, data = ''): Promise<RawResponse> =>
      rawRequest(
        srv.port,
        `${m} ${p} HTTP/1.1\r\nHost: site.test\r\nContent-Length: ${data.length}\r\nConnection: close\r\n\r\n${data}`,
      );
    const drop = (f: string): string => path.join(srv.dir, 'www/drop', f);
    assert.equal((await send('POST', '/drop/new.txt', 'new')).status, 201, 'a new file is stored where named');
    assert.equal(fs.readFileSync(drop('new.txt'), 'utf8'), 'new');
    assert.equal((await send('POST', '/drop/page', 'not page.html')).status, 201);
    assert.equal(fs.readFileSync(drop('page.html'), 'utf8'), 'page\n', 'the $uri.html candidate is untouched');
    assert.equal((await send('DELETE', '/drop/missing.txt')).status, 404, 'not the fallback index.html');
    assert.equal((await send('DELETE', '/drop/old.txt')).status, 204);
    assert.equal(fs.existsSync(drop('old.txt')), false);
    assert.equal(body(await get(srv.port, '/drop/elsewhere')), 'drop index\n', 'GET still falls back');
    // From a read-only location, the fallback lands in the upload location: read-only there too.
    const post = await send('POST', '/ro/x.txt', 'overwrite?');
    assert.equal(post.status, 405);
    assert.equal(post.header('allow'), 'GET, HEAD, OPTIONS');
    assert.equal(fs.readFileSync(drop('index.html'), 'utf8'), 'drop index\n');
  });
  test('=404 for a missing asset, the file when it exists', async () => {
    assert.equal((await get(srv.port, '/assets/missing.js')).status, 404);
    assert.equal(body(await get(srv.port, '/assets/app.css')), 'css\n');
  });
  test('the fallback reaches a CGI script with $args kept and the method unchanged', async () => {
    const r = await get(srv.port, '/wiki/Some_Page?rev=3');
    assert.equal(r.status, 200);
    assert.equal(body(r), 'q=page=/wiki/Some_Page&rev=3 m=GET uri=/wiki/Some_Page?rev=3\n');
    const post = await rawRequest(
      srv.port,
      'POST /wiki/x HTTP/1.1\r\nHost: site.test\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi',
    );
    assert.equal(post.status, 200);
    assert.match(body(post), /m=POST/);
  });
  test('a file that exists is served, not sent to the front controller', async () => {
    assert.equal(body(await get(srv.port, '/wiki/existing.txt')), 'real file\n');
  });
});

describe('error_page URI', () => {
  test('an internal redirect to a page, with the error status kept', async () => {
    const r = await get(srv.port, '/no/such/file');
    assert.equal(r.status, 404);
    assert.equal(body(r), 'custom 404\n');
  });
  test('=200 changes the status; = takes the target status', async () => {
    const g = await get(srv.port, '/gone');
    assert.equal(g.status, 200);
    assert.equal(body(g), 'gone page\n');
    const t = await get(srv.port, '/brew');
    assert.equal(t.status, 200);
    assert.equal(body(t), 'tea');
  });
  test('a loop behind an error page stops with 500', async () => {
    const r = await get(srv.port, '/forbidden');
    assert.equal(r.status, 500);
  });
});

describe('add_header and expires', () => {
  test('a location that sets add_header replaces the server ones; always reaches errors', async () => {
    const r = await get(srv.port, '/hdr/file.txt');
    assert.equal(r.status, 200);
    assert.equal(r.header('x-loc'), 'one');
    assert.equal(r.header('x-always'), 'two');
    assert.equal(r.header('x-server-level'), undefined);
    assert.equal(r.header('cache-control'), 'max-age=3600');
    const exp = Date.parse(r.header('expires') ?? '');
    const date = Date.parse(r.header('date') ?? '');
    assert.ok(Math.abs(exp - date - 3600_000) <= 1000, `${r.header('expires')} vs ${r.header('date')}`);
    const miss = await rawRequest(
      srv.port,
      'POST /hdr/file.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
    );
    assert.equal(miss.status, 405);
    assert.equal(miss.header('x-loc'), undefined);
    assert.equal(miss.header('x-always'), 'two');
    assert.equal(miss.header('cache-control'), undefined);
  });
  test('a location without add_header inherits the server ones; epoch and max', async () => {
    const r = await get(srv.port, '/inherit/file.txt');
    assert.equal(r.header('x-server-level'), 'on');
    assert.equal(r.header('expires'), 'Thu, 01 Jan 1970 00:00:01 GMT');
    assert.equal(r.header('cache-control'), 'no-cache');
    const m = await get(srv.port, '/max/file.txt');
    assert.equal(m.header('expires'), 'Thu, 31 Dec 2037 23:55:55 GMT');
    assert.equal(m.header('cache-control'), 'max-age=315360000');
  });
});
