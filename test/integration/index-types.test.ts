/**
 * nginx's content idioms through real sockets (issue 17): `index` (order, fallback to the listing or 403, the
 * server's list inherited, an absolute last name, a CGI script as the index with its method and body kept),
 * `client_max_body_size` in a location (413 before the body, both ways around the server's), `default_type` and
 * `types { }` (added, overridden, emptied; one file served under two locations with two types, through the file,
 * range and compression caches), and their configuration errors with FILE:LINE:COL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MAIN, startServer, type RunningServer } from '../helpers/server.js';
import { get, RawClient, rawRequest } from '../helpers/http.js';

const PY = process.env['PYTHON'] ?? '/usr/bin/python3';

const CONFIG = `server {
  listen 127.0.0.1:{PORT}
  index first.html index.html
  client_max_body_size 1k
  default_type text/plain
  types {
    text/x-custom cst
  }
  location / {
    root {DIR}/www
  }
  location /own {
    root {DIR}/www/own
    index home.htm
  }
  location /list {
    root {DIR}/www/list
    index none.html
    directory_listing on
  }
  location /deny {
    root {DIR}/www/deny
    index none.html
  }
  location /abs {
    root {DIR}/www/abs
    index missing.html /fallback.txt
  }
  location /cgi {
    root {DIR}/cgi
    cgi .py ${PY}
    index index.py
  }
  location /small {
    root {DIR}/up-small
    methods GET POST
    client_max_body_size 10
  }
  location /big {
    root {DIR}/up-big
    methods GET POST
    client_max_body_size 0
  }
  location /dl {
    root {DIR}/shared
    types { }
    default_type application/octet-stream
    gzip on
  }
  location /txt {
    root {DIR}/shared
    types {
      text/x-data dat
      text/plain html
    }
    gzip on
  }
  location /plain {
    root {DIR}/shared
    gzip on
  }
}
`;

const PAGE = '<p>' + 'shared page text '.repeat(200) + '</p>\n';

const FILES: Record<string, string> = {
  'www/first.html': 'first\n',
  'www/index.html': 'index\n',
  'www/sub/index.html': 'sub index\n',
  'www/own/home.htm': 'home\n',
  'www/own/first.html': 'not the server list\n',
  'www/list/a.txt': 'a\n',
  'www/deny/x.txt': 'x\n',
  'www/abs/x.txt': 'x\n',
  'www/fallback.txt': 'fallback\n',
  'cgi/index.py':
    '#!/usr/bin/env python3\nimport os, sys\nn = int(os.environ.get("CONTENT_LENGTH") or 0)\n' +
    'data = sys.stdin.read(n) if n else ""\nprint("Content-Type: text/plain")\nprint()\n' +
    'print(os.environ["REQUEST_METHOD"] + " " + os.environ["SCRIPT_NAME"] + " [" + data + "]")\n',
  'up-small/.keep': '',
  'up-big/.keep': '',
  'shared/page.html': PAGE,
  'shared/data.dat': 'data\n',
  'shared/page.cst': 'custom\n',
  'shared/noext': 'no extension\n',
};

let srv: RunningServer;
before(async () => void (srv = await startServer({ config: CONFIG, files: FILES })));
after(() => srv.stop());

const body = (r: { body: Buffer }): string => r.body.toString();
const H = 'Host: localhost\r\n';

describe('index', () => {
  test('the first listed name that exists is served, in the order written', async () => {
    const r = await get(srv.port, '/');
    assert.equal(r.status, 200);
    assert.equal(body(r), 'first\n');
    assert.equal(r.header('content-type'), 'text/html; charset=utf-8');
    const sub = await get(srv.port, '/sub/');
    assert.equal(sub.status, 200);
    assert.equal(body(sub), 'sub index\n', 'first.html is missing there: the next name');
  });
  test('a directory URL without "/" is redirected first; the file itself is still served by name', async () => {
    const r = await get(srv.port, '/sub');
    assert.equal(r.status, 301);
    assert.equal(r.header('location'), '/sub/');
    assert.equal(body(await get(srv.port, '/sub/index.html')), 'sub index\n');
  });
  test("a location's own index replaces the server's; a location without one inherits it", async () => {
    assert.equal(body(await get(srv.port, '/own/')), 'home\n');
    assert.equal(body(await get(srv.port, '/')), 'first\n');
  });
  test('no index file: the listing where it is on, else 403', async () => {
    const list = await get(srv.port, '/list/');
    assert.equal(list.status, 200);
    assert.match(body(list), /href="a\.txt"/);
    assert.equal((await get(srv.port, '/deny/')).status, 403);
  });
  test('an absolute last name is an internal redirect to that URI, served by its own location', async () => {
    const r = await get(srv.port, '/abs/?q=1');
    assert.equal(r.status, 200);
    assert.equal(body(r), 'fallback\n');
    assert.equal(r.header('content-type'), 'text/plain; charset=utf-8');
    assert.equal((await get(srv.port, '/abs/no-such-dir/')).status, 404, 'as nginx: no directory, no fallback');
  });
  test('an index that is a CGI script runs as the script', async () => {
    const r = await get(srv.port, '/cgi/');
    assert.equal(r.status, 200);
    assert.equal(body(r), 'GET /cgi/index.py []\n');
  });
  test('a POST to the directory reaches the index script with its body (the internal redirect keeps both)', async () => {
    const r = await rawRequest(
      srv.port,
      `POST /cgi/ HTTP/1.1\r\n${H}Content-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`,
    );
    assert.equal(r.status, 200);
    assert.equal(body(r), 'POST /cgi/index.py [hello]\n');
  });
});

describe('client_max_body_size', () => {
  /** Sends only the head, declaring `length` bytes, and reads the answer without sending any of them. */
  async function headOnly(p: string, length: number): Promise<{ status: number; closed: boolean }> {
    const c = await RawClient.connect(srv.port);
    try {
      c.send(`POST ${p} HTTP/1.1\r\n${H}Content-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`);
      const r = await c.read({ timeoutMs: 2000 });
      const closed = r.header('connection') === 'close';
      return { status: r.status, closed };
    } finally {
      c.close();
    }
  }
  test("a location's smaller limit: 413 before the body, under the server's limit", async () => {
    const r = await headOnly('/small/x.bin', 100);
    assert.equal(r.status, 413);
    assert.ok(r.closed);
    assert.deepEqual(fs.readdirSync(path.join(srv.dir, 'up-small')), ['.keep']);
  });
  test("the server's limit where the location sets none: 413 before the body", async () => {
    assert.equal((await headOnly('/x.bin', 5000)).status, 413);
  });
  test("a location's 0 is unlimited, over the server's limit", async () => {
    const data = 'y'.repeat(5000);
    const r = await rawRequest(
      srv.port,
      `POST /big/y.bin HTTP/1.1\r\n${H}Content-Type: application/octet-stream\r\nContent-Length: ${data.length}\r\n` +
        `Connection: close\r\n\r\n${data}`,
    );
    assert.equal(r.status, 201);
    assert.equal(fs.readFileSync(path.join(srv.dir, 'up-big/y.bin'), 'latin1'), data);
  });
  test('a body within the location limit is stored', async () => {
    const r = await rawRequest(
      srv.port,
      `POST /small/ok.bin HTTP/1.1\r\n${H}Content-Type: application/octet-stream\r\nContent-Length: 10\r\n` +
        `Connection: close\r\n\r\n0123456789`,
    );
    assert.equal(r.status, 201);
  });
});

describe('default_type and types', () => {
  const type = async (p: string, headers: Record<string, string> = {}): Promise<string | undefined> =>
    (await get(srv.port, p, headers)).header('content-type');
  test("the server's types add an extension and its default_type covers unknown ones", async () => {
    assert.equal(await type('/plain/page.cst'), 'text/x-custom; charset=utf-8');
    assert.equal(await type('/plain/data.dat'), 'text/plain; charset=utf-8');
    assert.equal(await type('/plain/noext'), 'text/plain; charset=utf-8');
    assert.equal(await type('/plain/page.html'), 'text/html; charset=utf-8', 'the built-in table still applies');
  });
  test("a location's types go over the server's: added, overridden, the server's own kept", async () => {
    assert.equal(await type('/txt/data.dat'), 'text/x-data; charset=utf-8');
    assert.equal(await type('/txt/page.html'), 'text/plain; charset=utf-8');
    assert.equal(await type('/txt/page.cst'), 'text/x-custom; charset=utf-8');
  });
  test('an empty types block with default_type sends every file as that type', async () => {
    assert.equal(await type('/dl/page.html'), 'application/octet-stream');
    assert.equal(await type('/dl/page.cst'), 'application/octet-stream');
  });
  test('one file under three locations keeps each location its type, however the requests alternate', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal(await type('/dl/page.html'), 'application/octet-stream');
      assert.equal(await type('/txt/page.html'), 'text/plain; charset=utf-8');
      assert.equal(await type('/plain/page.html'), 'text/html; charset=utf-8');
    }
  });
  test('the same holds for ranges and for the variants compressed on the fly', async () => {
    const ranged = await get(srv.port, '/txt/page.html', { Range: 'bytes=0-9' });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.header('content-type'), 'text/plain; charset=utf-8');
    assert.equal(
      (await get(srv.port, '/dl/page.html', { Range: 'bytes=0-9' })).header('content-type'),
      'application/octet-stream',
    );
    for (let i = 0; i < 2; i++) {
      const txt = await get(srv.port, '/txt/page.html', { 'Accept-Encoding': 'gzip' });
      assert.equal(txt.header('content-encoding'), 'gzip');
      assert.equal(txt.header('content-type'), 'text/plain; charset=utf-8');
      const html = await get(srv.port, '/plain/page.html', { 'Accept-Encoding': 'gzip' });
      assert.equal(html.header('content-encoding'), 'gzip');
      assert.equal(html.header('content-type'), 'text/html; charset=utf-8');
      // octet-stream is not in gzip_types: sent as it is, with its own type.
      const dl = await get(srv.port, '/dl/page.html', { 'Accept-Encoding': 'gzip' });
      assert.equal(dl.header('content-encoding'), undefined);
      assert.equal(dl.header('content-type'), 'application/octet-stream');
      assert.equal(body(dl), PAGE);
    }
  });
});

describe('configuration errors', () => {
  let tmp = '';
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-idioms-'));
  });
  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  /** `-t` on a server whose location holds `line` (the location's 4th line, column 5): stderr. */
  function check(line: string, where: 'server' | 'location' = 'location'): { code: number | null; stderr: string } {
    const file = path.join(tmp, 'bad.conf');
    const [s, l] = where === 'server' ? [`    ${line}\n`, ''] : ['', `    ${line}\n`];
    fs.writeFileSync(file, `server {\n    listen 127.0.0.1:1\n${s}    location / {\n${l}      root ${tmp}\n    }\n}\n`);
    const r = spawnSync(process.execPath, [MAIN, '-t', file], { encoding: 'utf8' });
    return { code: r.status, stderr: r.stderr };
  }
  const cases: Array<[string, 'server' | 'location', RegExp]> = [
    [
      'index a.html /abs.html b.html',
      'location',
      /bad.conf:4:18: bad index "\/abs.html": only the last name may be absolute/,
    ],
    ['index ../up.html', 'server', /bad.conf:3:11: bad index "\.\.\/up\.html"/],
    [
      'index index.$lang.html',
      'location',
      /bad.conf:4:11: bad index "index\.\$lang\.html": variables are not supported/,
    ],
    ['client_max_body_size 10q', 'location', /bad.conf:4:26: bad size "10q"/],
    [
      'client_max_body_size 1m\n    body_limit 2m',
      'server',
      /bad.conf:4:5: duplicate body size limit "body_limit" \(first at 3:5\)/,
    ],
    ['default_type nonsense', 'location', /bad.conf:4:18: bad default_type "nonsense"/],
    [
      'types {\n      text/html .html\n    }',
      'location',
      /bad.conf:5:17: bad extension "\.html" in "types".*without the dot/,
    ],
    ['types {\n      nonsense html\n    }', 'server', /bad.conf:4:7: bad type "nonsense" in "types"/],
    ['types {\n      text/html\n    }', 'location', /bad.conf:5:7: "text\/html" in "types" lists no extension/],
  ];
  for (const [line, where, expected] of cases) {
    test(`${where}: ${line.split('\n').join(' ')}`, () => {
      const r = check(line, where);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, expected);
    });
  }
  test('the valid forms pass -t', () => {
    const r = check(
      'index a.html b.html /fallback.html\n    client_max_body_size 0\n    default_type "text/plain; charset=latin1"\n    types {\n      text/x-a a b\n    }',
    );
    assert.equal(r.code, 0, r.stderr);
  });
});
