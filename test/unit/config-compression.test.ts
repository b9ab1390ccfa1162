/**
 * The compression directives (README "Compression"): gzip*, brotli* in server and location blocks, a location
 * inheriting what it does not set, and every bad value reported at FILE:LINE:COL.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConfigText } from '../../src/config/load.js';
import { COMPRESSIBLE_TYPES, type LocationConfig } from '../../src/config/types.js';

const FILE = path.join(fileURLToPath(new URL('.', import.meta.url)), 'test.conf');

/** Server lines 1-3, then `server` (line 4), then location "/" whose body is `own` (line 6). */
const text = (server: string, own: string): string =>
  `server {\n  host 127.0.0.1\n  port 8080\n${server}\n  location / {\n${own}\n    root .\n  }\n  location /b {\n    root .\n  }\n}\n`;

function locations(server: string, own = ''): readonly LocationConfig[] {
  const r = parseConfigText(text(server, own), FILE);
  if (!r.ok) assert.fail(r.errors.map((e) => e.message).join('\n'));
  const s = r.config.servers[0];
  assert.ok(s !== undefined);
  return s.locations;
}

function firstError(server: string, own = ''): string {
  const r = parseConfigText(text(server, own), FILE, { strict: true });
  assert.equal(r.ok, false, 'expected the config to be rejected');
  const e = r.ok ? undefined : r.errors[0];
  return e === undefined ? '' : `${e.pos.line}:${e.pos.col} ${e.detail}`;
}

describe('config: compression directives', () => {
  it('defaults: both off, the compressible types, 256 bytes, levels 1 and 6', () => {
    const [a] = locations('');
    assert.deepEqual(a?.compression, {
      gzip: { on: false, types: COMPRESSIBLE_TYPES, minLength: 256, level: 1 },
      brotli: { on: false, types: COMPRESSIBLE_TYPES, minLength: 256, level: 6 },
    });
    assert.ok(COMPRESSIBLE_TYPES.includes('text/*') && COMPRESSIBLE_TYPES.includes('application/wasm'));
  });

  it('server values reach every location; a location overrides only what it sets', () => {
    const [a, b] = locations(
      '  gzip on\n  gzip_types text/css Application/JavaScript\n  gzip_min_length 1k\n  gzip_comp_level 5\n  brotli on\n  brotli_comp_level 11',
      '    gzip off\n    brotli_types *\n    brotli_min_length 10',
    );
    assert.deepEqual(b?.compression, {
      gzip: { on: true, types: ['text/css', 'application/javascript', 'text/javascript'], minLength: 1024, level: 5 },
      brotli: { on: true, types: COMPRESSIBLE_TYPES, minLength: 256, level: 11 },
    });
    assert.deepEqual(a?.compression, {
      gzip: { on: false, types: ['text/css', 'application/javascript', 'text/javascript'], minLength: 1024, level: 5 },
      brotli: { on: true, types: ['*'], minLength: 10, level: 11 },
    });
  });

  it('a server directive written after the location still reaches it', () => {
    const r = parseConfigText(
      'server {\n  host 127.0.0.1\n  port 8080\n  location / {\n    root .\n  }\n  gzip on\n}\n',
      FILE,
    );
    assert.ok(r.ok);
    assert.equal(r.ok && r.config.servers[0]?.locations[0]?.compression.gzip.on, true);
  });

  it('rejects bad values at their argument', () => {
    assert.equal(firstError('  gzip yes'), '4:8 bad value "yes" for "gzip": expected on or off');
    assert.equal(firstError('  gzip_comp_level 0'), '4:19 bad gzip_comp_level "0": expected an integer from 1 to 9');
    assert.equal(firstError('  gzip_comp_level 10'), '4:19 bad gzip_comp_level "10": expected an integer from 1 to 9');
    assert.equal(
      firstError('  brotli_comp_level 12'),
      '4:21 bad brotli_comp_level "12": expected an integer from 0 to 11',
    );
    assert.deepEqual(locations('  brotli_comp_level 0')[0]?.compression.brotli.level, 0);
    assert.equal(
      firstError('  gzip_min_length -1'),
      '4:19 bad size "-1": expected bytes with an optional k, m or g suffix, e.g. 10m',
    );
    assert.equal(
      firstError('', '    gzip_types text/css text'),
      '6:25 bad gzip_types "text": expected a media type such as text/css, a range such as text/*, or *',
    );
    assert.equal(
      firstError('', '    brotli_types a/b/c'),
      '6:18 bad brotli_types "a/b/c": expected a media type such as text/css, a range such as text/*, or *',
    );
  });

  it('rejects a repeat, a missing argument and a misspelling', () => {
    assert.equal(firstError('  gzip on\n  gzip off'), '5:3 duplicate "gzip" directive (first at 4:3)');
    assert.match(firstError('  gzip_types'), /^4:3 "gzip_types" takes at least 1 argument/);
    assert.equal(
      firstError('  gzip_comp_levle 3'),
      '4:3 unknown directive "gzip_comp_levle" in server block; did you mean "gzip_comp_level"?',
    );
  });
});
