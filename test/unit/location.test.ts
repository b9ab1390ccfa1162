import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { LocationConfig, ServerConfig } from '../../src/config/types.js';
import { DEFAULTS } from '../../src/config/types.js';
import { fileFor, matchLocation, prefixMatches } from '../../src/router/location.js';
import { allowValue, methodAllowed } from '../../src/router/dispatch.js';

const pos = { file: 't.conf', line: 1, col: 1 };
function loc(path: string, extra: Partial<LocationConfig> = {}): LocationConfig {
  return {
    path, methods: null, root: '/srv' + path, defaultFile: null, directoryListing: false, cgi: new Map(),
    redirect: null, session: false, status: false, pos, ...extra,
  };
}
function server(locations: LocationConfig[]): ServerConfig {
  return {
    host: '127.0.0.1', ports: [80], serverNames: [], bodyLimit: 0, errorPages: new Map(), locations,
    timeouts: DEFAULTS.timeouts, sessionTimeout: 1, sessionMax: 1, accessLog: null, errorLog: 'stderr', pos,
  };
}

test('prefixes match only at segment boundaries', () => {
  assert.ok(prefixMatches('/files', '/files'));
  assert.ok(prefixMatches('/files', '/files/'));
  assert.ok(prefixMatches('/files', '/files/a'));
  assert.ok(!prefixMatches('/files', '/filesx'));
  assert.ok(prefixMatches('/', '/anything'));
});

test('the longest matching location wins, whatever the order written', () => {
  const s = server([loc('/'), loc('/files'), loc('/files/deep')]);
  assert.equal(matchLocation(s, '/files/deep/x')?.path, '/files/deep');
  assert.equal(matchLocation(s, '/files/x')?.path, '/files');
  assert.equal(matchLocation(s, '/filesx')?.path, '/');
});

test('no location matches when there is no "/" location', () => {
  assert.equal(matchLocation(server([loc('/a')]), '/b'), null);
});

test('root replaces the location prefix (the seed rule)', () => {
  const l = loc('/files');
  assert.equal(fileFor(l, '/srv/www/files', '/files/a.txt'), '/srv/www/files/a.txt');
  assert.equal(fileFor(l, '/srv/www/files', '/files'), '/srv/www/files');
  assert.equal(fileFor(l, '/srv/www/files', '/files/'), '/srv/www/files');
  assert.equal(fileFor(loc('/'), '/srv/www', '/a/b'), '/srv/www/a/b');
});

test('GET allows HEAD; the Allow value lists what is allowed', () => {
  const l = loc('/', { methods: new Set(['GET', 'POST']) });
  assert.ok(methodAllowed(l, 'HEAD'));
  assert.ok(methodAllowed(l, 'POST'));
  assert.ok(!methodAllowed(l, 'DELETE'));
  assert.equal(allowValue(l), 'GET, HEAD, POST');
  assert.equal(allowValue(loc('/')), 'GET, HEAD, POST, DELETE');
});
