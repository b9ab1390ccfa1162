/**
 * Uploads through the real server (DESIGN §5 bodies, §6 uploads): curl -F and hand-written multipart, chunked
 * bodies, every split around the delimiters, raw bodies, body_limit (413 before the body, or mid-stream), aborted
 * and malformed uploads. Every stored file is read back with GET and compared by sha256; every rejected or aborted
 * upload must leave the directory exactly as it was (no file, no `.upload-*.part`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get, RawClient, rawRequest, type RawResponse } from '../helpers/http.js';
import { until } from '../helpers/wait.js';

const run = promisify(execFile);

// {PORT}: generous limit; {PORT2}: body_limit 1k (1024 bytes) for the 413 cases.
const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  body_limit 10m
  location /up {
    methods GET POST DELETE
    root {DIR}/up
    directory_listing on
  }
}
server {
  host 127.0.0.1
  port {PORT2}
  body_limit 1k
  location /up {
    methods GET POST
    root {DIR}/small
  }
}
`;

let srv: RunningServer;
let up: string;
let small: string;
let src: string;

before(async () => {
  srv = await startServer({
    config: CONFIG,
    files: { 'up/existing.txt': 'already here\n', 'small/existing.txt': 'small\n', 'src/.keep': '' },
  });
  up = path.join(srv.dir, 'up');
  small = path.join(srv.dir, 'small');
  src = path.join(srv.dir, 'src');
  fs.mkdirSync(path.join(up, 'sub'));
});

after(async () => {
  await srv.stop();
});

// ─── Helpers ────────────────────────────────────────────────────────────────────────────────────────────────────

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Sorted directory entries (temporary dot-files included). */
const ls = (dir: string): string[] => fs.readdirSync(dir).sort();
const temps = (dir: string): string[] => ls(dir).filter((n) => n.startsWith('.upload-'));

/** Writes a source file for curl to send; returns its path. */
function source(name: string, content: Buffer): string {
  const p = path.join(src, name);
  fs.writeFileSync(p, content);
  return p;
}

interface CurlResult {
  status: number;
  headers: Map<string, string>;
}

/** Runs curl; the head of the final response (after any 100 Continue). */
async function curl(args: readonly string[]): Promise<CurlResult> {
  const { stdout } = await run('curl', ['-sS', '-o', '/dev/null', '-D', '-', ...args], { encoding: 'latin1' });
  const heads = stdout.split('\r\n\r\n').filter((h) => h.startsWith('HTTP/'));
  const last = heads[heads.length - 1] ?? '';
  const lines = last.split('\r\n');
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers.set(l.slice(0, i).toLowerCase(), l.slice(i + 1).trim());
  }
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0), headers };
}

/** GETs `url` and checks the body is `expected` byte for byte (by sha256). */
async function assertStored(url: string, expected: Buffer): Promise<void> {
  const r = await get(srv.port, url);
  assert.equal(r.status, 200, `GET ${url}`);
  assert.equal(r.body.length, expected.length, `length of ${url}`);
  assert.equal(sha(r.body), sha(expected), `sha256 of ${url}`);
}

interface Part {
  readonly name: string;
  readonly filename?: string;
  /** Raw Content-Disposition parameters after `form-data; ` (overrides name/filename). */
  readonly disposition?: string;
  readonly contentType?: string;
  readonly content: Buffer;
}

/** A multipart/form-data body built by hand (RFC 7578), with `boundary`. */
function multipart(boundary: string, parts: readonly Part[], close = true): Buffer {
  const out: Buffer[] = [];
  for (const p of parts) {
    const disp = p.disposition ?? `name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}`;
    let h = `--${boundary}\r\nContent-Disposition: form-data; ${disp}\r\n`;
    if (p.contentType !== undefined) h += `Content-Type: ${p.contentType}\r\n`;
    out.push(Buffer.from(h + '\r\n', 'utf8'), p.content, Buffer.from('\r\n', 'latin1'));
  }
  if (close) out.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return Buffer.concat(out);
}

/** A full POST request: head (Content-Length framing unless `headers` says otherwise) + body. */
function postRequest(url: string, body: Buffer, contentType: string | null, extra = ''): Buffer {
  const ct = contentType === null ? '' : `Content-Type: ${contentType}\r\n`;
  const head = `POST ${url} HTTP/1.1\r\nHost: localhost\r\n${ct}Content-Length: ${body.length}\r\n${extra}Connection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** Chunked framing of `body` in pieces of `size` bytes, with the last chunk. */
function chunked(body: Buffer, size: number): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const piece = body.subarray(i, i + size);
    out.push(Buffer.from(`${piece.length.toString(16)}\r\n`, 'latin1'), piece, Buffer.from('\r\n', 'latin1'));
  }
  out.push(Buffer.from('0\r\n\r\n', 'latin1'));
  return Buffer.concat(out);
}

/** Every byte value 0..255, repeated `times` times. */
function allBytes(times: number): Buffer {
  const b = Buffer.alloc(256 * times);
  for (let i = 0; i < b.length; i++) b[i] = i & 0xff;
  return b;
}

/** Deterministic pseudo-random bytes (xorshift), so a failure reproduces. */
function noise(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Asserts the directory listing did not change (no file, no temporary file) and no temporary file exists. */
function assertUnchanged(dir: string, beforeList: readonly string[]): void {
  assert.deepEqual(temps(dir), []);
  assert.deepEqual(ls(dir), beforeList);
}

// ─── curl -F ────────────────────────────────────────────────────────────────────────────────────────────────────

describe('curl -F uploads', () => {
  test('one file: 201, Location names it, GET returns the same bytes', async () => {
    const content = Buffer.from('hello upload\n');
    const r = await curl(['-F', `file=@${source('one.txt', content)}`, `http://127.0.0.1:${srv.port}/up/`]);
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('location'), '/up/one.txt');
    await assertStored('/up/one.txt', content);
    assert.deepEqual(temps(up), []);
  });

  test('several files and a plain field in one request: all stored, Location names the first', async () => {
    const a = noise(5000, 1);
    const b = noise(70_000, 2);
    const c = Buffer.from('third\n');
    const r = await curl([
      '-F',
      `a=@${source('multi-a.bin', a)}`,
      '-F',
      'comment=not a file',
      '-F',
      `b=@${source('multi-b.bin', b)}`,
      '-F',
      `c=@${source('multi-c.txt', c)};type=text/plain`,
      `http://127.0.0.1:${srv.port}/up`,
    ]);
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('location'), '/up/multi-a.bin');
    await assertStored('/up/multi-a.bin', a);
    await assertStored('/up/multi-b.bin', b);
    await assertStored('/up/multi-c.txt', c);
    assert.equal(fs.existsSync(path.join(up, 'comment')), false, 'a plain field is not stored');
  });

  test('binary file with every byte value 0..255 repeated', async () => {
    const content = allBytes(1000);
    const r = await curl(['-F', `bin=@${source('allbytes.bin', content)}`, `http://127.0.0.1:${srv.port}/up/`]);
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('location'), '/up/allbytes.bin');
    await assertStored('/up/allbytes.bin', content);
  });

  test('0-byte file', async () => {
    const r = await curl(['-F', `e=@${source('empty.txt', Buffer.alloc(0))}`, `http://127.0.0.1:${srv.port}/up/`]);
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('location'), '/up/empty.txt');
    await assertStored('/up/empty.txt', Buffer.alloc(0));
    assert.equal(fs.statSync(path.join(up, 'empty.txt')).size, 0);
  });

  test('chunked request body (curl -H "Transfer-Encoding: chunked" -F)', async () => {
    const a = allBytes(300);
    const b = noise(200_000, 3);
    const r = await curl([
      '-H',
      'Transfer-Encoding: chunked',
      '-F',
      `a=@${source('chunked-a.bin', a)}`,
      '-F',
      `b=@${source('chunked-b.bin', b)}`,
      `http://127.0.0.1:${srv.port}/up/`,
    ]);
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('location'), '/up/chunked-a.bin');
    await assertStored('/up/chunked-a.bin', a);
    await assertStored('/up/chunked-b.bin', b);
  });

  test('name collisions get name-1.ext, name-2.ext; nothing is overwritten', async () => {
    const bodies = [Buffer.from('first\n'), Buffer.from('second\n'), Buffer.from('third\n')];
    const expected = ['/up/dup.txt', '/up/dup-1.txt', '/up/dup-2.txt'];
    for (let i = 0; i < 3; i++) {
      const r = await curl([
        '-F',
        `f=@${source(`dup-src-${i}`, bodies[i]!)};filename=dup.txt`,
        `http://127.0.0.1:${srv.port}/up/`,
      ]);
      assert.equal(r.status, 201);
      assert.equal(r.headers.get('location'), expected[i]);
    }
    for (let i = 0; i < 3; i++) await assertStored(expected[i]!, bodies[i]!);
  });

  test('same name twice in one request: the second gets a suffix', async () => {
    const a = Buffer.from('A\n');
    const b = Buffer.from('B\n');
    const r = await curl([
      '-F',
      `f=@${source('twice-a', a)};filename=twice.txt`,
      '-F',
      `g=@${source('twice-b', b)};filename=twice.txt`,
      `http://127.0.0.1:${srv.port}/up/`,
    ]);
    assert.equal(r.status, 201);
    await assertStored('/up/twice.txt', a);
    await assertStored('/up/twice-1.txt', b);
  });

  test('"../../x.txt" is stored as x.txt in the upload directory, nothing outside', async () => {
    const outside = [path.join(srv.dir, 'x.txt'), path.join(path.dirname(srv.dir), 'x.txt')];
    const existed = outside.map((p) => fs.existsSync(p));
    const content = Buffer.from('sanitised\n');
    const r = await curl([
      '-F',
      `f=@${source('x-src', content)};filename=../../x.txt`,
      `http://127.0.0.1:${srv.port}/up/`,
    ]);
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('location'), '/up/x.txt');
    assert.deepEqual(fs.readFileSync(path.join(up, 'x.txt')), content);
    assert.deepEqual(
      outside.map((p) => fs.existsSync(p)),
      existed,
    );
  });

  test('upload into a subdirectory of the location', async () => {
    const content = Buffer.from('in sub\n');
    const r = await curl(['-F', `f=@${source('insub.txt', content)}`, `http://127.0.0.1:${srv.port}/up/sub/`]);
    assert.equal(r.status, 201);
    assert.equal(r.headers.get('location'), '/up/sub/insub.txt');
    await assertStored('/up/sub/insub.txt', content);
  });
});

// ─── Hand-written multipart ─────────────────────────────────────────────────────────────────────────────────────

describe('hand-written multipart', () => {
  const B = 'XyZzy-boundary-0123456789';

  test('content containing prefixes of the delimiter is stored intact', async () => {
    // Near misses of "\r\n--" + B: a CRLF-less "--B", truncated delimiters, one with a wrong last char, and a
    // content that ends in "\r", "\r\n-" right before the real delimiter.
    const tricky = Buffer.from(
      `x--${B}\r\n` +
        `start\r\n--${B.slice(0, 10)}middle\r\n--${B.slice(0, -1)}Q\r\n-\r\n--\r\r\n\r\n--${B.slice(0, -1)}`,
      'latin1',
    );
    const a = Buffer.concat([tricky, Buffer.from(`\r\n--${B.slice(0, 5)}`, 'latin1')]);
    const b = Buffer.concat([Buffer.from('\r', 'latin1')]);
    const c = Buffer.from('\r\n-', 'latin1');
    const body = multipart(B, [
      { name: 'a', filename: 'prefix-a.bin', content: a },
      { name: 'b', filename: 'prefix-b.bin', content: b },
      { name: 'c', filename: 'prefix-c.bin', content: c },
    ]);
    const r = await rawRequest(srv.port, postRequest('/up/', body, `multipart/form-data; boundary=${B}`));
    assert.equal(r.status, 201);
    assert.equal(r.header('location'), '/up/prefix-a.bin');
    await assertStored('/up/prefix-a.bin', a);
    await assertStored('/up/prefix-b.bin', b);
    await assertStored('/up/prefix-c.bin', c);
  });

  test('quoted boundary, preamble and epilogue, filename* (RFC 8187), names needing encoding in Location', async () => {
    const qb = 'quoted boundary:=?';
    const a = noise(999, 9);
    const body = Buffer.concat([
      Buffer.from('This is the preamble; ignore it.\r\n', 'latin1'),
      multipart(qb, [
        {
          name: 'a',
          disposition: `name="a"; filename="fallback.bin"; filename*=UTF-8''%E2%82%AC%20rates.bin`,
          content: a,
        },
        { name: 'b', filename: 'my file é.txt', content: Buffer.from('spaces\n') },
      ]),
      Buffer.from('epilogue\r\n', 'latin1'),
    ]);
    const r = await rawRequest(srv.port, postRequest('/up/', body, `multipart/form-data; boundary="${qb}"`));
    assert.equal(r.status, 201);
    assert.equal(r.header('location'), '/up/%E2%82%AC%20rates.bin');
    assert.deepEqual(fs.readFileSync(path.join(up, '€ rates.bin')), a);
    await assertStored('/up/%E2%82%AC%20rates.bin', a);
    await assertStored('/up/my%20file%20%C3%A9.txt', Buffer.from('spaces\n'));
  });

  test('CR LF smuggled through filename* are removed: no header injection via Location', async () => {
    const body = multipart(B, [
      {
        name: 'a',
        disposition: `name="a"; filename*=UTF-8''evil%0D%0AX-Injected%3A%201.txt`,
        content: Buffer.from('inj\n'),
      },
    ]);
    const r = await rawRequest(srv.port, postRequest('/up/', body, `multipart/form-data; boundary=${B}`));
    assert.equal(r.status, 201);
    assert.equal(r.header('x-injected'), undefined);
    assert.equal(r.header('location'), '/up/evilX-Injected:%201.txt');
    assert.deepEqual(fs.readFileSync(path.join(up, 'evilX-Injected: 1.txt')), Buffer.from('inj\n'));
  });

  test('absolute and backslash paths in filename keep only the base name', async () => {
    const before1 = fs.existsSync('/tmp/abs-name.txt');
    const body = multipart(B, [
      { name: 'a', filename: '/tmp/abs-name.txt', content: Buffer.from('abs\n') },
      { name: 'b', disposition: 'name="b"; filename="..\\\\..\\\\win-name.txt"', content: Buffer.from('win\n') },
    ]);
    const r = await rawRequest(srv.port, postRequest('/up/', body, `multipart/form-data; boundary=${B}`));
    assert.equal(r.status, 201);
    assert.equal(r.header('location'), '/up/abs-name.txt');
    await assertStored('/up/abs-name.txt', Buffer.from('abs\n'));
    await assertStored('/up/win-name.txt', Buffer.from('win\n'));
    assert.equal(fs.existsSync('/tmp/abs-name.txt'), before1);
  });

  test('split at every byte offset within ±40 bytes of each delimiter', async () => {
    const SB = 'split-Bnd-7MA4YWxkTrZu0gW';
    const a = Buffer.concat([noise(150, 11), Buffer.from(`\r\n--${SB.slice(0, 12)}\r`, 'latin1')]);
    const b = Buffer.concat([Buffer.from(`\r\n-\r\n--`, 'latin1'), allBytes(1)]);
    const make = (i: number): Buffer => {
      const tag = String(i).padStart(4, '0'); // fixed width: every request has the same offsets
      const body = multipart(SB, [
        { name: 'a', filename: `s${tag}-a.bin`, content: a },
        { name: 'field', content: Buffer.from('plain value') },
        { name: 'b', filename: `s${tag}-b.bin`, content: b },
      ]);
      return postRequest('/up/', body, `multipart/form-data; boundary=${SB}`);
    };
    const sample = make(0);
    const bodyStart = sample.indexOf('\r\n\r\n') + 4;
    const delim = Buffer.from(`--${SB}`, 'latin1');
    const cuts = new Set<number>();
    for (let at = sample.indexOf(delim, bodyStart); at >= 0; at = sample.indexOf(delim, at + 1)) {
      // The delimiter with its CRLF before and its CRLF / "--" after.
      const from = at - 2;
      const to = at + delim.length + 2;
      for (let k = from - 40; k <= to + 40; k++) if (k > bodyStart && k < sample.length) cuts.add(k);
    }
    assert.ok(cuts.size > 300, `only ${cuts.size} split points`);
    let i = 0;
    for (const at of [...cuts].sort((x, y) => x - y)) {
      i++;
      const req = make(i);
      const c = await RawClient.connect(srv.port);
      c.socket.setNoDelay(true);
      await new Promise<void>((r) =>
        c.socket.write(req.subarray(0, at), () => {
          r();
        }),
      );
      // Flushed to the kernel; a 1 ms pause makes the server see two reads rather than one coalesced read (with
      // setImmediate alone about half were coalesced). It can only make the test stricter, never make it pass.
      await new Promise<void>((r) => setTimeout(r, 1));
      c.send(req.subarray(at));
      const res = await c.read();
      c.close();
      const tag = String(i).padStart(4, '0');
      assert.equal(res.status, 201, `split at ${at}: ${res.body.toString()}`);
      assert.equal(res.header('location'), `/up/s${tag}-a.bin`, `split at ${at}`);
      const ga = await get(srv.port, `/up/s${tag}-a.bin`);
      const gb = await get(srv.port, `/up/s${tag}-b.bin`);
      assert.equal(sha(ga.body), sha(a), `split at ${at}: a`);
      assert.equal(sha(gb.body), sha(b), `split at ${at}: b`);
    }
    assert.deepEqual(temps(up), []);
  });
});

describe('concurrency and early answers', () => {
  test('two multipart uploads of the same name interleaved on two connections', async () => {
    const IB = 'interleave';
    const x = noise(300_000, 21);
    const y = noise(300_000, 22);
    const reqs = [x, y].map((content) =>
      postRequest(
        '/up/',
        multipart(IB, [{ name: 'f', filename: 'inter.bin', content }]),
        `multipart/form-data; boundary=${IB}`,
      ),
    );
    const cs = [await RawClient.connect(srv.port), await RawClient.connect(srv.port)];
    try {
      const STEP = 16_384;
      for (let off = 0; off < reqs[0]!.length; off += STEP) {
        for (let k = 0; k < 2; k++)
          await new Promise<void>((r) =>
            cs[k]!.socket.write(reqs[k]!.subarray(off, off + STEP), () => {
              r();
            }),
          );
      }
      const rs = [await cs[0]!.read(), await cs[1]!.read()];
      assert.deepEqual(
        rs.map((r) => r.status),
        [201, 201],
      );
      const locs = rs.map((r) => r.header('location')!).sort();
      assert.deepEqual(locs, ['/up/inter-1.bin', '/up/inter.bin']);
      const stored = await Promise.all(locs.map((l) => get(srv.port, l)));
      assert.deepEqual(stored.map((g) => sha(g.body)).sort(), [sha(x), sha(y)].sort());
    } finally {
      for (const c of cs) c.close();
    }
  });

  test('an upload still in progress cannot be downloaded by its temporary name', async () => {
    const body = Buffer.alloc(200_000, 7);
    const c = await RawClient.connect(srv.port);
    try {
      c.send(`POST /up/partial.bin HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
      c.send(body.subarray(0, 1000));
      let tmp: string[] = [];
      for (let i = 0; i < 200 && tmp.length === 0; i++) {
        tmp = temps(up);
        if (tmp.length === 0) await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(tmp.length, 1, 'the upload has a temporary file');
      const r = await get(srv.port, `/up/${tmp[0]}`);
      assert.equal(r.status, 404);
      c.send(body.subarray(1000));
      assert.equal((await c.read()).status, 201);
    } finally {
      c.close();
    }
  });

  test('a bad part header at the start of a 3 MB body: 400 reaches the client (no reset), nothing stored', async () => {
    const list = ls(up);
    const body = Buffer.concat([
      Buffer.from('--early\r\nNoColon\r\n\r\n'),
      noise(3_000_000, 23),
      Buffer.from('\r\n--early--\r\n'),
    ]);
    const c = await RawClient.connect(srv.port);
    try {
      c.send(postRequest('/up/', body, 'multipart/form-data; boundary=early').subarray(0, 200_000));
      const r = await c.read();
      assert.equal(r.status, 400);
      assert.equal(r.header('connection'), 'close');
      // The rest of the body is read and discarded while the server lingers, then it closes.
      c.send(body.subarray(200_000));
      await c.waitClose();
    } finally {
      c.close();
    }
    assertUnchanged(up, list);
  });

  test('a 300-byte file name is cut to 255 bytes, extension kept', async () => {
    const long = 'n'.repeat(296) + '.txt';
    const r = await rawRequest(
      srv.port,
      postRequest(
        '/up/',
        multipart('ln', [{ name: 'f', filename: long, content: Buffer.from('long\n') }]),
        'multipart/form-data; boundary=ln',
      ),
    );
    assert.equal(r.status, 201);
    const expected = 'n'.repeat(251) + '.txt';
    assert.equal(r.header('location'), `/up/${expected}`);
    await assertStored(`/up/${expected}`, Buffer.from('long\n'));
  });
});

// ─── Raw bodies ─────────────────────────────────────────────────────────────────────────────────────────────────

describe('raw (non-multipart) POST', () => {
  test('a body POSTed to /up/name.bin is stored as that file', async () => {
    const content = allBytes(64);
    const r = await rawRequest(srv.port, postRequest('/up/raw.bin', content, 'application/octet-stream'));
    assert.equal(r.status, 201);
    assert.equal(r.header('location'), '/up/raw.bin');
    await assertStored('/up/raw.bin', content);
  });

  test('an existing name is not overwritten: raw-1.bin', async () => {
    const content = Buffer.from('second raw\n');
    const r = await rawRequest(srv.port, postRequest('/up/raw.bin', content, null));
    assert.equal(r.status, 201);
    assert.equal(r.header('location'), '/up/raw-1.bin');
    await assertStored('/up/raw-1.bin', content);
    await assertStored('/up/raw.bin', allBytes(64));
  });

  test('chunked raw body and a 0-byte raw body', async () => {
    const content = noise(100_000, 5);
    const head =
      'POST /up/raw-chunked.bin HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    const r = await rawRequest(srv.port, Buffer.concat([Buffer.from(head, 'latin1'), chunked(content, 7000)]));
    assert.equal(r.status, 201);
    assert.equal(r.header('location'), '/up/raw-chunked.bin');
    await assertStored('/up/raw-chunked.bin', content);
    const z = await rawRequest(srv.port, postRequest('/up/raw-empty.bin', Buffer.alloc(0), null));
    assert.equal(z.status, 201);
    assert.equal(z.header('location'), '/up/raw-empty.bin');
    await assertStored('/up/raw-empty.bin', Buffer.alloc(0));
  });

  test('a raw body to a directory URL → 415 (only a form can name the files), nothing stored', async () => {
    const list = ls(up);
    for (const url of ['/up/', '/up', '/up/sub/', '/up/sub']) {
      const r = await rawRequest(srv.port, postRequest(url, Buffer.from('data'), 'text/plain'));
      assert.equal(r.status, 415, url);
    }
    assertUnchanged(up, list);
    assert.deepEqual(temps(path.join(up, 'sub')), []);
  });

  test('a raw body into a missing directory → 404', async () => {
    const r = await rawRequest(srv.port, postRequest('/up/nodir/a.bin', Buffer.from('data'), null));
    assert.equal(r.status, 404);
    assert.equal(fs.existsSync(path.join(up, 'nodir')), false);
  });

  test('keep-alive: two uploads and a GET on one connection', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      const one = Buffer.from('ka one\n');
      const two = Buffer.from('ka two\n');
      const h = (name: string, n: number): string =>
        `POST /up/${name} HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${n}\r\n\r\n`;
      c.send(Buffer.concat([Buffer.from(h('ka1.txt', one.length)), one, Buffer.from(h('ka2.txt', two.length)), two]));
      c.send('GET /up/ka2.txt HTTP/1.1\r\nHost: localhost\r\n\r\n');
      assert.equal((await c.read()).status, 201);
      assert.equal((await c.read()).status, 201);
      const g = await c.read();
      assert.equal(g.status, 200);
      assert.deepEqual(g.body, two);
    } finally {
      c.close();
    }
  });
});

// ─── body_limit ─────────────────────────────────────────────────────────────────────────────────────────────────

describe('body_limit 1k', () => {
  test('Content-Length one over the limit with Expect: 100-continue: 413 at once, no 100, nothing stored', async () => {
    const list = ls(small);
    const c = await RawClient.connect(srv.ports[1]!);
    try {
      c.send('POST /up/over.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1025\r\nExpect: 100-continue\r\n\r\n');
      const r = await c.read();
      assert.equal(r.status, 413);
      assert.equal(r.header('connection'), 'close');
      const rest = await c.waitClose();
      assert.equal(rest.toString('latin1').includes('100 Continue'), false);
    } finally {
      c.close();
    }
    assertUnchanged(small, list);
  });

  test('multipart with Content-Length over the limit: 413 before the body is sent', async () => {
    const list = ls(small);
    const body = multipart('lim', [{ name: 'f', filename: 'over.txt', content: Buffer.alloc(1100, 0x61) }]);
    const full = postRequest('/up/', body, 'multipart/form-data; boundary=lim', 'Expect: 100-continue\r\n');
    const headLen = full.indexOf('\r\n\r\n') + 4;
    const c = await RawClient.connect(srv.ports[1]!);
    try {
      c.send(full.subarray(0, headLen));
      const r = await c.read();
      assert.equal(r.status, 413);
    } finally {
      c.close();
    }
    assertUnchanged(small, list);
  });

  test('a client that sends a 2 MB body without waiting still reads the 413 (lingering close, no reset)', async () => {
    const list = ls(small);
    const c = await RawClient.connect(srv.ports[1]!);
    try {
      c.send(postRequest('/up/eager.bin', noise(2_000_000, 15), null));
      const r = await c.read();
      assert.equal(r.status, 413);
      await c.waitClose();
    } finally {
      c.close();
    }
    assertUnchanged(small, list);
  });

  test('exactly the limit is accepted; 100 Continue comes first', async () => {
    const content = noise(1024, 7);
    const c = await RawClient.connect(srv.ports[1]!);
    try {
      c.send(
        'POST /up/exact.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1024\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
      );
      const cont = await c.read();
      assert.equal(cont.status, 100);
      c.send(content);
      const r = await c.read();
      assert.equal(r.status, 201);
      assert.equal(r.header('location'), '/up/exact.bin');
    } finally {
      c.close();
    }
    assert.deepEqual(fs.readFileSync(path.join(small, 'exact.bin')), content);
  });

  test('chunked: exactly the limit is accepted, one byte over → 413 mid-stream, before the last chunk', async () => {
    const content = noise(1024, 8);
    const ok = await rawRequest(
      srv.ports[1]!,
      Buffer.concat([
        Buffer.from(
          'POST /up/chunk-exact.bin HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
        ),
        chunked(content, 100),
      ]),
    );
    assert.equal(ok.status, 201);
    assert.deepEqual(fs.readFileSync(path.join(small, 'chunk-exact.bin')), content);

    const list = ls(small);
    const c = await RawClient.connect(srv.ports[1]!);
    try {
      c.send(
        'POST /up/chunk-over.bin HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n',
      );
      assert.equal((await c.read()).status, 100);
      c.send(Buffer.concat([Buffer.from('3e8\r\n'), Buffer.alloc(1000, 0x62), Buffer.from('\r\n')]));
      // The first 1000 bytes are within the limit: the server stores them in a temporary file.
      await until(
        () => temps(small).length === 1 && fs.statSync(path.join(small, temps(small)[0]!)).size === 1000,
        'the first 1000 bytes on disk',
      );
      c.send(Buffer.concat([Buffer.from('19\r\n'), Buffer.alloc(25, 0x63), Buffer.from('\r\n')]));
      const r = await c.read();
      assert.equal(r.status, 413);
      await c.waitClose();
    } finally {
      c.close();
    }
    assertUnchanged(small, list);
  });

  test('curl -H "Transfer-Encoding: chunked" -F over the limit → 413, nothing stored', async () => {
    const list = ls(small);
    const r = await curl([
      '-H',
      'Transfer-Encoding: chunked',
      '-F',
      `f=@${source('over-2k.bin', noise(2048, 12))}`,
      `http://127.0.0.1:${srv.ports[1]}/up/`,
    ]);
    assert.equal(r.status, 413);
    assertUnchanged(small, list);
  });
});

// ─── Aborted uploads ────────────────────────────────────────────────────────────────────────────────────────────

describe('aborted uploads leave nothing', () => {
  for (const how of ['destroy', 'half-close'] as const) {
    for (const kind of ['raw', 'multipart'] as const) {
      test(`${kind} body, client ${how === 'destroy' ? 'socket destroyed' : 'sends FIN'} mid-body`, async () => {
        const list = ls(up);
        const name = `aborted-${kind}-${how}.bin`;
        const c = await RawClient.connect(srv.port);
        if (kind === 'raw') {
          c.send(`POST /up/${name} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n`);
        } else {
          c.send(
            `POST /up/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=abrt\r\nContent-Length: 1000000\r\n\r\n`,
          );
          c.send(`--abrt\r\nContent-Disposition: form-data; name="f"; filename="${name}"\r\n\r\n`);
        }
        c.send(noise(200_000, 13));
        await until(
          () => temps(up).length === 1 && fs.statSync(path.join(up, temps(up)[0]!)).size > 0,
          'the temporary file to fill',
        );
        if (how === 'destroy') c.close();
        else c.socket.end();
        await until(() => temps(up).length === 0, 'the temporary file to be removed');
        c.close();
        assertUnchanged(up, list);
        const g = await get(srv.port, '/up/existing.txt');
        assert.equal(g.status, 200);
        assert.equal(g.body.toString(), 'already here\n');
      });
    }
  }

  test('a curl process killed mid-upload', async () => {
    const list = ls(up);
    const file = source('killed.bin', noise(2_000_000, 14));
    const child = spawn(
      'curl',
      ['-sS', '-o', '/dev/null', '--limit-rate', '50k', '-F', `f=@${file}`, `http://127.0.0.1:${srv.port}/up/`],
      {
        stdio: 'ignore',
      },
    );
    const exited = new Promise<void>((r) =>
      child.once('exit', () => {
        r();
      }),
    );
    try {
      await until(
        () => temps(up).length === 1 && fs.statSync(path.join(up, temps(up)[0]!)).size > 0,
        'curl to start storing',
      );
    } finally {
      child.kill('SIGKILL');
    }
    await exited;
    await until(() => temps(up).length === 0, 'the temporary file to be removed');
    assertUnchanged(up, list);
    assert.equal((await get(srv.port, '/up/existing.txt')).status, 200);
  });
});

// ─── Malformed multipart ────────────────────────────────────────────────────────────────────────────────────────

describe('malformed multipart → 400, nothing stored', () => {
  const B = 'mal';
  const ok = (name: string): string =>
    `--${B}\r\nContent-Disposition: form-data; name="f"; filename="${name}"\r\n\r\ncontent of ${name}\r\n`;
  const cases: ReadonlyArray<[string, string, string]> = [
    ['no closing delimiter', `multipart/form-data; boundary=${B}`, ok('noclose.txt')],
    [
      'body ends inside the part data',
      `multipart/form-data; boundary=${B}`,
      `--${B}\r\nContent-Disposition: form-data; name="f"; filename="cut.txt"\r\n\r\nabc`,
    ],
    [
      'part without Content-Disposition',
      `multipart/form-data; boundary=${B}`,
      `--${B}\r\nContent-Type: text/plain\r\n\r\nx\r\n--${B}--\r\n`,
    ],
    [
      'part header line without a colon',
      `multipart/form-data; boundary=${B}`,
      `--${B}\r\nContent-Disposition: form-data; name="f"; filename="nc.txt"\r\nNoColonHere\r\n\r\nx\r\n--${B}--\r\n`,
    ],
    [
      'folded part header',
      `multipart/form-data; boundary=${B}`,
      `--${B}\r\nContent-Disposition: form-data;\r\n name="f"; filename="fold.txt"\r\n\r\nx\r\n--${B}--\r\n`,
    ],
    [
      'Content-Disposition not form-data',
      `multipart/form-data; boundary=${B}`,
      `--${B}\r\nContent-Disposition: attachment; filename="att.txt"\r\n\r\nx\r\n--${B}--\r\n`,
    ],
    [
      'good part then a bad one (all or nothing)',
      `multipart/form-data; boundary=${B}`,
      ok('first-good.txt') + `--${B}\r\nBad Header: x\r\n\r\ny\r\n--${B}--\r\n`,
    ],
    [
      'good part then garbage after the delimiter',
      `multipart/form-data; boundary=${B}`,
      ok('second-good.txt') + `--${B}xyz\r\n\r\n`,
    ],
    ['missing boundary parameter', 'multipart/form-data', ok('nob.txt') + `--${B}--\r\n`],
    [
      'invalid boundary (71 chars)',
      `multipart/form-data; boundary=${'b'.repeat(71)}`,
      ok('longb.txt') + `--${B}--\r\n`,
    ],
    [
      'no file part at all',
      `multipart/form-data; boundary=${B}`,
      `--${B}\r\nContent-Disposition: form-data; name="field"\r\n\r\nv\r\n--${B}--\r\n`,
    ],
    ['only the closing delimiter', `multipart/form-data; boundary=${B}`, `--${B}--\r\n`],
  ];
  for (const [label, ct, body] of cases) {
    test(label, async () => {
      const list = ls(up);
      const r = await rawRequest(srv.port, postRequest('/up/', Buffer.from(body, 'latin1'), ct));
      assert.equal(r.status, 400);
      assertUnchanged(up, list);
    });
  }

  test('a malformed chunked multipart body: 400, nothing stored, server still serving', async () => {
    const list = ls(up);
    const body = ok('chunked-bad.txt'); // no closing delimiter
    const head = `POST /up/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=${B}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`;
    const r: RawResponse = await rawRequest(
      srv.port,
      Buffer.concat([Buffer.from(head), chunked(Buffer.from(body), 10)]),
    );
    assert.equal(r.status, 400);
    assertUnchanged(up, list);
    assert.equal((await get(srv.port, '/up/existing.txt')).status, 200);
  });
});
