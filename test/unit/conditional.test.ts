import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePreconditions, ifRangeAllows, type Validators } from '../../src/http/conditional.js';

// Representation: ETag "abc", Last-Modified Sun, 06 Nov 1994 08:49:37 GMT (plus 400 ms).
const V: Validators = { etag: '"abc"', lastModifiedMs: 784111777400 };
const LM = 'Sun, 06 Nov 1994 08:49:37 GMT';
const BEFORE = 'Sun, 06 Nov 1994 08:49:36 GMT';
const AFTER = 'Sun, 06 Nov 1994 08:49:38 GMT';
const NOW = Date.UTC(2026, 0, 1);
const FUTURE = 'Fri, 01 Jan 2027 00:00:00 GMT';

const h = (o: Record<string, string>): Map<string, string> => new Map(Object.entries(o));
const ev = (method: string, o: Record<string, string>, v: Validators = V): string =>
  evaluatePreconditions(method, h(o), v, NOW);

test('no conditional headers → proceed', () => {
  assert.equal(ev('GET', {}), 'proceed');
  assert.equal(ev('PUT', { 'content-type': 'text/plain' }), 'proceed');
});

test('step 1 If-Match: strong comparison; false → 412', () => {
  assert.equal(ev('GET', { 'if-match': '"abc"' }), 'proceed');
  assert.equal(ev('PUT', { 'if-match': '"abc"' }), 'proceed');
  assert.equal(ev('GET', { 'if-match': '"xyz"' }), 'precondition-failed');
  assert.equal(ev('DELETE', { 'if-match': '"xyz"' }), 'precondition-failed');
  assert.equal(ev('GET', { 'if-match': 'W/"abc"' }), 'precondition-failed'); // weak never matches strongly
  assert.equal(ev('GET', { 'if-match': '"abc"' }, { ...V, etag: 'W/"abc"' }), 'precondition-failed');
  assert.equal(ev('GET', { 'if-match': '"x", "abc" ,"y"' }), 'proceed'); // list with spaces
  assert.equal(ev('GET', { 'if-match': '*' }), 'proceed');
  assert.equal(ev('GET', { 'if-match': 'garbage' }), 'precondition-failed'); // malformed fails
});

test('step 2 If-Unmodified-Since: modified after the date → 412; invalid date ignored', () => {
  assert.equal(ev('PUT', { 'if-unmodified-since': LM }), 'proceed'); // equal at 1 s resolution
  assert.equal(ev('PUT', { 'if-unmodified-since': AFTER }), 'proceed');
  assert.equal(ev('PUT', { 'if-unmodified-since': BEFORE }), 'precondition-failed');
  assert.equal(ev('GET', { 'if-unmodified-since': BEFORE }), 'precondition-failed');
  assert.equal(ev('PUT', { 'if-unmodified-since': 'yesterday' }), 'proceed');
  assert.equal(ev('PUT', { 'if-unmodified-since': 'Sunday, 06-Nov-94 08:49:36 GMT' }), 'precondition-failed');
});

test('precedence: If-Match present makes If-Unmodified-Since ignored', () => {
  assert.equal(ev('PUT', { 'if-match': '"abc"', 'if-unmodified-since': BEFORE }), 'proceed');
  assert.equal(ev('PUT', { 'if-match': '"no"', 'if-unmodified-since': AFTER }), 'precondition-failed');
});

test('step 3 If-None-Match: weak comparison; match → 304 for GET/HEAD, 412 otherwise', () => {
  assert.equal(ev('GET', { 'if-none-match': '"abc"' }), 'not-modified');
  assert.equal(ev('HEAD', { 'if-none-match': '"abc"' }), 'not-modified');
  assert.equal(ev('GET', { 'if-none-match': 'W/"abc"' }), 'not-modified');
  assert.equal(ev('GET', { 'if-none-match': '"abc"' }, { ...V, etag: 'W/"abc"' }), 'not-modified');
  assert.equal(ev('GET', { 'if-none-match': '"a", W/"abc"' }), 'not-modified');
  assert.equal(ev('GET', { 'if-none-match': '"xyz"' }), 'proceed');
  assert.equal(ev('GET', { 'if-none-match': '"xyz", "uvw"' }), 'proceed');
  assert.equal(ev('PUT', { 'if-none-match': '"abc"' }), 'precondition-failed');
  assert.equal(ev('POST', { 'if-none-match': 'W/"abc"' }), 'precondition-failed');
  assert.equal(ev('PUT', { 'if-none-match': '"xyz"' }), 'proceed');
});

test('step 3 If-None-Match: "*" matches any current representation', () => {
  assert.equal(ev('GET', { 'if-none-match': '*' }), 'not-modified');
  assert.equal(ev('PUT', { 'if-none-match': '*' }), 'precondition-failed');
});

test('step 3 If-None-Match: malformed is ignored, and then If-Modified-Since is not used', () => {
  assert.equal(ev('GET', { 'if-none-match': 'garbage' }), 'proceed');
  assert.equal(ev('GET', { 'if-none-match': 'garbage', 'if-modified-since': LM }), 'proceed');
});

test('step 4 If-Modified-Since: not modified since → 304, at one-second resolution', () => {
  assert.equal(ev('GET', { 'if-modified-since': LM }), 'not-modified'); // 400 ms ignored
  assert.equal(ev('HEAD', { 'if-modified-since': AFTER }), 'not-modified');
  assert.equal(ev('GET', { 'if-modified-since': BEFORE }), 'proceed');
  assert.equal(ev('GET', { 'if-modified-since': 'Sun Nov  6 08:49:37 1994' }), 'not-modified');
});

test('step 4 If-Modified-Since: only for GET/HEAD; invalid or future date ignored', () => {
  assert.equal(ev('POST', { 'if-modified-since': LM }), 'proceed');
  assert.equal(ev('PUT', { 'if-modified-since': AFTER }), 'proceed');
  assert.equal(ev('GET', { 'if-modified-since': 'not a date' }), 'proceed');
  assert.equal(ev('GET', { 'if-modified-since': `${LM}; length=26` }), 'proceed');
  assert.equal(ev('GET', { 'if-modified-since': FUTURE }), 'proceed');
  assert.equal(ev('GET', { 'if-modified-since': 'Thu, 01 Jan 2026 00:00:00 GMT' }), 'not-modified'); // = now
});

test('precedence: If-None-Match present makes If-Modified-Since ignored', () => {
  assert.equal(ev('GET', { 'if-none-match': '"xyz"', 'if-modified-since': LM }), 'proceed');
  assert.equal(ev('GET', { 'if-none-match': '"abc"', 'if-modified-since': BEFORE }), 'not-modified');
});

test('precedence: If-Match failure wins over If-None-Match; both pass → If-None-Match decides', () => {
  assert.equal(ev('GET', { 'if-match': '"no"', 'if-none-match': '"abc"' }), 'precondition-failed');
  assert.equal(ev('GET', { 'if-match': '"abc"', 'if-none-match': '"abc"' }), 'not-modified');
  assert.equal(ev('GET', { 'if-unmodified-since': BEFORE, 'if-none-match': '"abc"' }), 'precondition-failed');
  assert.equal(ev('GET', { 'if-unmodified-since': AFTER, 'if-modified-since': LM }), 'not-modified');
});

test('an empty header value counts as absent', () => {
  assert.equal(ev('GET', { 'if-match': '' }), 'proceed');
  assert.equal(ev('GET', { 'if-none-match': ' ', 'if-modified-since': LM }), 'not-modified');
});

test('method names are case-sensitive (RFC 9110 §9.1)', () => {
  assert.equal(ev('get', { 'if-none-match': '"abc"' }), 'precondition-failed');
  assert.equal(ev('get', { 'if-modified-since': LM }), 'proceed');
});

test('ifRangeAllows: strong ETag match only', () => {
  assert.equal(ifRangeAllows('"abc"', V), true);
  assert.equal(ifRangeAllows(' "abc" ', V), true);
  assert.equal(ifRangeAllows('"xyz"', V), false);
  assert.equal(ifRangeAllows('W/"abc"', V), false);
  assert.equal(ifRangeAllows('"abc"', { ...V, etag: 'W/"abc"' }), false);
});

test('ifRangeAllows: HTTP-date exactly equal to Last-Modified (seconds)', () => {
  assert.equal(ifRangeAllows(LM, V), true);
  assert.equal(ifRangeAllows('Sunday, 06-Nov-94 08:49:37 GMT', V, NOW), true);
  assert.equal(ifRangeAllows(AFTER, V), false); // later is not equal
  assert.equal(ifRangeAllows(BEFORE, V), false);
});

test('ifRangeAllows: malformed → false', () => {
  for (const s of ['', 'abc', '*', '"abc", "def"', 'yesterday']) assert.equal(ifRangeAllows(s, V), false, s);
});
