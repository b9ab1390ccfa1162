/**
 * The inotify-validated stat cache (src/handlers/stat-cache.ts): a file changed behind the server's back is seen on
 * the next request, however it was changed (even with its size and mtime put back); listings follow their
 * directory; and nothing outside the configured roots is ever watched.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { get, RawClient } from '../helpers/http.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

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
  await until(async () => (await get(srv.port, '/list/')).body.toString().includes('y.txt'), 'y.txt in the listing');
  fs.unlinkSync(path.join(www, 'list', 'x.txt'));
  await until(
    async () => !(await get(srv.port, '/list/')).body.toString().includes('x.txt'),
    'x.txt gone from the listing',
  );
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

test('a rewrite that keeps the size and puts the mtime back (cp -p, rsync -t, touch -r) is served fresh within 1 s', async () => {
  const p = path.join(www, 'same.txt');
  fs.writeFileSync(p, 'AAAA-old\n');
  const when = new Date('2020-01-02T03:04:05Z');
  fs.utimesSync(p, when, when);
  assert.equal((await get(srv.port, '/same.txt')).body.toString(), 'AAAA-old\n');
  assert.equal((await get(srv.port, '/same.txt')).body.toString(), 'AAAA-old\n'); // in memory now
  fs.writeFileSync(p, 'BBBB-new\n');
  fs.utimesSync(p, when, when);
  const st = fs.statSync(p);
  assert.equal(st.size, 9);
  assert.equal(st.mtimeMs, when.getTime());
  await until(async () => (await get(srv.port, '/same.txt')).body.toString() === 'BBBB-new\n', 'the new bytes', 1000);
});

/** Inodes of the directories the server process watches, from its inotify descriptors' fdinfo. */
function watchedInodes(pid: number): Set<number> {
  const out = new Set<number>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let link = '';
    try {
      link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (link !== 'anon_inode:inotify') continue;
    for (const m of fs
      .readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
      .matchAll(/^inotify wd:\S+ ino:([0-9a-f]+) /gm)) {
      out.add(parseInt(m[1] ?? '0', 16));
    }
  }
  return out;
}

test('only directories inside the root are watched: never its parents, the temp directory or /', async () => {
  assert.equal((await get(srv.port, '/sub/deep/../../a.txt')).status, 200);
  fs.mkdirSync(path.join(www, 'd1', 'd2'), { recursive: true });
  fs.writeFileSync(path.join(www, 'd1', 'd2', 'f.txt'), 'deep\n');
  assert.equal((await get(srv.port, '/d1/d2/f.txt')).body.toString(), 'deep\n');
  const watched = watchedInodes(srv.proc.pid ?? 0);
  assert.ok(watched.size > 0, 'the stat cache watches nothing at all');
  const inside = new Set<number>();
  const walk = (dir: string): void => {
    inside.add(fs.statSync(dir).ino);
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(dir, e.name));
  };
  walk(www);
  assert.ok(watched.has(fs.statSync(path.join(www, 'd1', 'd2')).ino), "the file's own directory is watched");
  for (const ino of watched) assert.ok(inside.has(ino), `inode ${ino} watched outside the root`);
  for (const outside of [srv.dir, path.dirname(srv.dir), '/'])
    assert.ok(!watched.has(fs.statSync(outside).ino), `${outside} is watched`);
});
