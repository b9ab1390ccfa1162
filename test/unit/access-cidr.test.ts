import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { judge, mappedIPv4, parseBlock, parseIPv4, parseIPv6, type AccessRule } from '../../src/access/cidr.js';

const rules = (...lines: string[]): AccessRule[] =>
  lines.map((l) => {
    const [verb, what] = l.split(' ');
    const b = parseBlock(what ?? '');
    assert.ok(b.ok, l);
    return { allow: verb === 'allow', block: b.value };
  });

test('IPv4 and IPv6 text', () => {
  assert.equal(parseIPv4('10.1.2.3'), 0x0a010203);
  assert.equal(parseIPv4('256.1.1.1'), null);
  assert.equal(parseIPv4('01.1.1.1'), null);
  assert.equal(parseIPv4('1.1.1'), null);
  assert.deepEqual([...(parseIPv6('::1') ?? [])], [...new Array<number>(15).fill(0), 1]);
  assert.deepEqual(parseIPv6('2001:db8::'), parseIPv6('2001:0db8:0:0:0:0:0:0'));
  assert.equal(mappedIPv4(parseIPv6('::ffff:127.0.0.2') ?? new Uint8Array(16)), 0x7f000002);
  assert.equal(mappedIPv4(parseIPv6('::1') ?? new Uint8Array(16)), null);
  for (const bad of ['1::2::3', ':::', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0', '::g', '1.2.3.4::']) {
    assert.equal(parseIPv6(bad), null, bad);
  }
});

test('blocks: prefixes, host bits cleared, bad ones refused', () => {
  assert.ok(!parseBlock('10.0.0.0/33').ok);
  assert.ok(!parseBlock('::/129').ok);
  assert.ok(!parseBlock('example.com').ok);
  assert.ok(!parseBlock('10.0.0.0/').ok);
  assert.equal(judge(rules('deny 10.9.9.9/8'), '10.200.1.1'), 'deny');
  assert.equal(judge(rules('deny 10.0.0.0/8'), '11.0.0.1'), 'none');
  assert.equal(judge(rules('deny 0.0.0.0/0'), '1.2.3.4'), 'deny');
  assert.equal(judge(rules('deny 192.168.1.128/25'), '192.168.1.127'), 'none');
  assert.equal(judge(rules('deny 192.168.1.128/25'), '192.168.1.128'), 'deny');
  assert.equal(judge(rules('deny 2001:db8::/33'), '2001:db8:7fff::1'), 'deny');
  assert.equal(judge(rules('deny 2001:db8::/33'), '2001:db8:8000::1'), 'none');
  assert.equal(judge(rules('deny ::/0'), '::1'), 'deny');
});

test('first match wins; families kept apart; all matches both', () => {
  const r = rules('deny 127.0.0.2', 'allow 127.0.0.0/8', 'allow ::1', 'deny all');
  assert.equal(judge(r, '127.0.0.1'), 'allow');
  assert.equal(judge(r, '127.0.0.2'), 'deny');
  assert.equal(judge(r, '::1'), 'allow');
  assert.equal(judge(r, '::2'), 'deny');
  assert.equal(judge(r, '10.0.0.1'), 'deny');
  // An IPv6 rule never holds an IPv4 client, nor the other way round.
  assert.equal(judge(rules('deny ::/0'), '127.0.0.1'), 'none');
  assert.equal(judge(rules('deny 0.0.0.0/0'), '::1'), 'none');
  assert.equal(judge([], '1.2.3.4'), 'none');
});

test('an IPv4-mapped client is judged by the IPv4 rules when there are any (nginx)', () => {
  assert.equal(judge(rules('allow 127.0.0.1', 'deny all'), '::ffff:127.0.0.1'), 'allow');
  assert.equal(judge(rules('allow 127.0.0.1', 'deny all'), '::ffff:127.0.0.2'), 'deny');
  assert.equal(judge(rules('allow ::ffff:0:0/96', 'deny all'), '::ffff:10.0.0.1'), 'allow');
  assert.equal(judge(rules('deny all'), 'not an address'), 'deny');
  assert.equal(judge(rules('allow 1.2.3.4'), 'not an address'), 'none');
});
