import { test } from 'node:test';
import assert from 'node:assert/strict';
import { etagFor, parseEtag, parseEtagList, strongMatch, weakMatch } from '../../src/http/etag.js';

test('etagFor: nginx format "<hex mtime s>-<hex size>"', () => {
  // Observed from nginx 1.22: 26-byte file with mtime 1795498589 s → "6b05225d-1a".
  assert.equal(etagFor(26, 1795498589000), '"6b05225d-1a"');
  assert.equal(etagFor(26, 1795498589999.5), '"6b05225d-1a"'); // sub-second part dropped
  assert.equal(etagFor(0, 0), '"0-0"');
  assert.equal(etagFor(1048576, 784111777000), '"2ebc98a1-100000"');
});

test('parseEtag: strong, weak, empty opaque-tag, surrounding OWS', () => {
  assert.deepEqual(parseEtag('"abc"'), { weak: false, tag: 'abc' });
  assert.deepEqual(parseEtag('W/"abc"'), { weak: true, tag: 'abc' });
  assert.deepEqual(parseEtag('""'), { weak: false, tag: '' });
  assert.deepEqual(parseEtag(' \t"x-1" '), { weak: false, tag: 'x-1' });
  assert.deepEqual(parseEtag('"\x80\xff"'), { weak: false, tag: '\x80\xff' }); // obs-text
});

test('parseEtag: malformed → null', () => {
  for (const s of [
    '',
    'abc',
    '"abc',
    'abc"',
    'w/"abc"',
    'W/abc',
    'W/ "abc"',
    '"a b"',
    '"a"b',
    '"a","b"',
    '*',
    '"a\x7f"',
  ]) {
    assert.equal(parseEtag(s), null, JSON.stringify(s));
  }
});

test('parseEtagList: "*"', () => {
  assert.deepEqual(parseEtagList('*'), { any: true, tags: [] });
  assert.deepEqual(parseEtagList('  * '), { any: true, tags: [] });
});

test('parseEtagList: lists with spaces, weak tags and empty elements', () => {
  assert.deepEqual(parseEtagList('"a"'), { any: false, tags: [{ weak: false, tag: 'a' }] });
  assert.deepEqual(parseEtagList('"a", W/"b" ,"c"'), {
    any: false,
    tags: [
      { weak: false, tag: 'a' },
      { weak: true, tag: 'b' },
      { weak: false, tag: 'c' },
    ],
  });
  assert.deepEqual(parseEtagList('"a",\t"b"'), {
    any: false,
    tags: [
      { weak: false, tag: 'a' },
      { weak: false, tag: 'b' },
    ],
  });
  assert.deepEqual(parseEtagList(' , "a" ,, "b", '), {
    any: false,
    tags: [
      { weak: false, tag: 'a' },
      { weak: false, tag: 'b' },
    ],
  });
  assert.deepEqual(parseEtagList('"a,b"'), { any: false, tags: [{ weak: false, tag: 'a,b' }] });
  assert.deepEqual(parseEtagList(''), { any: false, tags: [] });
});

test('parseEtagList: malformed → null', () => {
  for (const s of ['abc', '"a" "b"', '"a"x', '"a", *', '*, "a"', '**', '"a', 'W/"a', 'w/"a"', '"a";"b"']) {
    assert.equal(parseEtagList(s), null, JSON.stringify(s));
  }
});

test('comparison table of RFC 9110 §8.8.3.2', () => {
  // ETag 1, ETag 2, strong, weak
  const rows: Array<[string, string, boolean, boolean]> = [
    ['W/"1"', 'W/"1"', false, true],
    ['W/"1"', 'W/"2"', false, false],
    ['W/"1"', '"1"', false, true],
    ['"1"', '"1"', true, true],
  ];
  for (const [a, b, strong, weak] of rows) {
    assert.equal(strongMatch(a, b), strong, `strong ${a} ${b}`);
    assert.equal(strongMatch(b, a), strong, `strong ${b} ${a}`);
    assert.equal(weakMatch(a, b), weak, `weak ${a} ${b}`);
    assert.equal(weakMatch(b, a), weak, `weak ${b} ${a}`);
  }
});

test('comparisons accept parsed tags and never match a malformed string', () => {
  assert.equal(strongMatch({ weak: false, tag: 'x' }, '"x"'), true);
  assert.equal(weakMatch({ weak: true, tag: 'x' }, '"x"'), true);
  assert.equal(strongMatch('x', 'x'), false);
  assert.equal(weakMatch('x', 'x'), false);
  assert.equal(strongMatch('"x"', '"X"'), false); // opaque-tags compare case-sensitively
});
