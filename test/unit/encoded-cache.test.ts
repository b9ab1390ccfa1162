/** The encoded-variant cache (handlers/encoded-cache.ts) and the type rules of handlers/compression.ts. */
import assert from 'node:assert/strict';
import type * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { EncodedCache } from '../../src/handlers/encoded-cache.js';
import { codingsFor, typeMatches } from '../../src/handlers/compression.js';
import { COMPRESSION_DEFAULTS } from '../../src/config/types.js';

/** Only the fields the cache compares. */
type Identity = Pick<fs.Stats, 'ino' | 'size' | 'mtimeMs' | 'ctimeMs'>;
const stat = (ino: number, size = 100, mtimeMs = 1, ctimeMs = 1): Identity => ({ ino, size, mtimeMs, ctimeMs });
const entry = (st: Identity, bytes: number): Parameters<EncodedCache<string>['put']>[2] => ({
  ino: st.ino,
  size: st.size,
  mtimeMs: st.mtimeMs,
  ctimeMs: st.ctimeMs,
  value: `v${st.ino}`,
  bytes,
});

describe('EncodedCache', () => {
  it('answers only for the same file identity, and drops a stale entry', () => {
    const c = new EncodedCache<string>(1000);
    c.put('/a', 'gzip 1', entry(stat(1), 10));
    assert.equal(c.get('/a', 'gzip 1', stat(1))?.value, 'v1');
    assert.equal(c.get('/a', 'br 6', stat(1)), undefined);
    for (const changed of [stat(2), stat(1, 101), stat(1, 100, 2), stat(1, 100, 1, 2)]) {
      c.put('/a', 'gzip 1', entry(stat(1), 10));
      assert.equal(c.get('/a', 'gzip 1', changed), undefined);
      assert.equal(c.bytes(), 0);
    }
  });

  it('keeps its byte cap by evicting the least recently used; refuses one larger than the cap', () => {
    const c = new EncodedCache<string>(100);
    c.put('/a', 'x', entry(stat(1), 40));
    c.put('/b', 'x', entry(stat(2), 40));
    assert.ok(c.get('/a', 'x', stat(1)) !== undefined); // /a is now the most recent
    c.put('/c', 'x', entry(stat(3), 40));
    assert.equal(c.get('/b', 'x', stat(2)), undefined, 'the least recently used went');
    assert.ok(c.get('/a', 'x', stat(1)) !== undefined);
    assert.equal(c.bytes(), 80);
    c.put('/d', 'x', entry(stat(4), 101));
    assert.equal(c.get('/d', 'x', stat(4)), undefined);
    assert.equal(c.bytes(), 80);
  });

  it('drops a path, or a subtree', () => {
    const c = new EncodedCache<string>(1000);
    c.put('/w/a.js', 'gzip 1', entry(stat(1), 1));
    c.put('/w/a.js', 'br 6', entry(stat(1), 1));
    c.put('/w/sub/b.js', 'gzip 1', entry(stat(2), 1));
    c.put('/wx/c.js', 'gzip 1', entry(stat(3), 1));
    c.drop('/w/a.js', false);
    assert.equal(c.size(), 2);
    c.drop('/w', true);
    assert.equal(c.size(), 1, '/wx is not under /w');
    assert.ok(c.get('/wx/c.js', 'gzip 1', stat(3)) !== undefined);
  });
});

describe('compression types', () => {
  it('matches exact types, type/*, and *, ignoring parameters and case', () => {
    assert.ok(typeMatches(['text/*'], 'text/html; charset=utf-8'));
    assert.ok(typeMatches(['application/javascript'], 'Application/JavaScript; charset=utf-8'));
    assert.ok(!typeMatches(['text/*'], 'textx/html'));
    assert.ok(!typeMatches(['text/*'], 'application/text'));
    assert.ok(typeMatches(['*'], 'image/png'));
    assert.ok(!typeMatches(['image/svg+xml'], 'image/png'));
  });

  it('codingsFor applies on, the types and the minimum length', () => {
    const on = {
      gzip: { ...COMPRESSION_DEFAULTS.gzip, on: true },
      brotli: { ...COMPRESSION_DEFAULTS.brotli, on: true, minLength: 1000 },
    };
    assert.deepEqual([...codingsFor(on, 'text/css', 500)], ['gzip']);
    assert.deepEqual([...codingsFor(on, 'text/css', 1000)], ['br', 'gzip']);
    assert.deepEqual([...codingsFor(on, 'text/css', -1)], ['br', 'gzip'], 'a stream of unknown length');
    assert.deepEqual([...codingsFor(on, 'image/png', 5000)], []);
    assert.deepEqual([...codingsFor(COMPRESSION_DEFAULTS, 'text/css', 5000)], []);
  });
});
