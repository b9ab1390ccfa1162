/**
 * Escapes from a location's root (DESIGN §6 "Paths": nothing outside the root is ever read, written or deleted):
 * a corpus of traversal spellings (encoded, double-encoded, overlong UTF-8, backslashes, `;` parameters, NUL,
 * look-alike Unicode, trailing dots, absolute-form, very long chains) thrown at every handler that touches the
 * filesystem: static GET, directory listing, DELETE, raw and multipart uploads, and CGI (script and PATH_INFO),
 * plus symlinks inside a root that point outside it. Every answer must be a 4xx, or a 2xx/301 whose content is
 * provably from inside the root; no secret is ever returned, deleted or overwritten, and no file appears outside
 * the roots.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { rawRequest, type RawResponse } from '../helpers/http.js';

const TOKEN = randomBytes(4).toString('hex');
const SECRET = `TOP-SECRET-${TOKEN}\n`;
const OUTSIDE_ONLY = `outside-only-${TOKEN}`;
/** Upload names carry this (not TOKEN: an upload receipt names the file), so a stray file is found anywhere. */
const PWN_TOKEN = randomBytes(4).toString('hex');
const PWN = `pwn-${PWN_TOKEN}`;
const WAIT_MS = 15_000;

const SECRET_PY = `#!/usr/bin/env python3
import sys
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\n" + ${JSON.stringify(SECRET.trim())} + "-RAN\\n")
`;
/** Prints only what the escape checks need, as JSON (REQUEST_URI would echo the attack; values may hold LF). */
const ENV_PY = `#!/usr/bin/env python3
import json, os, sys
sys.stdout.write("Content-Type: application/json\\r\\n\\r\\n")
sys.stdout.write(json.dumps({k: os.environ.get(k) for k in ("PATH_INFO", "PATH_TRANSLATED", "SCRIPT_FILENAME")}))
`;

const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  location / {
    # No POST: this root holds the CGI root, and the validator refuses uploads over scripts (uploads go to /up).
    methods GET DELETE
    root {DIR}/www
    directory_listing on
  }
  location /files {
    methods GET
    root {DIR}/www/files
    directory_listing on
  }
  location /up {
    methods GET POST DELETE
    root {DIR}/www/up
    directory_listing on
  }
  location /cgi-bin {
    methods GET POST
    root {DIR}/www/cgi
    cgi .py /usr/bin/python3
  }
}
`;

/** Bodies of every file inside the roots: a 2xx body equal to one of these is provably from inside. */
const INSIDE: Record<string, string> = {
  'www/index.txt': 'inside index\n',
  'www/files/a.txt': 'inside a\n',
  'www/files/sub/b.txt': 'inside b\n',
  'www/up/keep.txt': 'inside keep\n',
};

/** Bodies the tests upload: a later GET may legitimately serve one that was stored inside a root. */
const UPLOADED = ['pwned\n', 'x=1'];

let srv: RunningServer;
let www: string;
let realWww: string;
/** The state outside the roots before any request (see outsideState). */
let baseline: { entries: string[]; secrets: Record<string, string>; strays: string[] };

before(async () => {
  srv = await startServer({
    config: CONFIG,
    files: {
      ...INSIDE,
      'www/cgi/env.py': ENV_PY,
      'secret.txt': SECRET,
      'secret.py': SECRET_PY,
      'victim.txt': SECRET,
      [`outside/${OUTSIDE_ONLY}`]: SECRET,
      'outside/secret.txt': SECRET,
      'outside/secret.py': SECRET_PY,
      'outside/victim.txt': SECRET,
    },
  });
  www = path.join(srv.dir, 'www');
  realWww = fs.realpathSync(www);
  // Symlinks inside roots pointing outside them: to a file and to a directory, in each kind of location.
  for (const d of ['www', 'www/files', 'www/up', 'www/cgi']) {
    fs.symlinkSync(path.join(srv.dir, 'secret.txt'), path.join(srv.dir, d, 'esc-file'));
    fs.symlinkSync(path.join(srv.dir, 'outside'), path.join(srv.dir, d, 'esc-dir'));
  }
  fs.symlinkSync(path.join(srv.dir, 'secret.py'), path.join(srv.dir, 'www/cgi/link.py'));
  fs.symlinkSync('/etc', path.join(srv.dir, 'www/files/etc-link'));
  fs.symlinkSync('/', path.join(srv.dir, 'www/up/fsroot'));
  baseline = outsideState();
});

after(async () => {
  await srv.stop();
});

// ─── The corpus ──────────────────────────────────────────────────────────────────────────────────────────────

/** Spellings of "one directory up" (each includes its separator), tried as chains of 8. */
const UP: readonly string[] = [
  '../',
  '..%2f',
  '..%2F',
  '%2e%2e/',
  '%2E%2E/',
  '%2e%2E%2f',
  '%2E%2e%2F',
  '.%2e/',
  '%2e./',
  '%2e%2e%2f',
  // double encoding: decoded once, these are literal "%2e" names (DESIGN §6: decoded once)
  '%252e%252e/',
  '%252e%252e%252f',
  '..%252f',
  '%25%32%65%25%32%65/',
  '%252E%252E%252F',
  // backslashes (an ordinary name byte on POSIX)
  '..\\',
  '..%5c',
  '..%5C',
  '%2e%2e%5c',
  '%252e%252e%255c',
  '.\\..\\',
  // overlong and invalid UTF-8 for '.', '/' and '\'
  '%c0%ae%c0%ae/',
  '%c0%ae%c0%ae%c0%af',
  '..%c0%af',
  '..%c1%9c',
  '%e0%80%ae%e0%80%ae/',
  '..%e0%80%af',
  '%f0%80%80%ae%f0%80%80%ae/',
  '%c0%2e%c0%2e/',
  '%c0%ae./',
  '..%c0%2f',
  '%ae%ae/',
  // look-alike Unicode: fullwidth dots and solidus, division slash, IIS %u escapes
  '%ef%bc%8e%ef%bc%8e/',
  '..%ef%bc%8f',
  '..%e2%88%95',
  '%u002e%u002e/',
  '..%u2215',
  // path parameters, trailing dots and spaces, NUL
  '..;/',
  '..%3b/',
  '..;a=b/',
  '.../',
  '..../',
  '. ./',
  '..%20/',
  '%20../',
  '..%09/',
  '..%00/',
  '%00../',
  '.%00./',
  '%2e%2e%00/',
  '..%0a/',
  '..%0d/',
  // redundant separators and dot segments
  '..//',
  './../',
  '.././',
  '/../',
  './/..//',
  '%2e/%2e%2e/',
  '..%2f%2f',
  '%%32%65%%32%65/',
  '..%252f..%252f',
  '.%2e%2f',
  '%2e%2e%2f%2e',
  '..%2f.',
];

/** Literal targets outside the chain scheme. */
const EXTRA_GET: readonly string[] = [
  '//etc/passwd',
  '///etc/passwd',
  '/%2f%2fetc%2fpasswd',
  '/etc/passwd',
  '/files/etc-link/passwd',
  '/files/etc-link/',
  '/files/etc-link',
  '/esc-file',
  '/esc-dir/secret.txt',
  '/esc-dir/',
  '/esc-dir',
  '/files/esc-file',
  '/files/esc-dir/secret.txt',
  '/files/esc-dir/',
  '/up/esc-file',
  '/up/esc-dir/secret.txt',
  '/up/esc-dir/',
  '/up/fsroot/etc/passwd',
  '/up/fsroot/',
  '/files/sub/../../../secret.txt',
  '/files/a.txt/../../../secret.txt',
  '/files/a.txt%00/../../secret.txt',
  '/files/..',
  '/files/...',
  '/files/a.txt.',
  '/files/a.txt::$DATA',
  '/files/sub./b.txt',
  '/files/sub%2f..%2f..%2f..%2fsecret.txt',
  '/files/' + '../'.repeat(1000) + 'secret.txt',
  '/files/' + '%2e%2e/'.repeat(1000) + 'etc/passwd',
  '/files/' + '../'.repeat(5000) + 'etc/passwd',
  '/files/' + 'x/../'.repeat(1500) + '../../secret.txt',
  'http://localhost/../secret.txt',
  'http://localhost/%2e%2e/%2e%2e/secret.txt',
  'http://localhost/files/../../secret.txt',
  'http://localhost/..',
  'http://localhost/files/..%2f..%2f',
  'https://localhost/../../etc/passwd',
  'http://localhost:80/../../../etc/passwd',
  'http://localhost',
  '/files/%2e%2e',
  '/files/%2e%2e%2f',
  '/files/..%00',
  '/files/%',
  '/files/%2',
  '/files/%zz/../../secret.txt',
  '/files/%ff%fe/../../secret.txt',
];

/** Bytes on the wire for one request (Connection: close, so each is alone on its connection). */
function requestBytes(method: string, target: string, headers = '', body: Buffer | string = ''): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  const cl = method === 'POST' ? `Content-Length: ${b.length}\r\n` : '';
  return Buffer.concat([
    Buffer.from(
      `${method} ${target} HTTP/1.1\r\nHost: localhost\r\n${cl}${headers}Connection: close\r\n\r\n`,
      'latin1',
    ),
    b,
  ]);
}

async function send(method: string, target: string, headers = '', body: Buffer | string = ''): Promise<RawResponse> {
  return rawRequest(srv.port, requestBytes(method, target, headers, body), { timeoutMs: WAIT_MS });
}

// ─── What must never be seen ─────────────────────────────────────────────────────────────────────────────────

/** Fails when the body shows anything from outside the roots. */
function assertNoLeak(r: RawResponse, what: string): void {
  const body = r.body.toString('latin1');
  assert.ok(!body.includes(TOKEN), `${what}: outside content or listing returned (status ${r.status})`);
  assert.ok(!/root:[^:\n]*:0:0:/.test(body), `${what}: /etc/passwd returned (status ${r.status})`);
  assert.ok(!body.includes('test.conf'), `${what}: the directory above the root was listed (status ${r.status})`);
  assert.ok(!(body.includes('passwd') && body.includes('hostname')), `${what}: /etc was listed (status ${r.status})`);
  assert.ok(!(body.includes('proc/') && body.includes('usr/')), `${what}: / was listed (status ${r.status})`);
}

/** Names that a listing of something inside the roots may show. */
const INSIDE_NAMES = new Set([
  'index.txt',
  'files',
  'up',
  'cgi',
  'a.txt',
  'sub',
  'b.txt',
  'keep.txt',
  'env.py',
  'link.py',
  'esc-file',
  'esc-dir',
  'etc-link',
  'fsroot',
]);

/**
 * The status is 4xx, a 301 (a slash redirect serves nothing), or a 2xx whose body is a file from inside the roots,
 * a listing naming only inside entries, an upload receipt, or (for CGI) env.py's output with a clean PATH_INFO.
 */
function assertConfined(r: RawResponse, what: string): void {
  assertNoLeak(r, what);
  assert.ok(r.status < 500, `${what}: server error ${r.status}`);
  if (r.status >= 400 || r.status === 301 || r.status === 204) return;
  assert.ok(r.status === 200 || r.status === 201, `${what}: unexpected status ${r.status}`);
  const body = r.body.toString('utf8');
  if (r.status === 201) return; // stored: the filesystem checks decide whether it was inside
  if (Object.values(INSIDE).includes(body) || UPLOADED.includes(body)) return;
  if (body.startsWith('{"PATH_INFO"')) {
    assertCleanCgiEnv(body, what);
    return;
  }
  if (r.header('content-type')?.startsWith('text/html') === true) {
    const names = [...body.matchAll(/<a href="([^"]*)"/g)].map((m) => decodeURIComponent(m[1]!).replace(/\/$/, ''));
    for (const n of names) {
      const base = n.slice(n.lastIndexOf('/') + 1);
      if (base === '' || base === '..' || base.startsWith('pwn-')) continue;
      assert.ok(INSIDE_NAMES.has(base), `${what}: listing shows ${JSON.stringify(n)}, not an inside name`);
    }
    return;
  }
  assert.fail(`${what}: 200 with a body not provably from inside the root: ${JSON.stringify(body.slice(0, 200))}`);
}

/** env.py's output: PATH_INFO without dot segments, PATH_TRANSLATED and SCRIPT_FILENAME under the CGI root. */
function assertCleanCgiEnv(body: string, what: string): void {
  const env = JSON.parse(body) as Record<string, string | null>;
  const cgiRoot = path.join(www, 'cgi');
  const info = env['PATH_INFO'] ?? '';
  const segs = info.split('/');
  assert.ok(!segs.includes('..') && !segs.includes('.'), `${what}: PATH_INFO has a dot segment: ${info}`);
  const translated = env['PATH_TRANSLATED'] ?? null;
  if (translated !== null) {
    assert.ok(translated.startsWith(cgiRoot + '/') || translated === cgiRoot, `${what}: PATH_TRANSLATED ${translated}`);
    assert.ok(!translated.split('/').includes('..'), `${what}: PATH_TRANSLATED ${translated}`);
  }
  assert.equal(env['SCRIPT_FILENAME'], path.join(cgiRoot, 'env.py'), what);
}

// ─── Filesystem invariants ───────────────────────────────────────────────────────────────────────────────────

/** Every path under `dir` (not following symlinks), relative, sorted. */
function walk(dir: string, skip: (rel: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const rec = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (skip(r)) continue;
      out.push(r);
      if (e.isDirectory()) rec(path.join(d, e.name), r);
    }
  };
  rec(dir, '');
  return out.sort();
}

/** The state outside the roots: every entry of the test dir but www/, with the contents of the secrets. */
function outsideState(): { entries: string[]; secrets: Record<string, string>; strays: string[] } {
  const entries = walk(srv.dir, (rel) => rel === 'www' || rel.startsWith('www/'));
  const secrets: Record<string, string> = {};
  for (const f of [
    'secret.txt',
    'secret.py',
    'victim.txt',
    'outside/secret.txt',
    'outside/victim.txt',
    `outside/${OUTSIDE_ONLY}`,
  ]) {
    const p = path.join(srv.dir, f);
    secrets[f] = fs.existsSync(p) ? fs.readFileSync(p, 'latin1') : '<deleted>';
  }
  // A file that climbed past the test dir would land in the temp dir or in /.
  const strays = [...fs.readdirSync(os.tmpdir()), ...fs.readdirSync('/'), ...fs.readdirSync('/etc')].filter((n) =>
    n.includes(PWN_TOKEN),
  );
  return { entries, secrets, strays };
}

/** Nothing outside changed, and every uploaded file lies (really, symlinks resolved) inside www. */
function assertFilesystemIntact(what: string): void {
  const now = outsideState();
  assert.deepEqual(now.secrets, baseline.secrets, `${what}: a secret outside the root was changed or deleted`);
  assert.deepEqual(now.entries, baseline.entries, `${what}: files appeared or vanished outside the root`);
  assert.deepEqual(now.strays, [], `${what}: a file escaped to the temp dir, / or /etc`);
  for (const rel of walk(www)) {
    if (!rel.includes(PWN)) continue;
    const real = fs.realpathSync(path.join(www, path.dirname(rel)));
    assert.ok(
      real === realWww || real.startsWith(realWww + '/'),
      `${what}: upload stored through a symlink at ${rel} → ${real}`,
    );
  }
}

// ─── The tests ───────────────────────────────────────────────────────────────────────────────────────────────

describe('the corpus', () => {
  test(`has at least 50 spellings of ".." (has ${UP.length})`, () => {
    assert.ok(UP.length >= 50);
    assert.equal(new Set(UP).size, UP.length, 'duplicates in the corpus');
  });
});

describe('GET: static files and listings', () => {
  for (const up of UP) {
    test(`GET ${JSON.stringify(up)} x8`, async () => {
      const chain = up.repeat(8);
      for (const t of [
        `/files/${chain}secret.txt`,
        `/files/sub/${chain}outside/secret.txt`,
        `/files/${chain}`,
        `/files/${chain}outside/`,
        `/${chain}etc/passwd`,
        `/up/${chain}secret.txt`,
      ]) {
        assertConfined(await send('GET', t), `GET ${t}`);
      }
    });
  }
  test('literal targets: absolute-form, //, symlinks, trailing dots, long chains', async () => {
    for (const t of EXTRA_GET) assertConfined(await send('GET', t), `GET ${t.slice(0, 80)}`);
  });
  test('symlinks inside a root that point outside it are never followed out', async () => {
    for (const t of [
      '/esc-file',
      '/files/esc-file',
      '/esc-dir/secret.txt',
      '/files/esc-dir/',
      '/up/esc-dir/',
      '/up/fsroot/etc/passwd',
    ]) {
      const r = await send('GET', t);
      assert.ok(r.status >= 400 && r.status < 500, `GET ${t}: ${r.status}`);
      assertNoLeak(r, t);
    }
  });
  test('HEAD behaves like GET', async () => {
    for (const t of ['/files/..%2f..%2fsecret.txt', '/esc-file', '/files/esc-dir/']) {
      const r = await rawRequest(srv.port, requestBytes('HEAD', t), { head: true, timeoutMs: WAIT_MS });
      assert.ok(r.status === 404 || r.status === 400 || r.status === 403, `HEAD ${t}: ${r.status}`);
    }
  });
  test('dot segments that stay inside a root still resolve (the checks are not just refusing everything)', async () => {
    const r = await send('GET', '/files/sub/../a.txt');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'inside a\n');
    const r2 = await send('GET', '/files/%2e%2e/index.txt');
    assert.equal(r2.status, 200);
    assert.equal(r2.body.toString(), 'inside index\n');
  });
  test('nothing changed outside', () => {
    assertFilesystemIntact('GET');
  });
});

describe('DELETE', () => {
  for (const up of UP) {
    test(`DELETE ${JSON.stringify(up)} x8`, async () => {
      const chain = up.repeat(8);
      for (const t of [
        `/up/${chain}victim.txt`,
        `/up/${chain}outside/victim.txt`,
        `/${chain}secret.txt`,
        `/files/${chain}secret.txt`,
      ]) {
        assertConfined(await send('DELETE', t), `DELETE ${t}`);
      }
    });
  }
  test('DELETE through symlinks inside the root', async () => {
    for (const t of [
      '/up/esc-dir/victim.txt',
      '/up/esc-dir/secret.txt',
      '/esc-dir/victim.txt',
      `/up/esc-dir/${OUTSIDE_ONLY}`,
      '/up/fsroot/' + path.join(srv.dir, 'victim.txt').slice(1),
    ]) {
      const r = await send('DELETE', t);
      assert.ok(r.status >= 400 && r.status < 500, `DELETE ${t}: status ${r.status}, the file outside may be gone`);
    }
  });
  test('nothing outside was deleted', () => {
    assertFilesystemIntact('DELETE');
  });
});

describe('uploads: raw POST', () => {
  for (const up of UP) {
    test(`POST ${JSON.stringify(up)} x8`, async () => {
      const chain = up.repeat(8);
      for (const t of [
        `/up/${chain}${PWN}.txt`,
        `/up/${chain}outside/${PWN}.txt`,
        `/${chain}${PWN}.txt`,
        `/up/${chain}secret.txt`,
      ]) {
        assertConfined(await send('POST', t, '', 'pwned\n'), `POST ${t}`);
      }
    });
  }
  test('POST through a symlinked directory inside the root', async () => {
    for (const t of [`/up/esc-dir/${PWN}-a.txt`, `/esc-dir/${PWN}-b.txt`, `/up/fsroot/tmp/${PWN}-c.txt`]) {
      const r = await send('POST', t, '', 'pwned\n');
      assert.ok(r.status >= 400 && r.status < 500, `POST ${t}: status ${r.status}`);
    }
    assertFilesystemIntact('POST through symlinked directories');
  });
  test('POST onto a symlink to a file outside never writes through it', async () => {
    await send('POST', '/up/esc-file', '', 'pwned\n');
    assertFilesystemIntact('POST onto a symlink');
  });
  test('nothing was created outside', () => {
    assertFilesystemIntact('raw POST');
  });
});

describe('uploads: multipart file names', () => {
  const names = [
    `../../${PWN}-1.txt`,
    `../../../../../../tmp/${PWN}-2.txt`,
    `..\\..\\${PWN}-3.txt`,
    `/tmp/${PWN}-4.txt`,
    `/etc/${PWN}-5.txt`,
    `....//....//${PWN}-6.txt`,
    `a/../../${PWN}-7.txt`,
    `C:\\..\\..\\${PWN}-8.txt`,
    `%2e%2e%2f%2e%2e%2f${PWN}-9.txt`,
    `..%2f..%2f${PWN}-10.txt`,
    `${PWN}-11.txt/..`,
    `..`,
    `.`,
    '',
    '/',
    `../`,
    `./../${PWN}-12.txt`,
    `..;/${PWN}-13.txt`,
    `\\\\server\\share\\${PWN}-14.txt`,
    `esc-dir/${PWN}-15.txt`,
  ];
  function multipart(filename: string, star = false): { headers: string; body: Buffer } {
    const b = `----b${PWN_TOKEN}`;
    const disp = star
      ? `filename*=UTF-8''${encodeURIComponent(filename)}`
      : `filename="${filename.replace(/["\\]/g, (c) => '\\' + c)}"`;
    const body = `--${b}\r\nContent-Disposition: form-data; name="f"; ${disp}\r\nContent-Type: text/plain\r\n\r\npwned\n\r\n--${b}--\r\n`;
    return { headers: `Content-Type: multipart/form-data; boundary=${b}\r\n`, body: Buffer.from(body, 'utf8') };
  }
  for (const n of names) {
    test(`filename=${JSON.stringify(n)}`, async () => {
      for (const target of ['/up/', '/up/esc-dir/', '/']) {
        for (const star of [false, true]) {
          const m = multipart(n, star);
          const r = await send('POST', target, m.headers, m.body);
          assertConfined(r, `multipart ${target} ${n} star=${star}`);
          if (target === '/up/esc-dir/') assert.ok(r.status >= 400, `multipart into a symlinked dir: ${r.status}`);
        }
      }
      assertFilesystemIntact(`multipart ${n}`);
    });
  }
  test('stored names are base names inside the upload directory', () => {
    const stored = fs.readdirSync(path.join(www, 'up')).filter((f) => f.includes(PWN));
    assert.ok(stored.length > 0, 'some of the names should have been stored, sanitised');
    for (const f of stored) assert.ok(!f.includes('/') && f !== '..' && f !== '.', f);
  });
});

describe('CGI', () => {
  test('/cgi-bin/../secret.py and friends never run a script outside the root', async () => {
    for (const t of [
      '/cgi-bin/../secret.py',
      '/cgi-bin/%2e%2e/secret.py',
      '/cgi-bin/..%2fsecret.py',
      '/cgi-bin/link.py',
      '/cgi-bin/esc-dir/secret.py',
      '/cgi-bin/esc-dir/secret.py/x',
      '/cgi-bin/env.py/../../secret.py',
      '/cgi-bin/%252e%252e/secret.py',
      '/cgi-bin/..\\secret.py',
      '/cgi-bin/..;/secret.py',
      '/cgi-bin/esc-file',
    ]) {
      for (const m of ['GET', 'POST']) assertConfined(await send(m, t, '', m === 'POST' ? 'x=1' : ''), `${m} ${t}`);
    }
  });
  for (const up of UP) {
    test(`CGI ${JSON.stringify(up)} x8`, async () => {
      const chain = up.repeat(8);
      for (const t of [
        `/cgi-bin/${chain}secret.py`,
        `/cgi-bin/${chain}outside/secret.py`,
        `/cgi-bin/env.py/${chain}etc/passwd`,
      ]) {
        assertConfined(await send('GET', t), `GET ${t}`);
      }
    });
  }
  test('PATH_INFO with ".." segments that survive no decoding', async () => {
    const r = await send('GET', '/cgi-bin/env.py/a/../../../etc/passwd');
    // Normalised before routing: /etc/passwd, outside /cgi-bin, so not a CGI request at all.
    assertConfined(r, 'PATH_INFO ..');
    const r2 = await send('GET', '/cgi-bin/env.py/%252e%252e/x');
    assert.equal(r2.status, 200);
    assertCleanCgiEnv(r2.body.toString(), 'PATH_INFO %252e');
    assert.equal((JSON.parse(r2.body.toString()) as Record<string, string>)['PATH_INFO'], '/%2e%2e/x');
  });
  test('nothing changed outside', () => {
    assertFilesystemIntact('CGI');
  });
});

describe('the server survived', () => {
  test('it answers a plain GET and logged no uncaught exception', async () => {
    const r = await send('GET', '/files/a.txt');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'inside a\n');
    assert.equal(srv.proc.exitCode, null);
    assert.ok(!/uncaught/i.test(srv.output()), srv.output());
  });
});
