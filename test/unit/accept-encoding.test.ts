/** Accept-Encoding negotiation (RFC 9110 §12.5.3): q-values, br before gzip on a tie, identity and `*`. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseCoding, parseAcceptEncoding, type Coding } from '../../src/http/accept-encoding.js';

const BOTH: ReadonlySet<Coding> = new Set(['br', 'gzip']);
const GZIP: ReadonlySet<Coding> = new Set(['gzip']);
const BR: ReadonlySet<Coding> = new Set(['br']);

describe('Accept-Encoding: chooseCoding', () => {
  const cases: Array<[string | undefined, ReadonlySet<Coding>, string]> = [
    [undefined, BOTH, 'identity'],
    ['', BOTH, 'identity'],
    ['gzip', BOTH, 'gzip'],
    ['gzip, deflate, br', BOTH, 'br'],
    ['br;q=1, gzip;q=1', BOTH, 'br'],
    ['gzip, br', GZIP, 'gzip'],
    ['gzip', BR, 'identity'],
    ['gzip;q=1, br;q=0.5', BOTH, 'gzip'],
    ['br;q=0.999, gzip;q=1.000', BOTH, 'gzip'],
    ['GZIP', BOTH, 'gzip'],
    ['x-gzip', BOTH, 'gzip'],
    ['gzip;q=0', BOTH, 'identity'],
    ['gzip; q=0, br', BOTH, 'br'],
    ['gzip;Q=0.5', GZIP, 'gzip'],
    ['*', BOTH, 'br'],
    ['*;q=0.1, br;q=0', BOTH, 'gzip'],
    ['*;q=0', BOTH, 'identity'],
    ['gzip;q=0.5, identity', BOTH, 'identity'],
    ['gzip;q=0.5, identity;q=0.5', BOTH, 'gzip'],
    ['identity;q=0', BOTH, 'identity'],
    ['identity;q=0, gzip;q=0.001', BOTH, 'gzip'],
    ['identity;q=0, *', BOTH, 'br'],
    ['deflate, compress', BOTH, 'identity'],
    ['gzip;q=2', BOTH, 'identity'],
    ['gzip;q=0.5000', BOTH, 'identity'],
    ['gzip;q=abc, br', BOTH, 'br'],
    [' , ,gzip ,', BOTH, 'gzip'],
    ['gzip;level=1', GZIP, 'gzip'],
    ['gzip, br', new Set<Coding>(), 'identity'],
  ];
  for (const [header, offered, expected] of cases) {
    it(`${JSON.stringify(header)} offering ${[...offered].join('+') || 'nothing'} → ${expected}`, () => {
      assert.equal(chooseCoding(header, offered), expected);
    });
  }
});

describe('Accept-Encoding: parseAcceptEncoding', () => {
  it('keeps the first weight of a repeated coding and folds x-gzip into gzip', () => {
    assert.deepEqual(
      [...(parseAcceptEncoding('x-gzip;q=0.2, gzip, br;q=0.70') ?? [])],
      [
        ['gzip', 0.2],
        ['br', 0.7],
      ],
    );
    assert.equal(parseAcceptEncoding(undefined), null);
  });
});
