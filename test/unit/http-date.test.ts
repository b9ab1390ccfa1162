import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHttpDate, parseHttpDate } from '../../src/http/http-date.js';

// RFC 9110 §5.6.7's example instant: Sun, 06 Nov 1994 08:49:37 GMT.
const EXAMPLE = 784111777000;
const NOW = Date.UTC(2026, 0, 1); // fixed clock for the two-digit-year rule

test('format: IMF-fixdate, seconds truncated', () => {
  assert.equal(formatHttpDate(EXAMPLE), 'Sun, 06 Nov 1994 08:49:37 GMT');
  assert.equal(formatHttpDate(EXAMPLE + 999), 'Sun, 06 Nov 1994 08:49:37 GMT');
  assert.equal(formatHttpDate(0), 'Thu, 01 Jan 1970 00:00:00 GMT');
  assert.equal(formatHttpDate(-1), 'Wed, 31 Dec 1969 23:59:59 GMT');
  assert.equal(formatHttpDate(Date.UTC(2024, 1, 29, 23, 5, 9)), 'Thu, 29 Feb 2024 23:05:09 GMT');
  assert.equal(formatHttpDate(253402300799000), 'Fri, 31 Dec 9999 23:59:59 GMT');
});

test('format: 4-digit years below 1000 are zero-padded', () => {
  const d = new Date(0);
  d.setUTCFullYear(99, 0, 2);
  assert.equal(formatHttpDate(d.getTime()), 'Fri, 02 Jan 0099 00:00:00 GMT');
});

test('format: non-finite or beyond year 9999 throws RangeError', () => {
  assert.throws(() => formatHttpDate(Number.NaN), RangeError);
  assert.throws(() => formatHttpDate(Infinity), RangeError);
  assert.throws(() => formatHttpDate(253402300800000), RangeError);
});

test('parse: the three forms of RFC 9110 §5.6.7 give the same instant', () => {
  assert.equal(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT', NOW), EXAMPLE);
  assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW), EXAMPLE);
  assert.equal(parseHttpDate('Sun Nov  6 08:49:37 1994', NOW), EXAMPLE);
  assert.equal(parseHttpDate('Sun Nov 06 08:49:37 1994', NOW), EXAMPLE);
});

test('parse: round trip of format for many instants', () => {
  for (let ms = -86400000 * 400; ms < 4102444800000; ms += 86400000 * 37 + 3723000) {
    const whole = Math.floor(ms / 1000) * 1000;
    assert.equal(parseHttpDate(formatHttpDate(ms)), whole, formatHttpDate(ms));
  }
});

test('parse: years below 100 are not shifted into the 1900s', () => {
  const d = new Date(0);
  d.setUTCFullYear(12, 2, 4);
  assert.equal(parseHttpDate('Fri, 04 Mar 0012 00:00:00 GMT'), d.getTime());
});

test('parse: two-digit RFC 850 year is at most 50 years ahead of now', () => {
  assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW), EXAMPLE);
  assert.equal(parseHttpDate('Thursday, 01-Jan-26 00:00:00 GMT', NOW), Date.UTC(2026, 0, 1));
  assert.equal(parseHttpDate('Wednesday, 01-Jan-76 00:00:00 GMT', NOW), Date.UTC(2076, 0, 1));
  assert.equal(parseHttpDate('Saturday, 01-Jan-77 00:00:00 GMT', NOW), Date.UTC(1977, 0, 1));
});

test('parse: surrounding whitespace is allowed, leap day and second 60', () => {
  assert.equal(parseHttpDate('  Sun, 06 Nov 1994 08:49:37 GMT\t', NOW), EXAMPLE);
  assert.equal(parseHttpDate('Thu, 29 Feb 2024 00:00:00 GMT'), Date.UTC(2024, 1, 29));
  assert.equal(parseHttpDate('Sat, 31 Dec 2016 23:59:60 GMT'), Date.UTC(2017, 0, 1));
});

test('parse: the weekday name is syntax only (not checked against the date)', () => {
  assert.equal(parseHttpDate('Mon, 06 Nov 1994 08:49:37 GMT'), EXAMPLE);
});

test('parse: invalid values → null', () => {
  const bad = [
    '',
    'garbage',
    '784111777',
    'Sun, 06 Nov 1994 08:49:37 GMT x', // trailing garbage
    'Sun, 06 Nov 1994 08:49:37 GMTx',
    'Sun, 06 Nov 1994 08:49:37 UTC', // only GMT
    'Sun, 06 Nov 1994 08:49:37', // missing zone
    'Xyz, 06 Nov 1994 08:49:37 GMT', // bad day name
    'Sunday, 06 Nov 1994 08:49:37 GMT', // long day name in IMF-fixdate
    'Sun, 06-Nov-94 08:49:37 GMT', // short day name in RFC 850
    'sun, 06 nov 1994 08:49:37 gmt', // case-sensitive
    'Sun, 06 Foo 1994 08:49:37 GMT', // bad month
    'Sun, 6 Nov 1994 08:49:37 GMT', // 2DIGIT day
    'Sun, 06 Nov 94 08:49:37 GMT', // 4DIGIT year
    'Sun, 06 Nov 1994 8:49:37 GMT',
    'Sun,  06 Nov 1994 08:49:37 GMT',
    'Sun, 00 Nov 1994 08:49:37 GMT', // day 0
    'Sun, 31 Nov 1994 08:49:37 GMT', // no 31 November
    'Sun, 29 Feb 2023 08:49:37 GMT', // not a leap year
    'Sun, 29 Feb 1900 08:49:37 GMT', // century, not leap
    'Sun, 06 Nov 1994 24:00:00 GMT', // hour
    'Sun, 06 Nov 1994 08:60:00 GMT', // minute
    'Sun, 06 Nov 1994 08:49:61 GMT', // second
    'Sun Nov 6 08:49:37 1994', // asctime needs SP DIGIT
    'Sun Nov  6 08:49:37 1994 GMT', // asctime has no zone
    'Sun Nov  6 08:49:37 94',
    'Sunday, 06-Nov-1994 08:49:37 GMT',
    'Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT', // two members
    'Sun, ٠٦ Nov 1994 08:49:37 GMT', // non-ASCII digits
  ];
  for (const s of bad) assert.equal(parseHttpDate(s, NOW), null, JSON.stringify(s));
});
