/**
 * HTTPS in a real browser (issue 16): headless Chromium trusts exactly our test certificate (its SPKI hash on
 * --ignore-certificate-errors-spki-list, nothing else ignored) and loads a page over TLS whose script `fetch()`es a
 * compressible JSON document. Chromium offers br over HTTPS; the script and the JSON must come back br-encoded,
 * decode to the bytes on disk (Resource Timing: fewer bytes on the wire than decoded), over TLS 1.2 or 1.3, with
 * no console error, failed request or error status.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Response } from 'playwright-core';
import { launchChromium, PageWatch, screenshot } from './chromium.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { httpsServer, localhostCertificate } from '../helpers/tls.js';

const ITEMS = Array.from({ length: 400 }, (_, i) => ({ id: i, name: `item-${i}`, note: 'a compressible note' }));
const DATA = JSON.stringify({ items: ITEMS });
const APP = `// Fetches the JSON and shows what came back (the page's own check).
(async () => {
  const r = await fetch('/data.json');
  const data = await r.json();
  const t = performance.getEntriesByName(r.url)[0];
  document.getElementById('out').textContent = JSON.stringify({
    status: r.status,
    encoding: r.headers.get('content-encoding'),
    count: data.items.length,
    last: data.items[data.items.length - 1].name,
    encodedBodySize: t.encodedBodySize,
    decodedBodySize: t.decodedBodySize,
  });
})();
${'// padding so the script itself is over brotli_min_length\n'.repeat(8)}`;
const INDEX = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>https</title><link rel="icon" href="data:,"></head>
<body><pre id="out">waiting</pre><script src="/app.js"></script></body></html>
`;

let certs = '';
let srv: RunningServer;
let browser: Browser;

before(async () => {
  certs = localhostCertificate();
  const spki = new X509Certificate(fs.readFileSync(path.join(certs, 'site.crt'))).publicKey.export({
    type: 'spki',
    format: 'der',
  });
  const pin = createHash('sha256').update(spki).digest('base64');
  srv = await startServer({
    config: httpsServer(certs, '  gzip on\n  brotli on\n'),
    files: { 'www/index.html': INDEX, 'www/app.js': APP, 'www/data.json': DATA },
  });
  browser = await launchChromium([`--ignore-certificate-errors-spki-list=${pin}`]);
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  fs.rmSync(certs, { recursive: true, force: true });
});

interface Shown {
  readonly status: number;
  readonly encoding: string | null;
  readonly count: number;
  readonly last: string;
  readonly encodedBodySize: number;
  readonly decodedBodySize: number;
}

describe('HTTPS in Chromium', () => {
  test('a page over TLS fetches br-encoded JSON; it decodes right, with no console error', async (t) => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    page.setDefaultTimeout(10_000);
    const watch = new PageWatch(page);
    const responses = new Map<string, Response>();
    page.on('response', (r) => responses.set(new URL(r.url()).pathname, r));
    const base = `https://localhost:${srv.port}`;
    const res = await page.goto(`${base}/`);
    assert.equal(res?.status(), 200);
    await page.waitForFunction("document.getElementById('out').textContent !== 'waiting'");
    const shown = JSON.parse((await page.locator('#out').textContent()) ?? '') as Shown;
    await screenshot(page, 'https-fetch-br');
    assert.deepEqual(
      { status: shown.status, encoding: shown.encoding, count: shown.count, last: shown.last },
      { status: 200, encoding: 'br', count: ITEMS.length, last: `item-${ITEMS.length - 1}` },
    );
    t.diagnostic(`data.json: ${shown.encodedBodySize} bytes on the wire, ${shown.decodedBodySize} decoded`);
    assert.equal(shown.decodedBodySize, Buffer.byteLength(DATA));
    assert.ok(shown.encodedBodySize > 0 && shown.encodedBodySize < shown.decodedBodySize / 4, JSON.stringify(shown));

    for (const [file, body] of [
      ['/data.json', DATA],
      ['/app.js', APP],
    ] as const) {
      const r = responses.get(file);
      assert.ok(r !== undefined, `no response for ${file}`);
      const sent = await r.request().allHeaders();
      assert.match(sent['accept-encoding'] ?? '', /\bbr\b/, `${file}: Chromium's Accept-Encoding`);
      const got = await r.allHeaders();
      assert.equal(got['content-encoding'], 'br', file);
      assert.equal(got['vary'], 'Accept-Encoding', file);
      assert.equal((await r.body()).toString(), body, `${file}: decoded body`);
      const security = await r.securityDetails();
      t.diagnostic(`${file}: ${security?.protocol ?? '?'}, ${got['content-encoding'] ?? 'identity'}`);
      assert.match(security?.protocol ?? '', /^TLS 1\.[23]$/, `${file}: ${JSON.stringify(security)}`);
    }
    assert.deepEqual(watch.take(), []);
    await ctx.close();
  });
});
