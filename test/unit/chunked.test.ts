import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkedDecoder, type ChunkedLimits } from '../../src/http/chunked.js';

interface Outcome {
  data: string;
  consumed: number;
  done: boolean;
  status: number | null;
  trailers: [string, string][];
  received: number;
}

/** Decodes `text` cut at `cuts` (increasing offsets), feeding each call the bytes not consumed yet. */
function decode(text: string, cuts: number[] = [], limits?: ChunkedLimits): Outcome {
  const buf = Buffer.from(text, 'latin1');
  const d = new ChunkedDecoder(limits);
  const parts: Buffer[] = [];
  let pos = 0;
  for (const cut of [...cuts, buf.length]) {
    if (cut < pos) continue;
    const next = d.decode(buf, pos, cut, (chunk) => {
      assert.equal(chunk.buffer, buf.buffer, 'chunk data must be a view of the input, not a copy');
      parts.push(Buffer.from(chunk)); // copy: the test checks the bytes, not a view that may change
    });
    assert.ok(next >= pos && next <= cut);
    if (!d.done && d.error === null) assert.equal(next, cut, 'all bytes are consumed until done or error');
    pos = next;
    if (d.done || d.error !== null) break;
  }
  return {
    data: Buffer.concat(parts).toString('latin1'),
    consumed: pos,
    done: d.done,
    status: d.error?.status ?? null,
    trailers: [...d.trailers],
    received: d.received,
  };
}

function errorStatus(text: string, limits?: ChunkedLimits): number | null {
  return decode(text, [], limits).status;
}

describe('ChunkedDecoder: chunks', () => {
  it('decodes a simple body and stops after the final CRLF', () => {
    const body = '5\r\nhello\r\n0\r\n\r\n';
    assert.deepEqual(decode(body + 'GET / HTTP/1.1\r\n'), {
      data: 'hello',
      consumed: body.length,
      done: true,
      status: null,
      trailers: [],
      received: 5,
    });
  });

  it('decodes several chunks with hex sizes in either case and leading zeros', () => {
    const text = `a\r\n0123456789\r\nB\r\nabcdefghijk\r\n01f\r\n${'z'.repeat(31)}\r\n000\r\n\r\n`;
    const r = decode(text);
    assert.equal(r.data, '0123456789abcdefghijk' + 'z'.repeat(31));
    assert.equal(r.received, 52);
    assert.equal(r.done, true);
    assert.equal(r.consumed, text.length);
  });

  it('passes binary data through untouched, CRLF included', () => {
    const data = '\r\n\x00\xff0\r\n\r\n';
    assert.equal(decode(`${data.length.toString(16)}\r\n${data}\r\n0\r\n\r\n`).data, data);
  });

  it('accepts leading zeros however many; 15 significant hex digits, not 16', () => {
    assert.equal(decode('0000000000000003\r\nabc\r\n0\r\n\r\n').data, 'abc');
    assert.equal(decode('00000000000000000005\r\nabcde\r\n0\r\n\r\n').data, 'abcde'); // nginx accepts it too
    assert.equal(decode('0000000000000000000000\r\n\r\n').done, true); // a last-chunk written with many zeros
    assert.equal(errorStatus('1000000000000000\r\nabc\r\n0\r\n\r\n'), 400);
  });

  it('rejects a size too large to count exactly', () => {
    assert.equal(errorStatus('FFFFFFFFFFFFFFF\r\n'), 400);
  });

  it('rejects a missing or malformed size', () => {
    for (const t of ['\r\n', ';x\r\n', 'g\r\n', '-5\r\n', '+5\r\n', '0x5\r\n', ' 5\r\n', '5\n', '5\rx', '5\r\r\n']) {
      assert.equal(errorStatus(t), 400, JSON.stringify(t));
    }
  });

  it('rejects chunk data not followed by exactly CRLF', () => {
    for (const t of ['5\r\nhelloX', '5\r\nhello\n', '5\r\nhello\rX', '5\r\nhello\r\r\n', '3\r\nhello\r\n']) {
      const r = decode(t);
      assert.equal(r.status, 400, JSON.stringify(t));
      assert.equal(r.done, false);
    }
  });

  it('consumes nothing and calls nothing after an error or after done', () => {
    const buf = Buffer.from('0\r\n\r\n5\r\nhello\r\n', 'latin1');
    const d = new ChunkedDecoder();
    let calls = 0;
    assert.equal(
      d.decode(buf, 0, buf.length, () => calls++),
      5,
    );
    assert.equal(d.done, true);
    assert.equal(
      d.decode(buf, 5, buf.length, () => calls++),
      5,
    );
    assert.equal(calls, 0);
    const bad = new ChunkedDecoder();
    const junk = Buffer.from('zz\r\n5\r\nhello\r\n', 'latin1');
    assert.equal(
      bad.decode(junk, 0, junk.length, () => calls++),
      0,
    );
    assert.equal(bad.error?.status, 400);
    assert.equal(
      bad.decode(junk, 4, junk.length, () => calls++),
      4,
    );
    assert.equal(calls, 0);
    assert.equal(bad.done, false);
  });

  it('counts received bytes as data arrives', () => {
    const buf = Buffer.from('8\r\n12345678\r\n', 'latin1');
    const d = new ChunkedDecoder();
    d.decode(buf, 0, 6, () => {});
    assert.equal(d.received, 3);
    d.decode(buf, 6, buf.length, () => {});
    assert.equal(d.received, 8);
    assert.equal(d.done, false);
    assert.equal(d.error, null);
  });
});

describe('ChunkedDecoder: extensions (RFC 9112 §7.1.1)', () => {
  it('ignores well-formed extensions', () => {
    const exts = [
      ';a',
      ';a=b',
      ';a=b;c',
      ' ;a',
      '\t; a = b ;c= "x y"',
      ';n="q\\"uote\\\\d"',
      ';n=""',
      ';n="\xe9\t"',
      ";!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~",
      ';a ;b',
    ];
    for (const e of exts) {
      assert.equal(decode(`3${e}\r\nabc\r\n0${e}\r\n\r\n`).data, 'abc', JSON.stringify(e));
    }
  });

  it('rejects malformed extensions', () => {
    const exts = [
      ';',
      '; ',
      ';=b',
      ' =b',
      '\t=b',
      ';a=',
      ';a= ',
      ';a=b ',
      ';a b',
      ';a="x',
      ';a="x"y',
      ';a=b=c',
      ';a=(b)',
      ' ',
      ';a\x00',
      ';a="\x01"',
      ';a="\\\x00"',
      ';a;',
      ';a="x" ',
    ];
    for (const e of exts) {
      assert.equal(errorStatus(`3${e}\r\nabc\r\n0\r\n\r\n`), 400, JSON.stringify(e));
    }
  });

  it('bounds the chunk-size line by maxLineBytes', () => {
    const line = (n: number) => '3;e=' + 'v'.repeat(n - 5); // n bytes with its CR
    assert.equal(decode(`${line(32)}\r\nabc\r\n0\r\n\r\n`, [], { maxLineBytes: 32 }).data, 'abc');
    assert.equal(errorStatus(`${line(33)}\r\nabc\r\n0\r\n\r\n`, { maxLineBytes: 32 }), 400);
    assert.equal(errorStatus(`3;e=${'v'.repeat(4096)}\r\nabc\r\n0\r\n\r\n`), 400);
    // Leading zeros count too: a size line cannot be padded forever.
    assert.equal(errorStatus('0'.repeat(40) + '\r\n', { maxLineBytes: 32 }), 400);
  });
});

describe('ChunkedDecoder: trailers (RFC 9112 §7.1.2)', () => {
  it('collects trailer fields by lower-case name, OWS trimmed, repeats joined', () => {
    const body = '3\r\nabc\r\n0\r\nX-Sum:  12 \r\nx-sum: 34\r\nETag:"e"\r\n\r\n';
    const r = decode(body + 'NEXT');
    assert.equal(r.data, 'abc');
    assert.equal(r.done, true);
    assert.equal(r.consumed, body.length);
    assert.deepEqual(r.trailers, [
      ['x-sum', '12, 34'],
      ['etag', '"e"'],
    ]);
  });

  it('stops exactly after the empty line that ends the trailers', () => {
    const body = '0\r\nA: 1\r\n\r\n';
    assert.equal(decode(body + 'POST').consumed, body.length);
  });

  it('drops fields that may not be trailers (RFC 9110 §6.5.1) and keeps the others', () => {
    for (const name of ['Transfer-Encoding', 'content-length', 'HOST', 'Content-Type', 'Vary', 'Authorization']) {
      const r = decode(`3\r\nabc\r\n0\r\n${name}: x\r\nX-Sum: 1\r\n\r\nNEXT`);
      assert.equal(r.status, null, name);
      assert.equal(r.done, true, name);
      assert.equal(r.data, 'abc', name);
      assert.deepEqual(r.trailers, [['x-sum', '1']], name);
    }
  });

  it('rejects malformed trailer lines', () => {
    const lines = ['X : 1', ' X: 1', 'X: 1\r\n folded', ': 1', 'X', 'X: a\x00b', 'X: a\rb', 'X(y): 1'];
    for (const l of lines) assert.equal(errorStatus(`0\r\n${l}\r\n\r\n`), 400, JSON.stringify(l));
    assert.equal(errorStatus('0\r\nX: 1\n\r\n'), 400);
    assert.equal(errorStatus('0\r\n\n'), 400);
    assert.equal(errorStatus('0\r\n\rX'), 400);
    // A bare CR is caught before any LF arrives, however the bytes are split.
    const cr = '0\r\nA: 1\rX';
    for (let k = 0; k <= cr.length; k++) assert.equal(decode(cr, [k]).status, 400, `split at ${k}`);
  });

  it('bounds the trailer section by maxTrailerBytes', () => {
    const field = (n: number) => 'X: ' + 'v'.repeat(n - 5) + '\r\n'; // n bytes with its CRLF
    assert.equal(decode(`0\r\n${field(30)}\r\n`, [], { maxTrailerBytes: 32 }).done, true);
    assert.equal(errorStatus(`0\r\n${field(31)}\r\n`, { maxTrailerBytes: 32 }), 400);
    assert.equal(errorStatus(`0\r\n${field(20000)}\r\n`), 400);
    // Detected before the line ends.
    const d = new ChunkedDecoder({ maxTrailerBytes: 32 });
    const buf = Buffer.from('0\r\nX: ' + 'v'.repeat(100), 'latin1');
    d.decode(buf, 0, buf.length, () => {});
    assert.equal(d.error?.status, 400);
  });
});

describe('ChunkedDecoder: any split of the input', () => {
  const body =
    '4;name=value\r\nWiki\r\n' +
    '6 ; q="a\\"b;c" ;flag\r\npedia \r\n' +
    'E\r\nin \r\n\r\nchunks.\r\n' +
    '0;last\r\n' +
    'X-Checksum: abc123\r\n' +
    'X-Note:\tdone \r\n' +
    '\r\n';
  const data = 'Wikipedia in \r\n\r\nchunks.';
  const text = body + 'GET /next HTTP/1.1\r\n';
  const expected: Outcome = {
    data,
    consumed: body.length,
    done: true,
    status: null,
    trailers: [
      ['x-checksum', 'abc123'],
      ['x-note', 'done'],
    ],
    received: data.length,
  };

  it('gives the exact bytes in one call', () => {
    assert.deepEqual(decode(text), expected);
  });

  it('gives the exact bytes for every two-piece split', () => {
    for (let k = 0; k <= text.length; k++) assert.deepEqual(decode(text, [k]), expected, `split at ${k}`);
  });

  it('gives the exact bytes for every three-piece split', () => {
    for (let i = 0; i <= body.length; i++) {
      for (let j = i; j <= body.length; j++) assert.deepEqual(decode(text, [i, j]), expected, `split at ${i},${j}`);
    }
  });

  it('gives the exact bytes one byte at a time', () => {
    const cuts = Array.from({ length: text.length }, (_, k) => k);
    assert.deepEqual(decode(text, cuts), expected);
  });

  it('reports the same error for every split of a bad body', () => {
    const bad = '4\r\nWiki\r\n3;x="a"\r\nabc\r\n0\r\nHost : evil\r\n\r\n';
    for (let k = 0; k <= bad.length; k++) {
      const r = decode(bad, [k]);
      assert.equal(r.status, 400, `split at ${k}`);
      assert.equal(r.data, 'Wikiabc');
      assert.equal(r.done, false);
    }
  });
});

describe('ChunkedDecoder: randomised bodies', () => {
  it('never throws, and any split agrees with one call', () => {
    let seed = 0x2545f491;
    const rand = (n: number): number => {
      // mulberry32, seeded so that a failure can be replayed.
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const base = '4;a=b\r\nWiki\r\n5 ;q="x\\"y"\r\npedia\r\n0\r\nX-T: v\r\n\r\nNEXT';
    const pieces = ['\r', '\n', '\r\n', ';', '=', '"', ' ', '\t', '0', 'f', 'Z', ':', '\x00', 'Host: h\r\n', '\\'];
    const outcomes = new Set<string>();
    for (let n = 0; n < 3000; n++) {
      let text = base;
      for (let m = 1 + rand(3); m > 0; m--) {
        const at = rand(text.length + 1);
        const op = rand(3);
        if (op === 0) text = text.slice(0, at) + (pieces[rand(pieces.length)] ?? '') + text.slice(at);
        else if (op === 1) text = text.slice(0, at) + text.slice(at + 1 + rand(2));
        else text = text.slice(0, at) + String.fromCharCode(rand(256)) + text.slice(at + 1);
      }
      const whole = decode(text);
      outcomes.add(whole.done ? 'done' : whole.status === 400 ? 'error' : 'partial');
      const cut = rand(text.length + 1);
      assert.deepEqual(decode(text, [cut]), whole, `${JSON.stringify(text)} split at ${cut}`);
      const cuts = Array.from({ length: text.length }, (_, k) => k);
      assert.deepEqual(decode(text, cuts), whole, `${JSON.stringify(text)} byte by byte`);
    }
    assert.deepEqual([...outcomes].sort(), ['done', 'error', 'partial']);
  });
});
