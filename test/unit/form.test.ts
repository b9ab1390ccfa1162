import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseForm, serializeForm } from '../../src/session/form.js';

const entries = (s: string): [string, string][] => [...parseForm(s)];

test('parse: pairs in order, "+" is a space, escapes decoded', () => {
  assert.deepEqual(entries('a=1&b=x+y&c=%41%62%2B%25'), [['a', '1'], ['b', 'x y'], ['c', 'Ab+%']]);
});

test('parse: empty string and empty pieces give nothing', () => {
  assert.equal(parseForm('').size, 0);
  assert.deepEqual(entries('&&a=1&&'), [['a', '1']]);
});

test('parse: a piece without "=" is a name with an empty value; "=" inside a value is kept', () => {
  assert.deepEqual(entries('flag&k=a=b&=v'), [['flag', ''], ['k', 'a=b'], ['', 'v']]);
});

test('parse: bad escapes are kept literally', () => {
  assert.deepEqual(entries('a=%zz&b=100%&c=%4&d=%%41'), [['a', '%zz'], ['b', '100%'], ['c', '%4'], ['d', '%A']]);
});

test('parse: UTF-8 escapes decode; invalid UTF-8 becomes U+FFFD; raw non-ASCII passes through', () => {
  assert.deepEqual(entries('n=%C3%A9t%C3%A9&bad=%FF&raw=日本'), [['n', 'été'], ['bad', '\uFFFD'], ['raw', '日本']]);
});

test('parse: a repeated name keeps the last value, at its first position', () => {
  assert.deepEqual(entries('a=1&b=2&a=3'), [['a', '3'], ['b', '2']]);
});

test('serialize: insertion order, space as %20, reserved characters escaped', () => {
  const m = new Map([['z', 'a b'], ['a', '=&+%'], ['é', '😀']]);
  assert.equal(serializeForm(m), 'z=a%20b&a=%3D%26%2B%25&%C3%A9=%F0%9F%98%80');
  assert.equal(serializeForm(new Map()), '');
});

test('serialize: lone surrogates become U+FFFD instead of throwing', () => {
  assert.equal(serializeForm(new Map([['k', 'a\uD800b']])), 'k=a%EF%BF%BDb');
});

test('round trip: unicode, "=", "&", "+", "%", spaces, empty names and values', () => {
  const m = new Map([
    ['user name', 'Zoë Ünïcode 日本語 😀'],
    ['eq=', 'a=b=c'],
    ['amp&', 'x&y&z'],
    ['plus+', '1+1=2'],
    ['pct%', '100% %41 %zz'],
    ['', ''],
    ['empty', ''],
    ['nl', 'line1\r\nline2'],
  ]);
  const s = serializeForm(m);
  assert.deepEqual([...parseForm(s)], [...m]);
  assert.equal(serializeForm(parseForm(s)), s);
});
