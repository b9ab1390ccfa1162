import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { dateHeaderLine, headerLine, NO_BODY, serializeHead, type Response } from '../../src/http/response.js';
import { reasonPhrase, statusHasNoBody } from '../../src/http/status.js';

const res = (status: number, length: number, headers = ''): Response => ({ status, headers, body: NO_BODY, length });
const T = Date.UTC(2026, 0, 2, 3, 4, 5);

test('a Content-Length response head, exactly', () => {
  assert.equal(
    serializeHead(res(200, 5, 'Content-Type: text/plain\r\n'), 'length', true, T),
    'HTTP/1.1 200 OK\r\nServer: localhost/0.1.0\r\nDate: Fri, 02 Jan 2026 03:04:05 GMT\r\n' +
      'Content-Type: text/plain\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n',
  );
});

test('chunked and close framing, and no framing header for 304', () => {
  assert.match(
    serializeHead(res(200, -1), 'chunked', true, T),
    /\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n$/,
  );
  assert.match(serializeHead(res(200, -1), 'close', false, T), /\r\nDate: [^\r]+\r\nConnection: close\r\n\r\n$/);
  const h = serializeHead(res(304, 0), 'none', true, T);
  assert.ok(!h.includes('Content-Length') && !h.includes('Transfer-Encoding'));
});

test('the Date line is IMF-fixdate and changes only with the second', () => {
  assert.equal(dateHeaderLine(T), 'Date: Fri, 02 Jan 2026 03:04:05 GMT\r\n');
  assert.equal(dateHeaderLine(T + 999), 'Date: Fri, 02 Jan 2026 03:04:05 GMT\r\n');
  assert.equal(dateHeaderLine(T + 1000), 'Date: Fri, 02 Jan 2026 03:04:06 GMT\r\n');
});

test('header values cannot split the head', () => {
  assert.equal(headerLine('Location', '/a\r\nSet-Cookie: x=1'), 'Location: /aSet-Cookie: x=1\r\n');
});

test('reason phrases and bodiless statuses (RFC 9110 §15)', () => {
  assert.equal(reasonPhrase(413), 'Content Too Large');
  assert.equal(reasonPhrase(599), 'Server Error');
  assert.ok(statusHasNoBody(204) && statusHasNoBody(304) && statusHasNoBody(100));
  assert.ok(!statusHasNoBody(200) && !statusHasNoBody(404));
});
