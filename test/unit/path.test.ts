import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { encodePath, isPathError, normalizePath } from '../../src/router/path.js';

test('plain paths pass through unchanged', () => {
  assert.equal(normalizePath('/'), '/');
  assert.equal(normalizePath('/a/b.txt'), '/a/b.txt');
  assert.equal(normalizePath('/dir/'), '/dir/');
});

test('percent-decoding happens once (RFC 3986 §2.1)', () => {
  assert.equal(normalizePath('/read%20me.txt'), '/read me.txt');
  assert.equal(normalizePath('/%2541'), '/%41');
  assert.equal(normalizePath('/caf%C3%A9'), '/café');
});

test('dot segments are removed (RFC 3986 §5.2.4) and never climb above /', () => {
  assert.equal(normalizePath('/a/./b'), '/a/b');
  assert.equal(normalizePath('/a/../b'), '/b');
  assert.equal(normalizePath('/../../etc/passwd'), '/etc/passwd');
  assert.equal(normalizePath('/a/b/..'), '/a/');
  assert.equal(normalizePath('/a/.'), '/a/');
  assert.equal(normalizePath('/..'), '/');
});

test('encoded dots and slashes are decoded before dot segments are removed', () => {
  assert.equal(normalizePath('/files/%2e%2e/%2e%2e/etc/passwd'), '/etc/passwd');
  assert.equal(normalizePath('/files/..%2f..%2fetc/passwd'), '/etc/passwd');
  assert.equal(normalizePath('/%2e%2e%2fsecret'), '/secret');
});

test('empty segments collapse, as merge_slashes does', () => {
  assert.equal(normalizePath('//a///b'), '/a/b');
});

test('NUL, bad escapes, invalid or overlong UTF-8 and relative paths are refused', () => {
  assert.equal(normalizePath('/a%00b'), 'nul');
  assert.equal(normalizePath('/a%zz'), 'bad-escape');
  assert.equal(normalizePath('/a%4'), 'bad-escape');
  assert.equal(normalizePath('/%c0%ae%c0%ae/x'), 'bad-utf8');
  assert.equal(normalizePath('/%ff'), 'bad-utf8');
  assert.equal(normalizePath('a/b'), 'not-absolute');
  assert.ok(isPathError('nul'));
  assert.ok(!isPathError('/x'));
});

test('backslashes are ordinary characters on POSIX, not separators', () => {
  assert.equal(normalizePath('/..\\..\\etc'), '/..\\..\\etc');
});

test('encodePath escapes what a URL cannot carry literally', () => {
  assert.equal(encodePath('/read me.txt'), '/read%20me.txt');
  assert.equal(encodePath('/a?b#c'), '/a%3Fb%23c');
  assert.equal(encodePath('/café'), '/caf%C3%A9');
});
