/**
 * RESP2 encoding and the incremental reply parser (src/session/resp.ts), and redis:// URLs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeCommand, RespError, RespParser } from '../../src/session/resp.js';

describe('RESP', () => {
  it('encodes a command as an array of bulk strings', () => {
    assert.equal(encodeCommand(['SET', 'k', 'vé']).toString(), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nvé\r\n');
  });
  it('parses every reply type, whatever the split', () => {
    const wire = Buffer.from('+OK\r\n-ERR no\r\n:42\r\n$3\r\na\r\n\r\n$-1\r\n*2\r\n$1\r\nx\r\n:7\r\n*-1\r\n');
    for (let step = 1; step <= wire.length; step++) {
      const p = new RespParser();
      const got: unknown[] = [];
      for (let i = 0; i < wire.length; i += step) {
        p.push(wire.subarray(i, i + step));
        for (let v = p.next(); v !== undefined; v = p.next()) got.push(v);
      }
      assert.deepEqual(got, [
        'OK',
        new RespError('ERR no'),
        42,
        Buffer.from('a\r\n'),
        null,
        [Buffer.from('x'), 7],
        null,
      ]);
    }
  });
  it('throws on what is not RESP', () => {
    for (const bad of ['?x\r\n', ':1x\r\n', '$-2\r\n', '$1\r\nab\r\n']) {
      const p = new RespParser();
      p.push(Buffer.from(bad));
      assert.throws(() => p.next(), bad);
    }
  });
});
