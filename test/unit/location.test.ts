import { COMBINED } from '../../src/config/log-format.js';
import { MEMORY_STORE } from '../../src/config/session-store.js';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { LocationConfig, ServerConfig } from '../../src/config/types.js';
import { COMPRESSION_DEFAULTS, DEFAULTS, NO_RATE_LIMIT } from '../../src/config/types.js';
import { OPEN_POLICY } from '../../src/access/policy.js';
import { DEFAULT_MIME } from '../../src/http/mime.js';
import { fileFor, matchLocation, prefixMatches } from '../../src/router/location.js';
import { allowedMethods, allowValue, hiddenPath } from '../../src/router/dispatch.js';

const pos = { file: 't.conf', line: 1, col: 1 };
function loc(path: string, extra: Partial<LocationConfig> = {}): LocationConfig {
  return {
    path,
    methods: null,
    rootCaptures: null,
    root: '/srv' + path,
    index: [],
    bodyLimit: 0,
    mime: DEFAULT_MIME,
    directoryListing: false,
    cgi: new Map(),
    redirect: null,
    session: false,
    status: false,
    metrics: false,
    dotfiles: false,
    symlinks: 'inside-root',
    compression: COMPRESSION_DEFAULTS,
    match: { kind: 'prefix' },
    mapPrefix: path,
    ops: [],
    tryFiles: null,
    addHeaders: null,
    expires: null,
    access: OPEN_POLICY,
    limitRate: NO_RATE_LIMIT,
    realIp: null,
    proxy: null,
    fastcgi: null,
    pos,
    ...extra,
  };
}
function server(locations: LocationConfig[]): ServerConfig {
  return {
    listens: [{ host: '127.0.0.1', port: 80, backlog: 511, ssl: false, defaultServer: false, pos }],
    serverNames: [],
    bodyLimit: 0,
    errorPages: new Map(),
    errorRedirects: new Map(),
    ops: [],
    addHeaders: [],
    expires: null,
    locations,
    timeouts: DEFAULTS.timeouts,
    sessionTimeout: 1,
    sessionMax: 1,
    sessionMaxPerAddress: 1,
    sessionStore: MEMORY_STORE,
    accessLog: null,
    errorLog: 'stderr',
    tls: null,
    access: OPEN_POLICY,
    limitRate: NO_RATE_LIMIT,
    realIp: null,
    errorLogLevel: 'info',
    accessLogFormat: COMBINED,
    accessLogOptions: { buffer: 65536, flushMs: 1000, condition: null },
    pos,
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

test('a root or alias with captures: expanded, the URI appended for root, confined to its directory', () => {
  const t = (text: string, index: number) => [
    { kind: 'text' as const, text },
    { kind: 'capture' as const, index },
  ];
  const alias = loc('~', {
    mapPrefix: '',
    root: '/srv/users',
    rootCaptures: { template: { source: 'a', parts: t('/srv/users/', 1) }, whole: false },
  });
  assert.equal(fileFor(alias, '/srv/users', '/u/ada/photo', [undefined, 'ada.png']), '/srv/users/ada.png');
  assert.equal(fileFor(alias, '/srv/users', '/u/x', [undefined, '']), '/srv/users');
  assert.equal(fileFor(alias, '/srv/users', '/u/x', [undefined, '..']), null, 'a capture may not leave the directory');
  assert.equal(fileFor(alias, '/srv/users', '/u/x', [undefined, '../../etc/passwd']), null);
  const root = loc('~', {
    mapPrefix: '',
    root: '/srv/sites',
    rootCaptures: { template: { source: 'r', parts: t('/srv/sites/', 1) }, whole: true },
  });
  assert.equal(fileFor(root, '/srv/sites', '/s/a/page.txt', [undefined, 'a']), '/srv/sites/a/s/a/page.txt');
});

test('GET allows HEAD; the Allow value lists what is allowed, and OPTIONS', () => {
  const l = loc('/', { methods: new Set(['GET', 'POST']) });
  const allowed = allowedMethods(l, false);
  assert.deepEqual([...allowed].sort(), ['GET', 'HEAD', 'POST']);
  assert.equal(allowValue(allowed), 'GET, HEAD, POST, OPTIONS');
});

test('without "methods" a location is read-only; POST reaches only CGI scripts', () => {
  assert.equal(allowValue(allowedMethods(loc('/'), false)), 'GET, HEAD, OPTIONS');
  const cgi = loc('/cgi', { cgi: new Map([['.py', '/usr/bin/python3']]) });
  assert.equal(allowValue(allowedMethods(cgi, true)), 'GET, HEAD, POST, OPTIONS');
  assert.equal(allowValue(allowedMethods(cgi, false)), 'GET, HEAD, OPTIONS');
});

test('a location with cgi never stores or deletes, whatever "methods" says', () => {
  const cgi = loc('/cgi', { cgi: new Map([['.py', '/usr/bin/python3']]), methods: new Set(['GET', 'POST', 'DELETE']) });
  assert.equal(allowValue(allowedMethods(cgi, false)), 'GET, HEAD, OPTIONS');
  assert.equal(allowValue(allowedMethods(cgi, true)), 'GET, HEAD, POST, DELETE, OPTIONS');
});

test('hidden paths: a dot segment below the location, except a leading /.well-known/', () => {
  const root = loc('/');
  assert.equal(hiddenPath(root, '/.env'), true);
  assert.equal(hiddenPath(root, '/a/.git/config'), true);
  assert.equal(hiddenPath(root, '/a/b.txt'), false);
  assert.equal(hiddenPath(root, '/.well-known/acme-challenge/x'), false);
  assert.equal(hiddenPath(root, '/.well-known'), false);
  assert.equal(hiddenPath(root, '/.well-known/.secret'), true);
  assert.equal(hiddenPath(root, '/.well-knownx/y'), true);
  assert.equal(hiddenPath(root, '/a/.well-known/x'), true);
  assert.equal(hiddenPath(loc('/.hidden'), '/.hidden/x'), false); // the location's own prefix was written on purpose
  // ... also where it serves from its server's root (mapPrefix "", the whole path appended).
  assert.equal(hiddenPath(loc('/.hidden', { mapPrefix: '' }), '/.hidden/x'), false);
  assert.equal(hiddenPath(loc('/.hidden', { mapPrefix: '' }), '/.hidden/.x'), true);
  assert.equal(hiddenPath(loc('/files'), '/files/.htaccess'), true);
});
