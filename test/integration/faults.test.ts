/**
 * Faults of the machine around the server (hardening: never crash, never hang, keep serving): files that change
 * under a download (deleted, truncated, replaced by a directory or a FIFO), unreadable files and directories,
 * a full and a read-only upload directory, and a CGI interpreter that disappears at run time. After each fault the
 * next normal request works, the process is alive, and it logged no uncaught exception.
 *
 * Tests run as root, for whom permission bits do not apply (CAP_DAC_OVERRIDE): the permission faults run a second
 * server as the unprivileged user `nobody`. The full directory is a 64 KiB tmpfs and the read-only one a read-only
 * bind mount; each of these is skipped, saying why, when this machine does not allow it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get, rawRequest, type RawResponse } from '../helpers/http.js';

const WAIT_MS = 20_000;
const INDEX = '<p>still here</p>\n';
/** 32 MiB whose every byte depends on its offset, so a shifted or foreign byte shows. */
const BIG_SIZE = 32 * 1024 * 1024;
const BIG = ((): Buffer => {
  const b = Buffer.allocUnsafe(BIG_SIZE);
  for (let i = 0; i < BIG_SIZE; i++) b[i] = (i * 7 + (i >>> 11)) & 0xff;
  return b;
})();

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Stops a server; if SIGTERM is not enough within 10 s (a hung server), kills it, so that the suite ends. */
async function stopHard(srv: RunningServer | undefined): Promise<void> {
  if (srv === undefined) return;
  const t = setTimeout(() => srv.proc.kill('SIGKILL'), 10_000);
  await srv.stop();
  clearTimeout(t);
}

/** The server answers a plain GET exactly, is alive, and never logged an uncaught exception. */
async function assertHealthy(srv: RunningServer, what: string): Promise<void> {
  const r = await get(srv.port, '/index.html');
  assert.equal(r.status, 200, `${what}: the next request failed`);
  assert.equal(r.body.toString(), INDEX, what);
  assert.equal(srv.proc.exitCode, null, `${what}: the server exited`);
  assert.ok(!/uncaught/i.test(srv.output()), `${what}: ${srv.output().slice(-3000)}`);
}

async function send(
  port: number,
  method: string,
  target: string,
  headers = '',
  body: Buffer | string = '',
): Promise<RawResponse> {
  const b = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  const head = `${method} ${target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${b.length}\r\n${headers}Connection: close\r\n\r\n`;
  return rawRequest(port, Buffer.concat([Buffer.from(head, 'latin1'), b]), { timeoutMs: WAIT_MS });
}

/**
 * GETs `target` with the client holding back: after the first 256 KiB it stops reading (so the server is
 * mid-file, blocked on a full socket), runs `fault`, then reads on until the server closes.
 */
async function downloadWithFault(
  port: number,
  target: string,
  fault: () => void,
): Promise<{ status: number; length: number; body: Buffer; ms: number }> {
  const sock = net.connect({ port, host: '127.0.0.1' });
  const chunks: Buffer[] = [];
  let got = 0;
  let faulted = false;
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  sock.on('error', () => undefined);
  const closed = new Promise<void>((resolve) =>
    sock.on('close', () => {
      resolve();
    }),
  );
  const started = Date.now();
  sock.write(`GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  await new Promise<void>((resolve) => {
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (!faulted && got >= 256 * 1024) {
        faulted = true;
        sock.pause();
        resolve();
      }
    });
    sock.on('close', () => {
      resolve();
    });
  });
  // Let the server fill the socket buffers and block, then break the file under it.
  await delay(300);
  fault();
  sock.resume();
  const timer = setTimeout(() => sock.destroy(), WAIT_MS);
  await closed;
  clearTimeout(timer);
  const all = Buffer.concat(chunks);
  const end = all.indexOf('\r\n\r\n');
  const head = all.toString('latin1', 0, end);
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]),
    length: Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]),
    body: all.subarray(end + 4),
    ms: Date.now() - started,
  };
}

// ─── Files that change under the server (root) ──────────────────────────────────────────────────────────────

describe('files that change while being served', () => {
  let srv: RunningServer;
  let www: string;

  before(async () => {
    srv = await startServer({
      config: `server {
  host 127.0.0.1
  port {PORT}
  send_timeout 10s
  location / {
    methods GET
    root {DIR}/www
  }
}
`,
      files: { 'www/index.html': INDEX, 'www/small.txt': 'small and cached\n', 'outside.txt': 'OUTSIDE-SECRET\n' },
    });
    www = path.join(srv.dir, 'www');
  });
  after(() => stopHard(srv));

  function putBig(name: string): void {
    fs.writeFileSync(path.join(www, name), BIG);
  }

  test('a file deleted during a large download: completed (the descriptor keeps it) or cut cleanly', async () => {
    putBig('del.bin');
    const r = await downloadWithFault(srv.port, '/del.bin', () => {
      fs.unlinkSync(path.join(www, 'del.bin'));
    });
    assert.equal(r.status, 200);
    assert.equal(r.length, BIG_SIZE);
    assert.ok(r.body.length <= BIG_SIZE, 'more bytes than promised');
    assert.ok(r.body.equals(BIG.subarray(0, r.body.length)), 'the bytes sent are not the file');
    assert.equal((await get(srv.port, '/del.bin')).status, 404);
    await assertHealthy(srv, 'after a deletion mid-download');
  });

  test('a file truncated during a large download: the connection is cut, never padded or hung', async () => {
    const KEPT = 1024 * 1024;
    putBig('trunc.bin');
    const r = await downloadWithFault(srv.port, '/trunc.bin', () => {
      fs.truncateSync(path.join(www, 'trunc.bin'), KEPT);
    });
    assert.equal(r.status, 200);
    assert.equal(r.length, BIG_SIZE);
    assert.ok(r.body.length < BIG_SIZE, 'the promised length cannot be kept: the connection must be cut');
    const kept = Math.min(KEPT, r.body.length);
    assert.ok(r.body.subarray(0, kept).equals(BIG.subarray(0, kept)), 'the bytes sent are not the file');
    // Past the new end: what the kernel had queued already. With sendfile (the native transport, as NGINX's
    // `sendfile on`) the socket holds page references, and truncation turns those pages to zeros; the response
    // is cut short anyway, so no client takes it for the file. Nothing else may appear.
    for (let i = kept; i < r.body.length; i++) {
      const b = r.body[i];
      if (b !== BIG[i] && b !== 0) assert.fail(`byte ${i} is ${b}: neither the file's nor a zero`);
    }
    assert.ok(r.ms < WAIT_MS, `cut after ${r.ms} ms only`);
    await assertHealthy(srv, 'after a truncation mid-download');
  });

  test('a file replaced by a directory during a download, then requested again', async () => {
    putBig('swap.bin');
    const p = path.join(www, 'swap.bin');
    const r = await downloadWithFault(srv.port, '/swap.bin', () => {
      fs.unlinkSync(p);
      fs.mkdirSync(p);
    });
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(BIG.subarray(0, r.body.length)), 'the bytes sent are not the file');
    const again = await get(srv.port, '/swap.bin');
    assert.equal(again.status, 301, 'a directory now: the slash redirect');
    await assertHealthy(srv, 'after a file became a directory');
  });

  test('a small cached file replaced by a directory, a FIFO, a symlink out of the root: never served stale', async () => {
    const p = path.join(www, 'small.txt');
    const first = await get(srv.port, '/small.txt');
    assert.equal(first.body.toString(), 'small and cached\n');
    fs.unlinkSync(p);
    fs.mkdirSync(p);
    assert.equal((await get(srv.port, '/small.txt')).status, 301);
    fs.rmdirSync(p);
    spawnSync('mkfifo', [p]);
    assert.ok(fs.statSync(p).isFIFO(), 'mkfifo failed');
    assert.equal((await get(srv.port, '/small.txt')).status, 403, 'a FIFO is not a file');
    fs.unlinkSync(p);
    fs.symlinkSync(path.join(srv.dir, 'outside.txt'), p);
    const escaped = await get(srv.port, '/small.txt');
    assert.equal(escaped.status, 403, 'a link out of the root is refused, not hidden');
    assert.ok(!escaped.body.toString().includes('OUTSIDE-SECRET'));
    fs.unlinkSync(p);
    assert.equal((await get(srv.port, '/small.txt')).status, 404);
    fs.writeFileSync(p, 'small and new\n');
    assert.equal((await get(srv.port, '/small.txt')).body.toString(), 'small and new\n');
    await assertHealthy(srv, 'after replacements');
  });

  test('a FIFO swapped in between stat and open never blocks the server (open is non-blocking)', async () => {
    // A child flips the name between a regular file and a FIFO as fast as it can while we request it: when open(2)
    // meets the FIFO it must not wait for a writer, which would freeze the whole single-threaded server.
    // Only syscalls in the loop (a hard link to one FIFO made beforehand), so that the name flips every few µs.
    const master = path.join(srv.dir, 'master.fifo');
    spawnSync('mkfifo', [master]);
    assert.ok(fs.statSync(master).isFIFO(), 'mkfifo failed');
    const script = `
      const fs = require('fs');
      const d = ${JSON.stringify(www)}; const master = ${JSON.stringify(master)}; const end = Date.now() + 4000;
      while (Date.now() < end) {
        fs.writeFileSync(d + '/f.tmp', 'regular file\\n'); fs.renameSync(d + '/f.tmp', d + '/flip.txt');
        fs.linkSync(master, d + '/p.tmp'); fs.renameSync(d + '/p.tmp', d + '/flip.txt');
      }`;
    const flipper: ChildProcess = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    const flipped = new Promise<void>((resolve) =>
      flipper.on('exit', () => {
        resolve();
      }),
    );
    let running = true;
    void flipped.then(() => (running = false));
    const seen = new Map<number, number>();
    try {
      while (running) {
        const r = await get(srv.port, '/flip.txt'); // times out (fails) if the server froze
        seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
        assert.ok([200, 403, 404].includes(r.status), `status ${r.status}`);
        if (r.status === 200) assert.equal(r.body.toString(), 'regular file\n');
      }
    } finally {
      flipper.kill('SIGKILL');
      await flipped;
    }
    assert.ok((seen.get(200) ?? 0) + (seen.get(403) ?? 0) > 20, `too few requests: ${JSON.stringify([...seen])}`);
    await assertHealthy(srv, 'after the FIFO race');
  });
});

// ─── Permissions: a server running as `nobody` ──────────────────────────────────────────────────────────────

const NOBODY = 65534;

/** Starts the server as `nobody` (startServer's `user` option), or says why that is impossible here. */
async function startAsNobody(config: string, files: Record<string, string>): Promise<RunningServer | string> {
  if (process.getuid?.() !== 0) return 'not running as root: cannot start a server as another user';
  try {
    const probe = spawnSync(process.execPath, ['-e', '0'], { uid: NOBODY, gid: NOBODY });
    if (probe.status !== 0) return `cannot run node as nobody: ${probe.stderr.toString().trim().split('\n').pop()}`;
  } catch (err) {
    return `cannot run a process as nobody: ${String(err)}`;
  }
  return startServer({ config, files, user: NOBODY });
}

describe('permission faults (server running as nobody)', () => {
  let srv: RunningServer | undefined;
  let skip: string | false = false;

  before(async () => {
    const s = await startAsNobody(
      `server {
  host 127.0.0.1
  port {PORT}
  location / {
    methods GET POST DELETE
    root {DIR}/www
    directory_listing on
  }
  location /cgi-bin {
    methods GET
    root {DIR}/cgi
    cgi .py /usr/bin/python3
  }
}
`,
      {
        'www/index.html': INDEX,
        'www/locked.txt': 'locked\n',
        'www/noexec/inside.txt': 'inside\n',
        'www/noread/inside.txt': 'inside\n',
        'www/ro/keep.txt': 'keep\n',
        'cgi/locked.py': 'print("Content-Type: text/plain\\n\\nran")\n',
      },
    );
    if (typeof s === 'string') {
      skip = s;
      return;
    }
    srv = s;
    const www = path.join(s.dir, 'www');
    fs.chmodSync(path.join(www, 'locked.txt'), 0o000);
    fs.chmodSync(path.join(www, 'noexec'), 0o644); // r without x: names listable, nothing reachable
    fs.chmodSync(path.join(www, 'noread'), 0o311); // x without r: reachable, not listable
    fs.chmodSync(path.join(www, 'ro'), 0o555);
    fs.chmodSync(path.join(s.dir, 'cgi/locked.py'), 0o000);
  });
  after(async () => {
    if (srv !== undefined) {
      // Give the files back to root's rm (root ignores modes, but be tidy).
      for (const d of ['www/noexec', 'www/noread', 'www/ro']) fs.chmodSync(path.join(srv.dir, d), 0o755);
      await stopHard(srv);
    }
  });

  test('the server really runs as nobody (so the modes below apply to it)', (t) => {
    if (skip !== false) {
      t.skip(skip);
      return;
    }
    const status = fs.readFileSync(`/proc/${srv!.proc.pid}/status`, 'latin1');
    assert.match(status, new RegExp(`^Uid:\\s+${NOBODY}\\s`, 'm'));
  });

  test('an unreadable file (mode 000) is 403', async (t) => {
    if (skip !== false) {
      t.skip(skip);
      return;
    }
    const r = await get(srv!.port, '/locked.txt');
    assert.equal(r.status, 403);
    assert.ok(!r.body.toString().includes('locked\n'));
    await assertHealthy(srv!, 'after an unreadable file');
  });

  test('a file in a directory without search permission is 403, its listing too', async (t) => {
    if (skip !== false) {
      t.skip(skip);
      return;
    }
    assert.equal((await get(srv!.port, '/noexec/inside.txt')).status, 403);
    const l = await get(srv!.port, '/noexec/');
    assert.ok(l.status === 403 || l.status === 404, `listing: ${l.status}`);
    await assertHealthy(srv!, 'after a directory without x');
  });

  test('an unlistable directory (no read permission) is 403, its files still served', async (t) => {
    if (skip !== false) {
      t.skip(skip);
      return;
    }
    const l = await get(srv!.port, '/noread/');
    assert.equal(l.status, 403);
    const f = await get(srv!.port, '/noread/inside.txt');
    assert.equal(f.status, 200);
    assert.equal(f.body.toString(), 'inside\n');
    await assertHealthy(srv!, 'after an unlistable directory');
  });

  test('uploads and deletes in a read-only directory (mode 555) are refused, nothing left behind', async (t) => {
    if (skip !== false) {
      t.skip(skip);
      return;
    }
    const raw = await send(srv!.port, 'POST', '/ro/new.txt', '', 'data');
    assert.equal(raw.status, 403);
    const b = 'nobodyboundary';
    const mp = `--${b}\r\nContent-Disposition: form-data; name="f"; filename="m.txt"\r\n\r\nmultipart\r\n--${b}--\r\n`;
    const multi = await send(srv!.port, 'POST', '/ro/', `Content-Type: multipart/form-data; boundary=${b}\r\n`, mp);
    assert.equal(multi.status, 403);
    const del = await send(srv!.port, 'DELETE', '/ro/keep.txt');
    assert.equal(del.status, 403);
    assert.deepEqual(fs.readdirSync(path.join(srv!.dir, 'www/ro')), ['keep.txt']);
    await assertHealthy(srv!, 'after a read-only directory');
  });

  test('an unreadable CGI script is 403 and is not run', async (t) => {
    if (skip !== false) {
      t.skip(skip);
      return;
    }
    const r = await get(srv!.port, '/cgi-bin/locked.py');
    assert.equal(r.status, 403);
    assert.ok(!r.body.toString().includes('ran'));
    await assertHealthy(srv!, 'after an unreadable script');
  });
});

// ─── Full and read-only upload directories (mounts, as root) ────────────────────────────────────────────────

/** Runs mount(8); returns null on success or its error text. */
function mount(args: string[]): string | null {
  const r = spawnSync('mount', args, { encoding: 'utf8' });
  if (r.error !== undefined) return String(r.error);
  return r.status === 0 ? null : (r.stderr || `exit ${r.status}`).trim();
}

function umount(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}

describe('storage faults (mounted upload directories)', () => {
  let srv: RunningServer;
  let full: string;
  let ro: string;
  let fullSkip: string | false = false;
  let roSkip: string | false = false;

  before(async () => {
    srv = await startServer({
      config: `server {
  host 127.0.0.1
  port {PORT}
  body_limit 10m
  location / {
    methods GET
    root {DIR}/www
  }
  location /full {
    methods GET POST DELETE
    root {DIR}/www/full
  }
  location /ro {
    methods GET POST DELETE
    root {DIR}/www/ro
  }
}
`,
      files: { 'www/index.html': INDEX, 'www/full/.keep': '', 'www/ro/keep.txt': 'keep\n' },
    });
    full = path.join(srv.dir, 'www/full');
    ro = path.join(srv.dir, 'www/ro');
    if (process.getuid?.() !== 0) {
      fullSkip = roSkip = 'not root: mounts need privileges';
      return;
    }
    const e1 = mount(['-t', 'tmpfs', '-o', 'size=64k,mode=755', 'tmpfs', full]);
    if (e1 !== null) fullSkip = `cannot mount a 64 KiB tmpfs: ${e1}`;
    const e2 = mount(['--bind', ro, ro]) ?? mount(['-o', 'remount,bind,ro', ro]);
    if (e2 !== null) {
      roSkip = `cannot make a read-only bind mount: ${e2}`;
      umount(ro);
    }
  });
  after(async () => {
    if (fullSkip === false) umount(full);
    if (roSkip === false) umount(ro);
    await stopHard(srv);
  });

  test('an upload that does not fit: 500/507, no partial file, then a small one fits', async (t) => {
    if (fullSkip !== false) {
      t.skip(fullSkip);
      return;
    }
    const r = await send(srv.port, 'POST', '/full/big.bin', '', Buffer.alloc(200 * 1024, 0x41));
    assert.ok(r.status === 500 || r.status === 507, `status ${r.status}`);
    assert.deepEqual(fs.readdirSync(full), [], 'a partial upload was left on the full disk');
    const chunked = Buffer.from(
      `10000\r\n${'B'.repeat(0x10000)}\r\n10000\r\n${'B'.repeat(0x10000)}\r\n0\r\n\r\n`,
      'latin1',
    );
    const c = await rawRequest(
      srv.port,
      Buffer.concat([
        Buffer.from(
          'POST /full/chunked.bin HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
        ),
        chunked,
      ]),
      { timeoutMs: WAIT_MS },
    );
    assert.ok(c.status === 500 || c.status === 507, `chunked: status ${c.status}`);
    const b = 'fullboundary';
    const mp = `--${b}\r\nContent-Disposition: form-data; name="f"; filename="m.bin"\r\n\r\n${'C'.repeat(100 * 1024)}\r\n--${b}--\r\n`;
    const m = await send(srv.port, 'POST', '/full/', `Content-Type: multipart/form-data; boundary=${b}\r\n`, mp);
    assert.ok(m.status === 500 || m.status === 507, `multipart: status ${m.status}`);
    assert.deepEqual(fs.readdirSync(full), [], 'a partial upload was left on the full disk');
    const small = await send(srv.port, 'POST', '/full/small.txt', '', 'fits\n');
    assert.equal(small.status, 201);
    assert.equal(fs.readFileSync(path.join(full, 'small.txt'), 'latin1'), 'fits\n');
    await assertHealthy(srv, 'after a full disk');
  });

  test('a read-only file system: uploads and deletes fail cleanly, nothing changes', async (t) => {
    if (roSkip !== false) {
      t.skip(roSkip);
      return;
    }
    const r = await send(srv.port, 'POST', '/ro/new.txt', '', 'data');
    assert.ok(r.status === 403 || r.status === 500, `POST: status ${r.status}`);
    const d = await send(srv.port, 'DELETE', '/ro/keep.txt');
    assert.ok(d.status === 403 || d.status === 500, `DELETE: status ${d.status}`);
    assert.deepEqual(fs.readdirSync(ro), ['keep.txt']);
    const g = await get(srv.port, '/ro/keep.txt');
    assert.equal(g.body.toString(), 'keep\n');
    await assertHealthy(srv, 'after a read-only file system');
  });
});

describe('the upload directory removed during an upload', () => {
  let srv: RunningServer;

  before(async () => {
    srv = await startServer({
      config: `server {
  host 127.0.0.1
  port {PORT}
  location / {
    methods GET
    root {DIR}/www
  }
  location /gone {
    methods GET POST DELETE
    root {DIR}/www/gone
  }
}
`,
      files: { 'www/index.html': INDEX, 'www/gone/sub/.keep': '' },
    });
  });
  after(() => stopHard(srv));

  test('the upload fails cleanly (4xx/5xx, no crash), and the next request works', async () => {
    const sub = path.join(srv.dir, 'www/gone/sub');
    const total = 1024 * 1024;
    const sock = net.connect({ port: srv.port, host: '127.0.0.1' });
    await new Promise<void>((resolve) => sock.once('connect', resolve));
    const chunks: Buffer[] = [];
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', () => undefined);
    const closed = new Promise<void>((resolve) =>
      sock.on('close', () => {
        resolve();
      }),
    );
    sock.write(
      `POST /gone/sub/up.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${total}\r\nConnection: close\r\n\r\n`,
    );
    sock.write(Buffer.alloc(total / 2, 0x44));
    // Wait until the temporary file exists (the server is mid-upload), then pull the directory away.
    const deadline = Date.now() + WAIT_MS;
    while (!fs.readdirSync(sub).some((n) => n.endsWith('.part'))) {
      assert.ok(Date.now() < deadline, 'the upload never started');
      await delay(20);
    }
    fs.rmSync(sub, { recursive: true, force: true });
    sock.write(Buffer.alloc(total / 2, 0x44));
    const timer = setTimeout(() => sock.destroy(), WAIT_MS);
    await closed;
    clearTimeout(timer);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(Buffer.concat(chunks).toString('latin1'))?.[1]);
    assert.ok(status >= 400 && status < 600, `status ${status}`);
    assert.equal(fs.existsSync(sub), false, 'the directory came back');
    await assertHealthy(srv, 'after the upload directory vanished');
  });
});

// ─── A CGI interpreter that disappears ──────────────────────────────────────────────────────────────────────

describe('CGI interpreter faults', () => {
  let srv: RunningServer;
  let interp: string;
  const WRAPPER = '#!/bin/sh\nexec /usr/bin/python3 "$@"\n';

  let binDir: string;

  before(async () => {
    // The interpreter must be executable when the config is validated: made here, outside the server's temp dir.
    binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-faults-bin-'));
    interp = path.join(binDir, 'py');
    fs.writeFileSync(interp, WRAPPER, { mode: 0o755 });
    srv = await startServer({
      config: `server {
  host 127.0.0.1
  port {PORT}
  cgi_timeout 5s
  location / {
    methods GET
    root {DIR}/www
  }
  location /cgi-bin {
    methods GET POST
    root {DIR}/cgi
    cgi .py ${interp}
  }
}
`,
      files: {
        'www/index.html': INDEX,
        'cgi/hi.py': 'import sys\nsys.stdout.write("Content-Type: text/plain\\r\\n\\r\\nhi\\n")\n',
      },
    });
  });
  after(async () => {
    await stopHard(srv);
    fs.rmSync(binDir, { recursive: true, force: true });
  });

  async function hi(): Promise<RawResponse> {
    return get(srv.port, '/cgi-bin/hi.py');
  }

  test('the interpreter works at first', async () => {
    const r = await hi();
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'hi\n');
  });

  test('deleted after start: 502 (or 500), and the server keeps serving', async () => {
    fs.unlinkSync(interp);
    const r = await hi();
    assert.ok(r.status === 502 || r.status === 500, `status ${r.status}`);
    const p = await send(srv.port, 'POST', '/cgi-bin/hi.py', '', 'x=1');
    assert.ok(p.status === 502 || p.status === 500, `POST: status ${p.status}`);
    await assertHealthy(srv, 'after a missing interpreter');
  });

  test('not executable, or a directory: 502 (or 500)', async () => {
    fs.writeFileSync(interp, WRAPPER, { mode: 0o644 });
    fs.chmodSync(interp, 0o644);
    let r = await hi();
    assert.ok(r.status === 502 || r.status === 500, `not executable: status ${r.status}`);
    fs.unlinkSync(interp);
    fs.mkdirSync(interp);
    r = await hi();
    assert.ok(r.status === 502 || r.status === 500, `a directory: status ${r.status}`);
    fs.rmdirSync(interp);
    await assertHealthy(srv, 'after an unusable interpreter');
  });

  test('an interpreter that dies at once without output: 502', async () => {
    fs.writeFileSync(interp, '#!/bin/sh\nexit 3\n', { mode: 0o755 });
    fs.chmodSync(interp, 0o755);
    const r = await hi();
    assert.equal(r.status, 502);
    fs.writeFileSync(interp, '#!/bin/sh\nkill -9 $$\n', { mode: 0o755 });
    const k = await hi();
    assert.equal(k.status, 502);
    await assertHealthy(srv, 'after a dying interpreter');
  });

  test('restored: it works again', async () => {
    fs.writeFileSync(interp, WRAPPER, { mode: 0o755 });
    fs.chmodSync(interp, 0o755);
    const r = await hi();
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'hi\n');
    await assertHealthy(srv, 'after restoring the interpreter');
  });
});
