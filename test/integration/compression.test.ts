/**
 * Compression of static files (README "Compression", issue 16) through real sockets: gzip and br chosen by
 * Accept-Encoding, bytes decoded by curl --compressed, Python's zlib and Node's brotli decoder; Vary on every
 * answer that could have been encoded; the encoded variant's own ETag through If-None-Match and If-Match; Range
 * served from the identity; HEAD's encoded length; gzip_min_length, gzip_types and `off`; .br/.gz siblings; a
 * changed file encoded anew.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get, rawRequest, type RawResponse } from '../helpers/http.js';
import { valueOf } from '../helpers/wait.js';

const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  gzip on
  brotli on
  location / {
    root {DIR}/www
  }
  location /off {
    root {DIR}/www
    gzip off
    brotli off
  }
  location /cgi {
    root {DIR}/cgi
    cgi .py /usr/bin/python3
  }
  location /css-only {
    root {DIR}/www
    brotli off
    gzip_types text/css
    gzip_min_length 10
  }
}
`;

/** Compressible JavaScript of about 100 KiB: varied lines, so the encodings differ in size from the source. */
function scriptText(kib: number): string {
  const lines: string[] = [];
  for (let i = 0; lines.join('\n').length < kib * 1024; i++) {
    lines.push(`export function f${i}(a, b) { return a * ${i % 97} + b - ${(i * 7919) % 1013}; } // ${i.toString(36)}`);
  }
  return lines.join('\n') + '\n';
}

const APP = Buffer.from(scriptText(100));
/** Over STATIC_ENCODE_MAX (256 KiB): never encoded on the fly. */
const HUGE = Buffer.from(scriptText(300));
const SMALL = Buffer.from('console.log("under the minimum length");\n');
const STYLE = Buffer.from('body { color: red; }\n'.repeat(40));
const JSON_TEXT = Buffer.from(
  JSON.stringify({ items: Array.from({ length: 2000 }, (_, i) => ({ i, name: `n${i}` })) }),
);
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.alloc(4096, 7)]);
const SIB = Buffer.from('.sibling { margin: 0 }\n'.repeat(100));
const SIB_BR = zlib.brotliCompressSync(SIB);
const SIB_GZ = zlib.gzipSync(SIB, { level: 9 });

/** Writes LINES numbered lines in pieces, flushing each: several reads of the pipe, each compressed apart. */
const STREAM_PY = `import sys
sys.stdout.write("Content-Type: text/plain\\r\\nETag: \\"abc\\"\\r\\n\\r\\n")
sys.stdout.flush()
for i in range(60000):
    sys.stdout.write("line %d of a long streamed report\\n" % i)
    if i % 997 == 0:
        sys.stdout.flush()
`;
const STREAM_TEXT = Array.from({ length: 60000 }, (_, i) => `line ${i} of a long streamed report\n`).join('');
const SIZED_PY = `import sys
body = "sized " * 1000
sys.stdout.write("Content-Type: text/html\\r\\nContent-Length: %d\\r\\n\\r\\n%s" % (len(body), body))
`;
const PNG_PY = `import sys
sys.stdout.write("Content-Type: image/png\\r\\n\\r\\n" + "x" * 5000)
`;

let srv: RunningServer;

before(async () => {
  srv = await startServer({
    config: CONFIG,
    files: {
      'www/app.js': APP,
      'www/huge.js': HUGE,
      'www/small.js': SMALL,
      'www/style.css': STYLE,
      'www/data.json': JSON_TEXT,
      'www/image.png': PNG,
      'www/sib.css': SIB,
      'www/sib.css.br': SIB_BR,
      'www/sib.css.gz': SIB_GZ,
      'www/changing.js': APP,
      'cgi/stream.py': STREAM_PY,
      'cgi/sized.py': SIZED_PY,
      'cgi/png.py': PNG_PY,
    },
  });
});

after(async () => {
  await srv.stop();
});

const gunzipPython = (data: Buffer): Buffer =>
  execFileSync(
    'python3',
    ['-c', 'import sys, zlib; sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read(), 31))'],
    {
      input: data,
      maxBuffer: 64 * 1024 * 1024,
    },
  );

const etagOf = (r: RawResponse): string => r.header('etag') ?? '';

describe('compression: negotiation and bytes', () => {
  test('gzip: Content-Encoding, Vary, its own ETag, no Accept-Ranges; Python zlib decodes it to the file', async () => {
    const r = await get(srv.port, '/app.js', { 'Accept-Encoding': 'gzip' });
    assert.equal(r.status, 200);
    assert.equal(r.header('content-encoding'), 'gzip');
    assert.equal(r.header('vary'), 'Accept-Encoding');
    assert.equal(r.header('content-type'), 'text/javascript; charset=utf-8');
    assert.match(etagOf(r), /^"[0-9a-f]+-[0-9a-f]+-gzip"$/);
    assert.equal(r.header('accept-ranges'), undefined);
    assert.equal(r.header('content-length'), String(r.body.length));
    assert.ok(r.body.length < APP.length / 2, `encoded ${r.body.length} of ${APP.length}`);
    assert.ok(gunzipPython(r.body).equals(APP));
  });

  test('br, decoded by Node: br wins a tie and is chosen from "gzip, deflate, br"', async () => {
    for (const ae of ['br', 'gzip, deflate, br', 'br;q=0.8, gzip;q=0.8']) {
      const r = await get(srv.port, '/app.js', { 'Accept-Encoding': ae });
      assert.equal(r.header('content-encoding'), 'br', ae);
      assert.match(etagOf(r), /-br"$/);
      assert.ok(zlib.brotliDecompressSync(r.body).equals(APP), ae);
    }
  });

  test('q-values: gzip over a lower br; identity when both are refused or nothing is asked', async () => {
    const g = await get(srv.port, '/app.js', { 'Accept-Encoding': 'br;q=0.5, gzip' });
    assert.equal(g.header('content-encoding'), 'gzip');
    for (const headers of [{}, { 'Accept-Encoding': 'gzip;q=0, br;q=0' }, { 'Accept-Encoding': 'identity' }] as Array<
      Record<string, string>
    >) {
      const r = await get(srv.port, '/app.js', headers);
      assert.equal(r.header('content-encoding'), undefined, JSON.stringify(headers));
      assert.equal(r.header('vary'), 'Accept-Encoding', 'the identity could have been encoded: it varies too');
      assert.equal(r.header('accept-ranges'), 'bytes');
      assert.match(etagOf(r), /^"[0-9a-f]+-[0-9a-f]+"$/);
      assert.ok(r.body.equals(APP));
    }
    const star = await get(srv.port, '/app.js', { 'Accept-Encoding': 'identity;q=0, *' });
    assert.equal(star.header('content-encoding'), 'br');
  });

  test('curl --compressed gets the file back, over gzip and br', () => {
    for (const ae of ['gzip', 'br']) {
      const res = spawnSync(
        'curl',
        [
          '-sS',
          '--compressed',
          '-H',
          `Accept-Encoding: ${ae}`,
          '-D',
          '-',
          '-o',
          path.join(srv.dir, `curl.${ae}`),
          `http://127.0.0.1:${srv.port}/data.json`,
        ],
        { encoding: 'utf8' },
      );
      assert.equal(res.status, 0, res.stderr);
      assert.match(res.stdout, new RegExp(`content-encoding: ${ae}\\r\\n`, 'i'));
      assert.ok(fs.readFileSync(path.join(srv.dir, `curl.${ae}`)).equals(JSON_TEXT), ae);
    }
  });

  test('HEAD gives the encoded Content-Length and no body', async () => {
    const full = await get(srv.port, '/app.js', { 'Accept-Encoding': 'gzip' });
    const head = await rawRequest(
      srv.port,
      'HEAD /app.js HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n',
      { head: true },
    );
    assert.equal(head.status, 200);
    assert.equal(head.header('content-encoding'), 'gzip');
    assert.equal(head.header('content-length'), String(full.body.length));
    assert.equal(head.header('etag'), etagOf(full));
    assert.equal(head.body.length, 0);
  });
});

describe('compression: validators and ranges', () => {
  test('If-None-Match with the gzip ETag: 304 for gzip (ETag and Vary kept), 200 for another coding', async () => {
    const g = await get(srv.port, '/app.js', { 'Accept-Encoding': 'gzip' });
    const r = await get(srv.port, '/app.js', { 'Accept-Encoding': 'gzip', 'If-None-Match': etagOf(g) });
    assert.equal(r.status, 304);
    assert.equal(r.header('etag'), etagOf(g));
    assert.equal(r.header('vary'), 'Accept-Encoding');
    assert.equal(r.body.length, 0);
    const plain = await get(srv.port, '/app.js', { 'If-None-Match': etagOf(g) });
    assert.equal(plain.status, 200);
    assert.ok(plain.body.equals(APP));
    const br = await get(srv.port, '/app.js', { 'Accept-Encoding': 'br', 'If-None-Match': etagOf(g) });
    assert.equal(br.status, 200);
    assert.equal(br.header('content-encoding'), 'br');
  });

  test('If-Match compares strongly against the selected variant', async () => {
    const ident = await get(srv.port, '/app.js');
    const g = await get(srv.port, '/app.js', { 'Accept-Encoding': 'gzip' });
    assert.notEqual(etagOf(ident), etagOf(g));
    const ok = await get(srv.port, '/app.js', { 'Accept-Encoding': 'gzip', 'If-Match': etagOf(g) });
    assert.equal(ok.status, 200);
    assert.equal(ok.header('content-encoding'), 'gzip');
    const refused = await get(srv.port, '/app.js', { 'Accept-Encoding': 'gzip', 'If-Match': etagOf(ident) });
    assert.equal(refused.status, 412);
  });

  test('Range gets the identity bytes (206, no Content-Encoding, Vary kept), even with gzip accepted', async () => {
    const r = await get(srv.port, '/app.js', { 'Accept-Encoding': 'gzip, br', Range: 'bytes=100-299' });
    assert.equal(r.status, 206);
    assert.equal(r.header('content-encoding'), undefined);
    assert.equal(r.header('vary'), 'Accept-Encoding');
    assert.equal(r.header('content-range'), `bytes 100-299/${APP.length}`);
    assert.ok(r.body.equals(APP.subarray(100, 300)));
    const ident = await get(srv.port, '/app.js');
    const ifRange = await get(srv.port, '/app.js', {
      'Accept-Encoding': 'gzip',
      Range: 'bytes=0-9',
      'If-Range': etagOf(ident),
    });
    assert.equal(ifRange.status, 206);
    assert.ok(ifRange.body.equals(APP.subarray(0, 10)));
  });
});

describe('compression: what is and is not encoded', () => {
  test('under gzip_min_length, or of a type not listed: no encoding and no Vary', async () => {
    for (const url of ['/small.js', '/image.png']) {
      const r = await get(srv.port, url, { 'Accept-Encoding': 'gzip, br' });
      assert.equal(r.header('content-encoding'), undefined, url);
      assert.equal(r.header('vary'), undefined, url);
    }
    const huge = await get(srv.port, '/huge.js', { 'Accept-Encoding': 'gzip, br' });
    assert.equal(huge.header('content-encoding'), undefined, 'over the on-the-fly limit');
    assert.ok(huge.body.equals(HUGE));
  });

  test('gzip off and brotli off in a location: nothing encoded there, no Vary', async () => {
    const r = await get(srv.port, '/off/app.js', { 'Accept-Encoding': 'gzip, br' });
    assert.equal(r.header('content-encoding'), undefined);
    assert.equal(r.header('vary'), undefined);
    assert.ok(r.body.equals(APP));
  });

  test('gzip_types and gzip_min_length of a location: CSS of 10 bytes and more only', async () => {
    const css = await get(srv.port, '/css-only/style.css', { 'Accept-Encoding': 'gzip, br' });
    assert.equal(css.header('content-encoding'), 'gzip');
    assert.ok(zlib.gunzipSync(css.body).equals(STYLE));
    const js = await get(srv.port, '/css-only/app.js', { 'Accept-Encoding': 'gzip, br' });
    assert.equal(js.header('content-encoding'), undefined);
    assert.equal(js.header('vary'), undefined);
  });

  test('.br and .gz siblings are sent as they are, by the same negotiation', async () => {
    const br = await get(srv.port, '/off/sib.css', { 'Accept-Encoding': 'gzip, br' });
    assert.equal(br.header('content-encoding'), 'br');
    assert.equal(br.header('content-type'), 'text/css; charset=utf-8');
    assert.ok(br.body.equals(SIB_BR));
    const gz = await get(srv.port, '/off/sib.css', { 'Accept-Encoding': 'gzip' });
    assert.equal(gz.header('content-encoding'), 'gzip');
    assert.ok(gz.body.equals(SIB_GZ), 'the sibling, not an encoding made by the server');
    const plain = await get(srv.port, '/off/sib.css');
    assert.equal(plain.header('vary'), 'Accept-Encoding');
    assert.ok(plain.body.equals(SIB));
    const ranged = await get(srv.port, '/off/sib.css', { 'Accept-Encoding': 'br', Range: 'bytes=0-3' });
    assert.equal(ranged.status, 206);
    assert.ok(ranged.body.equals(SIB_BR.subarray(0, 4)), 'a sibling keeps its ranges, as with gzip_static');
  });

  test('a sibling made, rewritten or removed after the file was served is seen on a later request', async () => {
    const file = path.join(srv.dir, 'www/late.css'); // /off maps onto www/ (its root, prefix stripped)
    fs.writeFileSync(file, SIB);
    const before = await get(srv.port, '/off/late.css', { 'Accept-Encoding': 'gzip' });
    assert.equal(before.header('content-encoding'), undefined);
    assert.equal(before.header('vary'), undefined, 'no sibling and gzip off: nothing could vary');
    fs.writeFileSync(file + '.gz', SIB_GZ);
    const made = await valueOf('the new sibling', async () => {
      const r = await get(srv.port, '/off/late.css', { 'Accept-Encoding': 'gzip' });
      return r.header('content-encoding') === 'gzip' ? r : undefined;
    });
    assert.ok(made.body.equals(SIB_GZ));
    assert.equal(made.header('vary'), 'Accept-Encoding');
    const rewritten = zlib.gzipSync(SIB, { level: 1 });
    fs.writeFileSync(file + '.gz', rewritten);
    await valueOf('the rewritten sibling', async () => {
      const r = await get(srv.port, '/off/late.css', { 'Accept-Encoding': 'gzip' });
      return r.body.equals(rewritten) ? true : undefined;
    });
    fs.unlinkSync(file + '.gz');
    const gone = await valueOf('the identity again', async () => {
      const r = await get(srv.port, '/off/late.css', { 'Accept-Encoding': 'gzip' });
      return r.header('content-encoding') === undefined ? r : undefined;
    });
    assert.ok(gone.body.equals(SIB));
    assert.equal(gone.header('vary'), undefined);
  });

  test('a file that changes is encoded anew (no stale variant)', async () => {
    const first = await get(srv.port, '/changing.js', { 'Accept-Encoding': 'gzip' });
    assert.ok(zlib.gunzipSync(first.body).equals(APP));
    const next = Buffer.from(scriptText(90).replaceAll('function', 'async function') + crypto.randomUUID());
    fs.writeFileSync(path.join(srv.dir, 'www/changing.js'), next);
    const body = await valueOf('the new encoding', async () => {
      const r = await get(srv.port, '/changing.js', { 'Accept-Encoding': 'gzip' });
      return r.header('content-encoding') === 'gzip' && !r.body.equals(first.body) ? r.body : undefined;
    });
    assert.ok(zlib.gunzipSync(body).equals(next));
  });
});

describe('compression: CGI output, as it streams', () => {
  test('gzip, chunked, Vary, the script ETag weakened; Python zlib decodes it to what the script wrote', async () => {
    const r = await get(srv.port, '/cgi/stream.py', { 'Accept-Encoding': 'gzip, br' });
    assert.equal(r.status, 200);
    assert.equal(r.header('content-encoding'), 'gzip', 'br is for static files only');
    assert.equal(r.header('transfer-encoding'), 'chunked');
    assert.equal(r.header('content-length'), undefined);
    assert.equal(r.header('vary'), 'Accept-Encoding');
    assert.equal(r.header('etag'), 'W/"abc"');
    assert.ok(r.body.length < STREAM_TEXT.length / 4, `encoded ${r.body.length}`);
    assert.equal(gunzipPython(r.body).toString(), STREAM_TEXT);
  });

  test('without Accept-Encoding, or with Range: the identity, with Vary', async () => {
    for (const headers of [{}, { 'Accept-Encoding': 'gzip', Range: 'bytes=0-1' }] as Array<Record<string, string>>) {
      const r = await get(srv.port, '/cgi/stream.py', headers);
      assert.equal(r.header('content-encoding'), undefined);
      assert.equal(r.header('vary'), 'Accept-Encoding');
      assert.equal(r.header('etag'), '"abc"');
      assert.equal(r.body.toString(), STREAM_TEXT);
    }
  });

  test("a script's Content-Length gives way to chunked framing when encoded; a type not listed is left alone", async () => {
    const r = await get(srv.port, '/cgi/sized.py', { 'Accept-Encoding': 'gzip' });
    assert.equal(r.header('content-encoding'), 'gzip');
    assert.equal(r.header('content-length'), undefined);
    assert.equal(zlib.gunzipSync(r.body).toString(), 'sized '.repeat(1000));
    const plain = await get(srv.port, '/cgi/sized.py');
    assert.equal(plain.header('content-length'), String('sized '.repeat(1000).length));
    const png = await get(srv.port, '/cgi/png.py', { 'Accept-Encoding': 'gzip' });
    assert.equal(png.header('content-encoding'), undefined);
    assert.equal(png.header('vary'), undefined);
    assert.equal(png.body.length, 5000);
  });

  test('curl --compressed decodes the stream', () => {
    const out = path.join(srv.dir, 'curl.stream');
    const res = spawnSync('curl', ['-sS', '--compressed', '-o', out, `http://127.0.0.1:${srv.port}/cgi/stream.py`], {
      encoding: 'utf8',
    });
    assert.equal(res.status, 0, res.stderr);
    assert.equal(fs.readFileSync(out, 'utf8'), STREAM_TEXT);
  });
});
