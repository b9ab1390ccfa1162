/**
 * Operating the server with signals (DESIGN §1): SIGHUP reloads the configuration (in-flight exchanges finish under
 * the old one, new requests see the new one, an invalid file changes nothing and is reported as FILE:LINE:COL);
 * SIGTERM/SIGINT stop accepting, finish in-flight work within the 5 s grace, leave no partial upload, and exit 0.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get, RawClient } from '../helpers/http.js';
import { valueOf } from '../helpers/wait.js';

/** main.ts's SHUTDOWN_GRACE_MS: how long in-flight work may go on after SIGTERM. */
const GRACE_MS = 5000;
/** Time allowed on top of a bound for the process to be scheduled, exit and be reaped. */
const SLACK_MS = 1000;

/** Resolves 'open' when a TCP connection to the port succeeds, else the error code (ECONNREFUSED). */
function probe(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.destroy();
      resolve('open');
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      resolve(e.code ?? e.message);
    });
  });
}

/** Waits for the process to exit; resolves its exit code and how long after `since` it came. */
function exited(
  srv: RunningServer,
  since: number,
  timeoutMs: number,
): Promise<{ code: number | null; signal: string | null; ms: number }> {
  return new Promise((resolve, reject) => {
    if (srv.proc.exitCode !== null) {
      resolve({ code: srv.proc.exitCode, signal: null, ms: Date.now() - since });
      return;
    }
    const t = setTimeout(() => {
      reject(new Error(`server still running ${timeoutMs} ms after the signal:\n${srv.output()}`));
    }, timeoutMs);
    srv.proc.once('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, ms: Date.now() - since });
    });
  });
}

/** Stops the server unless it already exited (srv.stop() would wait forever for a process killed by a signal). */
async function stopped(srv: RunningServer): Promise<number | null | string> {
  if (srv.proc.exitCode !== null) return srv.proc.exitCode;
  if (srv.proc.signalCode !== null) return srv.proc.signalCode;
  return srv.stop();
}

/** One request, so the test knows the server's start-up code (signal handlers included) has run. */
async function ready(srv: RunningServer): Promise<void> {
  assert.equal((await get(srv.port, '/')).status, 200);
}

/** Replaces the placeholders of a config template the way startServer does. */
function fill(srv: RunningServer, text: string): string {
  return text
    .replaceAll('{PORT}', String(srv.ports[0]))
    .replaceAll('{PORT2}', String(srv.ports[1]))
    .replaceAll('{PORT3}', String(srv.ports[2]))
    .replaceAll('{DIR}', srv.dir);
}

/** Writes a new config over the running one and sends SIGHUP. */
function rewriteAndHup(srv: RunningServer, text: string): void {
  fs.writeFileSync(path.join(srv.dir, 'test.conf'), fill(srv, text));
  srv.proc.kill('SIGHUP');
}

const count = (s: string, re: RegExp): number => (s.match(re) ?? []).length;

/** Decodes a chunked body (test data only: no extensions or trailers expected). */
function dechunk(b: Buffer): Buffer {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const le = b.indexOf('\r\n', pos);
    if (le < 0) throw new Error('truncated chunked body');
    const size = parseInt(b.toString('latin1', pos, le), 16);
    if (size === 0) return Buffer.concat(parts);
    parts.push(b.subarray(le + 2, le + 2 + size));
    pos = le + 2 + size + 2;
  }
}

/** A raw connection that just accumulates what arrives. */
class Collector {
  private chunks: Buffer[] = [];
  received = 0;
  ended = false;
  readonly socket: net.Socket;
  constructor(port: number, request: string) {
    this.socket = net.connect({ port, host: '127.0.0.1' }, () => this.socket.write(request));
    this.socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.received += d.length;
    });
    this.socket.on('close', () => (this.ended = true));
    this.socket.on('error', () => (this.ended = true));
  }
  /** Everything received so far. */
  get data(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }
  text(): string {
    return this.data.toString('latin1');
  }
}

// A CGI script that sends its head and a first line at once, then waits (polling a file, bounded at 20 s) for the
// test to open the gate before it finishes: the response is in flight for exactly as long as the test needs.
const GATED_CGI = `import os, sys, time
sys.stdout.write("Content-Type: text/plain\\r\\n\\r\\nstarted\\n")
sys.stdout.flush()
for _ in range(2000):
    if os.path.exists("gate"):
        break
    time.sleep(0.01)
sys.stdout.write("finished\\n")
`;

const BEFORE = `server {
  host 127.0.0.1
  port {PORT} {PORT2}
  send_timeout 30s
  cgi_timeout 30s
  location / {
    methods GET
    root {DIR}/www
    default_file index.html
  }
  location /old {
    methods GET
    root {DIR}/www
  }
  location /big {
    methods GET
    root {DIR}/big
  }
  location /cgi-bin {
    methods GET
    root {DIR}/cgi-bin
    cgi .py /usr/bin/python3
  }
}
`;

// /old, /big and /cgi-bin removed, /new added; {PORT2} dropped and {PORT3} added.
const AFTER = `server {
  host 127.0.0.1
  port {PORT} {PORT3}
  location / {
    methods GET
    root {DIR}/www
    default_file index.html
  }
  location /new {
    methods GET
    root {DIR}/www
  }
}
`;

const FILES = {
  'www/index.html': '<p>home</p>\n',
  'www/page.txt': 'a page\n',
  'cgi-bin/gated.py': GATED_CGI,
};

const BIG_SIZE = 32 * 1024 * 1024;

describe('SIGHUP', () => {
  test('a valid new config: the in-flight CGI response completes, new requests see the new locations and ports', async () => {
    const srv = await startServer({ config: BEFORE, files: FILES });
    let slow: Collector | null = null;
    try {
      assert.equal((await get(srv.ports[0]!, '/old/page.txt')).status, 200);
      assert.equal((await get(srv.ports[1]!, '/page.txt')).status, 200);
      assert.equal(await probe(srv.ports[2]!), 'ECONNREFUSED');

      const s = new Collector(
        srv.port,
        'GET /cgi-bin/gated.py HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
      );
      slow = s;
      await valueOf('the CGI response to start', () => (s.text().includes('started\n') ? true : undefined));

      rewriteAndHup(srv, AFTER);
      await valueOf('"reloaded" in the output', () => (count(srv.output(), /^reloaded$/gm) === 1 ? true : undefined));
      assert.match(srv.output(), new RegExp(`^closed 127\\.0\\.0\\.1:${srv.ports[1]}$`, 'm'));
      assert.match(srv.output(), new RegExp(`^listening on 127\\.0\\.0\\.1:${srv.ports[2]}( \\(default\\))?$`, 'm'));

      // New requests: the new locations...
      assert.equal((await get(srv.port, '/new/page.txt')).status, 200);
      assert.equal((await get(srv.port, '/old/page.txt')).status, 404);
      assert.equal(
        (await get(srv.port, '/cgi-bin/gated.py')).status,
        404,
        'the removed CGI location is gone for new requests',
      );
      // ...and the new ports: the added one answers, the removed one refuses.
      assert.equal((await get(srv.ports[2]!, '/new/page.txt')).status, 200);
      assert.equal(
        await valueOf('the removed port to refuse', async () =>
          (await probe(srv.ports[1]!)) === 'ECONNREFUSED' ? true : undefined,
        ),
        true,
      );

      // The exchange that began before the reload still completes, under the old configuration.
      assert.equal(s.ended, false, 'the in-flight response was not cut');
      fs.writeFileSync(path.join(srv.dir, 'cgi-bin/gate'), '');
      await valueOf('the in-flight response to end', () => (s.ended ? true : undefined), 10_000);
      const raw = s.data;
      const headEnd = raw.indexOf('\r\n\r\n');
      const head = raw.toString('latin1', 0, headEnd);
      assert.match(head, /^HTTP\/1\.1 200 /);
      const body = /\r\ntransfer-encoding: chunked/i.test(head)
        ? dechunk(raw.subarray(headEnd + 4))
        : raw.subarray(headEnd + 4);
      assert.equal(body.toString(), 'started\nfinished\n');
      assert.equal(srv.proc.exitCode, null, 'still running');
    } finally {
      fs.writeFileSync(path.join(srv.dir, 'cgi-bin/gate'), '');
      slow?.socket.destroy();
      assert.equal(await stopped(srv), 0);
    }
  });

  test('a valid new config: a large download over a slow reader completes although its location is removed', async () => {
    const srv = await startServer({ config: BEFORE, files: FILES });
    let dl: Collector | null = null;
    try {
      const big = path.join(srv.dir, 'big/file.bin');
      fs.mkdirSync(path.dirname(big));
      const content = Buffer.alloc(BIG_SIZE);
      for (let i = 0; i < content.length; i += 4096) content.writeUInt32BE(i, i); // a position stamp every 4 KiB
      fs.writeFileSync(big, content);

      dl = new Collector(srv.port, 'GET /big/file.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      const d = dl;
      await valueOf('the download to start', () => (d.received > 0 ? true : undefined));
      d.socket.pause(); // the reader stops: the server has most of the file still to send
      const before = d.received;

      rewriteAndHup(srv, AFTER);
      await valueOf('"reloaded" in the output', () => (count(srv.output(), /^reloaded$/gm) === 1 ? true : undefined));
      assert.equal((await get(srv.port, '/big/file.bin')).status, 404, 'new requests no longer find /big');
      assert.ok(before < BIG_SIZE / 2, `most of the file was still to come (had ${before})`);

      d.socket.resume();
      await valueOf('the download to end', () => (d.ended ? true : undefined), 20_000);
      const headEnd = d.data.indexOf('\r\n\r\n');
      const head = d.data.toString('latin1', 0, headEnd + 2);
      assert.match(head, /^HTTP\/1\.1 200 /);
      assert.match(head, new RegExp(`\r\ncontent-length: ${BIG_SIZE}\r\n`, 'i'));
      const body = d.data.subarray(headEnd + 4);
      assert.equal(body.length, BIG_SIZE);
      assert.ok(body.equals(content), 'the bytes are the file');
    } finally {
      dl?.socket.destroy();
      assert.equal(await stopped(srv), 0);
    }
  });

  test('an invalid config: the old one keeps serving and FILE:LINE:COL is reported', async () => {
    const srv = await startServer({ config: BEFORE, files: FILES });
    try {
      await ready(srv);
      // Line 4, column 3: a misspelt directive.
      rewriteAndHup(
        srv,
        `server {\n  host 127.0.0.1\n  port {PORT3}\n  bogus_directive on\n  location / {\n    root {DIR}/www\n  }\n}\n`,
      );
      const where = `${path.join(srv.dir, 'test.conf')}:4:3:`;
      const line = await valueOf('the config error in the output', () =>
        srv
          .output()
          .split('\n')
          .find((l) => l.includes(where)),
      );
      assert.match(line, /unknown directive "bogus_directive"/);
      assert.match(srv.output(), /reload failed, keeping the running configuration/);
      assert.doesNotMatch(srv.output(), /^reloaded$/m);

      // Everything is as before: both old ports, the old locations, the would-be new port not bound.
      assert.equal((await get(srv.ports[0]!, '/old/page.txt')).status, 200);
      assert.equal((await get(srv.ports[1]!, '/old/page.txt')).status, 200);
      assert.equal(await probe(srv.ports[2]!), 'ECONNREFUSED');

      // A later valid reload still works (the failed one left nothing half-done).
      rewriteAndHup(srv, AFTER);
      await valueOf('"reloaded" in the output', () => (count(srv.output(), /^reloaded$/gm) === 1 ? true : undefined));
      assert.equal((await get(srv.ports[2]!, '/new/page.txt')).status, 200);
    } finally {
      assert.equal(await stopped(srv), 0);
    }
  });

  test('a config whose new port is taken: the reload is undone, the old config serves', async () => {
    const srv = await startServer({ config: BEFORE, files: FILES });
    const blocker = net.createServer();
    try {
      await ready(srv);
      await new Promise<void>((resolve) => blocker.listen(srv.ports[2], '127.0.0.1', resolve));
      rewriteAndHup(srv, AFTER);
      await valueOf('the bind failure in the output', () =>
        srv.output().includes(`reload failed`) ? true : undefined,
      );
      assert.match(srv.output(), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${srv.ports[2]}: EADDRINUSE`));
      assert.equal(
        (await get(srv.ports[1]!, '/old/page.txt')).status,
        200,
        'the port the new config drops is still served',
      );
      assert.equal((await get(srv.ports[0]!, '/new/page.txt')).status, 404, 'the new locations are not in force');
    } finally {
      blocker.close();
      assert.equal(await stopped(srv), 0);
    }
  });
});

const UPLOAD_CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  body_limit 0
  client_body_timeout 30s
  location / {
    methods GET
    root {DIR}/www
    default_file index.html
  }
  location /uploads {
    methods GET POST DELETE
    root {DIR}/uploads
  }
}
`;

const BOUNDARY = 'sigtermBoundary7MA4YWxk';

/** The head and multipart framing of an upload of `size` bytes named `name`. */
function multipart(name: string, size: number): { head: string; partHead: string; tail: string } {
  const partHead = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  const tail = `\r\n--${BOUNDARY}--\r\n`;
  const length = partHead.length + size + tail.length;
  const head = `POST /uploads/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${length}\r\n\r\n`;
  return { head, partHead, tail };
}

const partFiles = (dir: string): string[] => fs.readdirSync(dir).filter((n) => /^\.upload-.*\.part$/.test(n));

describe('SIGTERM / SIGINT', () => {
  test('SIGTERM during a slow upload: stops accepting, exits 0 within the grace, leaves no file and no .part', async () => {
    const srv = await startServer({ config: UPLOAD_CONFIG, files: { 'www/index.html': 'x\n' } });
    const uploads = path.join(srv.dir, 'uploads');
    fs.mkdirSync(uploads);
    await ready(srv);
    const size = 8 * 1024 * 1024; // at 16 KiB per 20 ms this would take 10 s: longer than the grace
    const { head, partHead } = multipart('never-finished.bin', size);
    const c = await RawClient.connect(srv.port);
    let sent = 0;
    let clientGone = false;
    c.socket.on('close', () => (clientGone = true));
    c.socket.on('error', () => (clientGone = true));
    c.send(head + partHead);
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    const pump = setInterval(() => {
      if (clientGone || sent >= size) return;
      c.socket.write(chunk);
      sent += chunk.length;
    }, 20);
    try {
      await valueOf('the temporary .part file', () => (partFiles(uploads).length === 1 ? true : undefined));
      const t0 = Date.now();
      srv.proc.kill('SIGTERM');
      const exit = exited(srv, t0, GRACE_MS + SLACK_MS + 2000);
      // Stops accepting at once, while the upload is still held.
      assert.equal(
        await valueOf(
          'the listener to close',
          async () => ((await probe(srv.port)) === 'ECONNREFUSED' ? true : undefined),
          2000,
        ),
        true,
      );
      const { code, signal, ms } = await exit;
      assert.equal(signal, null);
      assert.equal(code, 0, srv.output());
      assert.ok(ms <= GRACE_MS + SLACK_MS, `exited ${ms} ms after SIGTERM (grace ${GRACE_MS} ms)`);
      assert.ok(sent < size, 'the upload was still in flight when the grace ended');
      assert.deepEqual(fs.readdirSync(uploads), [], 'no stored file and no temporary file left behind');
      assert.match(srv.output(), /^SIGTERM: shutting down$/m);
    } finally {
      clearInterval(pump);
      c.close();
      await stopped(srv);
    }
  });

  test('SIGTERM during an upload that ends within the grace: it is stored whole (201) and the process exits 0', async () => {
    const srv = await startServer({ config: UPLOAD_CONFIG, files: { 'www/index.html': 'x\n' } });
    const uploads = path.join(srv.dir, 'uploads');
    fs.mkdirSync(uploads);
    await ready(srv);
    const data = Buffer.alloc(256 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    const { head, partHead, tail } = multipart('finished.bin', data.length);
    const c = await RawClient.connect(srv.port);
    try {
      c.send(head + partHead);
      c.send(data.subarray(0, 64 * 1024));
      await valueOf('the temporary .part file', () => (partFiles(uploads).length === 1 ? true : undefined));
      const t0 = Date.now();
      srv.proc.kill('SIGTERM');
      const exit = exited(srv, t0, GRACE_MS + SLACK_MS + 2000);
      await valueOf(
        'the listener to close',
        async () => ((await probe(srv.port)) === 'ECONNREFUSED' ? true : undefined),
        2000,
      );
      c.send(data.subarray(64 * 1024));
      c.send(tail);
      const res = await c.read();
      assert.equal(res.status, 201);
      assert.equal(res.header('connection'), 'close', 'no keep-alive while shutting down');
      const { code, ms } = await exit;
      assert.equal(code, 0);
      assert.ok(ms < GRACE_MS, `exited ${ms} ms after SIGTERM: as soon as the last exchange ended`);
      assert.deepEqual(fs.readdirSync(uploads), ['finished.bin']);
      assert.ok(fs.readFileSync(path.join(uploads, 'finished.bin')).equals(data));
    } finally {
      c.close();
      await stopped(srv);
    }
  });

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    test(`${sig} with idle keep-alive connections: they are closed and the process exits 0 promptly`, async () => {
      const srv = await startServer({
        config: UPLOAD_CONFIG,
        files: { 'www/index.html': 'x\n', 'www/a.txt': 'alpha\n' },
      });
      const clients: RawClient[] = [];
      try {
        await ready(srv);
        for (let i = 0; i < 3; i++) {
          const c = await RawClient.connect(srv.port);
          c.send('GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n');
          const r = await c.read();
          assert.equal(r.status, 200);
          assert.equal(r.header('connection'), 'keep-alive');
          clients.push(c);
        }
        clients.push(await RawClient.connect(srv.port)); // and one that never sent a byte
        const t0 = Date.now();
        srv.proc.kill(sig);
        const { code, signal, ms } = await exited(srv, t0, GRACE_MS + SLACK_MS);
        assert.equal(signal, null);
        assert.equal(code, 0);
        assert.ok(ms < SLACK_MS, `exited ${ms} ms after ${sig}; idle connections must not wait for the grace`);
        for (const c of clients) assert.equal((await c.waitClose(2000)).length, 0, 'closed without a byte');
        assert.match(srv.output(), new RegExp(`^${sig}: shutting down$`, 'm'));
      } finally {
        for (const c of clients) c.close();
        await stopped(srv);
      }
    });
  }
});

describe('signals at start-up', () => {
  // A supervisor (or a test) acts on the "listening on" line; a signal sent then must already be handled, not take
  // the default action (SIGHUP and SIGTERM both terminate the process by default).
  const ROUNDS = 10;

  test(`SIGHUP sent as soon as "listening on" is printed reloads and does not kill the process (${ROUNDS} rounds)`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const srv = await startServer({ config: BEFORE, files: FILES });
      try {
        srv.proc.kill('SIGHUP');
        await valueOf('"reloaded" or an exit', () =>
          /^reloaded$/m.test(srv.output()) || srv.proc.exitCode !== null || srv.proc.signalCode !== null
            ? true
            : undefined,
        );
        assert.equal(srv.proc.signalCode, null, `round ${i}: the process was killed by ${srv.proc.signalCode}`);
        assert.equal((await get(srv.port, '/page.txt')).status, 200);
      } finally {
        await stopped(srv);
      }
    }
  });

  test(`SIGTERM sent as soon as "listening on" is printed exits 0 (${ROUNDS} rounds)`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const srv = await startServer({ config: BEFORE, files: FILES });
      const t0 = Date.now();
      srv.proc.kill('SIGTERM');
      const { code, signal } = await exited(srv, t0, GRACE_MS + SLACK_MS);
      assert.equal(signal, null, `round ${i}: the process was killed by ${signal}`);
      assert.equal(code, 0);
    }
  });
});
