/**
 * The environment of a CGI script (handlers/cgi/env.ts, RFC 3875 §4.1): the pure cgiEnvironment, and cgiRequest,
 * the facts of an exchange it is built from.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ServerConfig } from '../../src/config/types.js';
import { cgiEnvironment, cgiRequest, type CgiRequest } from '../../src/handlers/cgi/env.js';
import type { CgiScript } from '../../src/handlers/cgi/script.js';
import { configOf, FakeExchange, headOf } from '../helpers/fake-exchange.js';
import { FakeLauncher } from '../helpers/fake-launcher.js';

const SCRIPT: CgiScript = {
  file: '/srv/cgi/app.py',
  scriptName: '/cgi-bin/app.py',
  pathInfo: '',
  interpreter: '/usr/bin/python3',
  root: '/srv/cgi',
};

function request(text: string, over: Partial<CgiRequest> = {}): CgiRequest {
  return {
    head: headOf(text),
    serverName: 'example.test',
    localPort: 8080,
    remoteAddress: '192.0.2.1',
    remotePort: 50123,
    https: false,
    session: null,
    searchPath: '/usr/bin:/bin',
    ...over,
  };
}

describe('cgiEnvironment', () => {
  it("is exactly the RFC 3875 variables and ours for a plain GET, nothing of the server's environment", () => {
    process.env['LOCALHOST_TEST_SECRET'] = 'leak';
    try {
      const env = cgiEnvironment(
        request('GET /cgi-bin/app.py?a=1&b=2 HTTP/1.1\r\nHost: example.test\r\n\r\n'),
        SCRIPT,
        null,
      );
      assert.deepEqual(env, {
        GATEWAY_INTERFACE: 'CGI/1.1',
        SERVER_SOFTWARE: 'localhost/0.1.0',
        SERVER_NAME: 'example.test',
        SERVER_PORT: '8080',
        SERVER_PROTOCOL: 'HTTP/1.1',
        REQUEST_METHOD: 'GET',
        REQUEST_SCHEME: 'http',
        SCRIPT_NAME: '/cgi-bin/app.py',
        QUERY_STRING: 'a=1&b=2',
        REMOTE_ADDR: '192.0.2.1',
        REMOTE_PORT: '50123',
        SCRIPT_FILENAME: '/srv/cgi/app.py',
        REQUEST_URI: '/cgi-bin/app.py?a=1&b=2',
        DOCUMENT_ROOT: '/srv/cgi',
        REDIRECT_STATUS: '200',
        PATH: '/usr/bin:/bin',
        HTTP_HOST: 'example.test',
      });
    } finally {
      delete process.env['LOCALHOST_TEST_SECRET'];
    }
  });

  it('sets PATH_INFO and PATH_TRANSLATED only when there is path info', () => {
    const req = request('GET /cgi-bin/app.py/x/y HTTP/1.1\r\nHost: h\r\n\r\n');
    const env = cgiEnvironment(req, { ...SCRIPT, pathInfo: '/x/y' }, null);
    assert.equal(env['PATH_INFO'], '/x/y');
    assert.equal(env['PATH_TRANSLATED'], '/srv/cgi/x/y');
    const none = cgiEnvironment(req, SCRIPT, null);
    assert.equal('PATH_INFO' in none, false);
    assert.equal('PATH_TRANSLATED' in none, false);
  });

  it('gives CONTENT_LENGTH only for a body, with the length it is told, and CONTENT_TYPE from the header', () => {
    const req = request(
      'POST /cgi-bin/app.py HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n',
    );
    const env = cgiEnvironment(req, SCRIPT, 1234);
    assert.equal(env['CONTENT_LENGTH'], '1234');
    assert.equal(env['CONTENT_TYPE'], 'text/plain; charset=utf-8');
    assert.equal(env['REQUEST_METHOD'], 'POST');
    assert.equal(cgiEnvironment(req, SCRIPT, 0)['CONTENT_LENGTH'], '0');
    assert.equal('CONTENT_LENGTH' in cgiEnvironment(req, SCRIPT, null), false);
  });

  it('passes headers as HTTP_*, except the body framing, Proxy (httpoxy) and names that would collide', () => {
    const env = cgiEnvironment(
      request(
        'POST /cgi-bin/app.py HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.0.0.1\r\nAccept: */*\r\nAccept: text/html\r\n' +
          'Content-Length: 3\r\nContent-Type: a/b\r\nProxy: http://evil/\r\nX_Forwarded_For: spoof\r\nUser-Agent: t/1\r\n\r\n',
      ),
      SCRIPT,
      3,
    );
    assert.equal(env['HTTP_X_FORWARDED_FOR'], '10.0.0.1');
    assert.equal(env['HTTP_ACCEPT'], '*/*, text/html');
    assert.equal(env['HTTP_USER_AGENT'], 't/1');
    for (const k of ['HTTP_CONTENT_LENGTH', 'HTTP_CONTENT_TYPE', 'HTTP_TRANSFER_ENCODING', 'HTTP_PROXY'])
      assert.equal(k in env, false, k);
    assert.deepEqual(
      Object.keys(env)
        .filter((k) => k.startsWith('HTTP_'))
        .sort(),
      ['HTTP_ACCEPT', 'HTTP_HOST', 'HTTP_USER_AGENT', 'HTTP_X_FORWARDED_FOR'],
    );
  });

  it('re-decodes UTF-8 header bytes, keeps other bytes as latin1, and leaves percent-escapes to the script', () => {
    const env = cgiEnvironment(
      request('GET /cgi-bin/app.py?q=%C3%A9 HTTP/1.1\r\nHost: h\r\nX-Name: Jos\xc3\xa9\r\nX-Raw: caf\xe9\r\n\r\n'),
      SCRIPT,
      null,
    );
    assert.equal(env['HTTP_X_NAME'], 'José');
    assert.equal(env['HTTP_X_RAW'], 'caf\u00e9'); // the byte E9 as its latin1 character
    assert.equal(env['QUERY_STRING'], 'q=%C3%A9');
    assert.equal(env['REQUEST_URI'], '/cgi-bin/app.py?q=%C3%A9');
  });

  it('names the protocol version, and rebuilds REQUEST_URI from an absolute-form target', () => {
    const env = cgiEnvironment(
      request('GET http://example.test:8080/cgi-bin/app.py?x=1 HTTP/1.0\r\n\r\n'),
      SCRIPT,
      null,
    );
    assert.equal(env['SERVER_PROTOCOL'], 'HTTP/1.0');
    assert.equal(env['REQUEST_URI'], '/cgi-bin/app.py?x=1');
    assert.equal(env['QUERY_STRING'], 'x=1');
    const bare = cgiEnvironment(request('GET http://example.test/cgi-bin/app.py HTTP/1.0\r\n\r\n'), SCRIPT, null);
    assert.equal(bare['REQUEST_URI'], '/cgi-bin/app.py');
    assert.equal(bare['QUERY_STRING'], '');
  });

  it('gives SESSION_ID and SESSION_DATA only with a session', () => {
    const req = request('GET /cgi-bin/app.py HTTP/1.1\r\nHost: h\r\n\r\n', { session: { id: 'abc', data: 'k=v' } });
    const env = cgiEnvironment(req, SCRIPT, null);
    assert.equal(env['SESSION_ID'], 'abc');
    assert.equal(env['SESSION_DATA'], 'k=v');
    const none = cgiEnvironment(request('GET /cgi-bin/app.py HTTP/1.1\r\nHost: h\r\n\r\n'), SCRIPT, null);
    assert.equal('SESSION_ID' in none || 'SESSION_DATA' in none, false);
  });
});

describe('cgiRequest', () => {
  let dir = '';
  let named: ServerConfig;
  let unnamed: ServerConfig;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-cgienv-'));
    const config = configOf(
      `server {
  host 127.0.0.1
  port 8080
  server_name first.test second.test
  location / { root ${dir}; }
}
server {
  host 127.0.0.1
  port 8081
  location / { root ${dir}; }
}
`,
      dir,
    );
    const [a, b] = config.servers;
    assert.ok(a !== undefined && b !== undefined);
    named = a;
    unnamed = b;
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const launcher = new FakeLauncher();

  it('takes SERVER_NAME from Host, else the first server_name, else the local address', () => {
    const withHost = new FakeExchange({
      request: 'GET / HTTP/1.1\r\nHost: Asked.Test:8080\r\n\r\n',
      server: named,
      launcher,
    });
    assert.equal(cgiRequest(withHost).serverName, 'asked.test');
    const noHost = new FakeExchange({ request: 'GET / HTTP/1.0\r\n\r\n', server: named, launcher });
    assert.equal(cgiRequest(noHost).serverName, 'first.test');
    const nothing = new FakeExchange({
      request: 'GET / HTTP/1.0\r\n\r\n',
      server: unnamed,
      launcher,
      localAddress: '127.0.0.9',
    });
    assert.equal(cgiRequest(nothing).serverName, '127.0.0.9');
  });

  it('carries the addresses, ports, session and search path of the exchange', () => {
    const ex = new FakeExchange({
      request: 'GET / HTTP/1.0\r\n\r\n',
      server: named,
      launcher,
      remoteAddress: '198.51.100.4',
      remotePort: 4444,
      localPort: 8443,
      session: { id: 'sid', owner: '198.51.100.4', data: 'x=1', lastSeen: 0, created: 0 },
    });
    const r = cgiRequest(ex);
    assert.equal(r.remoteAddress, '198.51.100.4');
    assert.equal(r.remotePort, 4444);
    assert.equal(r.localPort, 8443);
    assert.deepEqual(r.session, { id: 'sid', data: 'x=1' });
    assert.equal(r.searchPath, process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin');
    assert.equal(r.head, ex.head);
  });
});
