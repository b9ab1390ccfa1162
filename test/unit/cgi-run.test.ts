/**
 * One CGI run (handlers/cgi/run.ts) driven directly: a FakeExchange for the connection's side, a FakeLauncher for
 * the script's, timers fired by hand. The phases in order, bodies in (piped, spooled), output held and streamed,
 * redirects, failures, and how the script's process group is ended.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ServerConfig } from '../../src/config/types.js';
import { serveCgi } from '../../src/handlers/cgi/index.js';
import { CgiRun } from '../../src/handlers/cgi/run.js';
import { findScript } from '../../src/handlers/cgi/script.js';
import type { BodyReceiver } from '../../src/handlers/exchange.js';
import type { BodySource, Response } from '../../src/http/response.js';
import type { Session } from '../../src/session/store.js';
import { configOf, FakeExchange, FakeSink } from '../helpers/fake-exchange.js';
import { FakeLauncher, type FakeChild } from '../helpers/fake-launcher.js';

const CGI_TIMEOUT = 5000;
let dir = '';
let server: ServerConfig;

before(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-cgirun-')));
  fs.mkdirSync(path.join(dir, 'cgi-bin'));
  fs.writeFileSync(path.join(dir, 'cgi-bin', 's.sh'), '# never run: the launcher is a fake\n');
  const config = configOf(
    `server {
  host 127.0.0.1
  port 8080
  server_name cgi.test
  cgi_timeout 5s
  location /cgi-bin {
    methods GET POST
    root ${dir}/cgi-bin
    cgi .sh /bin/sh
  }
}
`,
    dir,
  );
  const s = config.servers[0];
  assert.ok(s !== undefined);
  server = s;
});

after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The run's private phase, and its moves, reached through a typed cast. */
interface RunInternals {
  phase: string;
  move(next: string): void;
}

interface Started {
  readonly ex: FakeExchange;
  readonly launcher: FakeLauncher;
  readonly run: CgiRun;
  readonly receiver: BodyReceiver | null;
  /** The phase after begin(), then every move. */
  readonly phases: string[];
  readonly phase: () => string;
}

/** Starts a run for `request` (a request head). */
function start(request: string, session: Session | null = null): Started {
  const launcher = new FakeLauncher();
  const ex = new FakeExchange({ request, server, launcher, session });
  const loc = ex.location;
  assert.ok(loc !== null && loc.root !== null);
  const script = findScript(loc, loc.root, ex.path);
  assert.ok(script !== null);
  const run = new CgiRun(ex, script);
  const inner = run as unknown as RunInternals;
  const phases: string[] = [];
  const move = inner.move.bind(run);
  inner.move = (next: string): void => {
    move(next);
    phases.push(inner.phase);
  };
  const receiver = run.begin();
  phases.unshift(inner.phase);
  return { ex, launcher, run, receiver, phases, phase: () => inner.phase };
}

const GET = 'GET /cgi-bin/s.sh/extra?q=1 HTTP/1.1\r\nHost: cgi.test\r\n\r\n';
const post = (extra: string): string => `POST /cgi-bin/s.sh HTTP/1.1\r\nHost: cgi.test\r\n${extra}\r\n`;

/** The stream source of a response. */
function sourceOf(res: Response): BodySource {
  assert.equal(res.body.kind, 'stream');
  if (res.body.kind !== 'stream') throw new Error('unreachable');
  return res.body.source;
}

/** Starts writing the response into a fresh sink, as the connection's writer would. */
function startSink(res: Response): FakeSink {
  const sink = new FakeSink();
  sourceOf(res).start(sink);
  return sink;
}

const near = (at: number, ms: number): boolean => Math.abs(at - (Date.now() + ms)) < 1000;

describe('CgiRun: the phases of a run', () => {
  it('GET: awaitingHeaders → streaming → finishing → done, the script started with no stdin', () => {
    const { ex, launcher, receiver, phases, phase } = start(GET);
    assert.equal(receiver, null);
    const child = launcher.child;
    assert.equal(child.spec.file, '/bin/sh');
    assert.deepEqual(child.spec.args, [path.join(dir, 'cgi-bin', 's.sh')]);
    assert.equal(child.spec.cwd, path.join(dir, 'cgi-bin'));
    assert.equal(child.spec.stdin, 'null');
    assert.equal(child.spec.env['REQUEST_METHOD'], 'GET');
    assert.equal(child.spec.env['PATH_INFO'], '/extra');
    assert.equal(child.spec.env['CONTENT_LENGTH'], undefined);
    // cgi_timeout runs for the header block.
    assert.equal(ex.pending.length, 1);
    assert.ok(near(ex.pending[0]?.at ?? 0, CGI_TIMEOUT));

    child.out('Content-Type: text/plain\r\nX-A: 1\r\n\r\nfirst ');
    assert.equal(phase(), 'streaming');
    assert.equal(ex.pending.length, 0, 'the header timeout is cancelled');
    const res = ex.response;
    assert.equal(res.status, 200);
    assert.equal(res.headers, 'Content-Type: text/plain\r\nX-A: 1\r\n');
    assert.equal(res.length, -1);
    child.out('held ');
    const sink = startSink(res);
    assert.equal(sink.text, 'first held ', 'output before the response started is replayed');
    child.out('streamed');
    child.outEnd();
    assert.equal(sink.text, 'first held streamed');
    assert.equal(sink.ended, true);
    assert.equal(phase(), 'finishing');
    child.errEnd();
    child.exit(0);
    child.close();
    assert.equal(phase(), 'finishing', 'the group still has its grace period');
    assert.equal(ex.fireTimers(), 1);
    assert.equal(phase(), 'done');
    assert.deepEqual(phases, ['awaitingHeaders', 'streaming', 'finishing', 'done']);
    assert.deepEqual(ex.errors, []);
  });

  it('Content-Length body: piped to stdin; headers before the body ends are held until it has', () => {
    const { ex, launcher, receiver, phases, phase } = start(post('Content-Length: 11\r\n'));
    assert.ok(receiver !== null);
    const child = launcher.child;
    assert.equal(child.spec.env['CONTENT_LENGTH'], '11');
    assert.equal(ex.pending.length, 0, 'no header timeout while the body arrives');
    const stdin = child.stdin;
    assert.ok(stdin !== null);
    assert.equal(receiver.data(Buffer.from('hello ')), true);
    child.out('Status: 201 Created\r\nContent-Type: text/plain\r\n\r\nearly');
    assert.equal(ex.responses.length, 0, 'held: the upload is not cut short');
    assert.equal(phase(), 'awaitingHeaders');
    assert.equal(receiver.data(Buffer.from('world')), true);
    receiver.end();
    assert.equal(stdin.bytes.toString(), 'hello world');
    assert.equal(stdin.ended, true);
    const res = ex.response;
    assert.equal(res.status, 201);
    assert.equal(phase(), 'streaming');
    const sink = startSink(res);
    assert.equal(sink.text, 'early');
    child.finish();
    assert.equal(sink.ended, true);
    assert.deepEqual(phases, ['awaitingHeaders', 'streaming', 'finishing']);
    assert.deepEqual(child.signals, ['SIGTERM']);
  });

  it('chunked body: spooled, then the script launched with the spool as stdin and its true length', () => {
    const { ex, launcher, receiver, phases, phase } = start(post('Transfer-Encoding: chunked\r\n'));
    assert.ok(receiver !== null);
    assert.equal(phase(), 'spooling');
    assert.equal(launcher.children.length, 0);
    assert.equal(receiver.data(Buffer.from('abc')), true);
    assert.equal(receiver.data(Buffer.from('defg')), true);
    assert.equal(launcher.children.length, 0);
    receiver.end();
    const child = launcher.child;
    assert.equal(phase(), 'awaitingHeaders');
    assert.equal(typeof child.spec.stdin, 'number');
    assert.equal(child.stdinFromFd?.toString(), 'abcdefg');
    assert.equal(child.spec.env['CONTENT_LENGTH'], '7');
    assert.equal(child.spec.env['HTTP_TRANSFER_ENCODING'], undefined);
    assert.throws(() => fs.fstatSync(child.spec.stdin as number), 'our copy of the spool is closed');
    assert.equal(ex.pending.length, 1, 'the header timeout starts with the launch');
    child.out('Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nok');
    const res = ex.response;
    assert.equal(res.length, 2);
    const sink = startSink(res);
    assert.equal(sink.text, 'ok');
    assert.equal(sink.ended, true, 'complete at its Content-Length');
    assert.deepEqual(phases, ['spooling', 'awaitingHeaders', 'streaming', 'finishing']);
  });
});

describe('CgiRun: what the script answers', () => {
  it('serves a local redirect again through reroute(), and kills the script', () => {
    const { ex, launcher, phase } = start(GET);
    const child = launcher.child;
    child.out('Location: /cgi-bin/other.sh?x=1\r\n\r\nignored');
    assert.deepEqual(ex.reroutes, ['/cgi-bin/other.sh?x=1']);
    assert.equal(ex.responses.length, 0);
    assert.deepEqual(child.signals, ['SIGKILL']);
    assert.equal(child.stdout.destroyed, true);
    assert.equal(phase(), 'finishing');
    child.exit(null, 'SIGKILL');
    child.close();
    assert.equal(phase(), 'done');
  });

  it('answers a client redirect (a full URL) with 302 instead', () => {
    const { ex, launcher } = start(GET);
    launcher.child.out('Location: http://example.com/x\r\n\r\n');
    assert.deepEqual(ex.reroutes, []);
    assert.equal(ex.response.status, 302);
    assert.match(ex.response.headers, /^Location: http:\/\/example\.com\/x\r\n$/);
  });

  it('answers 502 to a bad header block and kills the script', () => {
    const { ex, launcher, phase } = start(GET);
    const child = launcher.child;
    child.out('this is not a header\r\n');
    assert.equal(ex.response.status, 502);
    assert.equal(ex.response.body.kind, 'bytes');
    assert.deepEqual(child.signals, ['SIGKILL']);
    assert.match(ex.errors.join('\n'), /cgi \/cgi-bin\/s\.sh: bad header block: not a header line/);
    assert.equal(phase(), 'finishing');
    assert.equal(child.out('more'), false, 'its stdout is closed');
  });

  it('answers 502 when stdout ends before the header block is complete', () => {
    const { ex, launcher } = start(GET);
    launcher.child.out('Content-Type: text/plain\r\n');
    launcher.child.outEnd();
    assert.equal(ex.response.status, 502);
    assert.match(ex.errors.join('\n'), /output ended before a complete header block/);
  });

  it("cuts the response when the body falls short of the script's Content-Length", () => {
    const { ex, launcher } = start(GET);
    const child = launcher.child;
    child.out('Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nab');
    const sink = startSink(ex.response);
    child.outEnd();
    assert.equal(sink.ended, false);
    assert.equal(sink.failure, 'cgi /cgi-bin/s.sh failed');
    assert.equal(ex.responses.length, 1, 'no second answer');
    assert.match(ex.errors.join('\n'), /output ended after 2 of its 5 Content-Length bytes/);
  });

  it('answers 502 when the script cannot be started, at once or later', () => {
    {
      const launcher = new FakeLauncher();
      launcher.failNext = 'EMFILE';
      const ex = new FakeExchange({ request: GET, server, launcher });
      const loc = ex.location;
      assert.ok(loc?.root != null);
      const script = findScript(loc, loc.root, ex.path);
      assert.ok(script !== null);
      assert.equal(serveCgi(ex, script), null);
      assert.equal(ex.response.status, 502);
      assert.match(ex.errors.join('\n'), /cannot run \/bin\/sh: EMFILE/);
    }
    const { ex, launcher } = start(GET);
    launcher.child.spawnError('ENOENT');
    assert.equal(ex.response.status, 502);
    assert.deepEqual(launcher.child.signals, ['SIGKILL']);
  });

  it('applies the session headers and never forwards them', () => {
    const session: Session = { id: 'sid123', owner: '192.0.2.7', data: 'a=1', lastSeen: 0, created: 0 };
    const { ex, launcher } = start(GET, session);
    assert.equal(launcher.child.spec.env['SESSION_ID'], 'sid123');
    assert.equal(launcher.child.spec.env['SESSION_DATA'], 'a=1');
    launcher.child.out('Content-Type: text/plain\r\nX-Session-Data: b=2\r\n\r\n');
    assert.deepEqual(ex.sessionWrites, ['b=2']);
    assert.doesNotMatch(ex.response.headers, /X-Session/i);

    const second = start(GET, { ...session });
    second.launcher.child.out('Content-Type: text/plain\r\nX-Session-End: 1\r\n\r\n');
    assert.equal(second.ex.sessionEnds, 1);
    assert.deepEqual(second.ex.sessionWrites, []);
  });
});

describe('CgiRun: timeouts, signals and aborts', () => {
  it('answers 504 and SIGKILLs the group when no header block came before cgi_timeout', () => {
    const { ex, launcher, phase } = start(GET);
    const child = launcher.child;
    child.out('Content-Type: text/pl'); // not a complete block
    assert.equal(ex.responses.length, 0);
    assert.equal(ex.fireTimers(), 1);
    assert.equal(ex.response.status, 504);
    assert.deepEqual(child.signals, ['SIGKILL']);
    assert.equal(child.stdout.destroyed && child.stderr.destroyed, true);
    assert.equal(phase(), 'finishing');
    assert.match(ex.errors.join('\n'), /no complete header block within 5000 ms: killed/);
    child.close();
    assert.equal(phase(), 'done');
  });

  it('after a complete response and exit: SIGTERM to the group, SIGKILL when the 2 s timer fires', () => {
    const { ex, launcher, phase } = start(GET);
    const child = launcher.child;
    child.out('Content-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc');
    startSink(ex.response);
    assert.equal(phase(), 'finishing');
    // The script has cgi_timeout to exit after its response.
    assert.equal(ex.pending.length, 1);
    assert.ok(near(ex.pending[0]?.at ?? 0, CGI_TIMEOUT));
    assert.deepEqual(child.signals, []);
    child.exit(0);
    assert.deepEqual(child.signals, ['SIGTERM']);
    assert.equal(ex.pending.length, 1, 'the exit timeout gave way to the grace timer');
    assert.ok(near(ex.pending[0]?.at ?? 0, 2000));
    child.close();
    assert.deepEqual(child.signals, ['SIGTERM']);
    ex.fireTimers();
    assert.deepEqual(child.signals, ['SIGTERM', 'SIGKILL']);
    assert.equal(phase(), 'done');
  });

  it('ends the group at once when the script exited before its response was complete', () => {
    const { ex, launcher } = start(GET);
    const child = launcher.child;
    child.out('Content-Type: text/plain\r\n\r\nabc');
    child.exit(0);
    assert.deepEqual(child.signals, [], 'the response is not over yet');
    const sink = startSink(ex.response);
    child.outEnd();
    assert.equal(sink.ended, true);
    assert.deepEqual(child.signals, ['SIGTERM']);
  });

  it('kills a script still running cgi_timeout after its response', () => {
    const { ex, launcher } = start(GET);
    const child = launcher.child;
    child.out('Content-Type: text/plain\r\nContent-Length: 0\r\n\r\n');
    startSink(ex.response);
    ex.fireTimers();
    assert.deepEqual(child.signals, ['SIGKILL']);
    assert.match(ex.errors.join('\n'), /still running after its response: killed/);
  });

  it('SIGKILLs the group at once when the client leaves, before or during the response', () => {
    {
      const { ex, launcher, phase } = start(post('Content-Length: 10\r\n'));
      const child = launcher.child;
      ex.abandon();
      assert.deepEqual(child.signals, ['SIGKILL']);
      assert.equal(child.stdin?.destroyed, true);
      assert.equal(child.stdout.destroyed, true);
      assert.equal(ex.responses.length, 0);
      assert.equal(ex.pending.length, 0);
      assert.equal(phase(), 'finishing');
    }
    const { ex, launcher } = start(GET);
    const child = launcher.child;
    child.out('Content-Type: text/plain\r\n\r\npart');
    const source = sourceOf(ex.response);
    source.start(new FakeSink());
    source.abort(); // the connection went away mid-body
    assert.deepEqual(child.signals, ['SIGKILL']);
  });

  it('pauses the body while stdin is full and resumes it on drain', () => {
    const { ex, launcher, receiver } = start(post('Content-Length: 10\r\n'));
    assert.ok(receiver !== null);
    const child = launcher.child;
    const stdin = child.stdin;
    assert.ok(stdin !== null);
    stdin.accepts = false;
    assert.equal(receiver.data(Buffer.from('abcde')), false, 'pause the body');
    assert.equal(ex.resumeBodyCalls, 0);
    child.stdinDrain();
    assert.equal(ex.resumeBodyCalls, 1);
    assert.equal(receiver.data(Buffer.from('fghij')), true);
    assert.equal(stdin.bytes.toString(), 'abcdefghij');
    // stdin closing (the script stopped reading) is no reason to resume, and the rest is dropped.
    child.stdinDrain();
    assert.equal(ex.resumeBodyCalls, 1);
  });

  it('drops the body of a script that stopped reading it', () => {
    const { launcher, receiver } = start(post('Content-Length: 10\r\n'));
    assert.ok(receiver !== null);
    const child: FakeChild = launcher.child;
    child.stdinDrain(); // EPIPE: the pipe is gone
    assert.equal(receiver.data(Buffer.from('abcde')), true);
    assert.equal(child.stdin?.bytes.length, 0);
  });

  it("pauses the script's stdout while the client cannot take more", () => {
    const { ex, launcher } = start(GET);
    const child = launcher.child;
    child.out('Content-Type: text/plain\r\n\r\n');
    const sink = startSink(ex.response);
    sink.accepts = false;
    child.out('a');
    assert.equal(child.stdout.paused, true);
    sink.accepts = true;
    sourceOf(ex.response).resume();
    assert.equal(child.stdout.paused, false);
    child.out('b');
    child.outEnd();
    assert.equal(sink.text, 'ab');
    assert.equal(sink.ended, true);
  });
});
