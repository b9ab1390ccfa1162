/**
 * Writing responses (response-writer.ts) without a network: the pure framing choice, and the writer over a
 * FakeTransport for in-memory bodies, files (a real temp file: parts, range preambles, one that shrinks) and
 * streams (chunked, close-delimited, failing).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Body, BodySink, BodySource, FilePart, Response } from '../../src/http/response.js';
import {
  chooseFraming,
  requestFacts,
  ResponseWriter,
  type FramingChoice,
  type WriterOwner,
} from '../../src/server/response-writer.js';
import { headOf } from '../helpers/fake-exchange.js';
import { FakeTransport, parseResponses } from '../helpers/fake-transport.js';

describe('chooseFraming', () => {
  const v11 = { method: 'GET', minor: 1 as const };
  const v10 = { method: 'GET', minor: 0 as const };
  const head11 = { method: 'HEAD', minor: 1 as const };
  const head10 = { method: 'HEAD', minor: 0 as const };
  const requests = [v11, v10, head11, head10, null];

  it('sends no body and no framing for 1xx, 204 and 304, whatever the length, method or version', () => {
    for (const status of [100, 101, 103, 199, 204, 304]) {
      for (const length of [-1, 0, 10]) {
        for (const req of requests) {
          for (const keep of [true, false]) {
            assert.deepEqual(
              chooseFraming(status, length, req, keep),
              { framing: 'none', keepAlive: keep, sendBody: false },
              `${status} ${length} ${JSON.stringify(req)} ${keep}`,
            );
          }
        }
      }
    }
  });

  it('uses Content-Length whenever the length is known (2xx to 5xx, both versions), HEAD without the body', () => {
    for (const status of [200, 201, 206, 301, 302, 400, 404, 413, 500, 502, 504]) {
      for (const length of [0, 1, 123456]) {
        for (const req of requests) {
          for (const keep of [true, false]) {
            assert.deepEqual(
              chooseFraming(status, length, req, keep),
              { framing: 'length', keepAlive: keep, sendBody: req?.method !== 'HEAD' },
              `${status} ${length} ${JSON.stringify(req)} ${keep}`,
            );
          }
        }
      }
    }
  });

  it('chunks an unknown length for HTTP/1.1 and keeps the connection as asked', () => {
    for (const status of [200, 404, 500]) {
      for (const keep of [true, false]) {
        assert.deepEqual(chooseFraming(status, -1, v11, keep), { framing: 'chunked', keepAlive: keep, sendBody: true });
        assert.deepEqual(chooseFraming(status, -1, head11, keep), {
          framing: 'chunked',
          keepAlive: keep,
          sendBody: false,
        });
      }
    }
  });

  it('delimits an unknown length by closing for HTTP/1.0 and for an unreadable request line', () => {
    for (const status of [200, 400, 502]) {
      for (const keep of [true, false]) {
        assert.deepEqual(chooseFraming(status, -1, v10, keep), { framing: 'close', keepAlive: false, sendBody: true });
        assert.deepEqual(chooseFraming(status, -1, null, keep), { framing: 'close', keepAlive: false, sendBody: true });
        assert.deepEqual(chooseFraming(status, -1, head10, keep), {
          framing: 'close',
          keepAlive: false,
          sendBody: false,
        });
      }
    }
  });

  it('takes the facts it needs from a request head', () => {
    assert.deepEqual(requestFacts(headOf('HEAD / HTTP/1.0\r\n\r\n')), { method: 'HEAD', minor: 0 });
    assert.deepEqual(requestFacts(headOf('POST /x HTTP/1.1\r\nHost: a\r\n\r\n')), { method: 'POST', minor: 1 });
    assert.equal(requestFacts(null), null);
  });
});

/** The WriterOwner the tests use. */
class Recorder implements WriterOwner {
  writtenCalls = 0;
  readonly brokenReasons: string[] = [];
  progressCalls = 0;
  readonly writer: ResponseWriter;
  constructor(readonly transport: FakeTransport) {
    this.writer = new ResponseWriter(this);
    transport.bind({
      onData: () => undefined,
      onEnd: () => undefined,
      onDrain: () => this.writer.drained(),
      onClose: () => undefined,
    });
  }
  written(): void {
    this.writtenCalls++;
  }
  broken(reason: string): void {
    this.brokenReasons.push(reason);
  }
  progressed(): void {
    this.progressCalls++;
  }
  paced(): void {
    this.progressCalls++;
  }
}

/** A writer over a fresh transport. */
function setup(canTryWrite = false): { t: FakeTransport; w: ResponseWriter; owner: Recorder } {
  const t = new FakeTransport({ canTryWrite });
  const owner = new Recorder(t);
  return { t, w: owner.writer, owner };
}

const NOW = Date.UTC(2024, 0, 2, 3, 4, 5);
const bytes = (data: string): Body => ({ kind: 'bytes', data: Buffer.from(data, 'latin1') });
const res = (status: number, body: Body, length: number, headers = 'Content-Type: text/plain\r\n'): Response => ({
  status,
  headers,
  body,
  length,
});
const frame = (framing: FramingChoice['framing'], keepAlive = true, sendBody = true): FramingChoice => ({
  framing,
  keepAlive,
  sendBody,
});

describe('ResponseWriter: in-memory bodies', () => {
  it('writes head and body in one write with Content-Length, and is written at once', () => {
    const { t, w, owner } = setup();
    w.start(res(200, bytes('hello'), 5), frame('length'), NOW);
    assert.deepEqual(t.ops(), ['setNoDelay', 'write']);
    assert.equal(
      t.text(),
      'HTTP/1.1 200 OK\r\nServer: localhost/0.1.0\r\nDate: Tue, 02 Jan 2024 03:04:05 GMT\r\n' +
        'Content-Type: text/plain\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello',
    );
    assert.equal(owner.writtenCalls, 1);
    assert.equal(w.bytesOut, 5);
    // TCP_NODELAY is set once per connection.
    w.start(res(200, bytes('again'), 5), frame('length'), NOW);
    assert.deepEqual(t.ops(), ['setNoDelay', 'write', 'write']);
    assert.equal(owner.writtenCalls, 2);
  });

  it('leaves Nagle alone for a one-write response on a connection that closes', () => {
    const { t, w } = setup();
    w.start(res(200, bytes('x'), 1), frame('length', false), NOW);
    assert.deepEqual(t.ops(), ['write']);
    assert.match(t.text(), /\r\nConnection: close\r\n\r\nx$/);
  });

  it('chunks an in-memory body of unknown length', () => {
    const { t, w, owner } = setup();
    w.start(res(200, bytes('hello world'), -1), frame('chunked'), NOW);
    assert.deepEqual(t.ops(), ['setNoDelay', 'writev', 'write']);
    assert.ok(
      t.text().endsWith('Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\nb\r\nhello world\r\n0\r\n\r\n'),
    );
    assert.equal(parseResponses(t.output())[0]?.body.toString(), 'hello world');
    assert.equal(owner.writtenCalls, 1);
  });

  it('writes a close-delimited body raw, with neither Content-Length nor Transfer-Encoding', () => {
    const { t, w, owner } = setup();
    w.start(res(200, bytes('raw bytes'), -1), frame('close', false), NOW);
    const text = t.text();
    assert.ok(text.endsWith('Connection: close\r\n\r\nraw bytes'));
    assert.doesNotMatch(text, /Content-Length|Transfer-Encoding/);
    assert.equal(owner.writtenCalls, 1);
  });

  it('writes only the head for HEAD and for statuses without a body', () => {
    for (const [status, choice] of [
      [200, frame('length', true, false)],
      [204, frame('none', true, false)],
      [304, frame('none', true, false)],
    ] as const) {
      const { t, w, owner } = setup();
      w.start(res(status, bytes('not sent'), 8), choice, NOW);
      assert.ok(t.text().endsWith('\r\n\r\n'), String(status));
      assert.doesNotMatch(t.text(), /not sent/);
      assert.equal(/Content-Length: 8/.test(t.text()), status === 200, String(status));
      assert.equal(w.bytesOut, 0);
      assert.equal(owner.writtenCalls, 1);
    }
  });

  it('is written only once the transport drained when the last write was refused', () => {
    const { t, w, owner } = setup();
    t.full = true;
    w.start(res(200, bytes('hello'), 5), frame('length'), NOW);
    assert.equal(owner.writtenCalls, 0);
    t.drain();
    assert.equal(owner.writtenCalls, 1);
    t.drain(); // nothing owed any more
    assert.equal(owner.writtenCalls, 1);
  });
});

describe('ResponseWriter: file bodies', () => {
  let dir = '';
  let content = Buffer.alloc(0);
  const SIZE = 150 * 1024;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-writer-'));
    content = Buffer.alloc(SIZE);
    for (let i = 0; i < SIZE; i++) content[i] = (i * 31 + (i >> 8)) & 0xff;
    fs.writeFileSync(path.join(dir, 'f.bin'), content);
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const open = (name = 'f.bin'): number => fs.openSync(path.join(dir, name), 'r');
  const isOpen = (fd: number): boolean => {
    try {
      fs.fstatSync(fd);
      return true;
    } catch {
      return false;
    }
  };
  const fileBody = (fd: number, parts: FilePart[], tail: Buffer | null = null): Body => ({
    kind: 'file',
    fd,
    parts,
    tail,
  });
  const bodyOf = (t: FakeTransport): Buffer => {
    const out = t.output();
    return out.subarray(out.indexOf('\r\n\r\n') + 4);
  };

  it('sends a whole file through the queue, a chunk per completed write, and closes it', () => {
    const { t, w, owner } = setup();
    const fd = open();
    w.start(res(200, fileBody(fd, [{ pre: null, start: 0, end: SIZE }]), SIZE), frame('length'), NOW);
    assert.equal(bodyOf(t).length, 64 * 1024, 'one chunk, then wait for its completion');
    assert.equal(owner.writtenCalls, 0);
    t.flushAll();
    assert.ok(bodyOf(t).equals(content));
    assert.equal(w.bytesOut, SIZE);
    assert.equal(owner.writtenCalls, 1);
    assert.ok(owner.progressCalls >= 3, 'each completed chunk restarts send_timeout');
    assert.equal(isOpen(fd), false, 'closed when done');
  });

  it('sends straight to the kernel, probing with 1 KiB through the queue when it is full', () => {
    const { t, w, owner } = setup(true);
    t.tryWriteRoom = 5000;
    const fd = open();
    w.start(res(200, fileBody(fd, [{ pre: null, start: 0, end: SIZE }]), SIZE), frame('length'), NOW);
    assert.equal(bodyOf(t).length, 5000 + 1024);
    const last = t.calls[t.calls.length - 1];
    assert.ok(last?.op === 'write' && last.withCallback && last.data.length === 1024);
    t.tryWriteRoom = Infinity;
    t.flush();
    assert.ok(bodyOf(t).equals(content));
    assert.equal(owner.writtenCalls, 1);
    assert.equal(isOpen(fd), false);
  });

  it('sends the parts of a multipart range answer with their preambles and the closing tail', () => {
    const { t, w, owner } = setup(true);
    const fd = open();
    const pre1 = Buffer.from('--B\r\nContent-Range: bytes 2-4/x\r\n\r\n');
    const pre2 = Buffer.from('\r\n--B\r\nContent-Range: bytes 70000-70009/x\r\n\r\n');
    const tail = Buffer.from('\r\n--B--\r\n');
    const parts = [
      { pre: pre1, start: 2, end: 5 },
      { pre: pre2, start: 70000, end: 70010 },
    ];
    const expected = Buffer.concat([pre1, content.subarray(2, 5), pre2, content.subarray(70000, 70010), tail]);
    w.start(res(206, fileBody(fd, parts, tail), expected.length), frame('length'), NOW);
    t.flushAll();
    assert.ok(bodyOf(t).equals(expected), JSON.stringify(bodyOf(t).toString('latin1')));
    assert.equal(w.bytesOut, expected.length);
    assert.equal(owner.writtenCalls, 1);
    assert.match(t.text(), new RegExp(`Content-Length: ${expected.length}\r\n`));
  });

  it('gives up on a file that shrinks while it is sent: broken(), the descriptor closed', () => {
    fs.copyFileSync(path.join(dir, 'f.bin'), path.join(dir, 'shrinks.bin'));
    const { t, w, owner } = setup(true);
    t.tryWriteRoom = 1000;
    const fd = open('shrinks.bin');
    w.start(res(200, fileBody(fd, [{ pre: null, start: 0, end: SIZE }]), SIZE), frame('length'), NOW);
    fs.truncateSync(path.join(dir, 'shrinks.bin'), 1500);
    t.tryWriteRoom = Infinity;
    t.flush();
    assert.deepEqual(owner.brokenReasons, ['file shrank while being sent']);
    assert.equal(owner.writtenCalls, 0);
    assert.equal(isOpen(fd), false);
    assert.equal(bodyOf(t).length, 2024, 'what was sent before the end came');
  });

  it('reports a connection lost in a direct write', () => {
    const { t, w, owner } = setup(true);
    t.tryWriteRoom = -1;
    const fd = open();
    w.start(res(200, fileBody(fd, [{ pre: null, start: 0, end: SIZE }]), SIZE), frame('length'), NOW);
    assert.deepEqual(owner.brokenReasons, ['connection lost']);
    assert.equal(isOpen(fd), false);
  });

  it('closes the file of a response aborted midway, and of a HEAD response at once', () => {
    const { t, w, owner } = setup();
    const fd = open();
    w.start(res(200, fileBody(fd, [{ pre: null, start: 0, end: SIZE }]), SIZE), frame('length'), NOW);
    w.abort();
    assert.equal(isOpen(fd), false);
    t.flushAll(); // the pending completion finds nothing to continue
    assert.equal(owner.writtenCalls, 0);
    assert.equal(bodyOf(t).length, 64 * 1024);

    const second = setup();
    const fd2 = open();
    second.w.start(
      res(200, fileBody(fd2, [{ pre: null, start: 0, end: SIZE }]), SIZE),
      frame('length', true, false),
      NOW,
    );
    assert.equal(isOpen(fd2), false);
    assert.equal(second.owner.writtenCalls, 1);
    assert.ok(second.t.text().endsWith('\r\n\r\n'));
  });

  it('yields to the event loop after 1 MiB in one turn', async () => {
    const big = Buffer.alloc(1536 * 1024, 7);
    fs.writeFileSync(path.join(dir, 'big.bin'), big);
    const { t, w, owner } = setup(true);
    const fd = open('big.bin');
    w.start(res(200, fileBody(fd, [{ pre: null, start: 0, end: big.length }]), big.length), frame('length'), NOW);
    assert.equal(bodyOf(t).length, 1024 * 1024);
    assert.equal(owner.writtenCalls, 0);
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.ok(bodyOf(t).equals(big));
    assert.equal(owner.writtenCalls, 1);
  });
});

/** A BodySource the test pushes through. */
class Source implements BodySource {
  sink: BodySink | null = null;
  starts = 0;
  pauses = 0;
  resumes = 0;
  aborts = 0;
  start(sink: BodySink): void {
    this.starts++;
    this.sink = sink;
  }
  pause(): void {
    this.pauses++;
  }
  resume(): void {
    this.resumes++;
  }
  abort(): void {
    this.aborts++;
  }
  get s(): BodySink {
    if (this.sink === null) throw new Error('not started');
    return this.sink;
  }
}

describe('ResponseWriter: streamed bodies', () => {
  const stream = (src: Source): Body => ({ kind: 'stream', source: src });

  it('chunks a stream for HTTP/1.1, ignores empty pieces, and ends with the last chunk', () => {
    const { t, w, owner } = setup();
    const src = new Source();
    w.start(res(200, stream(src), -1), frame('chunked'), NOW);
    assert.equal(src.starts, 1);
    assert.equal(w.streaming, true);
    assert.equal(src.s.push(Buffer.from('hello')), true);
    assert.equal(src.s.push(Buffer.alloc(0)), true); // a zero-size chunk would end the body
    assert.equal(src.s.push(Buffer.from(' world, it is a longer chunk')), true);
    assert.equal(owner.writtenCalls, 0);
    src.s.end();
    assert.equal(owner.writtenCalls, 1);
    assert.equal(w.streaming, false);
    assert.ok(t.text().endsWith('\r\n\r\n5\r\nhello\r\n1c\r\n world, it is a longer chunk\r\n0\r\n\r\n'));
    assert.equal(parseResponses(t.output())[0]?.body.toString(), 'hello world, it is a longer chunk');
    assert.equal(w.bytesOut, 33);
    assert.equal(owner.progressCalls, 2);
  });

  it('writes a close-delimited stream raw', () => {
    const { t, w, owner } = setup();
    const src = new Source();
    w.start(res(200, stream(src), -1), frame('close', false), NOW);
    src.s.push(Buffer.from('abc'));
    src.s.push(Buffer.from('def'));
    src.s.end();
    assert.ok(t.text().endsWith('Connection: close\r\n\r\nabcdef'));
    assert.equal(owner.writtenCalls, 1);
  });

  it('writes a stream of known length raw after its Content-Length', () => {
    const { t, w } = setup();
    const src = new Source();
    w.start(res(200, stream(src), 4), frame('length'), NOW);
    src.s.push(Buffer.from('ab'));
    src.s.push(Buffer.from('cd'));
    src.s.end();
    assert.ok(t.text().endsWith('Content-Length: 4\r\nConnection: keep-alive\r\n\r\nabcd'));
  });

  it('asks the source to pause when the transport refuses, and resumes it on drain', () => {
    const { t, w, owner } = setup();
    const src = new Source();
    w.start(res(200, stream(src), -1), frame('chunked'), NOW);
    t.full = true;
    assert.equal(src.s.push(Buffer.from('x')), false);
    assert.equal(src.resumes, 0);
    t.drain();
    assert.equal(src.resumes, 1);
    src.s.end();
    assert.equal(owner.writtenCalls, 1);
  });

  it('cuts the connection when the stream fails, and ignores the source afterwards', () => {
    const { t, w, owner } = setup();
    const src = new Source();
    w.start(res(200, stream(src), -1), frame('chunked'), NOW);
    src.s.push(Buffer.from('partial'));
    src.s.fail('script died');
    assert.deepEqual(owner.brokenReasons, ['response stream failed: script died']);
    const before = t.output().length;
    src.s.push(Buffer.from('late'));
    src.s.end();
    assert.equal(t.output().length, before);
    assert.equal(owner.writtenCalls, 0);
    assert.equal(src.aborts, 0, 'the failing source cleans up itself');
  });

  it('aborts the source when the connection goes, and drops what it pushes later', () => {
    const { t, w, owner } = setup();
    const src = new Source();
    w.start(res(200, stream(src), -1), frame('chunked'), NOW);
    w.abort();
    assert.equal(src.aborts, 1);
    const before = t.output().length;
    assert.equal(src.s.push(Buffer.from('late')), true);
    src.s.end();
    assert.equal(t.output().length, before);
    assert.equal(owner.writtenCalls, 0);
  });

  it('never starts the stream of a HEAD response, and releases it', () => {
    const { t, w, owner } = setup();
    const src = new Source();
    w.start(res(200, stream(src), -1), frame('chunked', true, false), NOW);
    assert.equal(src.starts, 0);
    assert.equal(src.aborts, 1);
    assert.equal(owner.writtenCalls, 1);
    assert.ok(t.text().endsWith('Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n'));
  });
});
