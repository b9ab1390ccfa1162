import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  byteRangesLayout,
  coalesceRanges,
  contentRange,
  MAX_RANGES,
  multipartContentType,
  newBoundary,
  parseRange,
  unsatisfiedRange,
} from '../../src/http/range.js';

const FULL = { kind: 'full' };
const UNSAT = { kind: 'unsatisfiable' };
const part = (...r: Array<[number, number]>): unknown => ({
  kind: 'partial',
  ranges: r.map(([start, end]) => ({ start, end })),
});

test('single ranges: first-last, first-, -suffix', () => {
  assert.deepEqual(parseRange('bytes=0-0', 100), part([0, 0]));
  assert.deepEqual(parseRange('bytes=-1', 100), part([99, 99]));
  assert.deepEqual(parseRange('bytes=5-', 100), part([5, 99]));
  assert.deepEqual(parseRange('bytes=10-19', 100), part([10, 19]));
  assert.deepEqual(parseRange('bytes=99-99', 100), part([99, 99]));
  assert.deepEqual(parseRange('bytes=0-', 100), part([0, 99]));
});

test('last-pos and suffix clipped to the size', () => {
  assert.deepEqual(parseRange('bytes=0-99999', 100), part([0, 99]));
  assert.deepEqual(parseRange('bytes=50-99999999999999999999999', 100), part([50, 99]));
  assert.deepEqual(parseRange('bytes=-500', 100), part([0, 99]));
  assert.deepEqual(parseRange('bytes=-100', 100), part([0, 99]));
  assert.deepEqual(parseRange('bytes=-99999999999999999999999', 100), part([0, 99]));
});

test('unit is case-insensitive; OWS around list elements; empty elements', () => {
  assert.deepEqual(parseRange('BYTES=0-1', 10), part([0, 1]));
  assert.deepEqual(parseRange('Bytes=0-1', 10), part([0, 1]));
  assert.deepEqual(parseRange('bytes= 0-1 ,\t4-5 ', 10), part([0, 1], [4, 5]));
  assert.deepEqual(parseRange('bytes=,0-1,,', 10), part([0, 1]));
  assert.deepEqual(parseRange('bytes=000-001', 10), part([0, 1]));
});

test('invalid syntax or another unit → full (header ignored)', () => {
  for (const h of [
    'bytes=10-5', // last-pos < first-pos
    'bytes=abc',
    'items=0-1',
    'bytes',
    'bytes=',
    'bytes=,',
    '=0-1',
    'bytes =0-1',
    'bytes= 0 - 1',
    'bytes=0-1-2',
    'bytes=-',
    'bytes=--1',
    'bytes=+1-2',
    'bytes=1.5-2',
    'bytes=0x1-2',
    'bytes=0-1;2-3',
    'bytes=0-1,abc', // one bad spec spoils the header
    'bytes=10-5,0-1',
    'bytes=99999999999999999999-99999999999999999998', // exact comparison of huge values
    '',
  ]) {
    assert.deepEqual(parseRange(h, 100), FULL, h);
  }
});

test('unsatisfiable: first-pos at or past the end, suffix 0', () => {
  assert.deepEqual(parseRange('bytes=100-', 100), UNSAT);
  assert.deepEqual(parseRange('bytes=100-200', 100), UNSAT);
  assert.deepEqual(parseRange('bytes=-0', 100), UNSAT);
  assert.deepEqual(parseRange('bytes=100-,200-300,-0', 100), UNSAT);
  assert.deepEqual(parseRange('bytes=99999999999999999999-', 100), UNSAT);
});

test('unsatisfiable ranges among satisfiable ones are dropped', () => {
  assert.deepEqual(parseRange('bytes=200-300,0-1', 100), part([0, 1]));
  assert.deepEqual(parseRange('bytes=0-1,-0,5-6', 100), part([0, 1], [5, 6]));
});

test('zero-size file: int-ranges are unsatisfiable, a non-zero suffix is ignored (RFC 9110 §14.1.2)', () => {
  for (const h of ['bytes=0-', 'bytes=0-0', 'bytes=-0']) {
    assert.deepEqual(parseRange(h, 0), UNSAT, h);
  }
  // "the only satisfiable form ... is a suffix-range with a non-zero suffix-length": no Content-Range can describe
  // zero bytes, so the whole (empty) representation is sent.
  for (const h of ['bytes=-1', 'bytes=0-10,-5']) assert.deepEqual(parseRange(h, 0), FULL, h);
  assert.deepEqual(parseRange('bytes=abc', 0), FULL);
});

test('several ranges keep their request order', () => {
  assert.deepEqual(parseRange('bytes=0-1,3-4', 26), part([0, 1], [3, 4]));
  assert.deepEqual(parseRange('bytes=50-59,0-9,20-29', 100), part([50, 59], [0, 9], [20, 29]));
});

test('coalescing: overlapping and adjacent ranges merge; order of first request kept', () => {
  assert.deepEqual(parseRange('bytes=0-5,3-8', 26), part([0, 8]));
  assert.deepEqual(parseRange('bytes=0-4,5-9', 26), part([0, 9])); // adjacent
  assert.deepEqual(parseRange('bytes=0-4,6-9', 26), part([0, 4], [6, 9])); // 1-byte gap kept
  assert.deepEqual(parseRange('bytes=50-59,0-9,55-70,5-12', 100), part([50, 70], [0, 12]));
  assert.deepEqual(parseRange('bytes=20-,0-1,-2', 100), part([20, 99], [0, 1]));
  assert.deepEqual(parseRange('bytes=0-,0-', 26), part([0, 25])); // exactly 2x size: allowed, merged
});

test('coalesceRanges directly', () => {
  assert.deepEqual(coalesceRanges([]), []);
  assert.deepEqual(coalesceRanges([{ start: 5, end: 9 }]), [{ start: 5, end: 9 }]);
  assert.deepEqual(
    coalesceRanges([
      { start: 30, end: 40 },
      { start: 0, end: 10 },
      { start: 11, end: 12 },
      { start: 35, end: 36 },
    ]),
    [
      { start: 30, end: 40 },
      { start: 0, end: 12 },
    ],
  );
});

test('abuse: more than 2x the size requested in total → full', () => {
  assert.deepEqual(parseRange('bytes=0-,0-,0-', 26), FULL);
  assert.deepEqual(parseRange('bytes=0-99,0-99,0-0', 100), FULL); // 201 > 200
  assert.deepEqual(parseRange('bytes=0-99,0-99', 100), part([0, 99])); // 200 = 2x
  const overlapping = Array.from({ length: 30 }, (_, i) => `${i}-${i + 20}`).join(',');
  assert.deepEqual(parseRange(`bytes=${overlapping}`, 100), FULL); // 630 bytes of a 100-byte file
});

test('abuse: more than MAX_RANGES range-specs → full; exactly MAX_RANGES is served', () => {
  assert.equal(MAX_RANGES, 100);
  const specs = (n: number): string => Array.from({ length: n }, (_, i) => `${i * 2}-${i * 2}`).join(',');
  const ok = parseRange(`bytes=${specs(100)}`, 1000);
  assert.equal(ok.kind, 'partial');
  assert.equal(ok.kind === 'partial' ? ok.ranges.length : 0, 100);
  assert.deepEqual(ok.kind === 'partial' ? ok.ranges[99] : null, { start: 198, end: 198 });
  assert.deepEqual(parseRange(`bytes=${specs(101)}`, 1000), FULL);
  assert.deepEqual(parseRange(`bytes=${'0-0,'.repeat(101)}`, 1000), FULL);
});

test('Content-Range values', () => {
  assert.equal(contentRange(0, 0, 1), 'bytes 0-0/1');
  assert.equal(contentRange(5, 25, 26), 'bytes 5-25/26');
  assert.equal(unsatisfiedRange(26), 'bytes */26');
  assert.equal(unsatisfiedRange(0), 'bytes */0');
});

test('newBoundary: 24 random hex characters, different each time', () => {
  const a = newBoundary();
  const b = newBoundary();
  assert.match(a, /^[0-9a-f]{24}$/);
  assert.match(b, /^[0-9a-f]{24}$/);
  assert.notEqual(a, b);
  assert.equal(multipartContentType('abc'), 'multipart/byteranges; boundary=abc');
});

/** Assembles a layout with the file's bytes, as the handler will send it. */
function assemble(layout: ReturnType<typeof byteRangesLayout>, file: Buffer): Buffer {
  const chunks: Buffer[] = [];
  for (const p of layout.parts) chunks.push(p.head, file.subarray(p.start, p.end + 1));
  chunks.push(layout.tail);
  return Buffer.concat(chunks);
}

test('multipart layout: exact bytes (RFC 9110 §14.6 example shape)', () => {
  const file = Buffer.from('abcdefghijklmnopqrstuvwxyz');
  const layout = byteRangesLayout(
    [
      { start: 0, end: 1 },
      { start: 3, end: 4 },
    ],
    26,
    'text/plain; charset=utf-8',
    'B0UND',
  );
  const expected =
    '--B0UND\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/26\r\n\r\nab' +
    '\r\n--B0UND\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 3-4/26\r\n\r\nde' +
    '\r\n--B0UND--\r\n';
  const body = assemble(layout, file);
  assert.equal(body.toString('latin1'), expected);
  assert.equal(layout.length, Buffer.byteLength(expected));
  assert.equal(layout.length, body.length);
  assert.deepEqual(
    layout.parts.map(({ start, end }) => [start, end]),
    [
      [0, 1],
      [3, 4],
    ],
  );
  assert.equal(layout.tail.toString('latin1'), '\r\n--B0UND--\r\n');
});

test('multipart layout: length equals the sum of its bytes for many shapes', () => {
  const file = Buffer.alloc(1000, 0x61);
  const boundary = newBoundary();
  const shapes = [
    [{ start: 0, end: 0 }],
    [
      { start: 0, end: 999 },
      { start: 10, end: 10 },
    ],
    Array.from({ length: 100 }, (_, i) => ({ start: i * 10, end: i * 10 + 4 })),
  ];
  for (const ranges of shapes) {
    const layout = byteRangesLayout(ranges, file.length, 'application/octet-stream', boundary);
    const body = assemble(layout, file);
    assert.equal(layout.length, body.length);
    assert.equal(layout.parts.length, ranges.length);
    assert.ok(body.subarray(0, 2 + boundary.length).equals(Buffer.from(`--${boundary}`)));
  }
});

test('multipart layout: empty content type omits the Content-Type line', () => {
  const layout = byteRangesLayout([{ start: 2, end: 3 }], 10, '', 'x');
  assert.equal(layout.parts[0]?.head.toString('latin1'), '--x\r\nContent-Range: bytes 2-3/10\r\n\r\n');
  assert.equal(layout.length, '--x\r\nContent-Range: bytes 2-3/10\r\n\r\n'.length + 2 + '\r\n--x--\r\n'.length);
  assert.equal(layout.length, 47);
});
