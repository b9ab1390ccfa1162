/**
 * testssl.sh (Debian's `testssl.sh`, issue 16) against the real server's HTTPS listener, with a certificate made
 * by test/helpers/tls.ts: protocols (-p), cipher categories (-s), forward secrecy (-f) and every vulnerability
 * check (-U), read from its flat JSON report. No SSLv2/SSLv3/TLS 1.0/TLS 1.1, TLS 1.2 and 1.3 offered, no finding
 * HIGH or CRITICAL, each named vulnerability "OK". That run is on a location without HTTP compression; a second,
 * `-B` only, on a gzip+br location must report BREACH (as it would for nginx with `gzip on`: README "HTTPS").
 * The full run takes 45-75 s here (2 shared cores) and -B 6-20 s (`--fast` would save ~15 s but turns the RC4
 * check into a WARN: it then asks the local openssl, which has no RC4), so it lives in test:load.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.js';
import { httpsServer, localhostCertificate } from '../helpers/tls.js';
import { ensureTool } from '../native/support.js';

const missing = ensureTool('testssl', 'testssl.sh') ?? ensureTool('openssl');
if (missing !== null) throw new Error(missing);

/** One entry of testssl.sh's flat JSON (`--jsonfile`). */
interface Finding {
  readonly id: string;
  readonly severity: string;
  readonly finding: string;
}

/** A page long enough to be compressed (over gzip_min_length and brotli_min_length). */
const PAGE = `<!doctype html><title>tls</title><p>${'compressible text '.repeat(200)}</p>\n`;

let srv: RunningServer;
let certs = '';

before(async () => {
  certs = localhostCertificate();
  srv = await startServer({
    config: httpsServer(
      certs,
      `  gzip on
  brotli on
  location /plain/ {
    root {DIR}/www/plain
    default_file index.html
    gzip off
    brotli off
  }
`,
    ),
    files: { 'www/index.html': PAGE, 'www/plain/index.html': PAGE },
  });
});

after(async () => {
  await srv?.stop();
  fs.rmSync(certs, { recursive: true, force: true });
});

/** Runs testssl.sh CHECKS... on `url` (127.0.0.1 only), returning its findings and how long it took. */
function testssl(
  dir: string,
  name: string,
  checks: readonly string[],
  url: string,
): Promise<{ findings: Finding[]; seconds: number; out: string }> {
  const json = path.join(dir, `${name}.json`);
  const args = ['--quiet', '--ip', 'one', '--color', '0', '--warnings', 'off', '--jsonfile', json, ...checks, url];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    // Asynchronous, so the server's output pipes keep draining while testssl.sh runs.
    const proc = spawn('testssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const killer = setTimeout(() => proc.kill('SIGKILL'), 170_000);
    proc.once('error', reject);
    proc.once('exit', (code) => {
      clearTimeout(killer);
      const seconds = (Date.now() - started) / 1000;
      try {
        const findings = JSON.parse(fs.readFileSync(json, 'utf8')) as Finding[];
        resolve({ findings, seconds, out });
      } catch (e) {
        reject(new Error(`testssl.sh (exit ${code}) left no JSON report (${String(e)}):\n${out}`));
      }
    });
  });
}

const byId = (all: readonly Finding[], id: string): Finding => {
  const f = all.find((x) => x.id === id);
  assert.ok(f !== undefined, `testssl.sh reported no "${id}"`);
  return f;
};
const show = (f: Finding): string => `${f.id}: ${f.severity} ${f.finding}`;

/** The vulnerability checks of -U (ids as testssl.sh 3.0 writes them), each of which must be OK. */
const VULNERABILITIES = [
  'heartbleed',
  'CCS',
  'ticketbleed',
  'ROBOT',
  'secure_renego',
  'secure_client_renego',
  'CRIME_TLS',
  'BREACH',
  'POODLE_SSL',
  'fallback_SCSV',
  'SWEET32',
  'FREAK',
  'DROWN',
  'LOGJAM',
  'BEAST',
  'LUCKY13',
  'RC4',
];

describe('testssl.sh against the HTTPS listener', () => {
  test(
    '-p -s -f -U on an uncompressed page: TLS 1.2 and 1.3 only, strong ciphers, no vulnerability',
    { timeout: 180_000 },
    async (t) => {
      const { findings, seconds, out } = await testssl(
        srv.dir,
        'full',
        ['-p', '-s', '-f', '-U'],
        `https://localhost:${srv.port}/plain/`,
      );
      t.diagnostic(`testssl.sh -p -s -f -U took ${seconds.toFixed(1)} s`);
      const bad = findings.filter((f) => ['HIGH', 'CRITICAL', 'FATAL'].includes(f.severity));
      assert.deepEqual(bad.map(show), [], out);
      for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1'])
        assert.match(byId(findings, id).finding, /^not offered/, id);
      for (const id of ['TLS1_2', 'TLS1_3']) assert.match(byId(findings, id).finding, /^offered/, id);
      const weak = ['NULL', 'aNULL', 'EXPORT', 'LOW', '3DES_IDEA', 'AVERAGE'];
      for (const id of weak) assert.match(byId(findings, `cipherlist_${id}`).finding, /^not offered/, id);
      assert.match(byId(findings, 'cipherlist_STRONG').finding, /^offered/);
      assert.equal(byId(findings, 'PFS').severity, 'OK', show(byId(findings, 'PFS')));
      for (const id of VULNERABILITIES) {
        const f = byId(findings, id);
        assert.equal(f.severity, 'OK', show(f));
      }
      // A client's renegotiation is refused (SSL_OP_NO_RENEGOTIATION): testssl.sh rated it HIGH before.
      assert.match(byId(findings, 'secure_client_renego').finding, /not vulnerable/);
      assert.match(byId(findings, 'BREACH').finding, /no HTTP compression/);
    },
  );

  test('-B on a gzip+br page: BREACH is reported (MEDIUM), the reason README gives', { timeout: 60_000 }, async (t) => {
    const { findings, seconds, out } = await testssl(srv.dir, 'breach', ['-B'], `https://localhost:${srv.port}/`);
    t.diagnostic(`testssl.sh -B took ${seconds.toFixed(1)} s`);
    const f = byId(findings, 'BREACH');
    assert.match(f.finding, /VULNERABLE.*(br|gzip) HTTP compression/, out);
    assert.equal(f.severity, 'MEDIUM', show(f));
  });
});
