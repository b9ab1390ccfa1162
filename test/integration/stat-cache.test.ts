/**
 * The inotify-validated stat cache (src/handlers/stat-cache.ts): a file changed behind the server's back is seen on
 * the next request, however it was changed; listings follow their directory.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { get, RawClient } from '../helpers/http.js';
import { startServer, type RunningServer } from '../helpers/server.js';

let srv: RunningServer;
let www: string;

before(async () => {
  srv = await startServer({
    config: `server {
  host 127.0.0.1
  port {PORT}
  location / {
    root {DIR}/www
    directory_listing on
  }
}
`,
    files: { 'www/a.txt': 'first\n', 'www/b.txt': 'bee\n', 'www/sub/c.txt': 'sea\n', 'www/list/x.txt': 'x\n' },
  });
  www = path.join(srv.dir, 'www');
});

after(async () => {
  await srv.stop();
});

/** Waits until `f` holds, for changes whose inotify event may still be in flight (bounded). */
async function eventually(what: string, f: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await f()) return;
    await new Promise((r) => setImmediate(r));
  }
  assert.fail(`never saw ${what}`);
}

test('an in-place edit (same inode, new size) is served on the next request', async () => {
  assert.equal((await get(srv.port, '/a.txt')).body.toString(), 'first\n');
  assert.equal((await get(srv.port, '/a.txt')).body.toString(), 'first\n'); // now cached
  fs.writeFileSync(path.join(www, 'a.txt'), 'second, longer\n');
  const r = await get(srv.port, '/a.txt');
  assert.equal(r.body.toString(), 'second, longer\n');
});

test('a same-size edit with a new mtime changes the body and the validators', async () => {
  const p = path.join(www, 'b.txt');
  const r1 = await get(srv.port, '/b.txt');
  fs.writeFileSync(p, 'BEE\n');
  fs.utimesSync(p, new Date(), new Date(Date.now() + 5000));
  const r2 = await get(srv.port, '/b.txt');
  assert.equal(r2.body.toString(), 'BEE\n');
  assert.notEqual(r2.header('etag'), r1.header('etag'));
});

test('a file replaced by rename, and a file deleted, are seen at once', async () => {
  const p = path.join(www, 'sub', 'c.txt');
  assert.equal((await get(srv.port, '/sub/c.txt')).body.toString(), 'sea\n');
  fs.writeFileSync(p + '.new', 'replaced\n');
  fs.renameSync(p + '.new', p);
  assert.equal((await get(srv.port, '/sub/c.txt')).body.toString(), 'replaced\n');
  fs.unlinkSync(p);
  assert.equal((await get(srv.port, '/sub/c.txt')).status, 404);
});

test('a directory renamed away and another moved into its place: the new content is served', async () => {
  fs.mkdirSync(path.join(www, 'v2'));
  fs.writeFileSync(path.join(www, 'v2', 'page.txt'), 'version 2\n');
  fs.mkdirSync(path.join(www, 'cur'));
  fs.writeFileSync(path.join(www, 'cur', 'page.txt'), 'version 1\n');
  assert.equal((await get(srv.port, '/cur/page.txt')).body.toString(), 'version 1\n');
  fs.renameSync(path.join(www, 'cur'), path.join(www, 'old'));
  fs.renameSync(path.join(www, 'v2'), path.join(www, 'cur'));
  assert.equal((await get(srv.port, '/cur/page.txt')).body.toString(), 'version 2\n');
});

test('a listing shows a file created after it was first served, and drops a deleted one', async () => {
  const first = (await get(srv.port, '/list/')).body.toString();
  assert.ok(first.includes('x.txt') && !first.includes('y.txt'));
  fs.writeFileSync(path.join(www, 'list', 'y.txt'), 'y\n');
  await eventually('y.txt in the listing', async () => (await get(srv.port, '/list/')).body.toString().includes('y.txt'));
  fs.unlinkSync(path.join(www, 'list', 'x.txt'));
  await eventually('x.txt gone from the listing', async () => !(await get(srv.port, '/list/')).body.toString().includes('x.txt'));
});

test('a file that did not exist (cached 404) is served once created', async () => {
  assert.equal((await get(srv.port, '/late.txt')).status, 404);
  fs.writeFileSync(path.join(www, 'late.txt'), 'here now\n');
  const c = await RawClient.connect(srv.port);
  try {
    c.send('GET /late.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal((await c.read()).body.toString(), 'here now\n');
  } finally {
    c.close();
  }
});
