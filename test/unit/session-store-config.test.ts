/** `session_store`'s arguments (src/config/session-store.ts): memory, redis:// URLs, prefix=, and what is refused. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseRedisUrl, parseSessionStore } from '../../src/config/session-store.js';

describe('session_store', () => {
  it('parses redis:// URLs', () => {
    assert.deepEqual(parseRedisUrl('redis://u:p%40@127.0.0.1:6380/2'), {
      ok: true,
      value: { host: '127.0.0.1', port: 6380, user: 'u', password: 'p@', db: 2 },
    });
    assert.deepEqual(parseRedisUrl('redis://[::1]'), {
      ok: true,
      value: { host: '::1', port: 6379, user: null, password: null, db: 0 },
    });
    const local = parseRedisUrl('redis://localhost:7000');
    assert.ok(local.ok && local.value.host === '127.0.0.1');
    for (const bad of ['http://x', 'redis://127.0.0.1:1/x', 'nonsense', 'redis://redis.example:6379'])
      assert.equal(parseRedisUrl(bad).ok, false, bad);
  });
  it('takes memory, or a URL with an optional prefix; masks the password', () => {
    assert.deepEqual(parseSessionStore(['memory']), { ok: true, value: { kind: 'memory' } });
    const r = parseSessionStore(['redis://:secret@127.0.0.1:6379', 'prefix=site1:']);
    assert.ok(r.ok && r.value.kind === 'redis');
    assert.equal(r.value.prefix, 'site1:');
    assert.equal(r.value.shown, 'redis://:***@127.0.0.1:6379');
    assert.equal(r.value.address.password, 'secret');
    const d = parseSessionStore(['redis://127.0.0.1']);
    assert.ok(d.ok && d.value.kind === 'redis' && d.value.prefix === 'localhost:sess:');
  });
  it('refuses what it does not know, saying why', () => {
    const cases: Array<[string[], RegExp]> = [
      [['memory', 'prefix=x'], /takes no options/],
      [['mysql://127.0.0.1'], /expected memory or redis/],
      [['redis://127.0.0.1', 'ttl=5'], /expected prefix=P/],
      [['redis://127.0.0.1', 'prefix=a b'], /expected prefix=P/],
      [['redis://db.internal'], /IP address or localhost/],
    ];
    for (const [args, why] of cases) {
      const r = parseSessionStore(args);
      assert.ok(!r.ok, args.join(' '));
      assert.match(r.error, why);
    }
  });
});
