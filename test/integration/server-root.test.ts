/**
 * `root` in the server block, with nginx's meaning (issue 17), through real sockets: a location without a root of
 * its own serves the whole URI from it (try_files and CGI too); a location's own `root`, or `alias`, replaces its
 * prefix (the seed's meaning); a path no location takes is served from the server's root with its settings,
 * read-only; and a second server without `root` still answers 404 where no location matches.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get, rawRequest } from '../helpers/http.js';

const PY = process.env['PYTHON'] ?? '/usr/bin/python3';

const CONFIG = `server {
  listen 127.0.0.1:{PORT}
  root {DIR}/site
  index index.html
  add_header X-Level server
  location /img {
    expires 1h
  }
  location /pics {
    root {DIR}/pictures
  }
  location /old {
    alias {DIR}/pictures
  }
  location /app {
    try_files $uri /app/shell.html
  }
  location /cgi-bin {
    cgi .py ${PY}
  }
}
server {
  listen 127.0.0.1:{PORT2}
  location /only {
    root {DIR}/site/only
  }
}
`;

const FILES: Record<string, string> = {
  'site/index.html': 'site home\n',
  'site/about.txt': 'about\n',
  'site/docs/index.html': 'docs home\n',
  'site/img/logo.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
  'site/app/shell.html': 'app shell\n',
  'site/cgi-bin/hello.py':
    '#!/usr/bin/env python3\nimport os\nprint("Content-Type: text/plain")\nprint()\n' +
    'print(os.environ["SCRIPT_NAME"] + " " + os.environ.get("PATH_INFO", ""))\n',
  'site/.secret': 'hidden\n',
  'site/only/x.txt': 'only x\n',
  'pictures/cat.txt': 'cat\n',
};

let srv: RunningServer;
before(async () => void (srv = await startServer({ config: CONFIG, files: FILES })));
after(() => srv.stop());

const text = (r: { body: Buffer }): string => r.body.toString();

describe("a location without a root serves the whole URI from the server's", () => {
  test('/img/logo.svg is ROOT/img/logo.svg, with the location own settings', async () => {
    const r = await get(srv.port, '/img/logo.svg');
    assert.equal(r.status, 200);
    assert.equal(text(r), FILES['site/img/logo.svg']);
    assert.equal(r.header('cache-control'), 'max-age=3600');
    assert.equal(r.header('x-level'), 'server', 'add_header inherited from the server');
  });
  test('try_files tests ROOT plus the URI, and falls back to the shell', async () => {
    assert.equal(text(await get(srv.port, '/app/shell.html')), 'app shell\n');
    const deep = await get(srv.port, '/app/users/7');
    assert.equal(deep.status, 200);
    assert.equal(text(deep), 'app shell\n');
  });
  test('a CGI location finds its scripts under ROOT plus the URI, PATH_INFO after them', async () => {
    const r = await get(srv.port, '/cgi-bin/hello.py/extra/path');
    assert.equal(r.status, 200);
    assert.equal(text(r), '/cgi-bin/hello.py /extra/path\n');
  });
});

describe("a location's own root, or alias, replaces its prefix", () => {
  test('root: /pics/cat.txt is PICTURES/cat.txt', async () => {
    assert.equal(text(await get(srv.port, '/pics/cat.txt')), 'cat\n');
  });
  test('alias is the same: /old/cat.txt is PICTURES/cat.txt', async () => {
    const r = await get(srv.port, '/old/cat.txt');
    assert.equal(r.status, 200);
    assert.equal(text(r), 'cat\n');
  });
});

describe('a path no location takes is served from the server root', () => {
  test('/, /about.txt and /docs/ (the index), with the server add_header', async () => {
    const home = await get(srv.port, '/');
    assert.equal(home.status, 200);
    assert.equal(text(home), 'site home\n');
    assert.equal(home.header('x-level'), 'server');
    assert.equal(text(await get(srv.port, '/about.txt')), 'about\n');
    assert.equal(text(await get(srv.port, '/docs/')), 'docs home\n');
    assert.equal((await get(srv.port, '/nope.txt')).status, 404);
  });
  test('read-only and no dotfiles there: POST is 405, /.secret is 404', async () => {
    const post = await rawRequest(
      srv.port,
      'POST /new.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx',
    );
    assert.equal(post.status, 405);
    assert.equal(post.header('allow'), 'GET, HEAD, OPTIONS');
    assert.equal((await get(srv.port, '/.secret')).status, 404);
  });
  test('a server without root: no location, 404', async () => {
    const port = srv.ports[1] ?? 0;
    assert.equal(text(await get(port, '/only/x.txt')), 'only x\n');
    assert.equal((await get(port, '/about.txt')).status, 404);
  });
});
