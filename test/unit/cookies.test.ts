import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCookieHeader, serializeSetCookie, type CookieResult } from '../../src/session/cookies.js';

const entries = (h: string): [string, string][] => [...parseCookieHeader(h)];

function errorKind(r: CookieResult): string {
  assert.equal(r.ok, false);
  return r.ok ? '' : r.error.kind;
}

test('parse: several cookies in order', () => {
  assert.deepEqual(entries('a=1; b=2; sid=XyZ'), [
    ['a', '1'],
    ['b', '2'],
    ['sid', 'XyZ'],
  ]);
});

test('parse: OWS around pairs, names and values is trimmed; no space after ";" is fine', () => {
  assert.deepEqual(entries('  a = 1 ;b=2;\tc=3\t'), [
    ['a', '1'],
    ['b', '2'],
    ['c', '3'],
  ]);
});

test('parse: quoted values lose their quotes, lone quotes are kept', () => {
  assert.deepEqual(entries('a="hello"; b=""; c="x; d=y"'), [
    ['a', 'hello'],
    ['b', ''],
    ['c', '"x'],
    ['d', 'y"'],
  ]);
});

test('parse: pairs without "=" or with an invalid name are ignored', () => {
  assert.deepEqual(entries('flag; =v; a b=1; (x)=2; ok=yes; ;;'), [['ok', 'yes']]);
});

test('parse: empty and blank headers give an empty map', () => {
  assert.equal(parseCookieHeader('').size, 0);
  assert.equal(parseCookieHeader('   ').size, 0);
  assert.equal(parseCookieHeader(';').size, 0);
});

test('parse: the first occurrence of a name wins; names are case-sensitive', () => {
  assert.deepEqual(entries('sid=first; sid=second; SID=upper'), [
    ['sid', 'first'],
    ['SID', 'upper'],
  ]);
});

test('parse: "=" inside a value is kept, empty value allowed', () => {
  assert.deepEqual(entries('t=a=b==; e='), [
    ['t', 'a=b=='],
    ['e', ''],
  ]);
});

test('parse: never throws on odd input', () => {
  assert.deepEqual(entries('\u0000=1; é=2; a=\u00ff'), [['a', '\u00ff']]);
});

test('serialize: name=value only', () => {
  assert.deepEqual(serializeSetCookie({ name: 'sid', value: 'abc' }), { ok: true, value: 'sid=abc' });
});

test('serialize: every attribute, exact string and order', () => {
  const r = serializeSetCookie({
    name: 'sid',
    value: 'AbC-_9',
    sameSite: 'Lax',
    secure: true,
    httpOnly: true,
    expires: new Date(Date.UTC(1994, 10, 6, 8, 49, 37)),
    maxAge: 3600,
    domain: 'example.com',
    path: '/',
  });
  assert.deepEqual(r, {
    ok: true,
    value:
      'sid=AbC-_9; Path=/; Domain=example.com; Max-Age=3600; Expires=Sun, 06 Nov 1994 08:49:37 GMT; HttpOnly; Secure; SameSite=Lax',
  });
});

test('serialize: the session cookie of DESIGN §7', () => {
  const r = serializeSetCookie({ name: 'sid', value: 'x', path: '/', httpOnly: true, sameSite: 'Lax' });
  assert.deepEqual(r, { ok: true, value: 'sid=x; Path=/; HttpOnly; SameSite=Lax' });
});

test('serialize: each attribute alone', () => {
  const one = (extra: object): string => {
    const r = serializeSetCookie({ name: 'a', value: 'b', ...extra });
    assert.equal(r.ok, true);
    return r.ok ? r.value : '';
  };
  assert.equal(one({ path: '/app' }), 'a=b; Path=/app');
  assert.equal(one({ domain: '.sub.example.org' }), 'a=b; Domain=.sub.example.org');
  assert.equal(one({ maxAge: 0 }), 'a=b; Max-Age=0');
  assert.equal(one({ expires: new Date(0) }), 'a=b; Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  assert.equal(one({ httpOnly: true }), 'a=b; HttpOnly');
  assert.equal(one({ httpOnly: false, secure: false }), 'a=b');
  assert.equal(one({ secure: true }), 'a=b; Secure');
  assert.equal(one({ sameSite: 'Strict' }), 'a=b; SameSite=Strict');
  assert.equal(one({ sameSite: 'None', secure: true }), 'a=b; Secure; SameSite=None');
});

test('serialize: quoted and empty values are valid cookie-values', () => {
  assert.deepEqual(serializeSetCookie({ name: 'a', value: '"q"' }), { ok: true, value: 'a="q"' });
  assert.deepEqual(serializeSetCookie({ name: 'a', value: '' }), { ok: true, value: 'a=' });
});

test('serialize: invalid names are rejected', () => {
  for (const name of ['', 'a b', 'a=b', 'a;b', 'a\tb', '(a)', 'é', 'a\r\n']) {
    assert.equal(errorKind(serializeSetCookie({ name, value: 'v' })), 'invalid-name', JSON.stringify(name));
  }
});

test('serialize: values outside cookie-octet are rejected', () => {
  for (const value of ['a b', 'a;b', 'a,b', 'a\\b', 'a"b', '"a', 'a\u0000', 'a\x7f', 'é', 'a\r\nSet-Cookie: x=y']) {
    assert.equal(errorKind(serializeSetCookie({ name: 'n', value })), 'invalid-value', JSON.stringify(value));
  }
});

test('serialize: attributes with ";", CTLs or bad shapes are rejected', () => {
  assert.equal(errorKind(serializeSetCookie({ name: 'a', value: 'b', path: '/x; Domain=evil' })), 'invalid-path');
  assert.equal(errorKind(serializeSetCookie({ name: 'a', value: 'b', path: '/x\r\n' })), 'invalid-path');
  assert.equal(errorKind(serializeSetCookie({ name: 'a', value: 'b', path: 'x' })), 'invalid-path');
  assert.equal(errorKind(serializeSetCookie({ name: 'a', value: 'b', path: '' })), 'invalid-path');
  assert.equal(errorKind(serializeSetCookie({ name: 'a', value: 'b', domain: 'a.com;Secure' })), 'invalid-domain');
  assert.equal(errorKind(serializeSetCookie({ name: 'a', value: 'b', domain: 'a\u0001.com' })), 'invalid-domain');
  assert.equal(errorKind(serializeSetCookie({ name: 'a', value: 'b', domain: '' })), 'invalid-domain');
  assert.equal(errorKind(serializeSetCookie({ name: 'a', value: 'b', maxAge: -1 })), 'invalid-max-age');
  assert.equal(errorKind(serializeSetCookie({ name: 'a', value: 'b', maxAge: 1.5 })), 'invalid-max-age');
  assert.equal(errorKind(serializeSetCookie({ name: 'a', value: 'b', maxAge: Infinity })), 'invalid-max-age');
  assert.equal(errorKind(serializeSetCookie({ name: 'a', value: 'b', expires: new Date(NaN) })), 'invalid-expires');
  assert.equal(
    errorKind(serializeSetCookie({ name: 'a', value: 'b', expires: new Date(Date.UTC(1600, 0, 1)) })),
    'invalid-expires',
  );
});

test('serialize: SameSite=None without Secure is an error', () => {
  const r = serializeSetCookie({ name: 'a', value: 'b', sameSite: 'None' });
  assert.deepEqual(r, {
    ok: false,
    error: { kind: 'samesite-none-without-secure', message: 'SameSite=None requires Secure' },
  });
});

test('serialize then parse round trip', () => {
  const r = serializeSetCookie({ name: 'sid', value: 'a=b', path: '/' });
  assert.equal(r.ok, true);
  if (!r.ok) return;
  const pair = r.value.split(';')[0]!;
  assert.deepEqual(entries(pair), [['sid', 'a=b']]);
});
