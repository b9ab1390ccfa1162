import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ConcurrencyLimit, LeakyBucket } from '../../src/access/limit-req.js';

test('limit_req 10r/s burst=5: one at once, five delayed by 100 ms steps, the rest rejected', () => {
  const b = new LeakyBucket(10, 5, false);
  const verdicts = Array.from({ length: 10 }, () => b.take('a', 1000));
  assert.deepEqual(verdicts.slice(0, 6), [
    { kind: 'pass' },
    { kind: 'delay', ms: 100 },
    { kind: 'delay', ms: 200 },
    { kind: 'delay', ms: 300 },
    { kind: 'delay', ms: 400 },
    { kind: 'delay', ms: 500 },
  ]);
  for (const v of verdicts.slice(6)) assert.deepEqual(v, { kind: 'reject', retryMs: 100 });
  // Another address has its own bucket.
  assert.deepEqual(b.take('b', 1000), { kind: 'pass' });
  // 100 ms later one more fits.
  assert.equal(b.take('a', 1100).kind, 'delay');
  assert.equal(b.take('a', 1100).kind, 'reject');
  // A second later the bucket is empty again.
  assert.deepEqual(b.take('a', 2700), { kind: 'pass' });
});

test('nodelay takes the burst at once; no burst rejects the second request in the same 100 ms', () => {
  const n = new LeakyBucket(10, 5, true);
  const kinds = Array.from({ length: 8 }, () => n.take('a', 0).kind);
  assert.deepEqual(kinds, ['pass', 'pass', 'pass', 'pass', 'pass', 'pass', 'reject', 'reject']);
  const z = new LeakyBucket(10, 0, false);
  assert.equal(z.take('a', 0).kind, 'pass');
  assert.equal(z.take('a', 50).kind, 'reject');
  assert.equal(z.take('a', 100).kind, 'pass');
  // r/m rates: 60r/m is one a second.
  const m = new LeakyBucket(1, 0, false);
  assert.equal(m.take('a', 0).kind, 'pass');
  assert.equal(m.take('a', 999).kind, 'reject');
  assert.equal(m.take('a', 1000).kind, 'pass');
});

test('the state is bounded: the least recently seen address goes first', () => {
  const b = new LeakyBucket(1, 0, true, 3);
  for (const k of ['a', 'b', 'c']) b.take(k, 0);
  b.take('a', 0); // a is seen again (and rejected): b is now the oldest
  b.take('d', 0);
  assert.equal(b.size, 3);
  assert.equal(b.take('a', 0).kind, 'reject'); // still remembered
  assert.equal(b.take('b', 0).kind, 'pass'); // forgotten, so a fresh bucket
  for (let i = 0; i < 10_000; i++) b.take(`x${i}`, 0);
  assert.equal(b.size, 3);
});

test('limit_conn counts requests in progress; a release runs once', () => {
  const c = new ConcurrencyLimit();
  const r1 = c.enter('a', 2);
  const r2 = c.enter('a', 2);
  assert.ok(r1 !== null && r2 !== null);
  assert.equal(c.enter('a', 2), null);
  r1();
  r1();
  const r3 = c.enter('a', 2);
  assert.ok(r3 !== null);
  assert.equal(c.enter('a', 2), null);
  r2();
  r3();
  assert.equal(c.size, 0);
});
