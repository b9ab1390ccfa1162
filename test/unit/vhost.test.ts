import { COMBINED } from '../../src/config/log-format.js';
import { MEMORY_STORE } from '../../src/config/session-store.js';
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Config, ServerConfig } from '../../src/config/types.js';
import { DEFAULTS, NO_RATE_LIMIT } from '../../src/config/types.js';
import { OPEN_POLICY } from '../../src/access/policy.js';
import { plainAddress, VHostGroup, VirtualHosts } from '../../src/router/vhost.js';
import { bindSpecs } from '../../src/server/listeners.js';

const pos = { file: 't.conf', line: 1, col: 1 };
function srv(host: string, ports: number[], names: string[]): ServerConfig {
  return {
    listens: ports.map((port) => ({ host, port, backlog: 511, ssl: false, defaultServer: false, pos })),
    serverNames: names,
    bodyLimit: 0,
    errorPages: new Map(),
    errorRedirects: new Map(),
    ops: [],
    addHeaders: [],
    expires: null,
    locations: [],
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

test('Host selects by server_name; unknown hosts get the first server without a name', () => {
  const a = srv('0.0.0.0', [80], ['a.local']);
  const def = srv('0.0.0.0', [80], []);
  const b = srv('0.0.0.0', [80], ['b.local', 'www.b.local']);
  const g = new VHostGroup([a, def, b]);
  assert.equal(g.select('b.local'), b);
  assert.equal(g.select('www.b.local'), b);
  assert.equal(g.select('a.local'), a);
  assert.equal(g.select('other'), def);
  assert.equal(g.select(''), def);
  assert.equal(g.select('a.local.'), a);
});

test('without a nameless server, the first server is the default', () => {
  const a = srv('0.0.0.0', [80], ['a']);
  const b = srv('0.0.0.0', [80], ['b']);
  assert.equal(new VHostGroup([a, b]).select('zzz'), a);
});

test('servers bound to the exact local address win over the wildcard', () => {
  const wild = srv('0.0.0.0', [80], []);
  const lo = srv('127.0.0.1', [80], []);
  const vh = new VirtualHosts([wild, lo]);
  assert.equal(vh.group('127.0.0.1', 80)?.fallback, lo);
  assert.equal(vh.group('::ffff:127.0.0.1', 80)?.fallback, lo);
  assert.equal(vh.group('10.1.2.3', 80)?.fallback, wild);
  assert.equal(vh.group('127.0.0.1', 81), null);
});

test('IPv4-mapped addresses are reported plainly', () => {
  assert.equal(plainAddress('::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(plainAddress('::1'), '::1');
});

test('each host:port is bound once; a wildcard covers specific addresses on its port', () => {
  const config: Config = {
    file: '/t.conf',
    servers: [srv('0.0.0.0', [80, 81], ['a']), srv('0.0.0.0', [80], ['b']), srv('127.0.0.1', [80, 82], [])],
    strict: false,
    transport: null,
    pid: null,
    workerProcesses: 1,
  };
  const specs = bindSpecs(config.servers)
    .map((s) => `${s.host}:${s.port}`)
    .sort();
  assert.deepEqual(specs, ['0.0.0.0:80', '0.0.0.0:81', '127.0.0.1:82']);
});

test('"::" beside "0.0.0.0" on one port binds IPv6 only', () => {
  const config: Config = {
    file: '/t.conf',
    servers: [srv('0.0.0.0', [80], []), srv('::', [80], [])],
    strict: false,
    transport: null,
    pid: null,
    workerProcesses: 1,
  };
  const six = bindSpecs(config.servers).find((s) => s.host === '::');
  assert.equal(six?.ipv6Only, true);
});
