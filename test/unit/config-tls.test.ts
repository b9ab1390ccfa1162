/**
 * The TLS directives (config/tls.ts, validate.ts): `listen ... ssl [default_server]`, `ssl_certificate`,
 * `ssl_certificate_key`, `ssl_protocols`, `ssl_ciphers`. A server whose certificate cannot be used is skipped with
 * FILE:LINE:COL; one socket cannot be both TLS and plain. Certificates are made with openssl in a temp dir.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseConfigText, type ConfigResult } from '../../src/config/load.js';
import { VirtualHosts } from '../../src/router/vhost.js';
import { bindSpecs } from '../../src/server/listeners.js';
import { makeCa, makeLeaf } from '../helpers/tls.js';
import { ensureTool } from '../native/support.js';

const missing = ensureTool('openssl');
if (missing !== null) throw new Error(missing);

let dir = '';
let file = '';
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-tlsconf-'));
  file = path.join(dir, 'test.conf');
  makeCa(dir);
  makeLeaf(dir, 'a', 'a.test');
  makeLeaf(dir, 'b', 'b.test');
  fs.writeFileSync(path.join(dir, 'not-pem.crt'), 'hello\n');
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const messages = (r: ConfigResult): string[] => r.errors.map((e) => `${e.pos.line}:${e.pos.col} ${e.detail}`);
const block = (inner: string): string => `server {\n${inner}\n  location / { redirect /x }\n}\n`;
const good = (extra = '', listen = 'listen 8443 ssl'): string =>
  block(`  ${listen}\n  ssl_certificate a.crt\n  ssl_certificate_key a.key\n${extra}`);
const plain = block('  host 127.0.0.1\n  port 8080');

describe('config: TLS', () => {
  it('loads a certificate with the intermediate defaults; ssl marks the listen, host/port stay plain', () => {
    const r = parseConfigText(good('  host 127.0.0.1\n  port 8080'), file);
    assert.ok(r.ok, messages(r).join('\n'));
    const s = r.config.servers[0];
    assert.equal(s?.tls?.minVersion, 'TLSv1.2');
    assert.equal(s?.tls?.maxVersion, 'TLSv1.3');
    assert.match(s?.tls?.ciphers ?? '', /^TLS_AES_128_GCM_SHA256:.*ECDHE-RSA-AES128-GCM-SHA256/);
    assert.equal(s?.tls?.subject, 'CN=a.test');
    assert.deepEqual(
      s?.listens.map((l) => `${l.host}:${l.port}${l.ssl ? ' ssl' : ''}`),
      ['127.0.0.1:8080', '0.0.0.0:8443 ssl'],
    );
    assert.deepEqual(
      bindSpecs(r.config.servers)
        .map((b) => `${b.port} ${b.ssl}`)
        .sort(),
      ['8080 false', '8443 true'],
    );
  });

  it('ssl_protocols takes TLSv1.2 and TLSv1.3 only', () => {
    const r = parseConfigText(good('  ssl_protocols TLSv1.3'), file);
    assert.ok(r.ok);
    assert.equal(r.config.servers[0]?.tls?.minVersion, 'TLSv1.3');
    const bad = parseConfigText(good('  ssl_protocols TLSv1.1 TLSv1.2') + plain, file);
    assert.ok(bad.ok);
    assert.equal(bad.config.servers.length, 1);
    assert.match(
      messages(bad).join('\n'),
      /^5:17 bad ssl_protocols "TLSv1\.1": TLS 1\.0, 1\.1 and SSL are insecure.*\(server skipped\)$/m,
    );
  });

  it('a bad ssl_ciphers list is an error at its argument', () => {
    const r = parseConfigText(good('  ssl_ciphers NOPE-NOTHING') + plain, file);
    assert.ok(r.ok);
    assert.match(messages(r).join('\n'), /^5:15 bad ssl_ciphers "NOPE-NOTHING"/m);
  });

  it('a missing, non-PEM or mismatched certificate or key skips the server with its position', () => {
    const cases: [string, RegExp][] = [
      [block('  listen 8443 ssl'), /^2:10 "listen \.\.\. ssl" needs "ssl_certificate PATH"/m],
      [block('  listen 8443 ssl\n  ssl_certificate a.crt'), /^3:19 missing "ssl_certificate_key"/m],
      [
        block('  listen 8443 ssl\n  ssl_certificate nope.crt\n  ssl_certificate_key a.key'),
        /^3:19 cannot read ssl_certificate .*nope\.crt: ENOENT/m,
      ],
      [
        block('  listen 8443 ssl\n  ssl_certificate not-pem.crt\n  ssl_certificate_key a.key'),
        /^3:19 ssl_certificate .*not-pem\.crt is not a PEM file/m,
      ],
      [
        block('  listen 8443 ssl\n  ssl_certificate a.crt\n  ssl_certificate_key b.key'),
        /^4:23 ssl_certificate_key .*b\.key does not match ssl_certificate .*a\.crt \(server skipped\)$/m,
      ],
    ];
    for (const [text, want] of cases) {
      const r = parseConfigText(text + plain, file);
      assert.ok(r.ok, messages(r).join('\n'));
      assert.equal(r.config.servers.length, 1, text);
      assert.equal(r.config.servers[0]?.tls, null);
      assert.match(messages(r).join('\n'), want);
    }
  });

  it('one socket cannot be both TLS and plain: the later server is skipped', () => {
    const r = parseConfigText(good() + block('  listen 127.0.0.1:8443'), file);
    assert.ok(r.ok);
    assert.equal(r.config.servers.length, 1);
    assert.match(messages(r).join('\n'), /^9:10 127\.0\.0\.1:8443 is plain HTTP here but TLS \(ssl\) at 2:10/m);
  });

  it("default_server makes a server the address's default (and its certificate the fallback)", () => {
    const b = `server {\n  listen 8443 ssl default_server\n  server_name b.test\n  ssl_certificate b.crt\n  ssl_certificate_key b.key\n  location / { redirect /x }\n}\n`;
    const r = parseConfigText(good('  server_name a.test') + b, file);
    assert.ok(r.ok, messages(r).join('\n'));
    const g = new VirtualHosts(r.config.servers).group('127.0.0.1', 8443);
    assert.deepEqual(g?.select('unknown.test').serverNames, ['b.test']);
    assert.deepEqual(g?.first.serverNames, ['b.test']);
    assert.deepEqual(g?.select('a.test').serverNames, ['a.test']);
    const bad = parseConfigText(good('', 'listen 8443 ssl sll'), file);
    assert.match(messages(bad).join('\n'), /bad listen parameter "sll": expected ssl, default_server or backlog=N/);
  });
});
