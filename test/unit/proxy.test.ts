/** The proxy's pure parts: proxy_pass URLs, URI mapping, the upstream head, response heads, round robin. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeHeaderSettings, parseProxyPass, parseTemplate } from '../../src/config/proxy.js';
import { upgradeOf, upstreamRequestHead, type RequestFacts } from '../../src/handlers/proxy/request-head.js';
import { encodePath, upstreamTarget } from '../../src/handlers/proxy/uri.js';
import { clientHeaderLines, headEnd, parseResponseHead } from '../../src/handlers/proxy/response-head.js';
import { UpstreamSet } from '../../src/handlers/proxy/upstreams.js';
import { parseConfigText } from '../../src/config/load.js';

describe('proxy_pass URLs', () => {
  test('address, port, URI, socket, upstream name', () => {
    const a = parseProxyPass('http://127.0.0.1:8080/v1/');
    assert.ok(a.ok);
    assert.deepEqual(a.value.address, { kind: 'tcp', host: '127.0.0.1', port: 8080 });
    assert.equal(a.value.uri, '/v1/');
    assert.equal(a.value.hostHeader, '127.0.0.1:8080');
    const b = parseProxyPass('http://[::1]');
    assert.ok(b.ok && b.value.address.kind === 'tcp' && b.value.address.port === 80 && b.value.uri === null);
    const u = parseProxyPass('http://unix:/run/app.sock:/x');
    assert.ok(
      u.ok && u.value.address.kind === 'unix' && u.value.address.path === '/run/app.sock' && u.value.uri === '/x',
    );
    const n = parseProxyPass('http://backend');
    assert.ok(n.ok && n.value.upstreamName === 'backend');
    for (const bad of ['https://127.0.0.1', 'ftp://x', 'http://1.2.3.4:0', 'http://1.2.3.4:99999', 'http://a b'])
      assert.equal(parseProxyPass(bad).ok, false, bad);
  });
  test('templates: variables known, unknown refused', () => {
    assert.ok(parseTemplate('$host:${server_port} $http_x_y').ok);
    assert.equal(parseTemplate('$nope').ok, false);
  });
  test('config errors carry positions: unknown upstream, bad server parameter', () => {
    const r = parseConfigText(
      'upstream u {\n  server 127.0.0.1:1 weight=0\n}\nserver {\n  listen 127.0.0.1:8080\n  location / {\n    proxy_pass http://v\n  }\n}\n',
      '/t.conf',
    );
    const text = r.errors.map((e) => e.toString()).join('\n');
    assert.match(text, /2:\d+.*weight/);
    assert.match(text, /7:\d+.*unknown upstream "v"/);
  });
});

describe('URI mapping', () => {
  test('without a URI: as sent', () => {
    assert.equal(upstreamTarget('/a%2Fb', 'q=1', '/a/b', '/', null), '/a%2Fb?q=1');
  });
  test('with a URI: the prefix replaced, encoded again', () => {
    assert.equal(upstreamTarget('/api/a%20b', '', '/api/a b', '/api', '/v1/'), '/v1/a%20b');
    assert.equal(upstreamTarget('/api', '', '/api', '/api', '/v1/'), '/v1/');
    assert.equal(upstreamTarget('/x/y', 'z', '/x/y', '/', '/base'), '/base/x/y?z');
    assert.equal(encodePath('/é?#%'), '/%C3%A9%3F%23%25');
  });
});

describe('response heads', () => {
  test('parsed, framed, filtered', () => {
    const text =
      'HTTP/1.1 200 OK\r\nConnection: close, X-In\r\nX-In: 1\r\nContent-Length: 3\r\nServer: b\r\nX-Accel-Buffering: no\r\nX-Ok: y';
    const h = parseResponseHead(text);
    assert.ok(h.ok);
    assert.equal(h.value.contentLength, 3);
    assert.equal(h.value.close, true);
    assert.equal(clientHeaderLines(h.value, new Set(), new Set()), 'X-Ok: y\r\n');
    assert.equal(
      clientHeaderLines(h.value, new Set(['x-ok']), new Set(['x-accel-buffering'])),
      'X-Accel-Buffering: no\r\n',
    );
  });
  test('Transfer-Encoding wins over Content-Length and forbids reuse; bad heads refused', () => {
    const h = parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked');
    assert.ok(h.ok && h.value.chunked && h.value.contentLength === -1 && h.value.close);
    for (const bad of [
      'HTTP/1.1 20 OK',
      'HTTP/2 200 OK',
      'HTTP/1.1 200 OK\r\nBad Name: x',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2',
    ])
      assert.equal(parseResponseHead(bad).ok, false, bad);
    assert.equal(headEnd(Buffer.from('HTTP/1.1 200 OK\r\n\r\nbody')), 19);
    assert.equal(headEnd(Buffer.from('HTTP/1.1 200 OK\n\nbody')), 17);
    assert.equal(headEnd(Buffer.from('HTTP/1.1 200 OK\r\n')), -1);
  });
});

describe('Upgrade (RFC 9110 §7.8)', () => {
  const req = (headers: Record<string, string>, more: { method?: string; minor?: 0 | 1; length?: number } = {}) => ({
    method: more.method ?? 'GET',
    minor: more.minor ?? 1,
    headers: new Map(Object.entries(headers)),
    contentLength: more.length ?? -1,
    chunked: false,
  });
  test('asked by Upgrade with Connection listing upgrade, in any case, on a GET of HTTP/1.1 without a body', () => {
    assert.equal(upgradeOf(req({ upgrade: 'websocket', connection: 'keep-alive, Upgrade' })), 'websocket');
    assert.equal(upgradeOf(req({ upgrade: 'websocket', connection: 'UPGRADE' })), 'websocket');
    assert.equal(upgradeOf(req({ upgrade: 'websocket' })), null);
    assert.equal(upgradeOf(req({ upgrade: 'websocket', connection: 'upgraded' })), null);
    assert.equal(upgradeOf(req({ upgrade: ' ', connection: 'upgrade' })), null);
    assert.equal(upgradeOf(req({ connection: 'upgrade' })), null);
    const ws = { upgrade: 'websocket', connection: 'upgrade' };
    assert.equal(upgradeOf(req(ws, { method: 'POST' })), null);
    assert.equal(upgradeOf(req(ws, { minor: 0 })), null);
    assert.equal(upgradeOf(req(ws, { length: 3 })), null);
  });
  test('the upstream head carries Upgrade and Connection: upgrade once, whatever proxy_set_header says', () => {
    const f: RequestFacts = {
      method: 'GET',
      target: '/ws',
      rawPath: '/ws',
      query: '',
      path: '/ws',
      host: 'h',
      headers: new Map([
        ['upgrade', 'websocket'],
        ['connection', 'Upgrade'],
        ['sec-websocket-key', 'k'],
      ]),
      remoteAddress: '1.2.3.4',
      remotePort: 5,
      peerAddress: '1.2.3.4',
      peerPort: 5,
      localAddress: '127.0.0.1',
      localPort: 80,
      scheme: 'http',
      proxyHost: 'b:1',
    };
    const nginxRecipe = mergeHeaderSettings([
      { name: 'upgrade', display: 'Upgrade', value: [{ variable: 'http_upgrade' }] },
      { name: 'connection', display: 'Connection', value: [{ text: 'upgrade' }] },
    ]);
    for (const settings of [mergeHeaderSettings([]), nginxRecipe]) {
      const head = upstreamRequestHead('/ws', f, settings, { kind: 'none' }, true, 'websocket');
      assert.match(head, /\r\nSec-Websocket-Key: k\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n$/);
      assert.equal(head.match(/^(upgrade|connection):/gim)?.length, 2, head);
      // Without an upgrade, the same settings send neither field but our own framing.
      const plain = upstreamRequestHead('/ws', f, settings, { kind: 'none' }, false, null);
      assert.doesNotMatch(plain, /^upgrade:/im);
      assert.match(plain, /\r\nConnection: close\r\n\r\n$/);
      assert.equal(plain.match(/^connection:/gim)?.length, 1, plain);
    }
  });
});

describe('round robin', () => {
  const server = (port: number, weight: number, backup = false) => ({
    address: { kind: 'tcp', host: '127.0.0.1', port } as const,
    text: `127.0.0.1:${port}`,
    hostHeader: `127.0.0.1:${port}`,
    weight,
    maxFails: 1,
    failTimeout: 10_000,
    backup,
  });
  test('smooth weights 5:1:1 as nginx spreads them', () => {
    const set = new UpstreamSet({ name: 'u', servers: [server(1, 5), server(2, 1), server(3, 1)], keepalive: 0 });
    const order = Array.from({ length: 7 }, () => set.pick(new Set())?.cfg.address).map((a) =>
      a?.kind === 'tcp' ? a.port : 0,
    );
    assert.deepEqual(order, [1, 1, 2, 1, 3, 1, 1]);
  });
  test('a failed server is skipped for fail_timeout; backups only when all are down', () => {
    const set = new UpstreamSet({ name: 'u', servers: [server(1, 1), server(2, 1, true)], keepalive: 0 });
    const first = set.peers[0];
    assert.ok(first !== undefined);
    assert.equal(set.pick(new Set())?.text, '127.0.0.1:1');
    set.failed(first);
    assert.equal(set.pick(new Set())?.text, '127.0.0.1:2');
    assert.equal(set.pick(new Set(set.peers)), null);
  });
});
