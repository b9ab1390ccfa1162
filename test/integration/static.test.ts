/**
 * Static files and directories through real sockets (DESIGN §6): exact bytes, Content-Type (charset for text),
 * validators, the trailing-slash redirect (query kept), default_file, listings (sorted, escaped, link-encoded,
 * sizes and times) and 403 when listings are off.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get, RawClient, rawRequest } from '../helpers/http.js';

const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  location / {
    methods GET
    root {DIR}/www
    default_file index.html
  }
  location /list {
    methods GET
    root {DIR}/list
    directory_listing on
  }
  location /nolist {
    methods GET
    root {DIR}/nolist
  }
}
`;

const PNG = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0xff, 0x00,
]);
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
/** Over the 64 KiB in-memory cache limit, so it is streamed from the descriptor in 64 KiB reads. */
const BIG = crypto.randomBytes(1024 * 1024 + 3);
const UTF8_TEXT = 'naïve café — ünïcödé ✓\n';

/** A fixed modification time, so Last-Modified and the listing's time are known. */
const MTIME = new Date('2021-03-04T05:06:07Z');

let srv: RunningServer;

before(async () => {
  srv = await startServer({
    config: CONFIG,
    files: {
      'www/index.html': '<p>root index</p>\n',
      'www/a.txt': 'plain text\n',
      'www/utf8.txt': UTF8_TEXT,
      'www/style.css': 'body { color: red }\n',
      'www/app.js': 'console.log(1);\n',
      'www/data.json': '{"a":1}\n',
      'www/pic.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
      'www/image.png': PNG,
      'www/UPPER.TXT': 'upper\n',
      'www/blob.nope': ALL_BYTES,
      'www/noext': 'no extension\n',
      'www/empty.txt': '',
      'www/big.bin': BIG,
      'www/sub/index.html': '<p>sub index</p>\n',
      'www/sub dir/index.html': '<p>spaced</p>\n',
      'list/alpha.txt': 'alpha',
      'list/zeta.txt': 'z'.repeat(2048),
      'list/<b>&.txt': 'tricky',
      'list/read me.txt': 'x'.repeat(1536),
      'list/"quoted".txt': 'q',
      'list/.hidden': 'hidden',
      'list/dirx/inner.txt': 'inner',
      'list/dirx/deeper/leaf.txt': 'leaf',
      'nolist/file.txt': 'visible\n',
      'nolist/sub/file.txt': 'sub file\n',
    },
  });
  for (const f of ['www/a.txt', 'list/alpha.txt', 'list/zeta.txt', 'list/read me.txt']) {
    fs.utimesSync(path.join(srv.dir, f), MTIME, MTIME);
  }
});

after(async () => {
  await srv.stop();
  fs.rmSync(srv.dir, { recursive: true, force: true });
});

describe('files', () => {
  const types: Array<[string, string]> = [
    ['/a.txt', 'text/plain; charset=utf-8'],
    ['/index.html', 'text/html; charset=utf-8'],
    ['/style.css', 'text/css; charset=utf-8'],
    ['/app.js', 'text/javascript; charset=utf-8'],
    ['/data.json', 'application/json; charset=utf-8'],
    ['/pic.svg', 'image/svg+xml; charset=utf-8'],
    ['/image.png', 'image/png'],
    ['/UPPER.TXT', 'text/plain; charset=utf-8'],
    ['/blob.nope', 'application/octet-stream'],
    ['/noext', 'application/octet-stream'],
  ];
  for (const [url, type] of types) {
    test(`${url}: ${type}, exact bytes and length`, async () => {
      const r = await get(srv.port, url);
      assert.equal(r.status, 200);
      assert.equal(r.header('content-type'), type);
      const want = fs.readFileSync(path.join(srv.dir, 'www', url));
      assert.deepEqual(r.body, want);
      assert.equal(r.header('content-length'), String(want.length));
    });
  }

  test('UTF-8 text is sent as bytes, its length in bytes', async () => {
    const r = await get(srv.port, '/utf8.txt');
    assert.equal(r.body.toString('utf8'), UTF8_TEXT);
    assert.equal(r.header('content-length'), String(Buffer.byteLength(UTF8_TEXT)));
  });

  test('an empty file: 200, Content-Length 0', async () => {
    const r = await get(srv.port, '/empty.txt');
    assert.equal(r.status, 200);
    assert.equal(r.header('content-length'), '0');
    assert.equal(r.body.length, 0);
  });

  test('a 1 MiB file streamed from disk arrives byte for byte', async () => {
    const r = await get(srv.port, '/big.bin');
    assert.equal(r.status, 200);
    assert.equal(r.header('content-length'), String(BIG.length));
    assert.ok(r.body.equals(BIG), 'body differs');
  });

  test('the big file twice on one keep-alive connection, with HEAD between', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send(
        'GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nHEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n',
      );
      assert.ok((await c.read()).body.equals(BIG));
      const h = await c.read({ head: true });
      assert.equal(h.header('content-length'), String(BIG.length));
      assert.ok((await c.read()).body.equals(BIG));
    } finally {
      c.close();
    }
  });

  test('Last-Modified is the file time; ETag is a stable quoted tag', async () => {
    const r1 = await get(srv.port, '/a.txt');
    const r2 = await get(srv.port, '/a.txt');
    assert.equal(r1.header('last-modified'), 'Thu, 04 Mar 2021 05:06:07 GMT');
    assert.match(r1.header('etag') ?? '', /^(W\/)?"[!#-~]+"$/);
    assert.equal(r1.header('etag'), r2.header('etag'));
  });

  test('the ETag changes when the file changes, and the new bytes are served', async () => {
    const p = path.join(srv.dir, 'www/changing.txt');
    fs.writeFileSync(p, 'version one\n');
    fs.utimesSync(p, MTIME, MTIME);
    const r1 = await get(srv.port, '/changing.txt');
    fs.writeFileSync(p, 'version two, longer\n');
    const r2 = await get(srv.port, '/changing.txt');
    assert.equal(r1.body.toString(), 'version one\n');
    assert.equal(r2.body.toString(), 'version two, longer\n');
    assert.notEqual(r1.header('etag'), r2.header('etag'));
  });

  test('If-None-Match with the ETag: 304 without a body', async () => {
    const etag = (await get(srv.port, '/a.txt')).header('etag')!;
    const c = await RawClient.connect(srv.port);
    try {
      c.send(`GET /a.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: ${etag}\r\n\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n`);
      const r = await c.read();
      assert.equal(r.status, 304);
      assert.equal(r.header('etag'), etag);
      assert.equal(r.header('content-length'), undefined);
      const next = await c.read();
      assert.equal(next.status, 200);
      assert.equal(next.body.toString(), 'plain text\n');
    } finally {
      c.close();
    }
  });

  test('If-Modified-Since at the file time: 304', async () => {
    const r = await get(srv.port, '/a.txt', { 'If-Modified-Since': 'Thu, 04 Mar 2021 05:06:07 GMT' });
    assert.equal(r.status, 304);
  });

  test('Range: bytes=2-5 gives 206 with Content-Range', async () => {
    const r = await get(srv.port, '/blob.nope', { Range: 'bytes=2-5' });
    assert.equal(r.status, 206);
    assert.equal(r.header('content-range'), 'bytes 2-5/256');
    assert.deepEqual(r.body, ALL_BYTES.subarray(2, 6));
  });

  test('a missing file: 404; a path through a file: 404', async () => {
    assert.equal((await get(srv.port, '/missing.txt')).status, 404);
    assert.equal((await get(srv.port, '/a.txt/more')).status, 404);
  });
});

describe('directories', () => {
  test('a directory URL without "/" is a 301 to the slashed URL', async () => {
    const r = await get(srv.port, '/sub');
    assert.equal(r.status, 301);
    assert.equal(r.header('location'), '/sub/');
  });

  test('the redirect keeps the query string', async () => {
    const r = await get(srv.port, '/sub?x=1&y=a%20b');
    assert.equal(r.status, 301);
    assert.equal(r.header('location'), '/sub/?x=1&y=a%20b');
  });

  test('the redirect of a name with a space is percent-encoded', async () => {
    const r = await get(srv.port, '/sub%20dir');
    assert.equal(r.status, 301);
    assert.equal(r.header('location'), '/sub%20dir/');
    const ok = await get(srv.port, '/sub%20dir/');
    assert.equal(ok.body.toString(), '<p>spaced</p>\n');
  });

  test('HEAD of a directory URL without "/": 301, no body', async () => {
    const r = await rawRequest(srv.port, 'HEAD /sub HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', { head: true });
    assert.equal(r.status, 301);
    assert.equal(r.header('location'), '/sub/');
  });

  test('a directory URL with "/" serves default_file', async () => {
    const r = await get(srv.port, '/sub/');
    assert.equal(r.status, 200);
    assert.equal(r.header('content-type'), 'text/html; charset=utf-8');
    assert.equal(r.body.toString(), '<p>sub index</p>\n');
    const q = await get(srv.port, '/sub/?a=b');
    assert.equal(q.body.toString(), '<p>sub index</p>\n');
  });

  test('listing off and no default file: 403 (files inside are still served)', async () => {
    const r = await get(srv.port, '/nolist/');
    assert.equal(r.status, 403);
    assert.match(r.body.toString(), /403 Forbidden/);
    assert.equal((await get(srv.port, '/nolist/sub/')).status, 403);
    assert.equal((await get(srv.port, '/nolist/file.txt')).body.toString(), 'visible\n');
  });

  test('the location prefix itself without "/" redirects too', async () => {
    const r = await get(srv.port, '/list');
    assert.equal(r.status, 301);
    assert.equal(r.header('location'), '/list/');
  });

  test('a missing directory: 404', async () => {
    assert.equal((await get(srv.port, '/list/nothere/')).status, 404);
  });

  describe('listing', () => {
    let html = '';
    before(async () => {
      const r = await get(srv.port, '/list/');
      assert.equal(r.status, 200);
      assert.equal(r.header('content-type'), 'text/html; charset=utf-8');
      html = r.body.toString();
    });

    test('names are HTML-escaped', () => {
      assert.ok(html.includes('>&lt;b&gt;&amp;.txt</a>'), html);
      assert.ok(!html.includes('<b>&'), 'the raw name must never appear');
      assert.ok(html.includes('>&quot;quoted&quot;.txt</a>') || html.includes('>&#34;quoted&#34;.txt</a>'));
    });

    test('links are percent-encoded', () => {
      assert.ok(html.includes('href="read%20me.txt"'), html);
      assert.ok(html.includes('href="%3Cb%3E&amp;.txt"') || html.includes('href="%3Cb%3E%26.txt"'), html);
      assert.ok(html.includes('href="%22quoted%22.txt"'), html);
      assert.ok(html.includes('href="dirx/"'));
    });

    test('entries are sorted, directories first, hidden files left out', () => {
      const order = ['dirx/', '"quoted".txt', '<b>&.txt', 'alpha.txt', 'read me.txt', 'zeta.txt'].map((n) =>
        html.indexOf(
          `>${n.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')}</a>`,
        ),
      );
      assert.ok(
        order.every((i) => i >= 0),
        `all entries listed: ${order.join(',')}`,
      );
      assert.deepEqual(
        [...order].sort((a, b) => a - b),
        order,
        'in order',
      );
      assert.ok(!html.includes('.hidden'));
      assert.ok(!html.includes('inner.txt'), 'not recursive');
    });

    test('sizes and modification times are shown', () => {
      const row = (name: string): string => {
        const i = html.indexOf(`>${name}</a>`);
        assert.ok(i >= 0, name);
        return html.slice(i, html.indexOf('</tr>', i));
      };
      assert.match(row('alpha.txt'), /2021-03-04 05:06/);
      assert.match(row('alpha.txt'), />5<\/td>$/);
      assert.match(row('zeta.txt'), />2\.0K<\/td>$/);
      assert.match(row('read me.txt'), />1\.5K<\/td>$/);
    });

    test('the title names the directory; a parent link is offered below the root', async () => {
      assert.match(html, /<title>Index of \/list\/<\/title>/);
      const sub = (await get(srv.port, '/list/dirx/')).body.toString();
      assert.match(sub, /<title>Index of \/list\/dirx\/<\/title>/);
      assert.ok(sub.includes('href="../"'));
      assert.ok(sub.includes('href="deeper/"'));
      assert.ok(sub.includes('href="inner.txt"'));
    });

    test('a listed file can be fetched by its link', async () => {
      const r = await get(srv.port, '/list/read%20me.txt');
      assert.equal(r.status, 200);
      assert.equal(r.body.length, 1536);
      const t = await get(srv.port, '/list/%3Cb%3E%26.txt');
      assert.equal(t.body.toString(), 'tricky');
    });
  });
});
