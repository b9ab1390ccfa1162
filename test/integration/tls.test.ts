/**
 * HTTPS (issue 16), through real clients: a CA and two leaf certificates made with openssl; curl --cacert; openssl
 * s_client -servername for SNI; TLS 1.0/1.1 refused; a client's renegotiation refused; a mismatched key skips its server with FILE:LINE:COL; plain
 * HTTP on the TLS port is 400; SNI and Host naming different servers is 421; a stalled handshake runs into
 * client_header_timeout; CGI sees HTTPS=on; the session cookie is Secure; SIGHUP reloads the certificates while
 * an open connection keeps its own. Runs on whichever transport LOCALHOST_TRANSPORT names (TLS listeners are
 * node:tls ones on both).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { rawRequest } from '../helpers/http.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { makeCa, makeLeaf, sClient, TlsClient } from '../helpers/tls.js';
import { until } from '../helpers/wait.js';
import { ensureTool } from '../native/support.js';

const missing = ensureTool('openssl') ?? ensureTool('curl');
if (missing !== null) throw new Error(missing);

let certs = '';
let caFile = '';
let ca: Buffer;
let srv: RunningServer;
let port = 0;
let plainPort = 0;

/** Larger than the file pump's 64 KiB reads and the TLS record size, so it goes through the queue in pieces. */
const BIG = randomBytes(3 * 1024 * 1024 + 17);

const CGI = `#!/usr/bin/env python3
import os
print("Content-Type: text/plain")
print("X-Session-Data: seen=1")
print()
for k in ("HTTPS", "REQUEST_SCHEME", "SERVER_PORT"):
    print(k + "=" + os.environ.get(k, "-"))
`;

const site = (name: string, cert: string, key: string, extra = ''): string => `server {
  listen 127.0.0.1:{PORT} ssl
  server_name ${name}
  ssl_certificate ${certs}/${cert}.crt
  ssl_certificate_key ${certs}/${key}.key
  client_header_timeout 1s
${extra}  location / {
    root {DIR}/www/${name}
    default_file index.html
  }
  location /cgi-bin {
    root {DIR}/cgi-bin
    cgi .py python3
    session on
  }
}
`;

before(async () => {
  certs = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-tls-'));
  caFile = makeCa(certs);
  ca = fs.readFileSync(caFile);
  makeLeaf(certs, 'a', 'a.test');
  makeLeaf(certs, 'b', 'b.test');
  const config =
    site('a.test', 'a', 'a') +
    site('b.test', 'b', 'b') +
    // A certificate with another's key: this server is skipped, the others serve.
    site('bad.test', 'a', 'b') +
    `server {
  host 127.0.0.1
  port {PORT2}
  location /cgi-bin {
    root {DIR}/cgi-bin
    cgi .py python3
    session on
  }
}
`;
  srv = await startServer({
    config,
    files: {
      'www/a.test/index.html': 'site a\n',
      'www/b.test/index.html': 'site b\n',
      'www/a.test/big.bin': BIG,
      'www/bad.test/index.html': 'site bad\n',
      'cgi-bin/env.py': CGI,
    },
  });
  port = srv.port;
  plainPort = srv.ports[1] ?? 0;
});

after(async () => {
  await srv.stop();
  fs.rmSync(certs, { recursive: true, force: true });
});

/** curl over HTTPS to `name` on our port, trusting only the test CA; returns status line and body. */
function curl(name: string, urlPath: string, extra: readonly string[] = []): { code: string; out: string } {
  const r = spawnSync(
    'curl',
    ['-sS', '-i', '--cacert', caFile, '--resolve', `${name}:${port}:127.0.0.1`]
      .concat(extra)
      .concat([`https://${name}:${port}${urlPath}`]),
    { encoding: 'utf8', timeout: 15_000 },
  );
  return { code: /^HTTP\/\S+ (\d+)/.exec(r.stdout)?.[1] ?? `curl failed: ${r.stderr}`, out: r.stdout };
}

describe('HTTPS', () => {
  test('curl --cacert reaches each site by name, the certificate verified against the test CA', () => {
    const a = curl('a.test', '/');
    assert.equal(a.code, '200', a.out);
    assert.match(a.out, /site a/);
    const b = curl('b.test', '/');
    assert.equal(b.code, '200', b.out);
    assert.match(b.out, /site b/);
  });

  test('a 3 MiB file arrives whole over TLS (no write(2) around OpenSSL)', () => {
    const r = spawnSync(
      'curl',
      ['-sS', '--cacert', caFile, '--resolve', `a.test:${port}:127.0.0.1`, `https://a.test:${port}/big.bin`],
      { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 },
    );
    assert.equal(r.status, 0, String(r.stderr));
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    assert.equal(r.stdout.length, BIG.length);
    assert.equal(sha(r.stdout), sha(BIG));
  });

  test('SNI picks the certificate; an unknown or missing name gets the first server', () => {
    assert.equal(sClient(port, 'a.test', caFile).subject, 'CN=a.test');
    assert.equal(sClient(port, 'b.test', caFile).subject, 'CN=b.test');
    assert.equal(sClient(port, 'other.test', caFile).subject, 'CN=a.test');
    assert.equal(sClient(port, null, caFile).subject, 'CN=a.test');
  });

  test('TLS 1.2 and 1.3 are offered, TLS 1.0 and 1.1 refused; ALPN says http/1.1', () => {
    const v13 = sClient(port, 'a.test', caFile, ['-tls1_3', '-alpn', 'http/1.1']);
    assert.ok(v13.ok, v13.output);
    assert.match(v13.output, /ALPN protocol: http\/1\.1/);
    assert.ok(sClient(port, 'a.test', caFile, ['-tls1_2']).ok);
    for (const old of ['-tls1_1', '-tls1']) {
      const h = sClient(port, 'a.test', caFile, [old]);
      assert.equal(h.ok, false, `${old} was accepted:\n${h.output}`);
    }
  });

  test('a renegotiation the client asks for is refused with no_renegotiation (nginx; testssl.sh rates it HIGH)', async () => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'a.test', ca, maxVersion: 'TLSv1.2' });
    const errors: string[] = [];
    s.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? e.message));
    await new Promise<void>((resolve, reject) => {
      s.once('secureConnect', resolve);
      s.once('error', reject);
    });
    // The callback runs once the second handshake completes, which it must not; the refusal comes as an error.
    let renegotiated = false;
    s.renegotiate({}, (err) => {
      if (err == null) renegotiated = true;
    });
    await until(() => renegotiated || errors.length > 0 || s.destroyed, 'the renegotiation to end');
    s.destroy();
    assert.equal(renegotiated, false, 'the server renegotiated');
    assert.deepEqual(errors, ['ERR_SSL_NO_RENEGOTIATION']);
  });

  test('a key that does not match its certificate skips that server with FILE:LINE:COL; the others serve', () => {
    const conf = path.join(srv.dir, 'test.conf');
    const text = fs.readFileSync(conf, 'utf8').split('\n');
    // The third server block's ssl_certificate_key line (the one pairing a.crt with b.key).
    const badLine = text.findIndex(
      (l, i) => l.includes('b.key') && text.slice(0, i).some((x) => x.includes('bad.test')),
    );
    const col = (text[badLine] ?? '').indexOf(certs) + 1;
    const want = `${conf}:${badLine + 1}:${col}: ssl_certificate_key ${certs}/b.key does not match ssl_certificate ${certs}/a.crt (server skipped)`;
    assert.ok(srv.output().includes(want), srv.output());
    // bad.test does not exist: its name falls to the first server.
    const r = curl('a.test', '/', ['-H', 'Host: bad.test']);
    assert.equal(r.code, '200', r.out);
    assert.match(r.out, /site a/);
  });

  test('a plain HTTP request on the TLS port gets 400 with a hint, and the connection closes', async () => {
    const r = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: a.test\r\n\r\n');
    assert.equal(r.status, 400);
    assert.match(r.body.toString(), /plain HTTP request was sent to HTTPS port/);
    assert.equal(r.header('connection'), 'close');
  });

  test('SNI naming one server and Host another is 421', () => {
    const r = curl('b.test', '/', ['-H', 'Host: a.test']);
    assert.equal(r.code, '421', r.out);
    assert.equal(curl('b.test', '/', ['-H', 'Host: b.test']).code, '200');
  });

  test('CGI sees HTTPS=on, REQUEST_SCHEME=https and the port; the session cookie is Secure (not over http)', async () => {
    const r = curl('a.test', '/cgi-bin/env.py');
    assert.equal(r.code, '200', r.out);
    assert.match(r.out, /^HTTPS=on$/m);
    assert.match(r.out, /^REQUEST_SCHEME=https$/m);
    assert.match(r.out, new RegExp(`^SERVER_PORT=${port}$`, 'm'));
    assert.match(r.out, /^Set-Cookie: sid=[^\r\n]*; Secure/im);
    const plain = await rawRequest(plainPort, 'GET /cgi-bin/env.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(plain.status, 200);
    assert.match(plain.body.toString(), /^HTTPS=-$/m);
    assert.match(plain.body.toString(), /^REQUEST_SCHEME=http$/m);
    assert.doesNotMatch(plain.header('set-cookie') ?? '', /Secure/);
  });

  test('a stalled handshake is closed after client_header_timeout', async () => {
    const s = net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve) => s.once('connect', resolve));
    const t0 = Date.now();
    s.write(Buffer.from([0x16, 0x03, 0x01])); // the start of a ClientHello, never finished
    const closed = new Promise<number>((resolve) => {
      s.on('error', () => undefined);
      s.once('close', () => {
        resolve(Date.now() - t0);
      });
    });
    const ms = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
    s.destroy();
    assert.ok(ms >= 900 && ms < 3000, `closed after ${ms} ms (client_header_timeout 1s)`);
  });

  test('SIGHUP reloads the certificates: new connections get the new one, an open one keeps its own', async () => {
    const old = await TlsClient.connect(port, 'a.test', ca);
    try {
      const first = await old.request('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n');
      assert.equal(first.status, 200);
      assert.equal(old.peerSubject, 'CN=a.test');
      makeLeaf(certs, 'a', 'a.test', '/CN=a.test/O=Second');
      const before = (srv.output().match(/^reloaded$/gm) ?? []).length;
      srv.proc.kill('SIGHUP');
      await until(() => (srv.output().match(/^reloaded$/gm) ?? []).length > before, 'the reload');
      assert.equal(sClient(port, 'a.test', caFile).subject, 'CN=a.test, O=Second');
      const again = await old.request('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n');
      assert.equal(again.status, 200);
      assert.match(again.body.toString(), /site a/);
      assert.equal(old.peerSubject, 'CN=a.test');
    } finally {
      old.close();
    }
  });
});
