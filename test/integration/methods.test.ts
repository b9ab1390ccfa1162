/**
 * `methods` with any token (issue 17), through real sockets: CGI scripts receive every method their location
 * lists (PUT, PATCH, PROPFIND, OPTIONS with a body, chunked or not); a file answers OPTIONS with 204 and `Allow`
 * and a listed method it has no meaning for with 405 and `Allow`; a method that no location of the server lists
 * is 501, one that another location lists is 405 here; another server that lists nothing extra answers 501.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { RawClient, rawRequest } from '../helpers/http.js';

const PY = process.env['PYTHON'] ?? '/usr/bin/python3';

const CONFIG = `server {
  listen 127.0.0.1:{PORT}
  location /api {
    root {DIR}/cgi
    cgi .py ${PY}
    methods GET PUT PATCH DELETE PROPFIND OPTIONS
  }
  location /files {
    root {DIR}/files
    methods GET POST PUT
  }
  location / {
    root {DIR}/www
  }
}
server {
  listen 127.0.0.1:{PORT2}
  location / {
    root {DIR}/www
  }
}
`;

const ECHO =
  '#!/usr/bin/env python3\nimport os, sys\nn = int(os.environ.get("CONTENT_LENGTH") or 0)\n' +
  'data = sys.stdin.read(n) if n else ""\nprint("Content-Type: text/plain")\nprint()\n' +
  'print(os.environ["REQUEST_METHOD"] + " [" + data + "]")\n';

let srv: RunningServer;
before(async () => {
  srv = await startServer({
    config: CONFIG,
    files: { 'cgi/echo.py': ECHO, 'files/a.txt': 'a\n', 'www/index.html': 'home\n' },
  });
});
after(() => srv.stop());

const H = 'Host: localhost\r\n';
/** One request on its own connection: `method path` with `body` (Content-Length, or chunked when asked). */
function send(method: string, p: string, body = '', opts: { chunked?: boolean; port?: number } = {}) {
  const framing = opts.chunked === true ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${body.length}\r\n`;
  const payload = opts.chunked === true ? `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n` : body;
  return rawRequest(
    opts.port ?? srv.port,
    `${method} ${p} HTTP/1.1\r\n${H}${framing}Connection: close\r\n\r\n${payload}`,
  );
}

describe('CGI scripts get every method the location lists', () => {
  for (const [method, chunked] of [
    ['PUT', false],
    ['PATCH', true],
    ['PROPFIND', false],
    ['DELETE', false],
    ['OPTIONS', false],
  ] as const) {
    test(`${method} reaches the script with its body${chunked ? ' (chunked)' : ''}`, async () => {
      const r = await send(method, '/api/echo.py', `<${method.toLowerCase()}>`, { chunked });
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), `${method} [<${method.toLowerCase()}>]\n`);
    });
  }
  test('a method the location does not list is 405 with the Allow the scripts have', async () => {
    const r = await send('POST', '/api/echo.py', 'x');
    assert.equal(r.status, 405);
    assert.equal(r.header('allow'), 'GET, HEAD, DELETE, PUT, PATCH, PROPFIND, OPTIONS');
  });
  test('keep-alive holds across methods with bodies: PUT then PATCH on one connection', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send(`PUT /api/echo.py HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\none`);
      c.send(`PATCH /api/echo.py HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\ntwo`);
      assert.equal((await c.read()).body.toString(), 'PUT [one]\n');
      assert.equal((await c.read()).body.toString(), 'PATCH [two]\n');
    } finally {
      c.close();
    }
  });
});

describe('files answer the methods they have a meaning for', () => {
  test('OPTIONS on a file is 204 with Allow (PUT is listed but a file cannot take it)', async () => {
    const r = await send('OPTIONS', '/files/a.txt');
    assert.equal(r.status, 204);
    assert.equal(r.header('allow'), 'GET, HEAD, POST, OPTIONS');
  });
  test('PUT on a file is 405 with Allow, and nothing is written', async () => {
    const r = await send('PUT', '/files/b.txt', 'data');
    assert.equal(r.status, 405);
    assert.equal(r.header('allow'), 'GET, HEAD, POST, OPTIONS');
    assert.equal(fs.existsSync(path.join(srv.dir, 'files/b.txt')), false);
  });
  test('PROPFIND, listed by another location of this server, is 405 here; GET still serves', async () => {
    const r = await send('PROPFIND', '/index.html');
    assert.equal(r.status, 405);
    assert.equal(r.header('allow'), 'GET, HEAD, OPTIONS');
    assert.equal((await send('GET', '/index.html')).body.toString(), 'home\n');
  });
});

describe('OPTIONS *', () => {
  test("lists the server's recognized methods, those its locations name too, never TRACE", async () => {
    const r = await rawRequest(srv.port, `OPTIONS * HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
    assert.equal(r.status, 204);
    assert.equal(r.header('allow'), 'GET, HEAD, POST, DELETE, PUT, PATCH, PROPFIND, OPTIONS');
    const other = await rawRequest(srv.ports[1] ?? 0, `OPTIONS * HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
    assert.equal(other.header('allow'), 'GET, HEAD, POST, DELETE, OPTIONS');
  });
});

describe('501: a method no location of the server lists', () => {
  test('BREW, and lower-case put, are 501 on the first server', async () => {
    assert.equal((await send('BREW', '/index.html')).status, 501);
    assert.equal((await send('put', '/api/echo.py', 'x')).status, 501, 'methods are case-sensitive');
  });
  test('PUT on a server whose locations list none: 501, and the connection stays usable', async () => {
    const c = await RawClient.connect(srv.ports[1] ?? 0);
    try {
      c.send(`PUT /index.html HTTP/1.1\r\n${H}Content-Length: 4\r\n\r\ndata`);
      assert.equal((await c.read()).status, 501);
      c.send(`GET /index.html HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
      assert.equal((await c.read()).body.toString(), 'home\n');
    } finally {
      c.close();
    }
  });
});
