/**
 * limit_rate and limit_rate_after (nginx's ngx_http_core_module) through real sockets, timed by curl: a response's
 * body goes at the configured bytes per second after its first limit_rate_after bytes, per response (two downloads
 * side by side each get the rate), paced by a timer while the loop serves others; a location's value wins over its
 * server's. Static files (sendfile, reads, ranges, the in-memory small-file path), CGI and proxied output are paced.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MAIN, startServer, type RunningServer } from '../helpers/server.js';
import { httpBackend, type HttpBackend } from '../helpers/backend.js';
import { get, RawClient } from '../helpers/http.js';
import { until } from '../helpers/wait.js';

const PY = '/usr/bin/python3';
const KiB = 1024;

const config = (upstream: number): string => `server {
  listen 127.0.0.1:{PORT}
  limit_rate 200k
  location / {
    methods GET
    root {DIR}/www
  }
  location /ten {
    methods GET
    root {DIR}/www
    limit_rate 100k
  }
  location /after {
    methods GET
    root {DIR}/www
    limit_rate 100k
    limit_rate_after 500k
  }
  location /own {
    methods GET
    root {DIR}/www
    limit_rate 400k
  }
  location /free {
    methods GET
    root {DIR}/www
    limit_rate 0
  }
  location /inherits-rate {
    methods GET
    root {DIR}/www
    limit_rate_after 200k
  }
  location /small {
    methods GET
    root {DIR}/www
    limit_rate 60k
  }
  location /cgi-bin {
    methods GET
    root {DIR}/cgi-bin
    cgi .py ${PY}
    limit_rate 100k
  }
  location /up/ {
    proxy_pass http://127.0.0.1:${upstream}/;
  }
}
server {
  listen 127.0.0.1:{PORT2}
  send_timeout 1s
  location /cgi-bin {
    methods GET
    root {DIR}/cgi-bin
    cgi .py ${PY}
    limit_rate 32k
  }
}
`;

const MIB = crypto.randomBytes(1024 * KiB);
const K400 = crypto.randomBytes(400 * KiB);
const K60 = crypto.randomBytes(60 * KiB);
const sha = (b: Buffer): string => crypto.createHash('sha256').update(b).digest('hex');

/** Prints N KiB (QUERY_STRING, default 300) of a repeating pattern in one write. */
const BIG_PY = `import os, sys
n = int(os.environ.get("QUERY_STRING") or "300") * 1024
sys.stdout.write("Content-Type: application/octet-stream\\r\\n\\r\\n")
sys.stdout.flush()
sys.stdout.buffer.write((b"0123456789abcdef" * (n // 16 + 1))[:n])
`;

let srv: RunningServer;
let backend: HttpBackend;

before(async () => {
  const files: Record<string, Buffer | string> = { 'cgi-bin/big.py': BIG_PY };
  for (const loc of ['', 'ten/', 'after/', 'own/', 'free/', 'inherits-rate/', 'small/']) {
    files[`www/${loc}mib.bin`] = MIB;
    files[`www/${loc}k400.bin`] = K400;
    files[`www/${loc}k60.bin`] = K60;
  }
  files['www/empty.txt'] = ''; // /small/empty.txt: a location's root replaces its prefix
  // The upstream answers 400 KiB at once; the server's 200k applies to the proxied response.
  backend = await httpBackend((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': K400.length });
    res.end(K400);
  });
  srv = await startServer({ config: config(backend.port), files });
});

after(async () => {
  await srv.stop();
  await backend.close();
  fs.rmSync(srv.dir, { recursive: true, force: true });
});

interface Fetched {
  readonly status: number;
  /** curl's time_total, seconds. */
  readonly seconds: number;
  readonly body: Buffer;
}

/** curl fetches `url` into a file and reports its status and time_total (asynchronously, so several can run). */
function curl(url: string, extra: readonly string[] = []): { out: string; done: Promise<Fetched> } {
  const out = path.join(srv.dir, `curl-${crypto.randomBytes(6).toString('hex')}.out`);
  const p = spawn('curl', ['-s', '-o', out, '-w', '%{http_code} %{time_total}', ...extra, url], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  p.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const done = new Promise<Fetched>((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`curl exited ${String(code)}: ${stdout}`));
        return;
      }
      const [status, seconds] = stdout.trim().split(' ');
      resolve({ status: Number(status), seconds: Number(seconds), body: fs.readFileSync(out) });
    });
  });
  return { out, done };
}

const url = (p: string, port = srv.port): string => `http://127.0.0.1:${port}${p}`;
const fetched = (p: string, extra: readonly string[] = [], port?: number): Promise<Fetched> =>
  curl(url(p, port), extra).done;

/**
 * `seconds` lies within `expected` ± `tolerance` (a fraction), plus `slack` seconds above: a loaded CI machine can
 * only make a paced download slower (curl's start, the scheduler), never faster, so the lower bound stays tight.
 */
function about(seconds: number, expected: number, tolerance: number, what: string, slack = 0.75): void {
  const lo = expected * (1 - tolerance);
  const hi = expected * (1 + tolerance) + slack;
  assert.ok(seconds >= lo && seconds <= hi, `${what}: ${seconds} s, expected ${expected} s ± ${tolerance * 100} %`);
}

describe('limit_rate', () => {
  test('limit_rate 100k: a 1 MiB download takes 10 s, bytes intact', async () => {
    const r = await fetched('/ten/mib.bin');
    assert.equal(r.status, 200);
    assert.equal(sha(r.body), sha(MIB));
    about(r.seconds, 10.24, 0.1, '1 MiB at 100 KiB/s', 0);
  });

  test('limit_rate_after 500k + limit_rate 100k: the first 500 KiB at once, the rest paced (about 5 s)', async () => {
    const r = await fetched('/after/mib.bin');
    assert.equal(r.status, 200);
    assert.equal(sha(r.body), sha(MIB));
    about(r.seconds, (1024 - 500) / 100, 0.15, '524 KiB at 100 KiB/s after 500 KiB');
  });

  test("the server's limit applies where a location sets none; a location's own wins; limit_rate 0 lifts it", async () => {
    const server = await fetched('/k400.bin');
    assert.equal(sha(server.body), sha(K400));
    about(server.seconds, 2, 0.15, '400 KiB at the server limit 200 KiB/s');
    const own = await fetched('/own/k400.bin');
    assert.equal(sha(own.body), sha(K400));
    about(own.seconds, 1, 0.2, '400 KiB at the location limit 400 KiB/s');
    const free = await fetched('/free/k400.bin');
    assert.equal(sha(free.body), sha(K400));
    assert.ok(free.seconds < 0.5, `limit_rate 0 in the location: ${free.seconds} s`);
    // limit_rate_after alone in the location: the server's rate, after the location's 200 KiB.
    const inherits = await fetched('/inherits-rate/k400.bin');
    assert.equal(sha(inherits.body), sha(K400));
    about(inherits.seconds, 1, 0.2, "200 KiB at the server's 200 KiB/s after the location's 200 KiB");
  });

  test('a byte range and the in-memory small-file path are paced too', async () => {
    const range = await fetched('/k400.bin', ['-r', '0-204799']);
    assert.equal(range.status, 206);
    assert.ok(range.body.equals(K400.subarray(0, 200 * KiB)));
    about(range.seconds, 1, 0.2, '200 KiB range at 200 KiB/s');
    // Twice: the second answer comes from the memory cache of small files.
    for (const round of [1, 2]) {
      const small = await fetched('/small/k60.bin');
      assert.equal(small.status, 200);
      assert.equal(sha(small.body), sha(K60));
      about(small.seconds, 1, 0.2, `60 KiB at 60 KiB/s (round ${round})`);
    }
    const tail = await fetched('/small/k60.bin', ['-r', '-30720']);
    assert.equal(tail.status, 206);
    assert.ok(tail.body.equals(K60.subarray(30 * KiB)));
    about(tail.seconds, 0.5, 0.3, 'the last 30 KiB of a cached file at 60 KiB/s');
  });

  test('CGI output is paced (300 KiB at 100 KiB/s)', async () => {
    const r = await fetched('/cgi-bin/big.py');
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 300 * KiB);
    assert.ok(r.body.subarray(0, 32).equals(Buffer.from('0123456789abcdef0123456789abcdef')));
    about(r.seconds, 3, 0.2, '300 KiB of CGI output at 100 KiB/s');
  });

  test("a proxied response is paced by the server's limit (400 KiB at 200 KiB/s)", async () => {
    const r = await fetched('/up/k400.bin');
    assert.equal(r.status, 200);
    assert.equal(sha(r.body), sha(K400));
    about(r.seconds, 2, 0.15, 'a proxied 400 KiB at 200 KiB/s');
  });

  test('our own pauses do not count against send_timeout (CGI pieces held longer than it; 128 KiB at 32k)', async () => {
    const port2 = srv.ports[1];
    assert.ok(port2 !== undefined);
    const r = await fetched('/cgi-bin/big.py?128', [], port2);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 128 * KiB, 'the whole body, not cut by the 1 s send_timeout');
    about(r.seconds, 4, 0.2, '128 KiB at 32 KiB/s');
  });

  test('the limit is per response: two limited downloads side by side, and the loop stays free', async () => {
    const started = Date.now();
    const a = curl(url('/k400.bin'));
    const b = curl(url('/k400.bin'));
    // Mid-download (both under way), another connection to an unlimited location is answered at once.
    await until(() => fs.existsSync(a.out) && fs.existsSync(b.out) && fs.statSync(a.out).size > 0, 'downloads begin');
    await until(() => fs.statSync(b.out).size > 0, 'the second download begins');
    const t0 = Date.now();
    const quick = await get(srv.port, '/free/k60.bin');
    const quickMs = Date.now() - t0;
    assert.equal(quick.status, 200);
    assert.equal(quick.body.length, 60 * KiB);
    assert.ok(quickMs < 1000, `an unlimited request during two paced downloads took ${quickMs} ms`);
    assert.ok(fs.statSync(a.out).size < 400 * KiB, 'the downloads were still running');
    const [ra, rb] = await Promise.all([a.done, b.done]);
    const wall = (Date.now() - started) / 1000;
    for (const r of [ra, rb]) {
      assert.equal(sha(r.body), sha(K400));
      about(r.seconds, 2, 0.15, '400 KiB at 200 KiB/s beside another download');
    }
    assert.ok(wall < 3.5, `both together took ${wall} s: the limit is per response, not shared`);
  });

  test('an empty file under limit_rate completes at once, and the connection stays usable', async () => {
    const c = await RawClient.connect(srv.port);
    try {
      const t0 = Date.now();
      for (let i = 0; i < 3; i++) {
        c.send('GET /small/empty.txt HTTP/1.1\r\nHost: x\r\n\r\n');
        const res = await c.read({ timeoutMs: 2000 });
        assert.equal(res.status, 200);
        assert.equal(res.header('content-length'), '0');
        assert.equal(res.body.length, 0);
      }
      const ms = Date.now() - t0;
      assert.ok(ms < 1000, `three empty answers took ${ms} ms`);
    } finally {
      c.close();
    }
  });
});

describe('limit_rate configuration errors', () => {
  for (const [line, expected] of [
    ['limit_rate fast', 'bad size "fast"'],
    ['limit_rate_after -1', 'bad size "-1"'],
  ] as const) {
    test(`"${line}" is a config error at FILE:LINE:COL`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-limit-rate-'));
      try {
        const conf = path.join(dir, 'bad.conf');
        fs.writeFileSync(
          conf,
          `server {\n  listen 127.0.0.1:1\n  location / {\n    root ${dir}\n    ${line}\n  }\n}\n`,
        );
        const r = spawnSync(process.execPath, [MAIN, '-t', conf], { encoding: 'utf8' });
        assert.equal(r.status, 1, r.stderr);
        const col = line.indexOf(' ') + 2 + 4; // the argument, after four spaces of indent
        assert.ok(r.stderr.includes(`${conf}:5:${col}: ${expected}`), r.stderr);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
