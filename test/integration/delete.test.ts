/**
 * DELETE through the real server (DESIGN §6): a file → 204 and gone; missing → 404; a directory → 403; a location
 * that does not allow DELETE → 405 with Allow; and no spelling of ".." ever deletes a file outside the root.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get, RawClient, rawRequest, type RawResponse } from '../helpers/http.js';

// No "/" location: a path that climbs out of /up lands nowhere (404), never in another root.
const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  location /up {
    methods GET POST DELETE
    root {DIR}/www/up
    directory_listing on
  }
  location /ro {
    methods GET
    root {DIR}/www/ro
  }
}
`;

const SECRET = 'do not delete\n';

let srv: RunningServer;
let up: string;

before(async () => {
  srv = await startServer({
    config: CONFIG,
    files: {
      'www/secret.txt': SECRET, // beside the root
      'secret.txt': SECRET, // two levels up
      'www/up/a.txt': 'a\n',
      'www/up/b.txt': 'b\n',
      'www/up/c.txt': 'c\n',
      'www/up/with space é.txt': 'spaced\n',
      'www/up/dir/inner.txt': 'inner\n',
      'www/up/ka1.txt': 'ka1\n',
      'www/up/ka2.txt': 'ka2\n',
      'www/up/body.txt': 'body\n',
      'www/ro/keep.txt': 'read only\n',
    },
  });
  up = path.join(srv.dir, 'www/up');
  fs.mkdirSync(path.join(up, 'emptydir'));
  // A symlink inside the root pointing at the secret outside it.
  fs.symlinkSync(path.join(srv.dir, 'www/secret.txt'), path.join(up, 'link.txt'));
});

after(async () => {
  await srv.stop();
});

function del(target: string, extra = ''): Promise<RawResponse> {
  return rawRequest(srv.port, `DELETE ${target} HTTP/1.1\r\nHost: localhost\r\n${extra}Connection: close\r\n\r\n`);
}

function assertSecretsIntact(): void {
  assert.equal(fs.readFileSync(path.join(srv.dir, 'www/secret.txt'), 'utf8'), SECRET);
  assert.equal(fs.readFileSync(path.join(srv.dir, 'secret.txt'), 'utf8'), SECRET);
}

describe('DELETE', () => {
  test('a file → 204 with no body, then it is gone (GET 404, not on disk)', async () => {
    const r = await del('/up/a.txt');
    assert.equal(r.status, 204);
    assert.equal(r.body.length, 0);
    assert.equal(r.header('content-length'), undefined);
    assert.equal(fs.existsSync(path.join(up, 'a.txt')), false);
    assert.equal((await get(srv.port, '/up/a.txt')).status, 404);
    assert.equal(fs.readFileSync(path.join(up, 'b.txt'), 'utf8'), 'b\n');
  });

  test('a percent-encoded name and a file in a subdirectory', async () => {
    assert.equal((await del('/up/with%20space%20%C3%A9.txt')).status, 204);
    assert.equal(fs.existsSync(path.join(up, 'with space é.txt')), false);
    assert.equal((await del('/up/dir/inner.txt')).status, 204);
    assert.equal(fs.existsSync(path.join(up, 'dir/inner.txt')), false);
    assert.equal(fs.statSync(path.join(up, 'dir')).isDirectory(), true);
  });

  test('a missing file → 404; a second DELETE of the same file → 404', async () => {
    assert.equal((await del('/up/nope.txt')).status, 404);
    assert.equal((await del('/up/nodir/nope.txt')).status, 404);
    assert.equal((await del('/up/b.txt')).status, 204);
    assert.equal((await del('/up/b.txt')).status, 404);
  });

  test('a directory → 403 and it stays (with or without slash, the root itself too)', async () => {
    for (const t of ['/up/dir', '/up/dir/', '/up/emptydir', '/up/emptydir/', '/up', '/up/']) {
      assert.equal((await del(t)).status, 403, t);
    }
    assert.equal(fs.statSync(path.join(up, 'dir')).isDirectory(), true);
    assert.equal(fs.statSync(path.join(up, 'emptydir')).isDirectory(), true);
    assert.equal(fs.statSync(up).isDirectory(), true);
  });

  test('a file name used as a directory → 404 (ENOTDIR), the file stays', async () => {
    assert.equal((await del('/up/c.txt/x')).status, 404);
    assert.equal(fs.readFileSync(path.join(up, 'c.txt'), 'utf8'), 'c\n');
  });

  test('traversal attempts never delete a file outside the root', async () => {
    const targets = [
      '/up/../secret.txt',
      '/up/%2e%2e/secret.txt',
      '/up/%2E%2E/secret.txt',
      '/up/..%2fsecret.txt',
      '/up/..%2Fsecret.txt',
      '/up/%2e%2e%2fsecret.txt',
      '/up/../../secret.txt',
      '/up/%2e%2e/%2e%2e/secret.txt',
      '/up/dir/../../secret.txt',
      '/up/..%5csecret.txt',
      '/up/..\\secret.txt',
      '/up/.%2e/secret.txt',
      '/up/%252e%252e/secret.txt',
      'http://localhost/up/../secret.txt',
    ];
    for (const t of targets) {
      const r = await del(t);
      assert.ok([400, 403, 404].includes(r.status), `${t} → ${r.status}`);
      assertSecretsIntact();
    }
    assert.equal(fs.readFileSync(path.join(up, 'c.txt'), 'utf8'), 'c\n');
  });

  test('a symlink to a file outside the root: the link goes, the target stays', async () => {
    const r = await del('/up/link.txt');
    assert.equal(r.status, 204);
    assert.equal(fs.existsSync(path.join(up, 'link.txt')), false);
    assertSecretsIntact();
  });

  test('a location without DELETE → 405 with Allow, the file stays', async () => {
    const r = await del('/ro/keep.txt');
    assert.equal(r.status, 405);
    assert.equal(r.header('allow'), 'GET, HEAD, OPTIONS');
    assert.equal(fs.readFileSync(path.join(srv.dir, 'www/ro/keep.txt'), 'utf8'), 'read only\n');
    const missing = await del('/ro/none.txt');
    assert.equal(missing.status, 405);
    assert.equal(missing.header('allow'), 'GET, HEAD, OPTIONS');
  });

  test('no location → 404', async () => {
    assert.equal((await del('/secret.txt')).status, 404);
    assertSecretsIntact();
  });

  test('DELETE with a body: the body is read and discarded, 204', async () => {
    const r = await rawRequest(
      srv.port,
      'DELETE /up/body.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
    );
    assert.equal(r.status, 204);
    assert.equal(fs.existsSync(path.join(up, 'body.txt')), false);
  });

  test('keep-alive: two DELETEs and a GET pipelined on one connection', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send(
        'DELETE /up/ka1.txt HTTP/1.1\r\nHost: localhost\r\n\r\n' +
          'DELETE /up/ka2.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nxyz' +
          'GET /up/ka1.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
      );
      const r1 = await c.read();
      const r2 = await c.read();
      const r3 = await c.read();
      assert.deepEqual([r1.status, r2.status, r3.status], [204, 204, 404]);
      assert.notEqual(r1.header('connection'), 'close');
    } finally {
      c.close();
    }
    assert.equal(fs.existsSync(path.join(up, 'ka1.txt')), false);
    assert.equal(fs.existsSync(path.join(up, 'ka2.txt')), false);
  });

  test('a file uploaded with POST can be deleted', async () => {
    const body = 'uploaded then deleted\n';
    const p = await rawRequest(
      srv.port,
      `POST /up/tmp.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    assert.equal(p.status, 201);
    assert.equal(p.header('location'), '/up/tmp.txt');
    assert.equal((await del('/up/tmp.txt')).status, 204);
    assert.equal(fs.existsSync(path.join(up, 'tmp.txt')), false);
  });
});
