/**
 * Virtual hosts (DESIGN §4): servers sharing host:port are chosen by the Host header (case-insensitive, port
 * stripped); otherwise the first server without server_name; otherwise the first server on that address.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { execFile } from 'node:child_process';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get, RawClient, rawRequest } from '../helpers/http.js';

// The helper waits for one "listening on" line per line starting with `port`, but servers sharing a port are bound
// once: the extra servers write `port` after a `;` on the `host` line so that they are not counted.
const CONFIG = `server {
  host 127.0.0.1
  port {PORT}
  server_name alpha.test
  error_page 404 {DIR}/alpha-404.html
  location / {
    root {DIR}/alpha
    default_file index.html
  }
}
server {
  host 127.0.0.1; port {PORT}
  location / {
    root {DIR}/default
    default_file index.html
  }
}
server {
  host 127.0.0.1; port {PORT}
  server_name beta.test www.beta.test
  location / {
    root {DIR}/beta
    default_file index.html
  }
}
server {
  host 127.0.0.1
  port {PORT2}
  server_name gamma.test
  location / {
    root {DIR}/gamma
    default_file index.html
  }
}
server {
  host 127.0.0.1; port {PORT2}
  server_name delta.test
  location / {
    root {DIR}/delta
    default_file index.html
  }
}
server {
  host 127.0.0.1
  port {PORT3}
  server_name eps.test
  location / {
    root {DIR}/eps
    default_file index.html
  }
}
server {
  host 127.0.0.1; port {PORT3} default_server
  server_name zeta.test
  location / {
    root {DIR}/zeta
    default_file index.html
  }
}
`;

const SITES = ['alpha', 'default', 'beta', 'gamma', 'delta', 'eps', 'zeta'] as const;
const page = (site: string): string => `<h1>site ${site}</h1>\n`;

let srv: RunningServer;
let port: number;
let port2: number;

before(async () => {
  const files: Record<string, string> = { 'alpha-404.html': 'alpha has no such page\n' };
  for (const s of SITES) {
    files[`${s}/index.html`] = page(s);
    files[`${s}/only-${s}.txt`] = `only in ${s}\n`;
  }
  srv = await startServer({ config: CONFIG, files });
  port = srv.ports[0]!;
  port2 = srv.ports[1]!;
});

after(async () => {
  await srv.stop();
  fs.rmSync(srv.dir, { recursive: true, force: true });
});

async function siteFor(p: number, host: string | null, path = '/'): Promise<string> {
  const hostLine = host === null ? '' : `Host: ${host}\r\n`;
  const version = host === null ? '1.0' : '1.1';
  const r = await rawRequest(p, `GET ${path} HTTP/${version}\r\n${hostLine}Connection: close\r\n\r\n`);
  assert.equal(r.status, 200, `Host ${host}: ${r.body.toString()}`);
  return r.body.toString();
}

describe('default_server', () => {
  test('port N default_server: that server, not the first, answers an unknown Host and no Host', async () => {
    const p3 = srv.ports[2] ?? 0;
    assert.equal(await siteFor(p3, 'unknown.test'), page('zeta'));
    assert.equal(await siteFor(p3, null), page('zeta'));
    assert.equal(await siteFor(p3, 'eps.test'), page('eps'), 'a name still picks its server');
  });
});

describe('virtual hosts on one port', () => {
  test('each name gets its own site', async () => {
    assert.equal(await siteFor(port, 'alpha.test'), page('alpha'));
    assert.equal(await siteFor(port, 'beta.test'), page('beta'));
    assert.equal(await siteFor(port, 'www.beta.test'), page('beta'));
  });

  test('the Host match ignores case and the port', async () => {
    assert.equal(await siteFor(port, 'ALPHA.Test'), page('alpha'));
    assert.equal(await siteFor(port, `beta.test:${port}`), page('beta'));
    assert.equal(await siteFor(port, `Www.Beta.TEST:${port}`), page('beta'));
  });

  test('a fully qualified name with a trailing dot matches', async () => {
    assert.equal(await siteFor(port, 'alpha.test.'), page('alpha'));
  });

  test('an unknown Host gets the first server without server_name', async () => {
    assert.equal(await siteFor(port, 'unknown.test'), page('default'));
    assert.equal(await siteFor(port, '127.0.0.1'), page('default'));
    assert.equal(await siteFor(port, `127.0.0.1:${port}`), page('default'));
    assert.equal(await siteFor(port, 'alpha.test.evil'), page('default'));
    assert.equal(await siteFor(port, 'test'), page('default'));
  });

  test('HTTP/1.0 without Host gets the default server', async () => {
    assert.equal(await siteFor(port, null), page('default'));
  });

  test('the authority of an absolute-form target overrides Host (RFC 9112 §3.2.2)', async () => {
    const r = await rawRequest(
      port,
      'GET http://alpha.test/only-alpha.txt HTTP/1.1\r\nHost: beta.test\r\nConnection: close\r\n\r\n',
    );
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'only in alpha\n');
  });

  test('sites do not leak into each other', async () => {
    const r = await get(port, '/only-alpha.txt', { Host: 'beta.test' });
    assert.equal(r.status, 404);
    const ok = await get(port, '/only-beta.txt', { Host: 'beta.test' });
    assert.equal(ok.body.toString(), 'only in beta\n');
  });

  test('each server uses its own error_page', async () => {
    const a = await get(port, '/nope', { Host: 'alpha.test' });
    assert.equal(a.status, 404);
    assert.equal(a.body.toString(), 'alpha has no such page\n');
    const b = await get(port, '/nope', { Host: 'beta.test' });
    assert.equal(b.status, 404);
    assert.match(b.body.toString(), /<title>404 Not Found<\/title>/);
  });

  test('one keep-alive connection may address several hosts in turn', async () => {
    const wire = ['alpha.test', 'beta.test', 'nobody.test'].map((h) => `GET / HTTP/1.1\r\nHost: ${h}\r\n\r\n`).join('');
    const c = await RawClient.connect(port);
    try {
      c.send(wire);
      assert.equal((await c.read()).body.toString(), page('alpha'));
      assert.equal((await c.read()).body.toString(), page('beta'));
      assert.equal((await c.read()).body.toString(), page('default'));
    } finally {
      c.close();
    }
  });
});

describe('a port where every server has a name', () => {
  test('names select their servers', async () => {
    assert.equal(await siteFor(port2, 'gamma.test'), page('gamma'));
    assert.equal(await siteFor(port2, 'delta.test'), page('delta'));
  });

  test('an unknown Host gets the first server on the address', async () => {
    assert.equal(await siteFor(port2, 'unknown.test'), page('gamma'));
    assert.equal(await siteFor(port2, null), page('gamma'));
  });

  test('names of another port do not apply here', async () => {
    assert.equal(await siteFor(port2, 'alpha.test'), page('gamma'));
  });
});

describe('with curl --resolve', () => {
  function curl(args: string[]): Promise<{ code: number; stdout: string }> {
    return new Promise((resolve) => {
      execFile('curl', ['-sS', '--max-time', '5', ...args], (err, stdout) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout });
      });
    });
  }

  test('curl reaches each name through --resolve', async () => {
    for (const [name, site] of [
      ['alpha.test', 'alpha'],
      ['beta.test', 'beta'],
      ['www.beta.test', 'beta'],
      ['other.test', 'default'],
    ] as const) {
      const r = await curl(['--resolve', `${name}:${port}:127.0.0.1`, `http://${name}:${port}/`]);
      assert.equal(r.code, 0, `curl ${name}`);
      assert.equal(r.stdout, page(site), `curl ${name}`);
    }
  });

  test('curl on the second port', async () => {
    const r = await curl(['--resolve', `delta.test:${port2}:127.0.0.1`, `http://delta.test:${port2}/only-delta.txt`]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'only in delta\n');
  });
});
