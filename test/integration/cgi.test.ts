/**
 * The CGI gateway through real sockets, real python3 and php-cgi (DESIGN §6, RFC 3875): the environment, bodies in
 * (Content-Length, chunked, multipart) and out (with and without a length), script statuses and redirects, the
 * failures (404, 405, 502, 504), a client that leaves, concurrency, and that no child outlives its request.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO, startServer, type RunningServer } from '../helpers/server.js';
import { get, RawClient, rawRequest, type RawResponse } from '../helpers/http.js';

const PY = '/usr/bin/python3';
const PHP = '/usr/bin/php-cgi';

const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  server_name main.test
  body_limit 10m
  cgi_timeout 1s
  location / {
    methods GET
    root {DIR}/www
    default_file index.html
  }
  location /cgi-bin {
    methods GET POST
    root {DIR}/cgi-bin
    cgi .py ${PY}
    cgi .php ${PHP}
  }
  location /ro {
    methods GET
    root {DIR}/cgi-bin
    cgi .py ${PY}
  }
  location /idx {
    methods GET
    root {DIR}/idx
    default_file index.py
    cgi .py ${PY}
  }
}
`;

const INDEX = '<!DOCTYPE html><title>home</title><h1>home page</h1>\n';

/** Scripts written for these tests, next to the repository's examples. */
const EXTRA: Record<string, string> = {
  // Reads its whole stdin; reports what it was told and what it got.
  'body.py': `import hashlib, os, sys
data = sys.stdin.buffer.read()
out = "CONTENT_LENGTH=%s\\nREAD=%d\\nSHA=%s\\nTE=%s\\n" % (os.environ.get("CONTENT_LENGTH", "(unset)"), len(data),
    hashlib.sha256(data).hexdigest(), os.environ.get("HTTP_TRANSFER_ENCODING", "(unset)"))
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\n" + out)
`,
  // Answers its headers, sleeps QUERY_STRING seconds (default 1), then writes its body.
  'slow.py': `import os, sys, time
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\n")
sys.stdout.flush()
time.sleep(float(os.environ.get("QUERY_STRING") or "1"))
sys.stdout.write("slept\\n")
`,
  // Promises 100 bytes, writes 10.
  'short.py': `import sys
sys.stdout.buffer.write(b"Content-Type: text/plain\\r\\nContent-Length: 100\\r\\n\\r\\n0123456789")
`,
  // Promises 5 bytes, writes 10.
  'long.py': `import sys
sys.stdout.buffer.write(b"Content-Type: text/plain\\r\\nContent-Length: 5\\r\\n\\r\\n0123456789")
`,
  // A client redirect without Status: 302.
  'away.py': `import sys
sys.stdout.write("Location: http://example.com/elsewhere\\r\\n\\r\\n")
`,
  // Starts a grandchild that would outlive it, records its pid, then hangs: the timeout must kill both.
  'spawner.py': `import os, subprocess, sys, time
p = subprocess.Popen(["sleep", "30"])
with open(os.path.join(os.environ["DOCUMENT_ROOT"], "grandchild.pid"), "w") as f:
    f.write(str(p.pid))
time.sleep(30)
`,
  // Writes a lot of stderr, then a normal answer.
  'noisy.py': `import sys
for i in range(5000):
    sys.stderr.write("noise line %d\\n" % i)
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\nquiet\\n")
`,
  // Echoes the query-named header set by php (for php header handling).
  'status.php': `<?php
http_response_code(418);
header('X-From: php');
echo "teapot";
`,
};

function files(): Record<string, string | Buffer> {
  const out: Record<string, string | Buffer> = {
    'www/index.html': INDEX,
    'idx/index.py': "print('Content-Type: text/plain\\n\\nindex script')",
  };
  for (const name of fs.readdirSync(path.join(REPO, 'cgi-bin'))) {
    out[`cgi-bin/${name}`] = fs.readFileSync(path.join(REPO, 'cgi-bin', name));
  }
  for (const [name, text] of Object.entries(EXTRA)) out[`cgi-bin/${name}`] = text;
  return out;
}

let srv: RunningServer;
let pid = 0;

/** Pids of the server's children (running or not yet reaped). */
function children(): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map(Number);
  } catch {
    return []; // ps exits 1 when it lists nothing
  }
}

/** Polls until `cond` holds; fails after `ms`. */
async function waitFor(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const noChildren = (): Promise<void> =>
  waitFor(`no children, have ${children().join(',')}`, () => children().length === 0);

/** True while process `p` exists and is not a zombie. */
function alive(p: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** KEY=VALUE lines of env.py into a map (Python may add LC_CTYPE for a C locale itself, PEP 538). */
function envOf(res: RawResponse): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of res.body.toString('utf8').split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    m.set(line.slice(0, eq), line.slice(eq + 1));
  }
  m.delete('LC_CTYPE');
  return m;
}

function post(target: string, type: string, body: Buffer | string, extra = ''): string | Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([
    Buffer.from(
      `POST ${target} HTTP/1.1\r\nHost: main.test\r\nContent-Type: ${type}\r\nContent-Length: ${b.length}\r\n${extra}Connection: close\r\n\r\n`,
    ),
    b,
  ]);
}

/** A chunked request body in pieces of `size` bytes. */
function chunked(body: Buffer, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const c = body.subarray(i, i + size);
    parts.push(Buffer.from(c.length.toString(16) + '\r\n'), c, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

before(async () => {
  process.env['LOCALHOST_TEST_SECRET'] = 'must-not-leak';
  srv = await startServer({ config: CONFIG, files: files() });
  pid = srv.proc.pid!;
});

after(async () => {
  try {
    await noChildren();
  } finally {
    await srv.stop();
  }
});

describe('environment (RFC 3875 §4.1)', () => {
  test('every variable, exactly, and nothing from the server', async () => {
    const c = await RawClient.connect(srv.port);
    c.send(
      'GET /cgi-bin/env.py/a%20b/c?x=1&y=%41 HTTP/1.1\r\nHost: main.test:80\r\nX-Custom: v1\r\nX-Custom: v2\r\n' +
        'Proxy: http://evil.example/\r\nX_Under: u\r\nConnection: close\r\n\r\n',
    );
    const res = await c.read();
    const port = c.socket.localPort;
    c.close();
    assert.equal(res.status, 200);
    assert.equal(res.header('content-type'), 'text/plain; charset=utf-8');
    const env = envOf(res);
    const dir = path.join(srv.dir, 'cgi-bin');
    const expected = new Map<string, string>([
      ['DOCUMENT_ROOT', dir],
      ['GATEWAY_INTERFACE', 'CGI/1.1'],
      ['HTTP_CONNECTION', 'close'],
      ['HTTP_HOST', 'main.test:80'],
      ['HTTP_X_CUSTOM', 'v1, v2'],
      ['PATH', env.get('PATH') ?? '(missing)'],
      ['PATH_INFO', '/a b/c'],
      ['PATH_TRANSLATED', `${dir}/a b/c`],
      ['QUERY_STRING', 'x=1&y=%41'],
      ['REDIRECT_STATUS', '200'],
      ['REMOTE_ADDR', '127.0.0.1'],
      ['REMOTE_PORT', String(port)],
      ['REQUEST_METHOD', 'GET'],
      ['REQUEST_SCHEME', 'http'],
      ['REQUEST_URI', '/cgi-bin/env.py/a%20b/c?x=1&y=%41'],
      ['SCRIPT_FILENAME', `${dir}/env.py`],
      ['SCRIPT_NAME', '/cgi-bin/env.py'],
      ['SERVER_NAME', 'main.test'],
      ['SERVER_PORT', String(srv.port)],
      ['SERVER_PROTOCOL', 'HTTP/1.1'],
      ['SERVER_SOFTWARE', 'localhost/0.1.0'],
    ]);
    assert.deepEqual([...env.entries()].sort(), [...expected.entries()].sort());
    assert.ok(env.get('PATH')!.length > 0);
  });

  test('a body sets CONTENT_TYPE and CONTENT_LENGTH; HTTP/1.0 without Host names the server', async () => {
    const body = 'a=1&b=2';
    const res = await rawRequest(
      srv.port,
      `POST /cgi-bin/env.py HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    assert.equal(res.status, 200);
    const env = envOf(res);
    assert.equal(env.get('CONTENT_TYPE'), 'application/x-www-form-urlencoded');
    assert.equal(env.get('CONTENT_LENGTH'), '7');
    assert.equal(env.get('REQUEST_METHOD'), 'POST');
    assert.equal(env.get('SERVER_PROTOCOL'), 'HTTP/1.0');
    assert.equal(env.get('SERVER_NAME'), 'main.test');
    assert.equal(env.get('QUERY_STRING'), '');
    assert.equal(env.has('PATH_INFO'), false);
    assert.equal(env.has('PATH_TRANSLATED'), false);
    assert.equal(env.has('HTTP_CONTENT_LENGTH'), false);
    assert.equal(env.has('HTTP_CONTENT_TYPE'), false);
    // HTTP/1.0 and no Content-Length from the script: close-delimited.
    assert.equal(res.header('transfer-encoding'), undefined);
    assert.equal(res.header('connection'), 'close');
  });

  test('php-cgi sees the same variables', async () => {
    const res = await get(srv.port, '/cgi-bin/hello.php/extra/path?x=1', { Host: 'main.test' });
    assert.equal(res.status, 200);
    const html = res.body.toString();
    assert.match(html, /<th>PATH_INFO<\/th><td><code>\/extra\/path<\/code>/);
    assert.match(html, /<th>SCRIPT_NAME<\/th><td><code>\/cgi-bin\/hello.php<\/code>/);
    assert.match(html, /<th>QUERY_STRING<\/th><td><code>x=1<\/code>/);
    assert.match(html, /<th>GATEWAY_INTERFACE<\/th><td><code>CGI\/1.1<\/code>/);
  });
});

describe('request bodies', () => {
  test('GET with a query reaches form.py', async () => {
    const res = await get(srv.port, '/cgi-bin/form.py?name=Ada&message=hi%20there');
    assert.equal(res.status, 200);
    assert.equal(res.header('x-body-length'), '0');
    assert.equal(res.header('content-length'), String(res.body.length));
    const html = res.body.toString();
    assert.match(html, /<tr><th>name<\/th><td><code>Ada<\/code><\/td><\/tr>/);
    assert.match(html, /<tr><th>message<\/th><td><code>hi there<\/code><\/td><\/tr>/);
  });

  for (const script of ['form.py', 'form.php']) {
    test(`urlencoded POST to ${script}`, async () => {
      const body = 'name=Grace&message=a+%26+b';
      const res = await rawRequest(srv.port, post(`/cgi-bin/${script}`, 'application/x-www-form-urlencoded', body));
      assert.equal(res.status, 200);
      assert.equal(res.header('x-body-length'), String(body.length));
      const html = res.body.toString();
      assert.match(html, /<th>name<\/th><td><code>Grace<\/code>/);
      assert.match(html, /<th>message<\/th><td><code>a &amp; b<\/code>/);
    });

    test(`multipart POST to ${script}`, async () => {
      const file = Buffer.alloc(5000, 0x61);
      const b = 'XyZboundary';
      const body = Buffer.concat([
        Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="name"\r\n\r\nLinus\r\n`),
        Buffer.from(
          `--${b}\r\nContent-Disposition: form-data; name="upload"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n`,
        ),
        file,
        Buffer.from(`\r\n--${b}--\r\n`),
      ]);
      const res = await rawRequest(srv.port, post(`/cgi-bin/${script}`, `multipart/form-data; boundary=${b}`, body));
      assert.equal(res.status, 200);
      assert.equal(res.header('x-body-length'), String(body.length));
      const html = res.body.toString();
      assert.match(html, /<th>name<\/th><td><code>Linus<\/code>/);
      assert.match(html, /<th>upload<\/th><td>file <code>a.txt<\/code>, 5000 bytes/);
    });
  }

  test('a chunked body reaches the script de-chunked, with its real CONTENT_LENGTH', async () => {
    const body = Buffer.alloc(200_000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    const head =
      'POST /cgi-bin/body.py HTTP/1.1\r\nHost: main.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    const res = await rawRequest(srv.port, Buffer.concat([Buffer.from(head), chunked(body, 3000)]));
    assert.equal(res.status, 200);
    const sha = createHash('sha256').update(body).digest('hex');
    assert.equal(res.body.toString(), `CONTENT_LENGTH=200000\nREAD=200000\nSHA=${sha}\nTE=(unset)\n`);
  });

  test('a chunked urlencoded body reaches php-cgi', async () => {
    const body = Buffer.from('name=Chunky&message=ok');
    const head =
      'POST /cgi-bin/form.php HTTP/1.1\r\nHost: main.test\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
      'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    const res = await rawRequest(srv.port, Buffer.concat([Buffer.from(head), chunked(body, 5)]));
    assert.equal(res.status, 200);
    assert.equal(res.header('x-body-length'), String(body.length));
    assert.match(res.body.toString(), /<th>name<\/th><td><code>Chunky<\/code>/);
  });

  test('an empty chunked body gives CONTENT_LENGTH=0', async () => {
    const res = await rawRequest(
      srv.port,
      'POST /cgi-bin/body.py HTTP/1.1\r\nHost: main.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
    );
    assert.equal(res.status, 200);
    assert.match(res.body.toString(), /^CONTENT_LENGTH=0\nREAD=0\n/);
  });

  for (const kind of ['content-length', 'chunked'] as const) {
    test(`a 3 MB body echoed while it arrives (${kind}) does not deadlock`, async () => {
      const body = Buffer.alloc(3 * 1024 * 1024);
      for (let i = 0; i < body.length; i += 4) body.writeUInt32LE(i, i);
      const framing = kind === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`;
      const head = Buffer.from(
        `POST /cgi-bin/echo.py HTTP/1.1\r\nHost: main.test\r\n${framing}\r\nConnection: close\r\n\r\n`,
      );
      const res = await rawRequest(srv.port, Buffer.concat([head, kind === 'chunked' ? chunked(body, 65536) : body]), {
        timeoutMs: 10_000,
      });
      assert.equal(res.status, 200);
      assert.equal(res.header('transfer-encoding'), 'chunked');
      assert.equal(res.body.length, body.length);
      assert.ok(res.body.equals(body));
    });
  }

  // The echo above once lost its end under parallel load: the server close(2)d the socket with most of the response
  // still in its kernel send queue, and Linux resets such an orphaned socket when TCP memory runs short (tcp_mem,
  // "TCP: out of memory" in dmesg; reproduced with 2,000 slow readers exhausting it). The server must keep the
  // socket, half-closed, until the client has read to the end. A client that reads late shows which one it does:
  // once the server has sent its FIN (state FIN_WAIT1 in /proc/net/tcp), is that socket still its own?
  test('a 3 MB chunked echo to a client that reads late: the server keeps the socket until the client has read it', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4) body.writeUInt32LE(i, i);
    const head = Buffer.from(
      'POST /cgi-bin/echo.py HTTP/1.1\r\nHost: main.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
    );
    const c = await RawClient.connect(srv.port);
    try {
      c.socket.pause();
      c.send(Buffer.concat([head, chunked(body, 65536)]));
      const ours = serverSide(srv.port, c.socket.localPort ?? 0);
      await waitFor('the server to finish its response (FIN_WAIT1)', () => ours()?.state === FIN_WAIT1, 10_000);
      const sock = ours();
      assert.ok(
        sock !== null && sock.txQueue > 0,
        `the response's end should still be queued in the kernel: ${JSON.stringify(sock)}`,
      );
      assert.ok(
        socketInodes(pid).has(sock.inode),
        `the server orphaned its socket with ${sock.txQueue} bytes unsent (inode ${sock.inode})`,
      );
      c.socket.resume();
      const res = await c.read({ timeoutMs: 10_000 });
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(body));
      await c.waitClose();
    } finally {
      c.close();
    }
  });
});

const FIN_WAIT1 = 4;

/** The server's end of the connection from client port `clientPort`, read from /proc/net/tcp each call. */
function serverSide(
  serverPort: number,
  clientPort: number,
): () => { state: number; txQueue: number; inode: number } | null {
  const local = `0100007F:${serverPort.toString(16).toUpperCase().padStart(4, '0')}`;
  const remote = `0100007F:${clientPort.toString(16).toUpperCase().padStart(4, '0')}`;
  return () => {
    for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1] !== local || f[2] !== remote) continue;
      return {
        state: parseInt(f[3] ?? '', 16),
        txQueue: parseInt((f[4] ?? '').split(':')[0] ?? '', 16),
        inode: Number(f[9]),
      };
    }
    return null;
  };
}

/** Inodes of the sockets process `p` holds open. */
function socketInodes(p: number): Set<number> {
  const out = new Set<number>();
  for (const fd of fs.readdirSync(`/proc/${p}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${p}/fd/${fd}`));
      if (m !== null) out.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

describe('responses', () => {
  test('Status from a script, with its own body and length', async () => {
    const res = await get(srv.port, '/cgi-bin/status.py');
    assert.equal(res.status, 404);
    assert.equal(res.reason, 'Not Found');
    assert.match(res.body.toString(), /This status came from cgi-bin\/status.py/);
    assert.equal(res.header('content-length'), String(res.body.length));
    assert.equal(res.header('transfer-encoding'), undefined);
  });

  test('php-cgi status and headers pass through', async () => {
    const res = await get(srv.port, '/cgi-bin/status.php');
    assert.equal(res.status, 418);
    assert.equal(res.header('x-from'), 'php');
    assert.equal(res.body.toString(), 'teapot');
    assert.equal(res.headers.get('server')?.length, 1);
    assert.equal(res.headers.get('date')?.length, 1);
  });

  test('a local redirect is served internally (RFC 3875 §6.2.2)', async () => {
    const res = await get(srv.port, '/cgi-bin/redirect.py');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), INDEX);
    assert.equal(res.header('location'), undefined);
  });

  test('a client redirect: the script Status, or 302 without one', async () => {
    const a = await get(srv.port, '/cgi-bin/redirect-abs.py');
    assert.equal(a.status, 302);
    assert.equal(a.header('location'), 'http://example.com/');
    assert.match(a.body.toString(), /Moved to/);
    const b = await get(srv.port, '/cgi-bin/away.py');
    assert.equal(b.status, 302);
    assert.equal(b.header('location'), 'http://example.com/elsewhere');
  });

  test('output without a length streams chunked, line by line', async () => {
    const res = await get(srv.port, '/cgi-bin/stream.py');
    assert.equal(res.status, 200);
    assert.equal(res.header('transfer-encoding'), 'chunked');
    assert.equal(res.header('content-length'), undefined);
    const want = Array.from({ length: 10 }, (_, i) => `line ${i + 1} of 10\n`).join('');
    assert.equal(res.body.toString(), want);
  });

  test('keep-alive across CGI responses, with and without a length', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      c.send('GET /cgi-bin/hello.py HTTP/1.1\r\nHost: main.test\r\n\r\n');
      const a = await c.read();
      assert.equal(a.status, 200);
      assert.equal(a.header('connection'), 'keep-alive');
      c.send('GET /cgi-bin/long.py HTTP/1.1\r\nHost: main.test\r\n\r\n');
      const b = await c.read();
      assert.equal(b.body.toString(), '01234'); // the script's extra bytes are dropped
      c.send('GET /cgi-bin/env.py HTTP/1.1\r\nHost: main.test\r\n\r\n');
      const d = await c.read();
      assert.equal(d.header('transfer-encoding'), 'chunked');
      assert.equal(envOf(d).get('SCRIPT_NAME'), '/cgi-bin/env.py');
      c.send('GET /index.html HTTP/1.1\r\nHost: main.test\r\nConnection: close\r\n\r\n');
      assert.equal((await c.read()).body.toString(), INDEX);
    } finally {
      c.close();
    }
  });

  test('output shorter than its Content-Length cuts the connection', async () => {
    const c = await RawClient.connect(srv.port);
    c.send('GET /cgi-bin/short.py HTTP/1.1\r\nHost: main.test\r\n\r\n');
    const rest = (await c.waitClose()).toString('latin1');
    assert.match(rest, /^HTTP\/1.1 200 OK\r\n/);
    assert.match(rest, /Content-Length: 100\r\n/);
    assert.ok(rest.endsWith('\r\n\r\n0123456789'));
  });

  test('HEAD runs the script for its headers only, and the script is ended', async () => {
    const res = await rawRequest(
      srv.port,
      'HEAD /cgi-bin/stream.py HTTP/1.1\r\nHost: main.test\r\nConnection: close\r\n\r\n',
      { head: true },
    );
    assert.equal(res.status, 200);
    assert.equal(res.header('content-type'), 'text/plain; charset=utf-8');
    assert.equal(res.body.length, 0);
    await noChildren();
  });

  test('a directory with a CGI default_file runs it', async () => {
    const res = await get(srv.port, '/idx/');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'index script\n');
  });

  test('stderr goes to the error log, bounded', async () => {
    const res = await get(srv.port, '/cgi-bin/noisy.py');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'quiet\n');
    // A loaded machine can run the script, answer and only then read the rest of its stderr.
    await waitFor('stderr in the log', () => srv.output().includes('(further output dropped)'), 10_000);
    const out = srv.output();
    assert.match(out, /cgi \/cgi-bin\/noisy.py: stderr: noise line 0\n/);
    assert.ok(!out.includes('noise line 4999'));
  });

  test('an error log on a pipe whose reader falls behind loses no line', async () => {
    const count = (): number => srv.output().split('(further output dropped)').length - 1;
    const before = count();
    // Not reading the server's stderr fills the pipe (64 KiB) and our buffer: its writes then fail with EAGAIN.
    srv.proc.stderr?.pause();
    // About 90 KiB of log each (1,100 lines with their prefixes): 8 fill the pipe many times over, inside the
    // server's 1 MiB backlog.
    const runs = 8;
    try {
      for (let i = 0; i < runs; i++) {
        const res = await get(srv.port, '/cgi-bin/noisy.py');
        assert.equal(res.status, 200);
      }
    } finally {
      srv.proc.stderr?.resume();
    }
    await waitFor(`${runs} bounded stderr logs`, () => count() - before >= runs, 10_000).catch(() => undefined);
    assert.equal(count() - before, runs, 'every run logged its last line');
    assert.ok(!srv.output().includes('log lines dropped'));
  });
});

describe('failures', () => {
  test('missing script → 404', async () => {
    assert.equal((await get(srv.port, '/cgi-bin/nope.py')).status, 404);
    assert.equal((await get(srv.port, '/cgi-bin/nope.py/more/path')).status, 404);
    assert.equal((await get(srv.port, '/cgi-bin/nope.php')).status, 404);
  });

  test('a file without a CGI extension is served as a file', async () => {
    fs.writeFileSync(path.join(srv.dir, 'cgi-bin', 'notes.txt'), 'plain\n');
    const res = await get(srv.port, '/cgi-bin/notes.txt');
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'plain\n');
  });

  test('a method the location does not allow → 405 with Allow', async () => {
    const res = await rawRequest(srv.port, post('/ro/env.py', 'text/plain', 'x'));
    assert.equal(res.status, 405);
    assert.equal(res.header('allow'), 'GET, HEAD, OPTIONS');
  });

  test('a script that exits before its headers → 502', async () => {
    const res = await get(srv.port, '/cgi-bin/broken.py');
    assert.equal(res.status, 502);
    assert.match(srv.output(), /cgi \/cgi-bin\/broken.py: stderr: broken.py: failing on purpose/);
  });

  test('garbage instead of headers → 502', async () => {
    const res = await get(srv.port, '/cgi-bin/garbage.py');
    assert.equal(res.status, 502);
    assert.ok(!res.body.toString().includes('not a body'));
  });

  test('no headers within cgi_timeout → 504, and the whole process group is killed', async () => {
    const t0 = Date.now();
    const res = await get(srv.port, '/cgi-bin/sleep.py');
    const ms = Date.now() - t0;
    assert.equal(res.status, 504);
    assert.ok(ms >= 900 && ms < 2000, `504 after ${ms} ms`);
    await noChildren();

    const pidFile = path.join(srv.dir, 'cgi-bin', 'grandchild.pid');
    const r2 = await get(srv.port, '/cgi-bin/spawner.py');
    assert.equal(r2.status, 504);
    const grandchild = Number(fs.readFileSync(pidFile, 'utf8'));
    assert.ok(grandchild > 0);
    await waitFor('the grandchild to die', () => !alive(grandchild));
  });

  test('a client that leaves mid-response kills the script', async () => {
    const c = await RawClient.connect(srv.port);
    c.send('GET /cgi-bin/stream.py HTTP/1.1\r\nHost: main.test\r\n\r\n');
    // Wait until the first lines arrived: the script is running and streaming.
    await waitFor('the script to start', () => children().length === 1);
    // The client's own buffer keeps what came while waitFor polled, so the head cannot be missed.
    const first = await c.until('line 1 of');
    assert.match(first, /^HTTP\/1.1 200 OK/);
    c.close();
    await noChildren();
  });

  test('a client that leaves before the script sent headers kills it at once, not at cgi_timeout', async () => {
    const c = await RawClient.connect(srv.port);
    c.send('GET /cgi-bin/sleep.py HTTP/1.1\r\nHost: main.test\r\n\r\n');
    await waitFor('the script to start', () => children().length === 1);
    const t0 = Date.now();
    c.close();
    await noChildren();
    const ms = Date.now() - t0;
    // cgi_timeout is 1 s here: a kill that waited for it would take about that long.
    assert.ok(ms < 700, `script killed ${ms} ms after the client left`);
  });

  test('a client that leaves while its body is being read kills the script', async () => {
    const c = await RawClient.connect(srv.port);
    c.send('POST /cgi-bin/body.py HTTP/1.1\r\nHost: main.test\r\nContent-Length: 100000\r\n\r\npartial');
    await waitFor('the script to start', () => children().length === 1);
    c.close();
    await noChildren();
  });
});

describe('concurrency', () => {
  test('20 slow scripts at once; a static file still answers in < 100 ms', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => RawClient.connect(srv.port)));
    for (const c of clients)
      c.send('GET /cgi-bin/slow.py?1.5 HTTP/1.1\r\nHost: main.test\r\nConnection: close\r\n\r\n');
    await waitFor('20 scripts running', () => children().length === 20, 5000);
    const t0 = performance.now();
    const res = await get(srv.port, '/index.html');
    const ms = performance.now() - t0;
    assert.equal(res.status, 200);
    assert.ok(ms < 100, `static GET took ${ms.toFixed(1)} ms`);
    const all = await Promise.all(clients.map((c) => c.read({ timeoutMs: 10_000 })));
    for (const r of all) {
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), 'slept\n');
    }
    for (const c of clients) c.close();
    await noChildren();
  });
});
