/**
 * Reading one request body (request-body.ts): Content-Length and chunked bodies in any split, body_limit reached
 * mid-stream, a receiver that pauses and resumes, and aborts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BodyReceiver } from '../../src/handlers/exchange.js';
import { DISCARD, RequestBody, type BodyProgress } from '../../src/server/request-body.js';
import { headOf } from '../helpers/fake-exchange.js';

/** A receiver that records what it gets; `accept(n)` decides what its n-th data() call answers. */
class Receiver implements BodyReceiver {
  readonly chunks: Buffer[] = [];
  ends = 0;
  aborts = 0;
  constructor(private readonly accept: (n: number) => boolean = () => true) {}
  data(chunk: Buffer): boolean {
    this.chunks.push(Buffer.from(chunk));
    return this.accept(this.chunks.length);
  }
  end(): void {
    this.ends++;
  }
  abort(): void {
    this.aborts++;
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
}

const lengthHead = (n: number): ReturnType<typeof headOf> =>
  headOf(`POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: ${n}\r\n\r\n`);
const chunkedHead = headOf('POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n');

function body(head: ReturnType<typeof headOf>, limit = 0, r = new Receiver()): { b: RequestBody; r: Receiver } {
  const b = new RequestBody(head, limit);
  b.receiver = r;
  return { b, r };
}

/**
 * Feeds `wire` to `b` in the pieces `cuts` makes, the way the connection does: each piece is appended to the
 * unconsumed input and fed from the offset reached. Returns the last progress and the input left unconsumed.
 */
function feedInPieces(b: RequestBody, wire: Buffer, cuts: readonly number[]): { last: BodyProgress; rest: Buffer } {
  let input = Buffer.alloc(0);
  let last: BodyProgress = 'more';
  let from = 0;
  for (const cut of [...cuts, wire.length]) {
    input = Buffer.concat([input, wire.subarray(from, cut)]);
    from = cut;
    last = b.feed(input, 0, input.length);
    input = input.subarray(b.consumed);
    if (last !== 'more') break;
  }
  return { last, rest: Buffer.concat([input, wire.subarray(from)]) };
}

describe('RequestBody: Content-Length', () => {
  const BODY = 'hello, world';
  const WIRE = Buffer.from(BODY + 'GET /next', 'latin1');

  it('reads exactly the declared length in any two pieces, leaving the next request', () => {
    for (let i = 0; i <= WIRE.length; i++) {
      const { b, r } = body(lengthHead(BODY.length));
      const { last, rest } = feedInPieces(b, WIRE, [i]);
      assert.equal(last, 'done', `cut at ${i}`);
      assert.equal(r.text, BODY, `cut at ${i}`);
      assert.equal(rest.toString('latin1'), 'GET /next', `cut at ${i}`);
      assert.equal(r.ends, 1);
      assert.equal(r.aborts, 0);
      assert.equal(b.over, true);
    }
  });

  it('reads it a byte at a time, answering more until the last byte', () => {
    const { b, r } = body(lengthHead(BODY.length));
    const seen: BodyProgress[] = [];
    for (let i = 0; i < BODY.length; i++) seen.push(b.feed(WIRE, i, i + 1));
    assert.deepEqual(seen, [...Array<BodyProgress>(BODY.length - 1).fill('more'), 'done']);
    assert.equal(r.text, BODY);
    assert.equal(b.consumed, BODY.length);
  });

  it('feeds from the offset it is given and reports how far it consumed', () => {
    const buf = Buffer.from('HEAD' + 'abc' + 'rest');
    const { b, r } = body(lengthHead(3));
    assert.equal(b.feed(buf, 4, buf.length), 'done');
    assert.equal(b.consumed, 7);
    assert.equal(r.text, 'abc');
  });

  it('waits while the receiver is paused: nothing consumed or delivered until resume()', () => {
    const { b, r } = body(lengthHead(6), 0, new Receiver((n) => n !== 1));
    const buf = Buffer.from('abcdef');
    assert.equal(b.feed(buf, 0, 3), 'paused');
    assert.equal(b.waiting, true);
    assert.equal(b.consumed, 3);
    assert.equal(b.feed(buf, 3, 6), 'paused');
    assert.equal(b.consumed, 3, 'nothing consumed while paused');
    assert.equal(r.text, 'abc');
    b.resume();
    assert.equal(b.waiting, false);
    assert.equal(b.feed(buf, 3, 6), 'done');
    assert.equal(r.text, 'abcdef');
    assert.equal(r.ends, 1);
  });

  it('completes a body whose last piece the receiver refused: done, not paused', () => {
    const { b, r } = body(lengthHead(3), 0, new Receiver(() => false));
    assert.equal(b.feed(Buffer.from('xyz'), 0, 3), 'done');
    assert.equal(b.waiting, false);
    assert.equal(r.ends, 1);
  });

  it('drops a body nobody wants through DISCARD, the default receiver', () => {
    const b = new RequestBody(lengthHead(4), 0);
    assert.equal(b.receiver, DISCARD);
    assert.equal(b.feed(Buffer.from('abcd'), 0, 4), 'done');
    assert.equal(b.over, true);
  });
});

describe('RequestBody: chunked', () => {
  const WIRE = Buffer.from('5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n' + 'GET /next', 'latin1');

  it('decodes in any two pieces, leaving the next request', () => {
    for (let i = 0; i <= WIRE.length; i++) {
      const { b, r } = body(chunkedHead);
      const { last, rest } = feedInPieces(b, WIRE, [i]);
      assert.equal(last, 'done', `cut at ${i}`);
      assert.equal(r.text, 'hello, world', `cut at ${i}`);
      assert.equal(rest.toString('latin1'), 'GET /next', `cut at ${i}`);
      assert.equal(r.ends, 1);
    }
  });

  it('decodes in any three pieces, and a byte at a time', () => {
    const end = WIRE.length - 'GET /next'.length;
    for (let i = 0; i < end; i += 3) {
      for (let j = i; j < end; j += 2) {
        const { b, r } = body(chunkedHead);
        const { last } = feedInPieces(b, WIRE, [i, j]);
        assert.equal(last, 'done', `cuts ${i}, ${j}`);
        assert.equal(r.text, 'hello, world', `cuts ${i}, ${j}`);
      }
    }
    const { b, r } = body(chunkedHead);
    const { last } = feedInPieces(
      b,
      WIRE,
      Array.from({ length: end }, (_, k) => k + 1),
    );
    assert.equal(last, 'done');
    assert.equal(r.text, 'hello, world');
  });

  it('accepts a body of exactly body_limit, and answers 413 once it grows past it (the receiver aborted)', () => {
    {
      const { b, r } = body(chunkedHead, 12);
      assert.equal(feedInPieces(b, WIRE, [7]).last, 'done');
      assert.equal(r.aborts, 0);
    }
    const { b, r } = body(chunkedHead, 11);
    const wire = Buffer.from('5\r\nhello\r\n');
    assert.equal(b.feed(wire, 0, wire.length), 'more');
    const more = Buffer.from('7\r\n, world\r\n0\r\n\r\n');
    const p = b.feed(more, 0, more.length);
    assert.deepEqual(p, { status: 413, reason: 'chunked body over body_limit' });
    assert.equal(r.aborts, 1);
    assert.equal(r.ends, 0);
    assert.equal(b.over, true);
  });

  it('answers 400 to bad chunk framing, aborting the receiver', () => {
    for (const bad of ['zz\r\nhello\r\n', '5\r\nhelloXX', '5\nhello\r\n']) {
      const { b, r } = body(chunkedHead);
      const buf = Buffer.from(bad);
      const p = b.feed(buf, 0, buf.length);
      assert.ok(typeof p === 'object' && p.status === 400, `${JSON.stringify(bad)}: ${JSON.stringify(p)}`);
      assert.equal(r.aborts, 1);
      assert.equal(b.over, true);
    }
  });

  it('pauses after a chunk the receiver refused, and goes on after resume()', () => {
    const { b, r } = body(chunkedHead, 0, new Receiver((n) => n !== 1));
    const first = Buffer.from('5\r\nhello\r\n');
    assert.equal(b.feed(first, 0, first.length), 'paused');
    assert.equal(b.consumed, first.length);
    const second = Buffer.from('7\r\n, world\r\n0\r\n\r\n');
    assert.equal(b.feed(second, 0, second.length), 'paused');
    assert.equal(b.consumed, 0);
    b.resume();
    assert.equal(b.feed(second, 0, second.length), 'done');
    assert.equal(r.text, 'hello, world');
  });
});

describe('RequestBody: abort', () => {
  it('aborts the receiver once, after which the body is over and feeds consume nothing', () => {
    const { b, r } = body(lengthHead(10), 0, new Receiver(() => false));
    assert.equal(b.feed(Buffer.from('abc'), 0, 3), 'paused');
    b.abort();
    b.abort();
    assert.equal(r.aborts, 1);
    assert.equal(b.over, true);
    assert.equal(b.waiting, false);
    const buf = Buffer.from('defghij');
    assert.equal(b.feed(buf, 2, buf.length), 'done');
    assert.equal(b.consumed, 2);
    assert.equal(r.text, 'abc');
    assert.equal(r.ends, 0);
  });

  it('does not abort a body that already completed', () => {
    const { b, r } = body(lengthHead(2));
    assert.equal(b.feed(Buffer.from('ok'), 0, 2), 'done');
    b.abort();
    assert.equal(r.aborts, 0);
    assert.equal(r.ends, 1);
  });
});
