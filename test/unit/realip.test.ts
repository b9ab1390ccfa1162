/** access/realip.ts: the client address from the peer, a header, the trusted blocks and recursion (nginx's realip),
 *  and the directives' parsing and inheritance. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseAddress, parseBlock, type Block } from '../../src/access/cidr.js';
import { formatAddress, parseAddrPort, realClient, trusted, type RealIpConfig } from '../../src/access/realip.js';
import { parseConfigText } from '../../src/config/load.js';

const blocks = (...xs: string[]): Block[] =>
  xs.map((x) => {
    const b = parseBlock(x);
    assert.ok(b.ok, x);
    return b.value;
  });
const cfg = (from: string[], recursive = false, header = 'x-forwarded-for'): RealIpConfig => ({
  from: blocks(...from),
  unix: false,
  header,
  recursive,
});
const addr = (peer: string, value: string | undefined, c: RealIpConfig): string | null =>
  realClient(peer, value, c)?.address ?? null;

test('an untrusted peer, or no header, changes nothing', () => {
  const c = cfg(['10.0.0.0/8']);
  assert.equal(realClient('192.0.2.1', '203.0.113.5', c), null);
  assert.equal(realClient('10.1.1.1', undefined, c), null);
  assert.equal(realClient('10.1.1.1', '', c), null);
  assert.equal(realClient('10.1.1.1', ' , ', c), null);
  assert.equal(realClient('not-an-address', '203.0.113.5', c), null);
});

test('recursive off: the last address of the list, trusted or not', () => {
  const c = cfg(['10.0.0.0/8']);
  assert.equal(addr('10.1.1.1', '203.0.113.5', c), '203.0.113.5');
  assert.equal(addr('10.1.1.1', '198.51.100.1, 203.0.113.5', c), '203.0.113.5');
  assert.equal(addr('10.1.1.1', '203.0.113.5, 10.2.2.2', c), '10.2.2.2');
  assert.equal(addr('10.1.1.1', '203.0.113.5,10.2.2.2 ,, ', c), '10.2.2.2');
  // The last element is no address: the peer stays.
  assert.equal(addr('10.1.1.1', '203.0.113.5, unknown', c), null);
});

test('recursive on: the rightmost address that is not trusted', () => {
  const c = cfg(['10.0.0.0/8', '2001:db8::/32'], true);
  assert.equal(addr('10.1.1.1', '198.51.100.1, 203.0.113.5, 10.2.2.2, 10.3.3.3', c), '203.0.113.5');
  assert.equal(addr('10.1.1.1', '203.0.113.5', c), '203.0.113.5');
  assert.equal(addr('10.1.1.1', '198.51.100.1, 2001:db8::9', c), '198.51.100.1');
  // Every address trusted: the leftmost one (nginx).
  assert.equal(addr('10.1.1.1', '10.9.9.9, 10.2.2.2', c), '10.9.9.9');
  // A bad element stops the walk, keeping what was found before it.
  assert.equal(addr('10.1.1.1', '203.0.113.5, garbage, 10.2.2.2', c), '10.2.2.2');
  assert.equal(addr('10.1.1.1', 'garbage', c), null);
  // The untrusted peer: nothing, however the list looks.
  assert.equal(addr('192.0.2.9', '10.2.2.2, 203.0.113.5', c), null);
});

test('IPv6 and IPv4-mapped peers and values', () => {
  const c = cfg(['127.0.0.0/8', '::1'], true);
  assert.equal(addr('::ffff:127.0.0.1', '203.0.113.5', c), '203.0.113.5'); // a mapped peer matches IPv4 blocks
  assert.equal(addr('::1', '2001:DB8:0:0:0:0:0:7', c), '2001:db8::7');
  assert.equal(addr('::1', '::FFFF:203.0.113.5', c), '::ffff:203.0.113.5');
  assert.equal(addr('::1', '198.51.100.1, ::ffff:127.0.0.9', c), '198.51.100.1'); // a mapped trusted hop is skipped
  assert.equal(addr('::2', '203.0.113.5', c), null);
  const v6only = cfg(['2001:db8::/32']);
  assert.equal(addr('2001:db8::1', '192.0.2.1', v6only), '192.0.2.1');
  assert.equal(addr('192.0.2.1', '192.0.2.2', v6only), null);
});

test('ports: V4:PORT and [V6]:PORT give the port, a bare address gives 0', () => {
  const c = cfg(['10.0.0.0/8']);
  assert.deepEqual(realClient('10.0.0.1', '203.0.113.5:4711', c), { address: '203.0.113.5', port: 4711 });
  assert.deepEqual(realClient('10.0.0.1', '[2001:db8::1]:80', c), { address: '2001:db8::1', port: 80 });
  assert.deepEqual(realClient('10.0.0.1', '203.0.113.5', c), { address: '203.0.113.5', port: 0 });
  for (const bad of ['[2001:db8::1]', '203.0.113.5:0', '203.0.113.5:65536', '203.0.113.5:x', '[::1]x', '1.2.3.4.5']) {
    assert.equal(parseAddrPort(bad), null, bad);
  }
});

test('X-Real-IP (the default header) and any other name are read the same way', () => {
  const c = cfg(['10.0.0.0/8'], false, 'x-real-ip');
  assert.equal(addr('10.0.0.1', '203.0.113.5', c), '203.0.113.5');
});

test('UNIX-domain peers (no IP address) are trusted only by unix:', () => {
  const c = cfg(['10.0.0.0/8']);
  assert.equal(addr('', '203.0.113.5', c), null);
  assert.equal(addr('', '203.0.113.5', { ...c, unix: true }), '203.0.113.5');
});

test('addresses print as nginx prints them (RFC 5952)', () => {
  const f = (s: string): string => {
    const a = parseAddress(s);
    assert.ok(a !== null, s);
    return formatAddress(a);
  };
  assert.equal(f('10.0.0.1'), '10.0.0.1');
  assert.equal(f('0:0:0:0:0:0:0:1'), '::1');
  assert.equal(f('::'), '::');
  assert.equal(f('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1');
  assert.equal(f('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1'); // the first of two equal runs
  assert.equal(f('2001:db8:0:1:2:3:4:5'), '2001:db8:0:1:2:3:4:5'); // one zero group stays
  assert.equal(f('fe80::'), 'fe80::');
  assert.equal(f('::ffff:1.2.3.4'), '::ffff:1.2.3.4');
  const one = parseAddress('10.0.0.1');
  assert.ok(one !== null);
  assert.equal(trusted(one, blocks('10.0.0.0/31')), true);
  assert.equal(trusted(one, blocks('10.0.0.2/31')), false);
});

const conf = (body: string, loc = ''): string =>
  `server {\n  listen 127.0.0.1:8080\n${body}\n  location / {\n    root .\n${loc}\n  }\n}\n`;

test('directives: defaults, inheritance and the location that writes nothing', () => {
  const r = parseConfigText(conf('  set_real_ip_from 10.0.0.0/8\n  set_real_ip_from unix:'), '/tmp/t.conf');
  assert.ok(r.ok);
  const s = r.config.servers[0];
  assert.ok(s?.realIp);
  assert.equal(s.realIp.header, 'x-real-ip');
  assert.equal(s.realIp.recursive, false);
  assert.equal(s.realIp.unix, true);
  assert.equal(s.realIp.from.length, 1);
  assert.equal(s.locations[0]?.realIp, s.realIp); // the same object: the cycle applies nothing twice

  const r2 = parseConfigText(
    conf('  set_real_ip_from 10.0.0.0/8\n  real_ip_header X-Forwarded-For', '    real_ip_recursive on'),
    '/tmp/t.conf',
  );
  assert.ok(r2.ok);
  const l = r2.config.servers[0]?.locations[0]?.realIp;
  assert.ok(l);
  assert.equal(l.header, 'x-forwarded-for');
  assert.equal(l.recursive, true);
  assert.equal(l.from.length, 1);

  // A location's own set_real_ip_from replaces the server's list (nginx's merge).
  const r3 = parseConfigText(conf('  set_real_ip_from 10.0.0.0/8', '    set_real_ip_from ::1'), '/tmp/t.conf');
  assert.ok(r3.ok);
  assert.equal(r3.config.servers[0]?.locations[0]?.realIp?.from.length, 1);
  assert.equal(r3.config.servers[0]?.locations[0]?.realIp?.from[0]?.family, 6);

  // Nothing written: nothing to do, and no header is ever read.
  const r4 = parseConfigText(conf('  real_ip_header X-Forwarded-For'), '/tmp/t.conf');
  assert.ok(r4.ok);
  assert.equal(r4.config.servers[0]?.realIp, null);
  assert.equal(r4.config.servers[0]?.locations[0]?.realIp, null);
});

test('directive errors name FILE:LINE:COL', () => {
  const bad = (body: string): string[] => {
    const r = parseConfigText(conf(body), '/tmp/t.conf', { strict: true });
    assert.equal(r.ok, false, body);
    return r.errors.map((e) => e.message);
  };
  const [cidr] = bad('  set_real_ip_from 10.0.0.0/33');
  assert.match(cidr ?? '', /^\/tmp\/t\.conf:3:20: bad set_real_ip_from "10\.0\.0\.0\/33".*\/0 to \/32/);
  assert.match(bad('  set_real_ip_from proxy.example')[0] ?? '', /t\.conf:3:20: bad set_real_ip_from "proxy\.example"/);
  assert.match(bad('  set_real_ip_from all')[0] ?? '', /t\.conf:3:20: bad set_real_ip_from "all"/);
  assert.match(bad('  real_ip_header proxy_protocol')[0] ?? '', /t\.conf:3:18: .*not supported/);
  assert.match(bad('  real_ip_header X:Y')[0] ?? '', /t\.conf:3:18: bad real_ip_header/);
  assert.match(bad('  real_ip_recursive maybe')[0] ?? '', /t\.conf:3:21: /);
});
