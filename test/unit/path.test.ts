import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { err, ok } from '../../src/lib/result.js';
import { encodePath, normalizePath } from '../../src/router/path.js';

test('plain paths pass through unchanged', () => {
  assert.deepEqual(normalizePath('/'), ok('/'));
  assert.deepEqual(normalizePath('/a/b.txt'), ok('/a/b.txt'));
  assert.deepEqual(normalizePath('/dir/'), ok('/dir/'));
});

test('percent-decoding happens once (RFC 3986 §2.1)', () => {
  assert.deepEqual(normalizePath('/read%20me.txt'), ok('/read me.txt'));
  assert.deepEqual(normalizePath('/%2541'), ok('/%41'));
  assert.deepEqual(normalizePath('/caf%C3%A9'), ok('/café'));
});

test('dot segments are removed (RFC 3986 §5.2.4) and never climb above /', () => {
  assert.deepEqual(normalizePath('/a/./b'), ok('/a/b'));
  assert.deepEqual(normalizePath('/a/../b'), ok('/b'));
  assert.deepEqual(normalizePath('/../../etc/passwd'), ok('/etc/passwd'));
  assert.deepEqual(normalizePath('/a/b/..'), ok('/a/'));
  assert.deepEqual(normalizePath('/a/.'), ok('/a/'));
  assert.deepEqual(normalizePath('/..'), ok('/'));
});

test('encoded dots and slashes are decoded before dot segments are removed', () => {
  assert.deepEqual(normalizePath('/files/%2e%2e/%2e%2e/etc/passwd'), ok('/etc/passwd'));
  assert.deepEqual(normalizePath('/files/..%2f..%2fetc/passwd'), ok('/etc/passwd'));
  assert.deepEqual(normalizePath('/%2e%2e%2fsecret'), ok('/secret'));
});

test('empty segments collapse, as merge_slashes does', () => {
  assert.deepEqual(normalizePath('//a///b'), ok('/a/b'));
});

test('NUL, bad escapes, invalid or overlong UTF-8 and relative paths are refused', () => {
  assert.deepEqual(normalizePath('/a%00b'), err('nul'));
  assert.deepEqual(normalizePath('/a%zz'), err('bad-escape'));
  assert.deepEqual(normalizePath('/a%4'), err('bad-escape'));
  assert.deepEqual(normalizePath('/%c0%ae%c0%ae/x'), err('bad-utf8'));
  assert.deepEqual(normalizePath('/%ff'), err('bad-utf8'));
  assert.deepEqual(normalizePath('a/b'), err('not-absolute'));
});

test('backslashes are ordinary characters on POSIX, not separators', () => {
  assert.deepEqual(normalizePath('/..\\..\\etc'), ok('/..\\..\\etc'));
});

test('encodePath escapes what a URL cannot carry literally', () => {
  assert.equal(encodePath('/read me.txt'), '/read%20me.txt');
  assert.equal(encodePath('/a?b#c'), '/a%3Fb%23c');
  assert.equal(encodePath('/café'), '/caf%C3%A9');
});
