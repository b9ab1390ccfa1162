/**
 * The connection state machine without a network: a real Connection and Runtime (from config text, over a temp
 * directory of files) on a FakeTransport, CGI through a FakeLauncher, time through the real Sweep ticked by hand.
 */
import { AccessServices } from '../../src/access/gate.js';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Exchange, Tunnel, TunnelEvents } from '../../src/handlers/exchange.js';
import { NO_BODY } from '../../src/http/response.js';
import { Connection } from '../../src/server/connection.js';
import { LINGER_MS, TRANSITIONS, type ConnState } from '../../src/server/connection-states.js';
import { Logs } from '../../src/server/logs.js';
import { NodeDialer } from '../../src/server/node/dialer.js';
import { Runtime, type Counters } from '../../src/server/runtime.js';
import { Sweep } from '../../src/server/timeouts.js';
import { SessionStores } from '../../src/session/stores.js';
import { configOf } from '../helpers/fake-exchange.js';
import { FakeLauncher } from '../helpers/fake-launcher.js';
import { FakeTransport, parseResponses, type FakeTransportOptions } from '../helpers/fake-transport.js';

const BIG = 200 * 1024; // over the static handler's in-memory limit (64 KiB): sent as a file body
let dir = '';
let bigData = Buffer.alloc(0);

before(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-conn-')));
  const files: Record<string, string | Buffer> = {
    'www/a.txt': 'A',
    'www/b.txt': 'BB',
    'www/c.txt': 'CCC',
    'cgi-bin/s.sh': '# never run: the launcher is a fake\n',
  };
  bigData = Buffer.alloc(BIG);
  for (let i = 0; i < BIG; i++) bigData[i] = (i * 7 + (i >> 10)) & 0xff;
  files['www/big.bin'] = bigData;
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
});

after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Timeouts of the test configuration (the defaults but for body_limit). */
const T = { header: 10_000, body: 10_000, keepalive: 15_000, send: 30_000, cgi: 30_000 };

let serial = 0;

/** A runtime, its sweep and launcher, and the connections opened on it. */
class Harness {
  readonly launcher = new FakeLauncher();
  readonly conns = new Set<Connection>();
  readonly sweep = new Sweep(this.conns, () => undefined);
  readonly runtime: Runtime;
  readonly logFile: string;
  /** Moves seen by connections opened with `record`. */
  readonly moves = new Set<string>();
  private readonly transports: FakeTransport[] = [];

  constructor() {
    this.logFile = path.join(dir, `error-${++serial}.log`);
    const config = configOf(
      `server {
  host 127.0.0.1
  port 8080
  body_limit 1k
  error_log ${this.logFile}
  location / {
    methods GET
    root ${dir}/www
  }
  location /cgi-bin {
    methods GET POST
    root ${dir}/cgi-bin
    cgi .sh /bin/sh
  }
}
`,
      dir,
    );
    const services = {
      sessions: new SessionStores(),
      sweep: this.sweep,
      launcher: this.launcher,
      access: new AccessServices(),
      dialer: new NodeDialer(),
    };
    this.runtime = new Runtime(config, new Logs(config.servers), services);
  }

  /** Accepts a connection over a fresh FakeTransport (as HttpServer.accept does). */
  open(opts: FakeTransportOptions = {}, port = 8080): { conn: Connection; t: FakeTransport } {
    const t = new FakeTransport(opts);
    this.transports.push(t);
    this.runtime.counters.active++;
    const conn = new Connection(t, this.runtime, { port, group: undefined }, (c) => this.conns.delete(c));
    this.conns.add(conn);
    recordMoves(conn, this.moves);
    return { conn, t };
  }

  /** One sweep pass `ms` from now. */
  after(ms: number): void {
    this.sweep.tick(Date.now() + ms);
  }

  errorLog(): string {
    this.runtime.logs.flush();
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '';
  }

  /** Closes what is still open (the transports report close) and the logs. */
  done(): void {
    for (const t of this.transports) t.deliverClose();
    this.runtime.logs.close();
  }
}

/** The connection's private enter(), reached through a typed cast (src/ is not changed for tests). */
interface ConnInternals {
  enter(next: ConnState, now: number): void;
}

/** Records every move a connection makes (those enter() carried out, not those it refused). */
function recordMoves(conn: Connection, moves: Set<string>): void {
  const inner = conn as unknown as ConnInternals;
  const original = inner.enter.bind(conn);
  inner.enter = (next: ConnState, now: number): void => {
    const prev = conn.state;
    original(next, now);
    if (conn.state === next && prev !== next) moves.add(`${prev}→${next}`);
  };
}

/** The exchange of the request a connection is on (the handler's view), through a typed cast. */
function exchangeOf(conn: Connection): Exchange {
  const ex = (conn as unknown as { req: { exchange: Exchange | null } }).req.exchange;
  if (ex === null) throw new Error('no exchange');
  return ex;
}

/** The events a tunnel delivered. */
class TunnelLog implements TunnelEvents {
  data = '';
  ends = 0;
  drains = 0;
  closes = 0;
  onData(chunk: Buffer): void {
    this.data += chunk.toString('latin1');
  }
  onEnd(): void {
    this.ends++;
  }
  onDrain(): void {
    this.drains++;
  }
  onClose(): void {
    this.closes++;
  }
}

/** Switches the current request to a tunnel as a handler would (a 101 with `Upgrade: x`). */
function switchOf(conn: Connection, events: TunnelEvents): Tunnel | null {
  return exchangeOf(conn).upgrade({ status: 101, headers: 'Upgrade: x\r\n', body: NO_BODY, length: 0 }, events);
}

const get = (p: string, extra = '', version = '1.1'): string => `GET ${p} HTTP/${version}\r\nHost: t${extra}\r\n\r\n`;

function withHarness(fn: (h: Harness) => void): () => void {
  return () => {
    const h = new Harness();
    try {
      fn(h);
    } finally {
      h.done();
    }
  };
}

describe('Connection: requests and answers', () => {
  it(
    'answers a GET and keeps the connection',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData(get('/a.txt'));
      const [res, ...rest] = parseResponses(t.output());
      assert.equal(rest.length, 0);
      assert.equal(res?.status, 200);
      assert.equal(res?.body.toString(), 'A');
      assert.equal(res?.header('connection'), 'keep-alive');
      assert.equal(conn.state, 'idle');
      assert.deepEqual(t.ops(), ['setNoDelay', 'write']); // head and body in one write
      assert.equal(t.destroyed || t.closedAfterWrite || t.ended, false);
      // The next request on the same connection.
      t.deliverData(get('/b.txt'));
      assert.deepEqual(
        parseResponses(t.output()).map((r) => r.body.toString()),
        ['A', 'BB'],
      );
      assert.equal(conn.state, 'idle');
    }),
  );

  const PIPELINE = get('/a.txt') + `HEAD /b.txt HTTP/1.1\r\nHost: t\r\n\r\n` + get('/c.txt');
  const answers = (t: FakeTransport): string[] =>
    parseResponses(t.output(), { heads: [false, true, false] }).map(
      (r) => `${r.status} ${r.header('content-length')} ${r.body.toString()}`,
    );
  const EXPECTED = ['200 1 A', '200 2 ', '200 3 CCC'];

  it(
    'answers pipelined requests in one chunk in order',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData(PIPELINE);
      assert.deepEqual(answers(t), EXPECTED);
      assert.equal(conn.state, 'idle');
    }),
  );

  it(
    'answers pipelined requests split at every byte offset, and fed a byte at a time',
    withHarness((h) => {
      for (let i = 1; i < PIPELINE.length; i++) {
        const { conn, t } = h.open();
        t.deliverData(PIPELINE.slice(0, i));
        t.deliverData(PIPELINE.slice(i));
        assert.deepEqual(answers(t), EXPECTED, `split at ${i}`);
        assert.equal(conn.state, 'idle', `split at ${i}`);
        t.deliverClose();
      }
      const { t } = h.open();
      for (const ch of PIPELINE) t.deliverData(ch);
      assert.deepEqual(answers(t), EXPECTED);
    }),
  );

  it(
    'answers HEAD with the head alone and reads the next request right after it',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData(`HEAD /c.txt HTTP/1.1\r\nHost: t\r\n\r\n`);
      const text = t.text();
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(text, /\r\nContent-Length: 3\r\n/);
      assert.ok(text.endsWith('\r\n\r\n'), 'nothing after the head');
      assert.equal(conn.state, 'idle');
      // A large file too: no body byte is written.
      t.clearRecords();
      t.deliverData(`HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n`);
      assert.match(t.text(), new RegExp(`\\r\\nContent-Length: ${BIG}\\r\\n`));
      assert.ok(t.text().endsWith('\r\n\r\n'));
      assert.equal(conn.state, 'idle');
    }),
  );

  it(
    'keeps an HTTP/1.1 connection, closes on Connection: close and for HTTP/1.0 unless it asks for keep-alive',
    withHarness((h) => {
      const cases: [request: string, keep: boolean][] = [
        [get('/a.txt'), true],
        [get('/a.txt', '\r\nConnection: close'), false],
        [get('/a.txt', '', '1.0'), false],
        [get('/a.txt', '\r\nConnection: keep-alive', '1.0'), true],
      ];
      for (const [request, keep] of cases) {
        const { conn, t } = h.open();
        t.deliverData(request);
        const [res] = parseResponses(t.output());
        assert.equal(res?.body.toString(), 'A');
        assert.equal(res?.header('connection'), keep ? 'keep-alive' : 'close', request);
        assert.equal(conn.state, keep ? 'idle' : 'closing', request);
        // A small answer, nothing more to read: closed as soon as it is flushed, no lingering.
        assert.equal(t.closedAfterWrite, !keep, request);
        assert.equal(t.ended || t.destroyed, false, request);
      }
    }),
  );

  it(
    'half-closes after a large Connection: close response instead of closing under the unread bytes',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData(get('/big.bin', '\r\nConnection: close'));
      t.flushAll(); // the client reads it all
      const [res] = parseResponses(t.output());
      assert.equal(res?.body.equals(bigData), true);
      assert.equal(conn.state, 'closing');
      assert.equal(t.closedAfterWrite, false);
      assert.equal(t.ended, true);
      assert.equal(t.destroyed, false);
      // The client has send_timeout to read it, not just the linger time, even if it sends a stray byte.
      t.deliverData('\r\n');
      h.after(LINGER_MS + 500);
      assert.equal(conn.state, 'closing');
      h.after(T.send + 500);
      assert.equal(conn.state, 'closed');
      assert.equal(t.destroyed, true);
    }),
  );
});

describe('Connection: stub_status counts', () => {
  it(
    'answers 421 when no server block listens on the address',
    withHarness((h) => {
      const { conn, t } = h.open({}, 9999);
      t.deliverData(get('/a.txt'));
      const [res] = parseResponses(t.output());
      assert.equal(res?.status, 421);
      assert.equal(res?.header('connection'), 'close');
      assert.equal(conn.state, 'closing');
    }),
  );

  it(
    'counts every request once: answered, pipelined, malformed, timed out, misdirected',
    withHarness((h) => {
      const c = h.runtime.counters;
      const counted = (what: string, n: number, fn: () => void): void => {
        const before = c.requests;
        fn();
        assert.equal(c.requests - before, n, what);
      };
      counted('a GET', 1, () => h.open().t.deliverData(get('/a.txt')));
      counted('three pipelined', 3, () => h.open().t.deliverData(get('/a.txt') + get('/b.txt') + get('/c.txt')));
      counted('a malformed head', 1, () => h.open().t.deliverData('BAD\r\n\r\n'));
      counted('a body timeout', 1, () => {
        h.open().t.deliverData('POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nab');
        h.after(T.body + 1000);
      });
      counted('no server for the address', 1, () => h.open({}, 9999).t.deliverData(get('/a.txt')));
    }),
  );
});

describe('Connection: backpressure', () => {
  it(
    'finishes an in-memory response only once the transport drained',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.full = true;
      t.deliverData(get('/a.txt') + get('/b.txt'));
      assert.equal(conn.state, 'writing');
      assert.deepEqual(
        parseResponses(t.output()).map((r) => r.body.toString()),
        ['A'],
      );
      t.drain();
      assert.deepEqual(
        parseResponses(t.output()).map((r) => r.body.toString()),
        ['A', 'BB'],
      );
      assert.equal(conn.state, 'idle');
    }),
  );

  it(
    'pauses a CGI script while writes are refused and resumes it on drain',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData(get('/cgi-bin/s.sh'));
      assert.equal(conn.state, 'handling');
      const child = h.launcher.child;
      assert.equal(child.spec.stdin, 'null');
      child.out('Content-Type: text/plain\r\n\r\n');
      assert.equal(conn.state, 'writing');
      assert.match(t.text(), /^HTTP\/1\.1 200 OK\r\n[^]*Transfer-Encoding: chunked\r\n/);
      assert.equal(child.stdout.paused, false);
      t.full = true;
      child.out('hello ');
      assert.equal(child.stdout.paused, true, 'stdout paused when the transport refused the chunk');
      t.drain();
      assert.equal(child.stdout.paused, false, 'resumed on drain');
      child.out('world');
      child.outEnd();
      const [res] = parseResponses(t.output());
      assert.equal(res?.body.toString(), 'hello world');
      assert.ok(t.text().endsWith('0\r\n\r\n'));
      assert.equal(conn.state, 'idle');
      // The script exits: its group gets SIGTERM, then SIGKILL after the grace the sweep times.
      child.exit(0);
      child.close();
      assert.deepEqual(child.signals, ['SIGTERM']);
      h.after(2500);
      assert.deepEqual(child.signals, ['SIGTERM', 'SIGKILL']);
    }),
  );

  it(
    'sends a file straight to the kernel while it takes it, then a 1 KiB probe through the queue',
    withHarness((h) => {
      const { conn, t } = h.open({ canTryWrite: true });
      t.tryWriteRoom = 100;
      t.deliverData(get('/big.bin'));
      assert.equal(conn.state, 'writing');
      const calls = t.calls;
      assert.deepEqual(
        calls.map((c) => c.op),
        ['setNoDelay', 'write', 'tryWrite', 'write'],
      );
      const tw = calls[2];
      assert.ok(tw?.op === 'tryWrite');
      assert.equal(tw.took, 100);
      const probe = calls[3];
      assert.ok(probe?.op === 'write');
      assert.equal(probe.data.length, 1024);
      assert.equal(probe.withCallback, true);
      // Nothing more until the probe is written, however often the transport drains.
      const headLen = t.text().indexOf('\r\n\r\n') + 4;
      assert.equal(t.output().length, headLen + 100 + 1024);
      conn.onDrain(); // a drain alone does not resume the pump: the probe's completion does
      assert.equal(t.output().length, headLen + 1124);
      // The kernel took the probe but still has no room: one more probe, no more.
      t.flush();
      assert.equal(t.output().length, headLen + 1124 + 1024);
      assert.equal(t.pendingCallbacks, 1);
      // Room again: the rest goes in direct writes.
      t.tryWriteRoom = Infinity;
      t.flush();
      const [res] = parseResponses(t.output());
      assert.equal(res?.body.equals(bigData), true);
      assert.equal(conn.state, 'idle');
      assert.equal(t.pendingCallbacks, 0);
    }),
  );

  it(
    'without direct writes, queues a file a chunk at a time, each after the previous one was written',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.full = true;
      t.deliverData(get('/big.bin'));
      const headLen = t.text().indexOf('\r\n\r\n') + 4;
      assert.equal(t.output().length, headLen + 64 * 1024);
      assert.equal(t.pendingCallbacks, 1);
      assert.equal(conn.state, 'writing');
      t.drain();
      assert.equal(t.output().length, headLen + 128 * 1024);
      t.flushAll();
      const [res] = parseResponses(t.output());
      assert.equal(res?.body.equals(bigData), true);
      assert.equal(conn.state, 'idle');
    }),
  );
});

describe('Connection: the client ending its side', () => {
  it(
    'finishes a file response after the client sent its FIN, then closes instead of waiting for another request',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData(get('/big.bin'));
      assert.equal(conn.state, 'writing');
      t.deliverEnd(); // a half-close: the client still reads
      assert.equal(conn.state, 'writing');
      assert.equal(t.destroyed, false);
      t.flushAll();
      const [res] = parseResponses(t.output());
      assert.equal(res?.body.equals(bigData), true);
      assert.equal(conn.state, 'closing', 'no request can follow a FIN');
      assert.equal(t.closedAfterWrite, true);
    }),
  );

  it(
    'answers pipelined requests that came before the FIN, the last one with Connection: close',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.full = true;
      t.deliverData(get('/a.txt') + get('/b.txt'));
      t.deliverEnd();
      t.drain();
      const rs = parseResponses(t.output());
      assert.deepEqual(
        rs.map((r) => `${r.body.toString()} ${r.header('connection')}`),
        ['A keep-alive', 'BB close'],
      );
      assert.equal(conn.state, 'closing');
      assert.equal(t.closedAfterWrite, true);
    }),
  );

  it(
    'aborts a streamed response (and its script) when the client leaves',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData(get('/cgi-bin/s.sh'));
      const child = h.launcher.child;
      child.out('Content-Type: text/plain\r\n\r\npart');
      assert.equal(conn.state, 'writing');
      t.deliverEnd();
      assert.equal(conn.state, 'closed');
      assert.equal(t.destroyed, true);
      assert.deepEqual(child.signals, ['SIGKILL']);
    }),
  );

  it(
    'closes at once an idle connection whose client ended, and answers a head cut by FIN with 400',
    withHarness((h) => {
      const idle = h.open();
      idle.t.deliverData(get('/a.txt'));
      idle.t.deliverEnd();
      assert.equal(idle.conn.state, 'closed');
      assert.equal(idle.t.destroyed, true);

      const half = h.open();
      half.t.deliverData('GET /a.txt HTTP/1.1\r\nHo');
      half.t.deliverEnd();
      const [res] = parseResponses(half.t.output());
      assert.equal(res?.status, 400);
      assert.equal(half.conn.state, 'closing');
      assert.equal(half.t.closedAfterWrite, true, 'nothing more can come: no lingering');
    }),
  );
});

describe('Connection: errors, limits and bodies', () => {
  it(
    'lingers after a 400: ends its side and reads on, discarding, instead of destroying',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.pause(); // reading was paused: the lingering close must resume it
      t.clearRecords();
      t.deliverData('GET /a.txt HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\nmore');
      const [res] = parseResponses(t.output());
      assert.equal(res?.status, 400);
      assert.equal(res?.header('connection'), 'close');
      assert.equal(conn.state, 'closing');
      assert.deepEqual(t.ops(), ['write', 'resume', 'end']);
      assert.equal(t.paused, false);
      const before = t.output().length;
      t.deliverData('GET /b.txt HTTP/1.1\r\n\r\n'); // dropped
      assert.equal(t.output().length, before);
      assert.equal(conn.state, 'closing');
      h.after(LINGER_MS + 500);
      assert.equal(conn.state, 'closed');
      assert.equal(t.destroyed, true);
      assert.match(h.errorLog(), /\[info\] 127\.0\.0\.1: 400 /);
    }),
  );

  it(
    'closes a lingering connection once the client sends its FIN',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData('BAD\r\n\r\n');
      assert.equal(conn.state, 'closing');
      t.deliverEnd();
      assert.equal(conn.state, 'closed');
      assert.equal(t.destroyed, true);
    }),
  );

  it(
    'answers 413 for a declared length over body_limit without reading the body or running the handler',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData(
        'POST /cgi-bin/s.sh HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n' +
          'x'.repeat(700),
      );
      const [res, ...rest] = parseResponses(t.output());
      assert.equal(rest.length, 0, 'no 100 Continue, nothing but the 413');
      assert.equal(res?.status, 413);
      assert.equal(res?.header('connection'), 'close');
      assert.equal(h.launcher.children.length, 0, 'the script never ran');
      assert.equal(conn.state, 'closing');
      assert.equal(t.ended, true);
      assert.equal(t.destroyed, false);
      // The rest of the body is discarded.
      const before = t.output().length;
      t.deliverData('x'.repeat(4300));
      assert.equal(t.output().length, before);
    }),
  );

  it(
    'answers 413 when a chunked body grows past body_limit, and kills the script that was reading it',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData('POST /cgi-bin/s.sh HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n');
      assert.equal(conn.state, 'body');
      t.deliverData('400\r\n' + 'y'.repeat(1024) + '\r\n');
      assert.equal(t.output().length, 0);
      t.deliverData('1\r\nz\r\n');
      const [res] = parseResponses(t.output());
      assert.equal(res?.status, 413);
      assert.equal(conn.state, 'closing');
      assert.equal(h.launcher.children.length, 0, 'a chunked body is spooled before the script starts');
    }),
  );

  it(
    'sends 100 Continue only when the body will be read',
    withHarness((h) => {
      const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
      // A script reads it.
      {
        const { conn, t } = h.open();
        t.deliverData('POST /cgi-bin/s.sh HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
        assert.equal(t.text(), CONTINUE);
        assert.equal(conn.state, 'body');
        t.deliverData('hello');
        assert.equal(conn.state, 'handling');
        const child = h.launcher.last;
        assert.equal(child.stdin?.bytes.toString(), 'hello');
        assert.equal(child.stdin?.ended, true);
        assert.equal(child.spec.env['CONTENT_LENGTH'], '5');
        child.out('Status: 201 Created\r\nContent-Length: 2\r\n\r\nok');
        const rs = parseResponses(t.output());
        assert.deepEqual(
          rs.map((r) => r.status),
          [100, 201],
        );
        assert.equal(rs[1]?.body.toString(), 'ok');
        assert.equal(conn.state, 'idle');
      }
      // Answered without the body (405): no 100, the answer at once, and close.
      {
        const { conn, t } = h.open();
        t.deliverData('POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
        const [res, ...rest] = parseResponses(t.output());
        assert.equal(rest.length, 0);
        assert.equal(res?.status, 405);
        assert.equal(res?.header('connection'), 'close');
        assert.equal(conn.state, 'closing');
        assert.equal(t.ended, true, 'lingering: the client may send the body anyway');
      }
      // HTTP/1.0 has no 100 Continue.
      {
        const { conn, t } = h.open();
        t.deliverData('POST /cgi-bin/s.sh HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
        assert.equal(t.output().length, 0);
        assert.equal(conn.state, 'body');
      }
    }),
  );

  it(
    'holds an answer while a discarded body is read, then writes it and keeps the connection',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData('POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n01234');
      assert.equal(conn.state, 'body');
      assert.equal(t.output().length, 0, 'held');
      t.deliverData('567');
      assert.equal(t.output().length, 0, 'still held');
      t.deliverData('89' + get('/b.txt'));
      const rs = parseResponses(t.output());
      assert.deepEqual(
        rs.map((r) => `${r.status} ${r.header('connection')}`),
        ['405 keep-alive', '200 keep-alive'],
      );
      assert.equal(rs[1]?.body.toString(), 'BB');
      assert.equal(conn.state, 'idle');
    }),
  );

  it(
    'pauses reading while a script cannot take more of the body, and resumes on its drain',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData('POST /cgi-bin/s.sh HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\n');
      const child = h.launcher.child;
      const stdin = child.stdin;
      assert.ok(stdin !== null);
      stdin.accepts = false;
      t.deliverData('abc');
      assert.equal(t.paused, true);
      t.deliverData('def'); // arrived before the pause took effect: kept, not fed
      assert.equal(stdin.bytes.toString(), 'abc');
      child.stdinDrain();
      assert.equal(t.paused, false);
      assert.equal(stdin.bytes.toString(), 'abcdef');
      assert.equal(stdin.ended, true);
      assert.equal(conn.state, 'handling');
    }),
  );
  it(
    'gives no 408 while a script, not the client, is slow to take the body; the body timeout restarts on resume',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData('POST /cgi-bin/s.sh HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\n');
      const child = h.launcher.child;
      const stdin = child.stdin;
      assert.ok(stdin !== null);
      stdin.accepts = false;
      t.deliverData('abc');
      assert.equal(t.paused, true);
      h.after(T.body + 500); // the script has not read for longer than client_body_timeout
      assert.equal(conn.state, 'body');
      assert.equal(t.text(), '', 'answered while the script was the slow one');
      assert.deepEqual(child.signals, []);
      child.stdinDrain();
      assert.equal(t.paused, false);
      t.deliverData('def');
      assert.equal(stdin.bytes.toString(), 'abcdef');
      assert.equal(conn.state, 'handling');
    }),
  );
});

describe('Connection: handlers through the cycle', () => {
  it(
    'spools a chunked body for a script, launches it, and answers the pipelined request after it',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData(
        'POST /cgi-bin/s.sh HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' +
          get('/b.txt'),
      );
      const child = h.launcher.child;
      assert.equal(child.stdinFromFd?.toString(), 'hello');
      assert.equal(child.spec.env['CONTENT_LENGTH'], '5');
      assert.equal(conn.state, 'handling');
      assert.equal(t.output().length, 0, 'the pipelined request waits');
      child.out('Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nok');
      assert.deepEqual(
        parseResponses(t.output()).map((r) => r.body.toString()),
        ['ok', 'BB'],
      );
      assert.equal(conn.state, 'idle');
    }),
  );

  it(
    'answers HEAD to a script without its body, stopping the script, and keeps the connection',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData('HEAD /cgi-bin/s.sh HTTP/1.1\r\nHost: t\r\n\r\n');
      const child = h.launcher.child;
      child.out('Content-Type: text/plain\r\n\r\nbody that is not sent');
      assert.ok(t.text().endsWith('Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n'));
      assert.deepEqual(child.signals, ['SIGKILL']);
      assert.equal(conn.state, 'idle');
    }),
  );

  it(
    "serves a script's local redirect from wherever it lands, and gives up with 500 after 10 in a row",
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData(get('/cgi-bin/s.sh'));
      h.launcher.child.out('Location: /a.txt\r\n\r\n');
      const [res] = parseResponses(t.output());
      assert.equal(res?.status, 200);
      assert.equal(res?.body.toString(), 'A');
      assert.equal(conn.state, 'idle');

      const loop = h.open();
      loop.t.deliverData(get('/cgi-bin/s.sh?again'));
      for (let i = 0; i < 11; i++) h.launcher.last.out('Location: /cgi-bin/s.sh?again\r\n\r\n');
      assert.equal(h.launcher.children.length, 1 + 11, 'the first run and ten reroutes');
      const [loopRes] = parseResponses(loop.t.output());
      assert.equal(loopRes?.status, 500);
      assert.match(h.errorLog(), /more than 10 internal redirects for \/cgi-bin\/s\.sh\?again/);
      for (const c of h.launcher.children) assert.deepEqual(c.signals, ['SIGKILL']);
    }),
  );

  it(
    'answers 500 and closes when a handler throws',
    withHarness((h) => {
      h.launcher.launch = () => {
        throw new Error('boom');
      };
      const { conn, t } = h.open();
      t.deliverData(get('/cgi-bin/s.sh'));
      const [res] = parseResponses(t.output());
      assert.equal(res?.status, 500);
      assert.equal(res?.header('connection'), 'close');
      assert.equal(conn.state, 'closing');
      assert.match(h.errorLog(), /handler failed for GET \/cgi-bin\/s\.sh: Error: boom/);
    }),
  );

  it(
    'stops reading past 64 KiB of pipelined requests while one is answered, and reads on after it',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.full = true;
      t.deliverData(get('/a.txt'));
      assert.equal(conn.state, 'writing');
      const one = get('/b.txt');
      const count = Math.ceil((64 * 1024) / one.length) + 1;
      t.deliverData(one.repeat(count));
      assert.equal(t.paused, true);
      t.drain();
      assert.equal(t.paused, false);
      assert.equal(parseResponses(t.output()).length, 1 + count);
      assert.equal(conn.state, 'idle');
    }),
  );

  it(
    'closes connections when the server shuts down: idle ones at once, busy ones after their response',
    withHarness((h) => {
      const idle = h.open();
      idle.t.deliverData(get('/a.txt'));
      const busy = h.open();
      busy.t.full = true;
      busy.t.deliverData(get('/b.txt'));
      const later = h.open();
      later.t.deliverData('GET /c.txt HTTP/1.1\r\n');
      h.runtime.shuttingDown = true;
      for (const c of [idle, busy, later]) c.conn.shutdown();
      assert.equal(idle.conn.state, 'closed');
      assert.equal(busy.conn.state, 'writing');
      assert.equal(later.conn.state, 'head', 'half a request is answered first');
      busy.t.drain();
      assert.equal(busy.conn.state, 'closing');
      later.t.deliverData('Host: t\r\n\r\n');
      const [res] = parseResponses(later.t.output());
      assert.equal(res?.body.toString(), 'CCC');
      assert.equal(res?.header('connection'), 'close');
      assert.equal(later.conn.state, 'closing');
    }),
  );
});

describe('Connection: timeouts by sweep ticks', () => {
  it(
    'answers 408 to half a head once client_header_timeout passed',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData('GET /a.txt HT');
      h.after(T.header - 1000);
      assert.equal(conn.state, 'head');
      assert.equal(t.output().length, 0);
      h.after(T.header + 1000);
      const [res] = parseResponses(t.output());
      assert.equal(res?.status, 408);
      assert.equal(res?.header('connection'), 'close');
      assert.equal(conn.state, 'closing');
      assert.equal(t.ended, true);
    }),
  );

  it(
    'closes silently a connection that never sent a byte, and an idle one after keepalive_timeout',
    withHarness((h) => {
      const fresh = h.open();
      h.after(T.header + 1000);
      assert.equal(fresh.conn.state, 'closed');
      assert.equal(fresh.t.destroyed, true);
      assert.equal(fresh.t.output().length, 0);

      const { conn, t } = h.open();
      t.deliverData(get('/a.txt'));
      assert.equal(conn.state, 'idle');
      const before = t.output().length;
      h.after(T.keepalive - 1000);
      assert.equal(conn.state, 'idle');
      h.after(T.keepalive + 1000);
      assert.equal(conn.state, 'closed');
      assert.equal(t.destroyed, true);
      assert.equal(t.output().length, before, 'nothing written');
    }),
  );

  it(
    'answers 408 to a body that stops arriving, and kills the script reading it',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData('POST /cgi-bin/s.sh HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n123');
      const child = h.launcher.child;
      h.after(T.body + 1000);
      const [res] = parseResponses(t.output());
      assert.equal(res?.status, 408);
      assert.equal(conn.state, 'closing');
      assert.deepEqual(child.signals, ['SIGKILL']);
    }),
  );

  it(
    'cuts a response the client does not read within send_timeout',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.full = true;
      t.deliverData(get('/a.txt'));
      assert.equal(conn.state, 'writing');
      h.after(T.send - 1000);
      assert.equal(conn.state, 'writing');
      h.after(T.send + 1000);
      assert.equal(conn.state, 'closed');
      assert.equal(t.destroyed, true);
      assert.match(h.errorLog(), /\[error\] 127\.0\.0\.1: send timeout/);
    }),
  );

  it(
    'gives a running script no connection timeout (cgi_timeout bounds it), then answers its 504',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData(get('/cgi-bin/s.sh'));
      const child = h.launcher.child;
      h.after(T.cgi - 1000);
      assert.equal(conn.state, 'handling');
      h.after(T.cgi + 1000);
      const [res] = parseResponses(t.output());
      assert.equal(res?.status, 504);
      assert.deepEqual(child.signals, ['SIGKILL']);
      assert.equal(conn.state, 'idle');
    }),
  );
});

describe('Connection: the state table', () => {
  it(
    'reaches every legal move of TRANSITIONS through events, and no other',
    withHarness((h) => {
      const counters: Counters = h.runtime.counters;
      const base = { reading: counters.reading, writing: counters.writing, waiting: counters.waiting };
      // head → handling → writing → head (pipelined) … → idle → head; idle → closed.
      {
        const { t } = h.open();
        t.deliverData(get('/a.txt') + get('/b.txt'));
        t.deliverData(get('/c.txt'));
        h.after(T.keepalive + 1000);
        assert.equal(t.destroyed, true);
      }
      // head → body → handling (a script reads it) → writing → closing → closed.
      {
        const { t } = h.open();
        t.deliverData('POST /cgi-bin/s.sh HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi');
        h.launcher.last.out('Content-Type: text/plain\r\nContent-Length: 0\r\n\r\n');
        assert.equal(t.closedAfterWrite, true);
        t.deliverClose();
      }
      // head → writing (a malformed head) → closing → closed.
      {
        const { t } = h.open();
        t.deliverData('BAD\r\n\r\n');
        t.deliverEnd();
      }
      // head → closed (silent timeout).
      h.open();
      h.after(T.header + 1000);
      // body → writing (a held answer).
      {
        const { t } = h.open();
        t.deliverData('POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx');
        assert.match(t.text(), /^HTTP\/1\.1 405 /);
        t.deliverClose();
      }
      // body → closed (the client gives up on its body).
      {
        const { t } = h.open();
        t.deliverData('POST /cgi-bin/s.sh HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\nabc');
        t.deliverEnd();
        assert.equal(t.destroyed, true);
      }
      // handling → closed (the client leaves while the script runs).
      {
        const { t } = h.open();
        t.deliverData(get('/cgi-bin/s.sh'));
        t.deliverClose();
        assert.deepEqual(h.launcher.last.signals, ['SIGKILL']);
      }
      // writing → closed (the client leaves mid-response).
      {
        const { t } = h.open();
        t.full = true;
        t.deliverData(get('/a.txt'));
        t.deliverClose();
      }
      // handling → tunnel (the handler switches protocols) → closed.
      {
        const { conn, t } = h.open();
        t.deliverData(get('/cgi-bin/s.sh'));
        assert.notEqual(switchOf(conn, new TunnelLog()), null);
        t.deliverClose();
      }
      const table = new Set<string>();
      for (const [from, tos] of Object.entries(TRANSITIONS)) for (const to of tos) table.add(`${from}→${to}`);
      assert.deepEqual([...h.moves].sort(), [...table].sort());
      assert.equal(h.conns.size, 0);
      // Every connection is closed: the stub_status counters are back where they were.
      assert.deepEqual({ reading: counters.reading, writing: counters.writing, waiting: counters.waiting }, base);
    }),
  );

  it(
    'refuses an illegal move: logs "bug:" and closes the connection',
    withHarness((h) => {
      const { conn, t } = h.open();
      const before = { ...h.runtime.counters };
      (conn as unknown as ConnInternals).enter('idle', Date.now());
      assert.equal(conn.state, 'closed');
      assert.equal(t.destroyed, true);
      assert.match(h.errorLog(), /\[error\] bug: connection from 127\.0\.0\.1 moved head → idle; closed/);
      assert.equal(h.moves.has('head→idle'), false);
      assert.equal(h.runtime.counters.reading, before.reading - 1);
      assert.equal(h.runtime.counters.waiting, before.waiting, 'the refused move counted nothing');

      const second = h.open();
      second.t.full = true;
      second.t.deliverData(get('/a.txt'));
      assert.equal(second.conn.state, 'writing');
      (second.conn as unknown as ConnInternals).enter('body', Date.now());
      assert.equal(second.conn.state, 'closed');
      assert.match(h.errorLog(), /bug: connection from 127\.0\.0\.1 moved writing → body; closed/);
    }),
  );
});

describe('Connection: tunnels (RFC 9110 §7.8)', () => {
  it(
    'writes the 101, hands over the bytes behind the head, relays both ways, and outlives the HTTP timeouts',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData(get('/cgi-bin/s.sh') + 'EARLY');
      const log = new TunnelLog();
      const tun = switchOf(conn, log);
      assert.ok(tun !== null);
      assert.equal(conn.state, 'tunnel');
      assert.equal(tun.early.toString(), 'EARLY');
      assert.match(t.text(), /^HTTP\/1\.1 101 Switching Protocols\r\n[^]*Upgrade: x\r\nConnection: upgrade\r\n\r\n$/);
      assert.equal(t.noDelay, true);
      t.clearRecords();
      t.deliverData('from client');
      assert.equal(log.data, 'from client');
      assert.equal(tun.write(Buffer.from('to client')), true);
      assert.equal(t.text(), 'to client');
      tun.pause();
      assert.equal(t.paused, true);
      tun.resume();
      assert.equal(t.paused, false);
      // Neither the header, the keep-alive nor the send timeout applies to a tunnel that is not blocked.
      h.after(T.header + T.keepalive + T.send + 1000);
      assert.equal(t.destroyed, false);
      assert.equal(conn.state, 'tunnel');
      // A FIN from the client is the handler's to pass on, not a reason to close.
      t.deliverEnd();
      assert.equal(log.ends, 1);
      assert.equal(t.destroyed, false);
      tun.end();
      assert.equal(t.ended, true);
      tun.close();
      assert.equal(t.closedAfterWrite, true);
      t.deliverClose();
      assert.equal(log.closes, 1);
      assert.equal(conn.state, 'closed');
      assert.equal(h.runtime.counters.writing, 0);
    }),
  );

  it(
    'runs send_timeout only while a write to the client waits',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.deliverData(get('/cgi-bin/s.sh'));
      const log = new TunnelLog();
      const tun = switchOf(conn, log);
      assert.ok(tun !== null);
      t.full = true;
      assert.equal(tun.write(Buffer.from('x')), false);
      t.drain();
      assert.equal(log.drains, 1);
      h.after(T.send + 1000);
      assert.equal(t.destroyed, false, 'drained: no deadline');
      t.full = true;
      assert.equal(tun.write(Buffer.from('y')), false);
      h.after(T.send - 1000);
      assert.equal(t.destroyed, false);
      h.after(T.send + 1000);
      assert.equal(t.destroyed, true);
      assert.equal(log.closes, 1);
      assert.match(h.errorLog(), /send timeout in a tunnel/);
    }),
  );

  it(
    'refuses to switch once an answer started, or outside handling',
    withHarness((h) => {
      const { conn, t } = h.open();
      t.full = true;
      t.deliverData(get('/cgi-bin/s.sh'));
      const ex = exchangeOf(conn);
      h.launcher.last.out('Content-Type: text/plain\r\n\r\nbody');
      assert.equal(conn.state, 'writing');
      assert.equal(ex.upgrade({ status: 101, headers: '', body: NO_BODY, length: 0 }, new TunnelLog()), null);
      assert.equal(conn.state, 'writing');
      const body = h.open();
      body.t.deliverData('POST /cgi-bin/s.sh HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nab');
      assert.equal(body.conn.state, 'body');
      assert.equal(switchOf(body.conn, new TunnelLog()), null);
      assert.equal(body.conn.state, 'body');
    }),
  );
});
