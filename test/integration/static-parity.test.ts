/**
 * Static-file parity with nginx (issue 7) through the real server: validators, the RFC 9110 §13.2.2 precondition
 * order, byte ranges (§14) on a cached (< 64 KiB) and a disk-streamed (> 64 KiB) file, If-Range, `curl -C -`
 * resumption, pre-compressed `.gz` siblings and the MIME table. Every response is followed by a probe request on
 * the same keep-alive connection, so a wrong Content-Length or a stray body fails the test.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { startServer, type RunningServer } from '../helpers/server.js';
import { RawClient, type RawResponse } from '../helpers/http.js';

const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  location / {
    methods GET HEAD
    root {DIR}/www
    default_file index.html
  }
}
`;

/** Every file gets this mtime: Last-Modified and ETag are then known in advance. */
const MTIME = new Date('2021-03-04T05:06:07Z');
const LAST_MODIFIED = 'Thu, 04 Mar 2021 05:06:07 GMT';
/** 1614834367 s in hex, the first half of nginx's ETag. */
const MTIME_HEX = '60406abf';
const BEFORE = 'Wed, 03 Mar 2021 05:06:07 GMT';
const AFTER = 'Fri, 05 Mar 2021 05:06:07 GMT';

/** Served from the in-memory cache (≤ 64 KiB). */
const SMALL = crypto.randomBytes(5000);
/** Streamed from the descriptor in 64 KiB reads; ranges below cross those read boundaries. */
const LARGE = crypto.randomBytes(300_007);
const RESUME = crypto.randomBytes(5 * 1024 * 1024);
const PAGE = Buffer.from('<!DOCTYPE html>\n<title>page</title>\n' + '<p>compress me, compress me</p>\n'.repeat(200));
const PAGE_GZ = zlib.gzipSync(PAGE);
/** Random base64 text: its gzip is still > 64 KiB, so the encoded variant is streamed from disk. */
const BIG_CSS = Buffer.from(crypto.randomBytes(300_000).toString('base64'));
const BIG_CSS_GZ = zlib.gzipSync(BIG_CSS);
const PROBE = 'probe\n';

const MIME: ReadonlyArray<readonly [string, string]> = [
  ['a.html', 'text/html; charset=utf-8'],
  ['a.css', 'text/css; charset=utf-8'],
  ['a.js', 'text/javascript; charset=utf-8'],
  ['a.json', 'application/json; charset=utf-8'],
  ['a.svg', 'image/svg+xml; charset=utf-8'],
  ['a.png', 'image/png'],
  ['a.wasm', 'application/wasm'],
  ['a.mp4', 'video/mp4'],
  ['a.woff2', 'font/woff2'],
  ['a.txt', 'text/plain; charset=utf-8'],
  ['a.unknownext', 'application/octet-stream'],
  ['noext', 'application/octet-stream'],
];

const FILES: Record<string, string | Buffer> = {
  'www/probe.txt': PROBE,
  'www/index.html': '<p>index</p>\n',
  'www/small.bin': SMALL,
  'www/large.bin': LARGE,
  'www/resume.bin': RESUME,
  'www/empty.txt': '',
  'www/page.html': PAGE,
  'www/page.html.gz': PAGE_GZ,
  'www/big.css': BIG_CSS,
  'www/big.css.gz': BIG_CSS_GZ,
  'www/dir/index.html': '<p>dir</p>\n',
  // Two pairs for the cache-key tests below: each asked in one order only.
  'www/gzfirst.html': PAGE,
  'www/gzfirst.html.gz': PAGE_GZ,
  'www/negfirst.html': PAGE,
  'www/negfirst.html.gz': PAGE_GZ,
  ...Object.fromEntries(MIME.map(([name]) => [`www/mime/${name}`, `content of ${name}\n`])),
};

let srv: RunningServer;

before(async () => {
  srv = await startServer({ config: CONFIG, files: FILES });
  for (const rel of Object.keys(FILES)) fs.utimesSync(path.join(srv.dir, rel), MTIME, MTIME);
});

after(async () => {
  await srv.stop();
  fs.rmSync(srv.dir, { recursive: true, force: true }); // ~16 MiB of random files and resumed downloads
});

/** nginx's strong ETag for a file of `size` bytes with mtime MTIME, computed independently of src/. */
const etagOf = (size: number): string => `"${MTIME_HEX}-${size.toString(16)}"`;

interface Req {
  readonly method?: 'GET' | 'HEAD';
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
}

function build(r: Req): string {
  const extra = Object.entries(r.headers ?? {})
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return `${r.method ?? 'GET'} ${r.path} HTTP/1.1\r\nHost: localhost\r\n${extra}\r\n`;
}

/**
 * Sends `r` on a keep-alive connection, reads the response, then sends a probe GET on the same connection: the probe
 * must come back intact, which proves the first response's framing (exact Content-Length, no body on 304/HEAD).
 */
async function fetch(r: Req): Promise<RawResponse> {
  const c = await RawClient.connect(srv.port);
  try {
    c.send(build(r));
    const res = await c.read({ head: r.method === 'HEAD' });
    c.send(build({ path: '/probe.txt' }));
    const probe = await c.read();
    assert.equal(probe.status, 200, `probe after ${JSON.stringify(r)}`);
    assert.equal(probe.body.toString(), PROBE, `probe body after ${JSON.stringify(r)}`);
    return res;
  } finally {
    c.close();
  }
}

/** Asserts a 200 carrying the whole file, with its validators. */
function assertFull(res: RawResponse, data: Buffer, what: string): void {
  assert.equal(res.status, 200, what);
  assert.equal(res.header('content-length'), String(data.length), what);
  assert.equal(res.header('content-range'), undefined, what);
  assert.equal(res.header('etag'), etagOf(data.length), what);
  assert.ok(res.body.equals(data), `${what}: body differs`);
}

/** Asserts a single-range 206 carrying data[start..end]. */
function assertPartial(res: RawResponse, data: Buffer, start: number, end: number, what: string): void {
  assert.equal(res.status, 206, what);
  assert.equal(res.header('content-range'), `bytes ${start}-${end}/${data.length}`, what);
  assert.equal(res.header('content-length'), String(end - start + 1), what);
  assert.equal(res.header('etag'), etagOf(data.length), what);
  assert.equal(res.header('last-modified'), LAST_MODIFIED, what);
  assert.equal(res.header('accept-ranges'), 'bytes', what);
  assert.ok(res.body.equals(data.subarray(start, end + 1)), `${what}: slice differs`);
}

interface Part {
  readonly type: string | undefined;
  readonly range: string | undefined;
  readonly data: Buffer;
}

/**
 * Parses a multipart/byteranges body (RFC 9110 §14.6, RFC 2046 §5.1.1) strictly: each part's length comes from its
 * Content-Range, and the bytes after it must be exactly the next delimiter or the close delimiter and final CRLF.
 */
function parseByteRanges(body: Buffer, boundary: string): Part[] {
  const parts: Part[] = [];
  const first = Buffer.from(`--${boundary}\r\n`);
  assert.ok(body.subarray(0, first.length).equals(first), 'body starts with the dash-boundary');
  let pos = first.length;
  for (;;) {
    const headEnd = body.indexOf('\r\n\r\n', pos);
    assert.ok(headEnd > 0, 'part head ends');
    const headers = new Map<string, string>();
    for (const line of body.toString('latin1', pos, headEnd).split('\r\n')) {
      const i = line.indexOf(':');
      headers.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
    }
    const range = headers.get('content-range');
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(range ?? '');
    assert.ok(m !== null, `part Content-Range ${String(range)}`);
    const len = Number(m[2]) - Number(m[1]) + 1;
    const start = headEnd + 4;
    parts.push({ type: headers.get('content-type'), range, data: body.subarray(start, start + len) });
    pos = start + len;
    const next = Buffer.from(`\r\n--${boundary}\r\n`);
    const close = Buffer.from(`\r\n--${boundary}--\r\n`);
    if (body.subarray(pos, pos + close.length).equals(close)) {
      assert.equal(pos + close.length, body.length, 'nothing after the close delimiter');
      return parts;
    }
    assert.ok(body.subarray(pos, pos + next.length).equals(next), `delimiter after part ${parts.length}`);
    pos += next.length;
  }
}

/** The two files every range test runs on. */
const RANGE_FILES: ReadonlyArray<readonly [string, Buffer]> = [
  ['/small.bin', SMALL],
  ['/large.bin', LARGE],
];

describe('validators', () => {
  // The .gz files are asked for in their own tests below, in an order that matters for the cache.
  const all = Object.entries(FILES)
    .filter(([rel]) => !rel.endsWith('.gz'))
    .map(([rel, data]) => [rel.slice('www'.length), Buffer.from(data)] as const);
  for (const [url, data] of all) {
    test(`${url}: Last-Modified, strong ETag "<hex mtime>-<hex size>", Accept-Ranges`, async () => {
      const res = await fetch({ path: url });
      assertFull(res, data, url);
      assert.equal(res.header('last-modified'), LAST_MODIFIED);
      assert.equal(res.header('accept-ranges'), 'bytes');
    });
  }

  test('HEAD: the GET headers (same validators and length), no body', async () => {
    const res = await fetch({ method: 'HEAD', path: '/large.bin' });
    assert.equal(res.status, 200);
    assert.equal(res.header('content-length'), String(LARGE.length));
    assert.equal(res.header('etag'), etagOf(LARGE.length));
    assert.equal(res.header('last-modified'), LAST_MODIFIED);
    assert.equal(res.header('accept-ranges'), 'bytes');
  });
});

describe('preconditions (RFC 9110 §13.2.2 order)', () => {
  for (const [url, data] of RANGE_FILES) {
    const etag = etagOf(data.length);
    const weak = `W/${etag}`;
    const other = `"${MTIME_HEX}-1"`;

    const cases: ReadonlyArray<readonly [string, Record<string, string>, 200 | 304 | 412]> = [
      ['If-Match: current → 200', { 'If-Match': etag }, 200],
      ['If-Match: other → 412', { 'If-Match': other }, 412],
      ['If-Match: * → 200', { 'If-Match': '*' }, 200],
      ['If-Match: list holding current → 200', { 'If-Match': `${other}, ${etag}` }, 200],
      ['If-Match: weak tag never matches (strong comparison) → 412', { 'If-Match': weak }, 412],
      ['If-Unmodified-Since: before mtime → 412', { 'If-Unmodified-Since': BEFORE }, 412],
      ['If-Unmodified-Since: equal → 200', { 'If-Unmodified-Since': LAST_MODIFIED }, 200],
      ['If-Unmodified-Since: after → 200', { 'If-Unmodified-Since': AFTER }, 200],
      [
        'If-Unmodified-Since ignored when If-Match present (§13.1.4) → 200',
        { 'If-Match': etag, 'If-Unmodified-Since': BEFORE },
        200,
      ],
      ['If-Unmodified-Since: invalid date ignored → 200', { 'If-Unmodified-Since': 'yesterday' }, 200],
      ['If-None-Match: current → 304', { 'If-None-Match': etag }, 304],
      ['If-None-Match: weak form matches (weak comparison) → 304', { 'If-None-Match': weak }, 304],
      ['If-None-Match: list holding current → 304', { 'If-None-Match': `${other}, ${weak}` }, 304],
      ['If-None-Match: * → 304', { 'If-None-Match': '*' }, 304],
      ['If-None-Match: other → 200', { 'If-None-Match': other }, 200],
      ['If-Modified-Since: equal → 304', { 'If-Modified-Since': LAST_MODIFIED }, 304],
      ['If-Modified-Since: after mtime → 304', { 'If-Modified-Since': AFTER }, 304],
      ['If-Modified-Since: before mtime → 200', { 'If-Modified-Since': BEFORE }, 200],
      ['If-Modified-Since: invalid date ignored → 200', { 'If-Modified-Since': 'not a date' }, 200],
      [
        'If-Modified-Since: later than now ignored → 200',
        { 'If-Modified-Since': 'Fri, 01 Jan 2100 00:00:00 GMT' },
        200,
      ],
      [
        'If-Modified-Since: obsolete RFC 850 form equal → 304',
        { 'If-Modified-Since': 'Thursday, 04-Mar-21 05:06:07 GMT' },
        304,
      ],
      ['If-Modified-Since: asctime form equal → 304', { 'If-Modified-Since': 'Thu Mar  4 05:06:07 2021' }, 304],
      [
        'If-Modified-Since ignored when If-None-Match present (§13.1.3): INM other + IMS equal → 200',
        { 'If-None-Match': other, 'If-Modified-Since': LAST_MODIFIED },
        200,
      ],
      [
        'If-Modified-Since ignored when If-None-Match present (§13.1.3): INM current + IMS before → 304',
        { 'If-None-Match': etag, 'If-Modified-Since': BEFORE },
        304,
      ],
      ['If-Match fails before If-None-Match is looked at → 412', { 'If-Match': other, 'If-None-Match': etag }, 412],
      [
        'If-Unmodified-Since fails before If-None-Match → 412',
        { 'If-Unmodified-Since': BEFORE, 'If-None-Match': etag },
        412,
      ],
      ['If-Match passes, then If-None-Match matches → 304', { 'If-Match': etag, 'If-None-Match': etag }, 304],
    ];
    for (const [name, headers, status] of cases) {
      test(`${url}: ${name}`, async () => {
        const res = await fetch({ path: url, headers });
        assert.equal(res.status, status, name);
        if (status === 200) assertFull(res, data, name);
        if (status === 304) {
          assert.equal(res.header('etag'), etag);
          assert.equal(res.header('last-modified'), LAST_MODIFIED);
          // §8.6: a 304 may only carry the 200's Content-Length; nginx sends none.
          assert.equal(res.header('content-length'), undefined);
        }
      });
    }

    test(`${url}: HEAD with If-None-Match current → 304 without body`, async () => {
      const res = await fetch({ method: 'HEAD', path: url, headers: { 'If-None-Match': etag } });
      assert.equal(res.status, 304);
      assert.equal(res.header('etag'), etag);
      assert.equal(res.header('last-modified'), LAST_MODIFIED);
    });

    test(`${url}: HEAD with If-Match other → 412`, async () => {
      const res = await fetch({ method: 'HEAD', path: url, headers: { 'If-Match': other } });
      assert.equal(res.status, 412);
    });
  }
});

describe('ranges', () => {
  for (const [url, data] of RANGE_FILES) {
    const size = data.length;
    const single: ReadonlyArray<readonly [string, number, number]> = [
      ['bytes=0-0', 0, 0],
      ['bytes=-1', size - 1, size - 1],
      ['bytes=5-', 5, size - 1],
      ['bytes=0-99999', 0, Math.min(99999, size - 1)],
      ['bytes=0-99999999', 0, size - 1],
      ['bytes=100-199', 100, 199],
      ['bytes=-500', size - 500, size - 1],
      ['bytes=-99999999', 0, size - 1],
      [`bytes=${size - 1}-`, size - 1, size - 1],
      ['BYTES=10-19', 10, 19],
      ['bytes= 10-19 ', 10, 19],
      // Crosses the first 64 KiB read boundary of the disk-streamed file.
      ...(size > 65545 ? [['bytes=65530-65545', 65530, 65545] as const] : []),
    ];
    for (const [header, start, end] of single) {
      test(`${url}: Range ${header} → 206 ${start}-${end}`, async () => {
        assertPartial(await fetch({ path: url, headers: { Range: header } }), data, start, end, header);
      });
    }

    for (const header of [`bytes=${size}-`, `bytes=${size}-${size + 10}`, 'bytes=-0', `bytes=${size + 5}-,-0`]) {
      test(`${url}: Range ${header} → 416 with Content-Range bytes */${size}`, async () => {
        const res = await fetch({ path: url, headers: { Range: header } });
        assert.equal(res.status, 416);
        assert.equal(res.header('content-range'), `bytes */${size}`);
      });
    }

    // §14.2: a server MAY ignore the Range header; invalid syntax and unknown units are ignored → full 200.
    for (const header of ['bytes=abc', 'bytes=10-5', 'items=0-1', 'bytes=', 'bytes=1-2-3', 'bytes 0-1']) {
      test(`${url}: Range ${header} (invalid or unknown unit) → 200 full`, async () => {
        assertFull(await fetch({ path: url, headers: { Range: header } }), data, header);
      });
    }

    const multi: ReadonlyArray<readonly [string, ReadonlyArray<readonly [number, number]>]> = [
      [
        'bytes=0-9,100-199,-10',
        [
          [0, 9],
          [100, 199],
          [size - 10, size - 1],
        ],
      ],
      [
        'bytes=-10,0-0',
        [
          [size - 10, size - 1],
          [0, 0],
        ],
      ],
      // On the small file the middle range is unsatisfiable and dropped; on the large one it crosses a read boundary.
      [
        'bytes=1000-1999,65530-70000,4990-4999',
        size > 70000
          ? [
              [1000, 1999],
              [65530, 70000],
              [4990, 4999],
            ]
          : [
              [1000, 1999],
              [4990, 4999],
            ],
      ],
      [`bytes=0-1,${size + 10}-`, [[0, 1]]],
    ];
    for (const [header, want] of multi) {
      test(`${url}: Range ${header} → 206 multipart/byteranges, each part the file's slice`, async () => {
        const res = await fetch({ path: url, headers: { Range: header } });
        assert.equal(res.status, 206);
        assert.equal(res.header('etag'), etagOf(size));
        assert.equal(res.header('last-modified'), LAST_MODIFIED);
        assert.equal(res.header('content-length'), String(res.body.length));
        if (want.length === 1) {
          assertPartial(res, data, want[0]![0], want[0]![1], header);
          return;
        }
        assert.equal(res.header('content-range'), undefined);
        const m = /^multipart\/byteranges; boundary=([0-9A-Za-z'()+_,./:=?-]{1,70})$/.exec(
          res.header('content-type') ?? '',
        );
        assert.ok(m !== null, `Content-Type ${String(res.header('content-type'))}`);
        const parts = parseByteRanges(res.body, m[1]!);
        assert.equal(parts.length, want.length);
        want.forEach(([s, e], i) => {
          const p = parts[i]!;
          assert.equal(p.type, 'application/octet-stream');
          assert.equal(p.range, `bytes ${s}-${e}/${size}`);
          assert.ok(p.data.equals(data.subarray(s, e + 1)), `part ${i} differs`);
        });
      });
    }

    test(`${url}: overlapping ranges are coalesced, no byte sent twice (§14.2)`, async () => {
      assertPartial(
        await fetch({ path: url, headers: { Range: 'bytes=0-99,50-149,150-199' } }),
        data,
        0,
        199,
        'coalesced',
      );
    });

    const etag = etagOf(size);
    test(`${url}: If-Range current ETag → 206`, async () => {
      assertPartial(
        await fetch({ path: url, headers: { Range: 'bytes=10-20', 'If-Range': etag } }),
        data,
        10,
        20,
        'If-Range',
      );
    });
    test(`${url}: If-Range stale ETag → 200 full`, async () => {
      assertFull(
        await fetch({ path: url, headers: { Range: 'bytes=10-20', 'If-Range': `"${MTIME_HEX}-0"` } }),
        data,
        'stale',
      );
    });
    test(`${url}: If-Range weak ETag → 200 full (strong comparison, §13.1.5)`, async () => {
      assertFull(await fetch({ path: url, headers: { Range: 'bytes=10-20', 'If-Range': `W/${etag}` } }), data, 'weak');
    });
    test(`${url}: If-Range date equal to Last-Modified → 206`, async () => {
      assertPartial(
        await fetch({ path: url, headers: { Range: 'bytes=10-20', 'If-Range': LAST_MODIFIED } }),
        data,
        10,
        20,
        'date',
      );
    });
    test(`${url}: If-Range other date → 200 full`, async () => {
      assertFull(await fetch({ path: url, headers: { Range: 'bytes=10-20', 'If-Range': AFTER } }), data, 'other date');
    });
    test(`${url}: If-Range current ETag with an unsatisfiable range → 416`, async () => {
      const res = await fetch({ path: url, headers: { Range: `bytes=${size}-`, 'If-Range': etag } });
      assert.equal(res.status, 416);
      assert.equal(res.header('content-range'), `bytes */${size}`);
    });
    test(`${url}: If-None-Match current with Range → 304 (preconditions before ranges)`, async () => {
      const res = await fetch({ path: url, headers: { Range: 'bytes=0-0', 'If-None-Match': etag } });
      assert.equal(res.status, 304);
    });
    test(`${url}: HEAD with Range → 200 with the full length (§14.2: range handling is defined for GET only)`, async () => {
      const res = await fetch({ method: 'HEAD', path: url, headers: { Range: 'bytes=0-0' } });
      assert.equal(res.status, 200);
      assert.equal(res.header('content-length'), String(size));
      assert.equal(res.header('content-range'), undefined);
      assert.equal(res.header('accept-ranges'), 'bytes');
    });
  }

  test('0-byte file: int-range unsatisfiable → 416 bytes */0', async () => {
    const res = await fetch({ path: '/empty.txt', headers: { Range: 'bytes=0-0' } });
    assert.equal(res.status, 416);
    assert.equal(res.header('content-range'), 'bytes */0');
  });

  test('0-byte file: suffix-range is satisfiable (§14.1.2) but selects nothing → 200, Content-Length 0', async () => {
    const res = await fetch({ path: '/empty.txt', headers: { Range: 'bytes=-5' } });
    assert.equal(res.status, 200);
    assert.equal(res.header('content-length'), '0');
    assert.equal(res.header('content-range'), undefined);
  });
});

/** Runs a command; resolves with its exit code and stdout. */
function run(cmd: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('error', reject);
    p.once('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

const sha256 = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

describe('resumed download', () => {
  for (const cut of [1, 1_234_567, RESUME.length - 1]) {
    test(`curl -C - continues a download cut after ${cut} bytes to an identical 5 MiB file`, async () => {
      const out = path.join(srv.dir, `resume-${cut}.out`);
      fs.writeFileSync(out, RESUME.subarray(0, cut)); // what an interrupted download leaves behind
      const r = await run('curl', [
        '-s',
        '-S',
        '-C',
        '-',
        '-o',
        out,
        '-w',
        '%{http_code} %{size_download}',
        `http://127.0.0.1:${srv.port}/resume.bin`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `206 ${RESUME.length - cut}`);
      assert.equal(sha256(fs.readFileSync(out)), sha256(RESUME));
    });
  }

  test('curl -C - on a complete file: 416, file unchanged', async () => {
    const out = path.join(srv.dir, 'resume-full.out');
    fs.writeFileSync(out, RESUME);
    const r = await run('curl', [
      '-s',
      '-C',
      '-',
      '-o',
      out,
      '-w',
      '%{http_code}',
      `http://127.0.0.1:${srv.port}/resume.bin`,
    ]);
    // curl treats 416 on a resume from the end as "already complete" (exit 0).
    assert.equal(r.stdout, '416');
    assert.equal(sha256(fs.readFileSync(out)), sha256(RESUME));
  });
});

describe('pre-compressed siblings', () => {
  const cases: ReadonlyArray<readonly [string, Buffer, Buffer, string]> = [
    ['/page.html', PAGE, PAGE_GZ, 'text/html; charset=utf-8'],
    ['/big.css', BIG_CSS, BIG_CSS_GZ, 'text/css; charset=utf-8'],
  ];
  for (const [url, plain, gz, type] of cases) {
    for (const ae of ['gzip', 'gzip, deflate, br', 'deflate;q=1, gzip;q=0.5', 'GZIP']) {
      test(`${url} Accept-Encoding: ${ae} → the .gz bytes, Content-Encoding gzip, Vary, original type`, async () => {
        const res = await fetch({ path: url, headers: { 'Accept-Encoding': ae } });
        assert.equal(res.status, 200);
        assert.equal(res.header('content-encoding'), 'gzip');
        assert.equal(res.header('vary'), 'Accept-Encoding');
        assert.equal(res.header('content-type'), type);
        assert.equal(res.header('content-length'), String(gz.length));
        assert.equal(res.header('etag'), etagOf(gz.length));
        assert.ok(res.body.equals(gz), 'gz bytes');
        assert.ok(zlib.gunzipSync(res.body).equals(plain), 'decodes to the original');
      });
    }
    const noGzip: ReadonlyArray<Readonly<Record<string, string>>> = [
      {},
      { 'Accept-Encoding': 'gzip;q=0' },
      { 'Accept-Encoding': 'deflate, br' },
      { 'Accept-Encoding': 'gzip; q=0, br' },
    ];
    for (const headers of noGzip) {
      test(`${url} ${JSON.stringify(headers)} → the plain file, no Content-Encoding`, async () => {
        const res = await fetch({ path: url, headers });
        assertFull(res, plain, JSON.stringify(headers));
        assert.equal(res.header('content-type'), type);
        assert.equal(res.header('content-encoding'), undefined);
      });
    }
    test(`${url} gzip + Range bytes=0-9 → 206 of the .gz bytes, Content-Encoding gzip`, async () => {
      const res = await fetch({ path: url, headers: { 'Accept-Encoding': 'gzip', Range: 'bytes=0-9' } });
      assertPartial(res, gz, 0, 9, 'gz range');
      assert.equal(res.header('content-encoding'), 'gzip');
      assert.equal(res.header('vary'), 'Accept-Encoding');
    });
    test(`${url} gzip + If-None-Match of the .gz → 304 that keeps Vary (RFC 9110 §15.4.5)`, async () => {
      const res = await fetch({
        path: url,
        headers: { 'Accept-Encoding': 'gzip', 'If-None-Match': etagOf(gz.length) },
      });
      assert.equal(res.status, 304);
      assert.equal(res.header('etag'), etagOf(gz.length));
      assert.equal(res.header('vary'), 'Accept-Encoding');
    });
    test(`${url} the .gz file itself is served as application/gzip, not re-encoded`, async () => {
      const res = await fetch({ path: `${url}.gz`, headers: { 'Accept-Encoding': 'gzip' } });
      assertFull(res, gz, 'direct .gz');
      assert.equal(res.header('content-type'), 'application/gzip');
      assert.equal(res.header('content-encoding'), undefined);
    });
  }
});

describe('pre-compressed siblings: the cached .gz bytes keep the headers of how they were asked for', () => {
  // Small .gz files are cached by path; the direct URL (application/gzip, no Content-Encoding) and the negotiated
  // variant (original type, Content-Encoding: gzip) share that path but not their headers.
  test('GET /gzfirst.html.gz, then /gzfirst.html with Accept-Encoding: gzip → still Content-Encoding gzip, text/html', async () => {
    const direct = await fetch({ path: '/gzfirst.html.gz' });
    assert.equal(direct.header('content-type'), 'application/gzip');
    assert.equal(direct.header('content-encoding'), undefined);
    const neg = await fetch({ path: '/gzfirst.html', headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(neg.header('content-encoding'), 'gzip');
    assert.equal(neg.header('content-type'), 'text/html; charset=utf-8');
    assert.equal(neg.header('vary'), 'Accept-Encoding');
    assert.ok(neg.body.equals(PAGE_GZ));
  });

  test('GET /negfirst.html with Accept-Encoding: gzip, then /negfirst.html.gz → application/gzip, no Content-Encoding', async () => {
    const neg = await fetch({ path: '/negfirst.html', headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(neg.header('content-encoding'), 'gzip');
    assert.equal(neg.header('content-type'), 'text/html; charset=utf-8');
    const direct = await fetch({ path: '/negfirst.html.gz' });
    // With Content-Encoding here a browser would gunzip the download and save HTML under a .gz name.
    assert.equal(direct.header('content-encoding'), undefined);
    assert.equal(direct.header('content-type'), 'application/gzip');
    assert.ok(direct.body.equals(PAGE_GZ));
  });
});

describe('MIME table', () => {
  for (const [name, type] of MIME) {
    test(`${name} → ${type}`, async () => {
      const res = await fetch({ path: `/mime/${name}` });
      assert.equal(res.status, 200);
      assert.equal(res.header('content-type'), type);
      assert.equal(res.body.toString(), `content of ${name}\n`);
    });
  }
});
