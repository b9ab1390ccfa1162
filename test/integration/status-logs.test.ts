/**
 * The status page (NGINX stub_status's layout) and the logs: counters that move as connections come, idle and go;
 * an access log in the combined format, one line per request, flushed within about a second; `access_log off`
 * writing nothing; the error log receiving a 400's reason and a CGI script's stderr.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get, RawClient, rawRequest } from '../helpers/http.js';
import { valueOf } from '../helpers/wait.js';

const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  keepalive_timeout 60s
  client_header_timeout 60s
  access_log {DIR}/access.log
  error_log {DIR}/error.log
  location / {
    methods GET
    root {DIR}/www
    default_file index.html
  }
  location /status {
    status on
  }
  location /cgi-bin {
    methods GET
    root {DIR}/cgi-bin
    cgi .py /usr/bin/python3
  }
}

server {
  host 127.0.0.1
  port {PORT2}
  access_log off
  location / {
    methods GET
    root {DIR}/www
  }
}
`;

const A_TXT = 'alpha\n';
const STDERR_CGI = `import sys
sys.stderr.write("oops: a line on the script's stderr\\n")
sys.stderr.flush()
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\nfine\\n")
`;

let srv: RunningServer;
let startedAt = 0;
const accessLog = (): string => path.join(srv.dir, 'access.log');
const errorLog = (): string => path.join(srv.dir, 'error.log');
const readOr = (p: string): string => (fs.existsSync(p) ? fs.readFileSync(p, 'utf8') : '');

before(async () => {
  startedAt = Date.now();
  srv = await startServer({
    config: CONFIG,
    files: { 'www/index.html': '<p>home</p>\n', 'www/a.txt': A_TXT, 'cgi-bin/stderr.py': STDERR_CGI },
  });
});

after(async () => {
  await srv.stop();
});

interface Status {
  active: number;
  accepts: number;
  handled: number;
  requests: number;
  reading: number;
  writing: number;
  waiting: number;
  uptime: number;
}

const STATUS_RE =
  /^Active connections: (\d+)\nserver accepts handled requests\n (\d+) (\d+) (\d+)\nReading: (\d+) Writing: (\d+) Waiting: (\d+)\nUptime: (\d+)\n$/;

/** GET /status on a fresh connection, parsed. */
async function status(): Promise<Status> {
  const r = await get(srv.port, '/status');
  assert.equal(r.status, 200);
  const m = STATUS_RE.exec(r.body.toString());
  assert.ok(m !== null, `status page layout: ${JSON.stringify(r.body.toString())}`);
  const n = m.slice(1).map(Number);
  return {
    active: n[0]!,
    accepts: n[1]!,
    handled: n[2]!,
    requests: n[3]!,
    reading: n[4]!,
    writing: n[5]!,
    waiting: n[6]!,
    uptime: n[7]!,
  };
}

/** Polls the status page until `want` holds (connections closed by a client reach the server a moment later). */
async function statusUntil(what: string, want: (s: Status) => boolean): Promise<Status> {
  let last: Status | null = null;
  try {
    return await valueOf(what, async () => {
      last = await status();
      return want(last) ? last : undefined;
    });
  } catch {
    assert.fail(`${what}; last status: ${JSON.stringify(last)}`);
  }
}

/** Only the status connection itself is open: a settled starting point. */
const quiet = (s: Status): boolean => s.active === 1 && s.reading === 0 && s.writing === 1 && s.waiting === 0;

describe('status page', () => {
  test('answers text/plain in stub_status layout, no-cache; HEAD has no body', async () => {
    const r = await get(srv.port, '/status');
    assert.equal(r.status, 200);
    assert.equal(r.header('content-type'), 'text/plain; charset=utf-8');
    assert.equal(r.header('cache-control'), 'no-cache');
    assert.match(r.body.toString(), STATUS_RE);
    const h = await rawRequest(srv.port, 'HEAD /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', {
      head: true,
    });
    assert.equal(h.status, 200);
    assert.equal(h.header('content-length'), r.header('content-length'));
  });

  test('3 idle keep-alive connections are Waiting; the status request itself is Writing', async () => {
    await statusUntil('no other connection open', quiet);
    const clients: RawClient[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const c = await RawClient.connect(srv.port);
        c.send('GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n');
        assert.equal((await c.read()).status, 200);
        clients.push(c);
      }
      const s = await statusUntil('Waiting 3', (x) => x.waiting === 3);
      assert.deepEqual([s.active, s.reading, s.writing, s.waiting], [4, 0, 1, 3]);
    } finally {
      for (const c of clients) c.close();
    }
    const s = await statusUntil('the 3 connections to be gone', quiet);
    assert.equal(s.waiting, 0);
  });

  test('a connection that has sent half a request head is Reading', async () => {
    await statusUntil('no other connection open', quiet);
    const c = await RawClient.connect(srv.port);
    try {
      c.send('GET /a.txt HTTP/1.1\r\nHost: loc');
      const s = await statusUntil('Reading 1', (x) => x.reading === 1);
      assert.deepEqual([s.active, s.reading, s.writing, s.waiting], [2, 1, 1, 0]);
      c.send('alhost\r\n\r\n');
      assert.equal((await c.read()).status, 200);
      const s2 = await statusUntil('Waiting 1', (x) => x.waiting === 1);
      assert.deepEqual([s2.active, s2.reading, s2.writing, s2.waiting], [2, 0, 1, 1]);
    } finally {
      c.close();
    }
  });

  test('accepts and handled grow by N after N new connections, requests by N', async () => {
    const N = 5;
    const s0 = await status();
    for (let i = 0; i < N; i++) assert.equal((await get(srv.port, '/a.txt')).status, 200);
    const s1 = await status();
    // +1 each for s1's own connection and request.
    assert.equal(s1.accepts, s0.accepts + N + 1);
    assert.equal(s1.handled, s0.handled + N + 1);
    assert.equal(s1.handled, s1.accepts, 'no connection refused for lack of resources');
    assert.equal(s1.requests, s0.requests + N + 1);
  });

  test('requests counts every request of a keep-alive connection (pipelined too), accepts counts it once', async () => {
    const K = 7;
    const s0 = await status();
    const c = await RawClient.connect(srv.port);
    try {
      for (let i = 0; i < K - 3; i++) {
        c.send('GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n');
        assert.equal((await c.read()).status, 200);
      }
      c.send('GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n'.repeat(3));
      for (let i = 0; i < 3; i++) assert.equal((await c.read()).status, 200);
    } finally {
      c.close();
    }
    const s1 = await status();
    assert.equal(s1.accepts, s0.accepts + 2);
    assert.equal(s1.requests, s0.requests + K + 1);
  });

  test('a malformed request counts as a request', async () => {
    const s0 = await status();
    const r = await rawRequest(srv.port, 'GET /a.txt HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n');
    assert.equal(r.status, 400);
    const s1 = await status();
    assert.equal(s1.requests, s0.requests + 2);
    assert.equal(s1.accepts, s0.accepts + 2);
  });

  test("the counters survive a SIGHUP reload (they are per process, like NGINX's)", async () => {
    const s0 = await status();
    const reloads = (srv.output().match(/^reloaded$/gm) ?? []).length;
    srv.proc.kill('SIGHUP');
    await valueOf('"reloaded" in the output', () =>
      (srv.output().match(/^reloaded$/gm) ?? []).length === reloads + 1 ? true : undefined,
    );
    const s1 = await status();
    assert.equal(s1.accepts, s0.accepts + 1);
    assert.equal(s1.requests, s0.requests + 1);
    assert.ok(s1.uptime >= s0.uptime);
  });

  test('Uptime counts whole seconds since start', async () => {
    const s = await status();
    const bound = Math.ceil((Date.now() - startedAt) / 1000);
    assert.ok(s.uptime >= 0 && s.uptime <= bound, `uptime ${s.uptime} s, started ${bound} s ago at most`);
  });
});

/** `[10/Oct/2000:13:55:36 +0000]` → epoch ms. */
function clfToMs(t: string): number {
  const m = /^(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(t);
  assert.ok(m !== null, `time ${t}`);
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].indexOf(m[2]!);
  assert.ok(mon >= 0, `month ${m[2]}`);
  const off = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9])) * 60_000;
  return Date.UTC(Number(m[3]), mon, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])) - off;
}

interface AccessLine {
  remote: string;
  user: string;
  time: number;
  request: string;
  status: number;
  bytes: number;
  referer: string;
  userAgent: string;
}

// NGINX's `combined`: $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
// "$http_referer" "$http_user_agent"
const COMBINED_RE =
  /^(\S+) - (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$/;

function parseAccess(line: string): AccessLine {
  const m = COMBINED_RE.exec(line);
  assert.ok(m !== null, `combined format: ${JSON.stringify(line)}`);
  return {
    remote: m[1]!,
    user: m[2]!,
    time: clfToMs(m[3]!),
    request: m[4]!,
    status: Number(m[5]),
    bytes: Number(m[6]),
    referer: m[7]!,
    userAgent: m[8]!,
  };
}

/** Waits until the access log has a line containing `marker`; returns that line and when it appeared. */
async function accessLine(marker: string, timeoutMs = 3000): Promise<{ line: string; at: number }> {
  return valueOf(
    `an access-log line with ${marker}`,
    () => {
      const line = readOr(accessLog())
        .split('\n')
        .find((l) => l.includes(marker));
      return line === undefined ? undefined : { line, at: Date.now() };
    },
    timeoutMs,
  );
}

const UA = 'TestAgent/1.0 (status-logs; +http://example.test/bot)';
const REFERER = 'http://example.test/from?q=1&r=2';

describe('access log', () => {
  test('one combined-format line per request with the exact fields, flushed within about a second', async () => {
    const r = await get(srv.port, '/a.txt?x=fields', { Referer: REFERER, 'User-Agent': UA });
    const answered = Date.now();
    assert.equal(r.status, 200);
    const { line, at } = await accessLine('/a.txt?x=fields');
    assert.ok(at - answered <= 1500, `line appeared ${at - answered} ms after the response`);
    const a = parseAccess(line);
    assert.equal(a.remote, '127.0.0.1');
    assert.equal(a.user, '-');
    assert.ok(Math.abs(a.time - answered) <= 2000, `logged time ${new Date(a.time).toISOString()}`);
    assert.equal(a.request, 'GET /a.txt?x=fields HTTP/1.1');
    assert.equal(a.status, 200);
    assert.equal(a.referer, REFERER);
    assert.equal(a.userAgent, UA);
  });

  test('the bytes field is the body size ($body_bytes_sent): 200 file, 404 page, HEAD', async () => {
    const ok = await get(srv.port, '/a.txt?x=bytes');
    const missing = await get(srv.port, '/nothing-here?x=bytes');
    assert.equal(missing.status, 404);
    const head = await rawRequest(
      srv.port,
      'HEAD /a.txt?x=bytes-head HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
      { head: true },
    );
    assert.equal(head.status, 200);
    const l1 = parseAccess((await accessLine('GET /a.txt?x=bytes ')).line);
    const l2 = parseAccess((await accessLine('GET /nothing-here?x=bytes ')).line);
    const l3 = parseAccess((await accessLine('HEAD /a.txt?x=bytes-head ')).line);
    assert.deepEqual(
      [l1.status, l1.bytes, l2.status, l2.bytes, l3.status, l3.bytes],
      [200, Buffer.byteLength(A_TXT), 404, missing.body.length, 200, 0],
      `body bytes (a.txt ${ok.body.length}, 404 page ${missing.body.length}, HEAD 0)`,
    );
  });

  test('missing Referer and User-Agent are "-"; a quote in a field is escaped', async () => {
    await rawRequest(srv.port, 'GET /a.txt?x=dash HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    const l = parseAccess((await accessLine('/a.txt?x=dash')).line);
    assert.equal(l.referer, '-');
    assert.equal(l.userAgent, '-');
    await get(srv.port, '/a.txt?x=quote', { 'User-Agent': 'evil" 200 0 "x' });
    const { line } = await accessLine('/a.txt?x=quote');
    const q = parseAccess(line); // still parses as one record: the quote did not end the field
    assert.ok(q.userAgent === 'evil\\" 200 0 \\"x' || q.userAgent === 'evil\\x22 200 0 \\x22x', q.userAgent);
    assert.equal(q.status, 200);
  });

  test('a keep-alive connection logs each request in order', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      for (const n of [1, 2, 3]) {
        c.send(`GET /a.txt?x=ka${n} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
        assert.equal((await c.read()).status, 200);
      }
    } finally {
      c.close();
    }
    await accessLine('/a.txt?x=ka3');
    const lines = readOr(accessLog())
      .split('\n')
      .filter((l) => /\/a\.txt\?x=ka\d/.test(l));
    assert.deepEqual(
      lines.map((l) => parseAccess(l).request),
      ['GET /a.txt?x=ka1 HTTP/1.1', 'GET /a.txt?x=ka2 HTTP/1.1', 'GET /a.txt?x=ka3 HTTP/1.1'],
    );
  });

  test('a 400 is logged with its status', async () => {
    const r = await rawRequest(srv.port, 'GET /a.txt?x=bad400 HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n');
    assert.equal(r.status, 400);
    await get(srv.port, '/a.txt?x=after400'); // a later line: the 400's, if any, is flushed with it or before
    await accessLine('/a.txt?x=after400');
    const statuses = readOr(accessLog())
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => parseAccess(l).status);
    assert.ok(statuses.includes(400), `statuses logged: ${statuses.join(' ')}`);
  });

  test('access_log off writes nothing, anywhere', async () => {
    const filesBefore = fs.readdirSync(srv.dir).sort();
    const r = await get(srv.ports[1]!, '/a.txt?x=off-marker', { 'User-Agent': UA });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), A_TXT);
    // A request to the logged server afterwards: once its line is there, anything the first wrote would be too.
    await get(srv.port, '/a.txt?x=on-marker');
    await accessLine('/a.txt?x=on-marker');
    assert.equal(readOr(accessLog()).includes('off-marker'), false);
    assert.equal(srv.output().includes('off-marker'), false, 'nothing on stdout/stderr either');
    assert.deepEqual(fs.readdirSync(srv.dir).sort(), filesBefore, 'no new file');
  });
});

describe('error log', () => {
  test("a 400's reason goes to the error log file at once", async () => {
    const r = await rawRequest(srv.port, 'GET / HTTP/1.1\r\nHost: localhost\r\nNo Colon Here\r\n\r\n');
    assert.equal(r.status, 400);
    const line = await valueOf(
      'a 400 line in error.log',
      () =>
        readOr(errorLog())
          .split('\n')
          .find((l) => / 127\.0\.0\.1: 400 \S/.test(l)),
      1000,
    );
    assert.match(line, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z \[(info|error)\] 127\.0\.0\.1: 400 \S/);
  });

  test("a CGI script's stderr line goes to the error log file, not to the client or the terminal", async () => {
    const r = await get(srv.port, '/cgi-bin/stderr.py');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'fine\n');
    const line = await valueOf(
      'the stderr line in error.log',
      () =>
        readOr(errorLog())
          .split('\n')
          .find((l) => l.includes("oops: a line on the script's stderr")),
      3000,
    );
    assert.match(line, /\[error\] cgi \/cgi-bin\/stderr\.py: stderr: oops: a line on the script's stderr$/);
    assert.equal(srv.output().includes('oops'), false, 'error_log is a file: nothing on the server stderr');
  });
});
