/**
 * The request an internal redirect serves (server/reroute.ts, RFC 3875 §6.2.2): a GET (HEAD stays HEAD) of the new
 * target with the original headers minus the body's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reroutedHead } from '../../src/server/reroute.js';
import { headOf } from '../helpers/fake-exchange.js';

const POST = headOf(
  'POST /cgi-bin/form.py?old=1 HTTP/1.1\r\nHost: Example.Test\r\nCookie: sid=abc\r\nUser-Agent: t/1\r\n' +
    'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n',
);

describe('reroutedHead', () => {
  it('turns the request into a GET of the new target, its path and query split', () => {
    const h = reroutedHead(POST, '/done.html?ok=1&x=2');
    assert.equal(h.method, 'GET');
    assert.equal(h.target, '/done.html?ok=1&x=2');
    assert.equal(h.rawPath, '/done.html');
    assert.equal(h.query, 'ok=1&x=2');
    const bare = reroutedHead(POST, '/done.html');
    assert.equal(bare.rawPath, '/done.html');
    assert.equal(bare.query, '');
    const empty = reroutedHead(POST, '/p?');
    assert.equal(empty.rawPath, '/p');
    assert.equal(empty.query, '');
  });

  it('keeps HEAD a HEAD, and makes any other method a GET', () => {
    assert.equal(reroutedHead(headOf('HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n'), '/b').method, 'HEAD');
    for (const m of ['GET', 'DELETE', 'OPTIONS'])
      assert.equal(reroutedHead(headOf(`${m} /a HTTP/1.1\r\nHost: h\r\n\r\n`), '/b').method, 'GET', m);
  });

  it('drops the body and its header fields, keeps the others, and leaves the original head alone', () => {
    const h = reroutedHead(POST, '/next');
    assert.equal(h.contentLength, -1);
    assert.equal(h.chunked, false);
    assert.equal(h.expectContinue, false);
    assert.deepEqual([...h.headers.keys()].sort(), ['cookie', 'host', 'user-agent']);
    assert.equal(h.headers.get('cookie'), 'sid=abc');
    // The original is unchanged (an exchange may still look at it).
    assert.equal(POST.headers.get('content-length'), '7');
    assert.equal(POST.headers.get('expect'), '100-continue');
    assert.equal(POST.contentLength, 7);
    assert.notEqual(h.headers, POST.headers);
    const chunked = reroutedHead(headOf('POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n'), '/b');
    assert.equal(chunked.chunked, false);
    assert.equal(chunked.headers.has('transfer-encoding'), false);
  });

  it('keeps the version, the host and whether the connection may be kept', () => {
    const h = reroutedHead(POST, '/next');
    assert.equal(h.minor, 1);
    assert.equal(h.host, 'example.test');
    assert.equal(h.keepAlive, true);
    const old = reroutedHead(headOf('POST /a HTTP/1.0\r\nContent-Length: 1\r\n\r\n'), '/b');
    assert.equal(old.minor, 0);
    assert.equal(old.keepAlive, false);
  });
});
