/**
 * FastCGI (issue 18) through real sockets: Debian's php-fpm, started here on a unix socket, runs PHP scripts
 * (params, PATH_INFO, bodies both framings, stderr to the error log, sessions, local redirects, a status and
 * headers); stopped it gives 502, restarted 200 with no restart of ours. A scripted Responder
 * (helpers/fastcgi-backend.ts) shows what php-fpm will not do on demand: FCGI_KEEP_CONN pooling, a stalled
 * application (504), one that dies mid-response, a refused request, bad records.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { MAIN, startServer, type RunningServer } from '../helpers/server.js';
import { get, RawClient, rawRequest } from '../helpers/http.js';
import { fcgiBackend, phpFpmBinary, startPhpFpm, type FcgiBackend, type PhpFpm } from '../helpers/fastcgi-backend.js';
import { until } from '../helpers/wait.js';

if (phpFpmBinary() === null) throw new Error('php-fpm is not installed (apt-get install php-fpm)');

const PHP: Record<string, string> = {
  'www/hello.php': '<?php echo "hello from ", PHP_SAPI, "\\n";',
  'www/env.php':
    '<?php header("Content-Type: application/json"); $k = ["SCRIPT_FILENAME","SCRIPT_NAME","PATH_INFO",' +
    '"QUERY_STRING","REQUEST_METHOD","REQUEST_URI","DOCUMENT_URI","DOCUMENT_ROOT","REMOTE_ADDR","SERVER_PORT",' +
    '"SERVER_PROTOCOL","HTTP_X_CUSTOM","CONTENT_LENGTH","CONTENT_TYPE","APP_ENV","EMPTY_ONE","HTTPS",' +
    '"GATEWAY_INTERFACE","HTTP_PROXY","PATH"]; $o = []; foreach ($k as $n) $o[$n] = $_SERVER[$n] ?? null;' +
    ' echo json_encode($o);',
  'www/echo.php':
    '<?php $b = file_get_contents("php://input"); header("Content-Type: text/plain");' +
    ' echo strlen($b), " ", md5($b), " ", $_SERVER["CONTENT_LENGTH"] ?? "none";',
  'www/err.php': '<?php error_log("fastcgi-stderr-line"); echo "logged";',
  'www/session.php':
    '<?php if (isset($_GET["set"])) header("X-Session-Data: " . $_GET["set"]); echo "data=", $_SERVER["SESSION_DATA"] ?? "-";',
  'www/teapot.php': '<?php http_response_code(418); header("X-From: php"); echo "short and stout";',
  'www/big.php': '<?php header("Content-Type: application/octet-stream"); echo str_repeat("0123456789abcdef", 131072);',
  'www/static.txt': 'not a script\n',
  'www/sub/index.php': '<?php echo "sub index";',
};

const CONFIG = `upstream phpfpm {
  server unix:{DIR}/php-fpm.sock
  keepalive 2
}
server {
  listen 127.0.0.1:{PORT}
  root {DIR}/www
  client_max_body_size 8m
  error_log {DIR}/error.log
  location ~ \\.php(/|$) {
    fastcgi_pass unix:{DIR}/php-fpm.sock
    fastcgi_split_path_info ^(.+\\.php)(/.*)$
    fastcgi_index index.php
    fastcgi_param APP_ENV test-$request_method
    fastcgi_param EMPTY_ONE $arg_nothing if_not_empty
    fastcgi_keep_conn on
  }
  location /sess/ {
    session on
    fastcgi_pass unix:{DIR}/php-fpm.sock
    fastcgi_param SCRIPT_FILENAME {DIR}/www/session.php
  }
  location ^~ /up/ {
    alias {DIR}/www/
    fastcgi_pass phpfpm
    fastcgi_keep_conn on
  }
  location /dir/ {
    alias {DIR}/www/sub/
    fastcgi_pass unix:{DIR}/php-fpm.sock
    fastcgi_index index.php
  }
  location /big/ {
    fastcgi_pass unix:{DIR}/php-fpm.sock
    fastcgi_param SCRIPT_FILENAME {DIR}/www/env.php
    fastcgi_param BIG1 $request_uri$request_uri$request_uri$request_uri
    fastcgi_param BIG2 $request_uri$request_uri$request_uri$request_uri
    fastcgi_param BIG3 $request_uri$request_uri$request_uri$request_uri
  }
  location /fake/ {
    fastcgi_pass unix:{DIR}/fcgi.sock
    fastcgi_param SCRIPT_FILENAME /app$fastcgi_script_name
    fastcgi_read_timeout 1s
  }
  location /pool/ {
    fastcgi_pass unix:{DIR}/fcgi.sock
    fastcgi_param SCRIPT_FILENAME /app$fastcgi_script_name
    fastcgi_keep_conn on
  }
}
`;

/** More than the idle connections the two pools may keep (4 for the address, 2 for the upstream block). */
const CHILDREN = 7;

let srv: RunningServer;
let fpm: PhpFpm | null = null;
let fake: FcgiBackend;

const errorLog = (): string => {
  const f = path.join(srv.dir, 'error.log');
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
};

before(async () => {
  srv = await startServer({ config: CONFIG, files: PHP, keepDir: true });
  fpm = await startPhpFpm(srv.dir, CHILDREN);
  fake = await fcgiBackend(
    srv.dir,
    (req, reply) => {
      const name = req.params.get('SCRIPT_NAME') ?? '';
      if (name === '/fake/stall') return; // never answers
      if (name === '/fake/refuse') {
        reply.end(2); // FCGI_OVERLOADED
        return;
      }
      if (name === '/fake/die') {
        reply.stdout('Status: 200\r\nContent-Length: 100000\r\n\r\n' + 'x'.repeat(20_000));
        setTimeout(() => reply.socket.destroy(), 50);
        return;
      }
      if (name === '/fake/garbage') {
        reply.socket.write(Buffer.from([9, 9, 9, 9, 9, 9, 9, 9]));
        return;
      }
      if (name === '/fake/local') {
        reply.stdout('Location: /hello.php\r\n\r\n'); // PHP adds a Status to any Location: this is RFC 3875 §6.2.2's
        reply.end();
        return;
      }
      if (name === '/fake/noheader') {
        reply.stdout('just text, no header block');
        reply.end();
        return;
      }
      if (name === '/fake/early') {
        reply.stdout('Status: 401\r\nContent-Type: text/plain\r\n\r\nearly');
        reply.end();
        return;
      }
      if (name === '/fake/upload') {
        reply.stdout(`Content-Type: text/plain\r\n\r\ngot ${req.stdin.length}`);
        reply.end();
        return;
      }
      reply.stderr('a line on stderr\n');
      reply.stdout(`Content-Type: text/plain\r\n\r\nconn ${req.conn} keep ${req.keepConn} ${name}`);
      reply.end();
    },
    (params) => params.get('SCRIPT_NAME') === '/fake/early',
  );
});

after(async () => {
  await srv?.stop();
  await fpm?.stop();
  await fake?.close();
  if (srv !== undefined) fs.rmSync(srv.dir, { recursive: true, force: true });
});

describe('FastCGI to php-fpm', () => {
  test('a PHP script answers through php-fpm, with its own headers', async () => {
    const r = await get(srv.port, '/hello.php');
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.body.toString(), 'hello from fpm-fcgi\n');
    assert.match(r.header('x-powered-by') ?? '', /^PHP\//);
    assert.match(r.header('content-type') ?? '', /^text\/html/);
  });

  test("the params: nginx's fastcgi_params, split PATH_INFO, fastcgi_param with variables and if_not_empty", async () => {
    const r = await get(srv.port, '/env.php/extra/path?a=1&b=2', { 'X-Custom': 'yes', Proxy: 'http://evil' });
    assert.equal(r.status, 200, r.body.toString());
    const env = JSON.parse(r.body.toString()) as Record<string, string | null>;
    assert.equal(env['SCRIPT_FILENAME'], path.join(srv.dir, 'www/env.php'));
    assert.equal(env['SCRIPT_NAME'], '/env.php');
    assert.equal(env['PATH_INFO'], '/extra/path');
    assert.equal(env['QUERY_STRING'], 'a=1&b=2');
    assert.equal(env['REQUEST_METHOD'], 'GET');
    assert.equal(env['REQUEST_URI'], '/env.php/extra/path?a=1&b=2');
    assert.equal(env['DOCUMENT_URI'], '/env.php/extra/path');
    assert.equal(env['DOCUMENT_ROOT'], path.join(srv.dir, 'www'));
    assert.equal(env['REMOTE_ADDR'], '127.0.0.1');
    assert.equal(env['SERVER_PORT'], String(srv.port));
    assert.equal(env['SERVER_PROTOCOL'], 'HTTP/1.1');
    assert.equal(env['GATEWAY_INTERFACE'], 'CGI/1.1');
    assert.equal(env['HTTP_X_CUSTOM'], 'yes');
    assert.equal(env['APP_ENV'], 'test-GET');
    assert.equal(env['EMPTY_ONE'], null, 'if_not_empty left out an empty value');
    assert.equal(env['HTTPS'], null);
    assert.equal(env['HTTP_PROXY'], null, 'no HTTP_PROXY (httpoxy)');
    assert.equal(env['CONTENT_LENGTH'], null);
    const q = await get(srv.port, '/env.php?nothing=here');
    assert.equal((JSON.parse(q.body.toString()) as Record<string, string>)['EMPTY_ONE'], 'here');
  });

  test('fastcgi_pass NAME: an upstream block, with an alias mapping the script', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await get(srv.port, '/up/env.php');
      const env = JSON.parse(r.body.toString()) as Record<string, string>;
      assert.equal(env['SCRIPT_FILENAME'], path.join(srv.dir, 'www/env.php'));
      assert.equal(env['SCRIPT_NAME'], '/up/env.php');
    }
  });

  test('fastcgi_index for a directory URI; a missing script is our 404, php-fpm never asked', async () => {
    const r = await get(srv.port, '/dir/');
    assert.equal(r.body.toString(), 'sub index');
    const missing = await get(srv.port, '/nope.php');
    assert.equal(missing.status, 404);
    assert.match(missing.body.toString(), /404 Not Found/);
    const passed = await get(srv.port, '/static.txt');
    assert.equal(passed.body.toString(), 'not a script\n', 'other files are static');
  });

  test('a script that leads out of the root through a symlink is 403, also once it was served', async () => {
    const outside = path.join(srv.dir, 'outside.php');
    fs.writeFileSync(outside, '<?php echo "outside";');
    const swap = path.join(srv.dir, 'www/swap.php');
    fs.writeFileSync(swap, '<?php echo "inside";');
    assert.equal((await get(srv.port, '/swap.php')).body.toString(), 'inside');
    assert.equal((await get(srv.port, '/swap.php')).body.toString(), 'inside');
    fs.rmSync(swap);
    fs.symlinkSync(outside, swap);
    await until(
      async () => (await get(srv.port, '/swap.php')).status === 403,
      'the swapped script to be refused',
      3000,
    );
    assert.match(errorLog(), /swap\.php" leads out of its root through a symbolic link/);
  });

  test('request bodies stream to php-fpm: sized and chunked (a true CONTENT_LENGTH), any method', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024 + 17, 0x5a);
    for (let i = 0; i < body.length; i += 4096) body[i] = i & 0xff;
    const md5 = createHash('md5').update(body).digest('hex');
    const sized = await rawRequest(
      srv.port,
      Buffer.concat([
        Buffer.from(
          `POST /echo.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
        ),
        body,
      ]),
    );
    assert.equal(sized.body.toString(), `${body.length} ${md5} ${body.length}`);
    const chunks: Buffer[] = [];
    for (let off = 0; off < body.length; off += 100_000) {
      const piece = body.subarray(off, off + 100_000);
      chunks.push(Buffer.from(piece.length.toString(16) + '\r\n'), piece, Buffer.from('\r\n'));
    }
    const chunked = await rawRequest(
      srv.port,
      Buffer.concat([
        Buffer.from(
          'PUT /echo.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
        ),
        ...chunks,
        Buffer.from('0\r\n\r\n'),
      ]),
    );
    assert.equal(chunked.body.toString(), `${body.length} ${md5} ${body.length}`);
    const patch = await rawRequest(
      srv.port,
      'PATCH /echo.php HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab',
    );
    assert.equal(patch.body.toString(), `2 ${createHash('md5').update('ab').digest('hex')} 2`);
  });

  test('a 2 MiB response streams back whole; status and headers from the script', async () => {
    const r = await get(srv.port, '/big.php');
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 2 * 1024 * 1024);
    assert.equal(r.body.toString('latin1', 0, 16), '0123456789abcdef');
    const t = await get(srv.port, '/teapot.php');
    assert.equal(t.status, 418);
    assert.equal(t.header('x-from'), 'php');
    assert.equal(t.body.toString(), 'short and stout');
  });

  test('stderr goes to the error log, with the client and the upstream', async () => {
    const r = await get(srv.port, '/err.php');
    assert.equal(r.body.toString(), 'logged');
    await until(() => /fastcgi-stderr-line/.test(errorLog()), 'the stderr line in the error log', 5000);
    assert.match(
      errorLog(),
      /fastcgi: stderr: PHP message: fastcgi-stderr-line \(client: 127\.0\.0\.1, request: "GET \/err\.php", upstream "fastcgi:\/\/unix:/,
    );
  });

  test('sessions: SESSION_DATA in, X-Session-Data out, over FastCGI as over CGI', async () => {
    const first = await get(srv.port, '/sess/x?set=n%3D1');
    assert.equal(first.body.toString(), 'data=');
    const cookie = (first.header('set-cookie') ?? '').split(';')[0] ?? '';
    assert.match(cookie, /^sid=/);
    const second = await get(srv.port, '/sess/x', { Cookie: cookie });
    assert.equal(second.body.toString(), 'data=n=1');
  });

  test('php-fpm stopped: 502 with a log line; started again: 200, ours never restarted', async () => {
    await fpm?.stop();
    const down = await get(srv.port, '/hello.php');
    assert.equal(down.status, 502);
    await until(() => /fastcgi: connect\(\) failed/.test(errorLog()), 'the connect failure in the error log', 5000);
    fpm = await startPhpFpm(srv.dir, CHILDREN);
    const up = await get(srv.port, '/hello.php');
    assert.equal(up.status, 200, up.body.toString());
    assert.equal(up.body.toString(), 'hello from fpm-fcgi\n');
  });
});

describe('FastCGI to a scripted Responder', () => {
  test('fastcgi_keep_conn off: one connection per request; on: one for many', async () => {
    const before = fake.connections;
    for (let i = 0; i < 3; i++) {
      const r = await get(srv.port, `/fake/r${i}`);
      assert.match(r.body.toString(), /keep false/);
    }
    assert.equal(fake.connections - before, 3);
    const mid = fake.connections;
    for (let i = 0; i < 5; i++) {
      const r = await get(srv.port, `/pool/r${i}`);
      assert.match(r.body.toString(), new RegExp(`keep true /pool/r${i}$`));
    }
    assert.equal(fake.connections - mid, 1, 'the pool kept one connection');
    // A request without keep_conn to the same address takes the idle one first (it holds an application worker).
    const r = await get(srv.port, '/fake/after');
    assert.match(r.body.toString(), new RegExp(`^conn ${mid} keep false`));
    assert.equal(fake.connections - mid, 1);
    assert.match(errorLog(), /fastcgi: stderr: a line on stderr/);
  });

  test('a local redirect (Location, no Status) is served internally', async () => {
    const r = await get(srv.port, '/fake/local');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'hello from fpm-fcgi\n');
  });

  test('an application that never answers: 504 after fastcgi_read_timeout', async () => {
    const t0 = Date.now();
    const r = await get(srv.port, '/fake/stall');
    const ms = Date.now() - t0;
    assert.equal(r.status, 504);
    assert.ok(ms >= 900 && ms < 5000, `answered after ${ms} ms`);
    assert.match(errorLog(), /upstream timed out/);
  });

  test('FCGI_END_REQUEST with OVERLOADED, bad records, no header block: 502 each, and the server goes on', async () => {
    for (const name of ['refuse', 'garbage', 'noheader']) {
      const r = await get(srv.port, `/fake/${name}`);
      assert.equal(r.status, 502, name);
    }
    assert.match(errorLog(), /upstream refused the request: overloaded/);
    assert.match(errorLog(), /FastCGI record of version 9/);
    assert.match(errorLog(), /before a complete header block/);
    assert.equal((await get(srv.port, '/hello.php')).status, 200);
  });

  test('an application that answers before it read the body: the answer comes once the body is in', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      const size = 300_000;
      c.send(`POST /fake/early HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
      c.send(Buffer.alloc(100_000, 1));
      await until(() => fake.requests.some((r) => r.params.get('SCRIPT_NAME') === '/fake/early'), 'the early answer');
      await new Promise((r) => setTimeout(r, 200)); // END_REQUEST is in before the rest of the body
      c.send(Buffer.alloc(size - 100_000, 2));
      const res = await c.read({ timeoutMs: 5000 });
      assert.equal(res.status, 401);
      assert.equal(res.body.toString(), 'early');
    } finally {
      c.close();
    }
    // The same with a chunked body, which is spooled before it goes upstream.
    const d = await RawClient.connect(srv.port);
    try {
      const chunk = Buffer.alloc(200_000, 3);
      const framed = Buffer.concat([
        Buffer.from(`${chunk.length.toString(16)}\r\n`),
        chunk,
        Buffer.from('\r\n0\r\n\r\n'),
      ]);
      d.send(`POST /fake/early HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
      d.send(framed);
      const res = await d.read({ timeoutMs: 5000 });
      assert.equal(res.status, 401);
    } finally {
      d.close();
    }
  });

  test('fastcgi_read_timeout counts from the end of the request: a slow upload longer than it is not 504', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      const pieces = 8;
      const piece = 4096;
      c.send(`POST /fake/upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${pieces * piece}\r\n\r\n`);
      // 8 pieces 250 ms apart: 1.75 s of upload against the location's 1 s read timeout.
      for (let i = 0; i < pieces; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 250));
        c.send(Buffer.alloc(piece, 65 + i));
      }
      const res = await c.read({ timeoutMs: 5000 });
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.body.toString(), `got ${pieces * piece}`);
    } finally {
      c.close();
    }
  });

  test('params over one record (three of 24 KB, from a 6,000-byte URI) reach php-fpm whole', async () => {
    const uri = '/big/' + 'p'.repeat(6000);
    const r = await get(srv.port, uri);
    assert.equal(r.status, 200, r.body.toString().slice(0, 200));
    const env = JSON.parse(r.body.toString()) as Record<string, string | null>;
    assert.equal(env['REQUEST_URI'], uri);
  });

  test('the application dies mid-response: the client sees the body cut, the server keeps serving', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send('GET /fake/die HTTP/1.1\r\nHost: x\r\n\r\n');
      const text = (await c.waitClose(5000)).toString('latin1');
      assert.match(text, /^HTTP\/1\.1 200 /);
      assert.ok(text.length < 100_000, 'fewer bytes than the promised Content-Length');
    } finally {
      c.close();
    }
    assert.equal((await get(srv.port, '/hello.php')).status, 200);
  });
});

describe('fastcgi configuration errors', () => {
  const check = (body: string): string => {
    const dir = fs.mkdtempSync(path.join(srv.dir, 'conf-'));
    const file = path.join(dir, 't.conf');
    fs.writeFileSync(file, `server {\n  listen 127.0.0.1:8080\n  root ${dir}\n${body}}\n`);
    const r = spawnSync(process.execPath, [MAIN, '-t', file], { encoding: 'utf8' });
    return r.stderr;
  };
  test('each is reported at its file, line and column', () => {
    assert.match(
      check('  location /a {\n    fastcgi_pass 127.0.0.1\n  }\n'),
      /t\.conf:5:18: bad fastcgi_pass "127\.0\.0\.1": a port is needed/,
    );
    assert.match(check('  location /a {\n    fastcgi_pass nowhere\n  }\n'), /t\.conf:5:18: unknown upstream "nowhere"/);
    assert.match(
      check('  location /a {\n    fastcgi_pass unix:/tmp/x.sock\n    proxy_pass http://127.0.0.1:9\n  }\n'),
      /t\.conf:5:5: location "\/a" has "fastcgi_pass" and "proxy_pass"/,
    );
    assert.match(
      check('  location /a {\n    fastcgi_pass unix:/tmp/x.sock\n    fastcgi_split_path_info ^(.+)$\n  }\n'),
      /t\.conf:6:29: bad fastcgi_split_path_info "\^\(\.\+\)\$": it needs two captures/,
    );
    assert.match(
      check('  location /a {\n    fastcgi_pass unix:/tmp/x.sock\n    fastcgi_param X $nope\n  }\n'),
      /t\.conf:6:21: bad value for "fastcgi_param X": unknown variable "\$nope"/,
    );
    assert.match(
      check('  location /a {\n    fastcgi_pass unix:/tmp/x.sock\n    fastcgi_param X y maybe\n  }\n'),
      /t\.conf:6:23: bad "fastcgi_param" flag "maybe"/,
    );
  });
  test('uploads beside FastCGI scripts are refused, as beside CGI', () => {
    const out = check(
      '  location /up {\n    root /tmp/up\n    methods GET POST\n  }\n  location /php {\n    root /tmp/up\n    fastcgi_pass unix:/tmp/x.sock\n  }\n',
    );
    assert.match(out, /location "\/php" runs FastCGI scripts from \/tmp\/up, which overlaps the upload root/);
  });
});
