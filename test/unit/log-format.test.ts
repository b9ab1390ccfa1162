/**
 * Log formats (config/log-format.ts, server/logs.ts formatAccessLine): compiling nginx's variables, and the three
 * escapes on every kind of hostile value, control bytes included (the parser refuses them in a request, but a
 * format must not rely on that).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMBINED, compileLogFormat } from '../../src/config/log-format.js';
import type { RequestHead } from '../../src/http/request.js';
import { accessRecord, formatAccessLine } from '../../src/server/logs.js';

function head(ua: string): RequestHead {
  return {
    method: 'GET',
    target: '/x?"',
    minor: 1,
    headers: new Map([
      ['user-agent', ua],
      ['host', 'h'],
    ]),
    contentLength: -1,
    chunked: false,
    keepAlive: true,
    host: 'h',
    rawPath: '/x',
    query: '"',
    expectContinue: false,
  };
}

const HOSTILE = ['"', '\\', '\x00\x01\x1b\x7f', '\xff\xfe\xc3', 'a\nb\r', '"}{"'];

test('escape=json: JSON.parse gives back every byte, lines are printable ASCII', () => {
  const f = compileLogFormat('j', 'json', '{"ua":"$http_user_agent","r":"$request","u":"$remote_user"}');
  assert.ok(f.ok);
  for (const v of HOSTILE) {
    const line = formatAccessLine(f.value, accessRecord('1.2.3.4', head(v), 200, 1), 0);
    assert.match(line, /^[\x20-\x7e]*$/);
    const p = JSON.parse(line) as Record<string, string>;
    assert.equal(p['ua'], v);
    assert.equal(p['r'], 'GET /x?" HTTP/1.1');
    assert.equal(p['u'], '');
  }
});

test('escape=default: \\xXX outside printable ASCII, "-" for an empty value; none leaves values alone', () => {
  const line = formatAccessLine(COMBINED, accessRecord('::1', head('a"\\\x01\xff'), 404, 0), 0);
  assert.equal(line, '::1 - - [01/Jan/1970:00:00:00 +0000] "GET /x?\\x22 HTTP/1.1" 404 0 "-" "a\\x22\\x5c\\x01\\xff"');
  const none = compileLogFormat('n', 'none', '$http_user_agent|$http_referer');
  assert.ok(none.ok);
  assert.equal(formatAccessLine(none.value, accessRecord('x', head('a"b'), 200, 0), 0), 'a"b|');
});

test('variables: ${name} form, $http_NAME for any header, unknown names refused', () => {
  const f = compileLogFormat('v', 'default', '${status}x$http_user_agent$msec');
  assert.ok(f.ok);
  assert.equal(formatAccessLine(f.value, accessRecord('x', head('ua'), 201, 0), 1500), '201xua1.500');
  const bad = compileLogFormat('b', 'default', 'a $nope');
  assert.ok(!bad.ok && /unknown variable "\$nope"/.test(bad.error));
  const dollar = compileLogFormat('d', 'default', 'a $');
  assert.ok(!dollar.ok);
});
