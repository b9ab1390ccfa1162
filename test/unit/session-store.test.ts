import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionStore, newSessionId, isWellFormedId, MAX_SESSION_DATA_BYTES } from '../../src/session/store.js';

/** A clock the test moves by hand. */
function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

const ID = /^[A-Za-z0-9_-]{22}$/;

test('newSessionId: 10,000 ids all distinct, each 22 base64url chars', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    const id = newSessionId();
    assert.match(id, ID);
    seen.add(id);
  }
  assert.equal(seen.size, 10_000);
});

test('isWellFormedId: exactly 22 base64url chars', () => {
  assert.equal(isWellFormedId(newSessionId()), true);
  assert.equal(isWellFormedId('A'.repeat(22)), true);
  assert.equal(isWellFormedId('a-_b'.repeat(5) + 'zz'), true);
  assert.equal(isWellFormedId('A'.repeat(21)), false);
  assert.equal(isWellFormedId('A'.repeat(23)), false);
  assert.equal(isWellFormedId('A'.repeat(21) + '='), false);
  assert.equal(isWellFormedId('A'.repeat(21) + '+'), false);
  assert.equal(isWellFormedId('A'.repeat(21) + '/'), false);
  assert.equal(isWellFormedId(''), false);
  assert.equal(isWellFormedId('A'.repeat(21) + '\n'), false);
});

test('create, get, destroy', () => {
  const c = fakeClock();
  const store = new SessionStore({ idleMs: 1000, max: 10, now: c.now });
  const s = store.create();
  assert.match(s.id, ID);
  assert.deepEqual({ ...s }, { id: s.id, owner: '', data: '', lastSeen: 1_000_000, created: 1_000_000 });
  assert.equal(store.size, 1);
  c.advance(500);
  const g = store.get(s.id);
  assert.equal(g, s);
  assert.equal(s.lastSeen, 1_000_500);
  assert.equal(s.created, 1_000_000);
  assert.equal(store.get(newSessionId()), null);
  assert.equal(store.get('not an id'), null);
  store.destroy(s.id);
  assert.equal(store.size, 0);
  assert.equal(store.get(s.id), null);
  store.destroy(s.id); // unknown: no-op
  assert.equal(store.size, 0);
});

test('idle expiry via the injected clock; get refreshes the idle timer', () => {
  const c = fakeClock();
  const store = new SessionStore({ idleMs: 1000, max: 10, now: c.now });
  const s = store.create();
  c.advance(999);
  assert.equal(store.get(s.id), s); // lastSeen now +999
  c.advance(999);
  assert.equal(store.get(s.id), s); // still alive: idle 999 < 1000
  c.advance(1000);
  assert.equal(store.get(s.id), null); // idle exactly idleMs: expired
  assert.equal(store.size, 0); // and deleted
});

test('fresh sessions are stored only once data is written into them', () => {
  const c = fakeClock();
  const store = new SessionStore({ idleMs: 1000, max: 10, now: c.now });
  const a = store.fresh('10.0.0.1');
  assert.equal(store.size, 0);
  assert.equal(store.has(a), false);
  assert.equal(store.get(a.id), null); // a client cannot come back to a session nothing was written to
  assert.equal(store.setData(a, ''), true); // writing nothing stores nothing
  assert.equal(store.size, 0);
  assert.equal(store.setData(a, 'visits=1'), true);
  assert.equal(store.has(a), true);
  assert.equal(store.get(a.id), a);
  assert.equal(a.owner, '10.0.0.1');
  const unknown = 'A'.repeat(22);
  assert.equal(store.get(unknown), null); // a client cannot choose its id (session fixation)
  assert.notEqual(store.fresh().id, unknown);

  c.advance(1000);
  assert.equal(store.get(a.id), null);
  assert.equal(store.size, 0);
});

test('one address cannot push other clients out: at its cap, its own oldest session goes', () => {
  const store = new SessionStore({ idleMs: 60_000, max: 100, maxPerOwner: 3 });
  const victim = store.create('192.0.2.1');
  store.setData(victim, 'user=ada');
  const flood = Array.from({ length: 50 }, () => {
    const s = store.fresh('198.51.100.7');
    store.setData(s, 'x=1');
    return s;
  });
  assert.equal(store.get(victim.id), victim);
  assert.equal(store.size, 4);
  assert.deepEqual(
    flood.filter((s) => store.has(s)).map((s) => s.id),
    flood.slice(-3).map((s) => s.id),
  );
});

test('LRU eviction at the cap evicts the least recently used, not the oldest created', () => {
  const c = fakeClock();
  const store = new SessionStore({ idleMs: 60_000, max: 3, now: c.now });
  const s1 = store.create();
  c.advance(1);
  const s2 = store.create();
  c.advance(1);
  const s3 = store.create();
  c.advance(1);
  assert.equal(store.get(s1.id), s1); // s1 touched: s2 is now least recently used
  c.advance(1);
  const s4 = store.create();
  assert.equal(store.size, 3);
  assert.equal(store.get(s2.id), null);
  assert.equal(store.get(s1.id), s1);
  assert.equal(store.get(s3.id), s3);
  assert.equal(store.get(s4.id), s4);
  // order now s1, s3, s4 (by last get): next overflow evicts s1
  store.create();
  assert.equal(store.get(s1.id), null);
  assert.equal(store.size, 3);
});

test('100,000 creates leave size == max', () => {
  const store = new SessionStore({ idleMs: 60_000, max: 1000, now: fakeClock().now });
  let last = store.create();
  for (let i = 1; i < 100_000; i++) last = store.create();
  assert.equal(store.size, 1000);
  assert.equal(store.get(last.id), last);
});

test('sweep drops expired sessions and returns their count', () => {
  const c = fakeClock();
  const store = new SessionStore({ idleMs: 1000, max: 100, now: c.now });
  const early = [store.create(), store.create(), store.create()];
  c.advance(500);
  const late = [store.create(), store.create()];
  assert.equal(store.sweep(), 0);
  c.advance(500); // early idle 1000 (expired), late idle 500
  assert.equal(store.sweep(), 3);
  assert.equal(store.size, 2);
  for (const s of early) assert.equal(store.get(s.id), null);
  assert.equal(store.get(late[0]!.id), late[0]);
  c.advance(999);
  assert.equal(store.sweep(), 1); // late[1] idle 1499; late[0] touched 999 ago
  assert.equal(store.size, 1);
  assert.equal(store.sweep(), 0);
});

test('sweep honours touches: a refreshed early session survives', () => {
  const c = fakeClock();
  const store = new SessionStore({ idleMs: 1000, max: 100, now: c.now });
  const a = store.create();
  const b = store.create();
  c.advance(900);
  store.get(a.id);
  c.advance(100);
  assert.equal(store.sweep(), 1);
  assert.equal(store.get(a.id), a);
  assert.equal(store.get(b.id), null);
});

test('setData: accepts up to 4096 UTF-8 bytes, rejects more and keeps the old data', () => {
  const store = new SessionStore({ idleMs: 1000, max: 10, now: fakeClock().now });
  const s = store.create();
  assert.equal(MAX_SESSION_DATA_BYTES, 4096);
  assert.equal(store.setData(s, 'a=1'), true);
  assert.equal(s.data, 'a=1');
  assert.equal(store.setData(s, 'x'.repeat(4096)), true);
  assert.equal(s.data.length, 4096);
  assert.equal(store.setData(s, 'y'.repeat(4097)), false);
  assert.equal(s.data, 'x'.repeat(4096));
  assert.equal(store.setData(s, 'é'.repeat(2049)), false); // 4098 bytes in 2049 chars
  assert.equal(store.setData(s, 'é'.repeat(2048)), true);
  assert.equal(store.setData(s, ''), true);
  assert.equal(s.data, '');
});

test('constructor rejects nonsense options', () => {
  assert.throws(() => new SessionStore({ idleMs: 0, max: 1 }), RangeError);
  assert.throws(() => new SessionStore({ idleMs: 1000, max: 0 }), RangeError);
  assert.throws(() => new SessionStore({ idleMs: 1000, max: 1.5 }), RangeError);
  assert.throws(() => new SessionStore({ idleMs: NaN, max: 1 }), RangeError);
});

test('default clock works without injection', () => {
  const store = new SessionStore({ idleMs: 60_000, max: 2 });
  const s = store.create();
  assert.ok(Math.abs(s.created - Date.now()) < 1000);
  assert.equal(store.get(s.id), s);
});
