/**
 * The example site in a real browser (headless Chromium via playwright-core), against the real server started on
 * config.conf: every page linked from the home page loads cleanly, the layout holds on a phone, uploads go up, come
 * back byte for byte and are deleted, the Python and PHP CGI forms echo what was sent, the session counter rises and
 * resets on logout, and the custom 404 page shows. Each step is saved to test-output/screenshots/NN-name.png.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { horizontalOverflow, launchChromium, linksOf, PageWatch, screenshot, type Problem } from './chromium.js';
import { startExampleSite, type ExampleSite } from '../helpers/example-site.js';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
/** Pages of the crawl: the home page, what it links to, and so on up to this depth. */
const MAX_DEPTH = 3;
const MAX_PAGES = 100;

/** Links of the home page that answer an error on purpose, with the status they must answer. */
const DELIBERATE: Readonly<Record<string, number>> = {
  '/no-such-page': 404,
  '/cgi-bin/status.py': 404,
  '/cgi-bin/broken.py': 502,
  '/cgi-bin/sleep.py': 504,
};

/** Pages worth a picture as the crawl passes them. */
const CRAWL_SHOTS: Readonly<Record<string, string>> = {
  '/about.html': 'about',
  '/files/': 'files-listing',
  '/cgi-bin/hello.py': 'cgi-hello-py',
  '/cgi-bin/hello.php': 'cgi-hello-php',
  '/cgi-bin/stream.py': 'cgi-stream-py',
  '/status': 'status',
};

let site: ExampleSite;
let browser: Browser;
const contexts: BrowserContext[] = [];

before(async () => {
  site = await startExampleSite();
  browser = await launchChromium();
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await site?.server.stop();
});

/** A fresh browser profile (own cookies) with one page and its problem watcher. */
async function open(
  viewport = DESKTOP,
  mobile = false,
): Promise<{ ctx: BrowserContext; page: Page; watch: PageWatch }> {
  const ctx = await browser.newContext({ viewport, isMobile: mobile, hasTouch: mobile, acceptDownloads: true });
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  return { ctx, page, watch: new PageWatch(page) };
}

const url = (p: string): string => site.base + p;
const show = (ps: readonly Problem[]): string => ps.map((p) => `${p.kind} ${p.url}: ${p.text}`).join('\n');
const text = async (page: Page, selector: string): Promise<string> =>
  ((await page.locator(selector).first().textContent()) ?? '').trim();

/** The text of the table cell beside the header `name` under the heading `heading` (the CGI forms' echo tables). */
async function echoed(page: Page, heading: string, name: string): Promise<string> {
  const table = page.locator(`h2:text-is(${JSON.stringify(heading)}) + table`);
  const cell = table.locator('tr', { has: page.locator(`th:text-is(${JSON.stringify(name)})`) }).locator('td');
  return ((await cell.textContent()) ?? '').trim();
}

describe('the example site in Chromium', () => {
  test('home page on a desktop and on a phone', async () => {
    const d = await open(DESKTOP);
    const res = await d.page.goto(url('/'));
    assert.equal(res?.status(), 200);
    assert.equal(await d.page.title(), 'localhost — a small HTTP/1.1 server');
    assert.equal(await horizontalOverflow(d.page), 0);
    await screenshot(d.page, 'home-desktop');
    const m = await open(PHONE, true);
    assert.equal((await m.page.goto(url('/')))?.status(), 200);
    assert.ok((await horizontalOverflow(m.page)) <= 0, 'no sideways scrolling on a phone');
    await screenshot(m.page, 'home-phone');
    assert.equal(show([...d.watch.take(), ...m.watch.take()]), '');
  });

  test('every page linked from the home page loads with no console error and no failed request', async () => {
    const { ctx, page, watch } = await open(DESKTOP);
    const queue: Array<{ href: string; depth: number; from: string }> = [{ href: url('/'), depth: 0, from: '(start)' }];
    const seen = new Set<string>();
    const problems: string[] = [];
    const visited: string[] = [];
    while (queue.length > 0 && seen.size < MAX_PAGES) {
      const { href, depth, from } = queue.shift()!;
      const target = site.mapUrl(href.split('#')[0]!);
      if (seen.has(target)) continue;
      seen.add(target);
      const u = new URL(target);
      const local = u.hostname === 'localhost' || u.hostname.endsWith('.localhost') || u.hostname === '127.0.0.1';
      if (!local || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
        problems.push(`${target} (linked from ${from}): leaves the site`);
        continue;
      }
      const deliberate = u.origin === new URL(site.base).origin ? DELIBERATE[u.pathname + u.search] : undefined;
      let status = 0;
      let html = false;
      try {
        const res = await page.goto(target, { waitUntil: 'load' });
        status = res?.status() ?? 0;
        html = (res?.headers()['content-type'] ?? '').startsWith('text/html');
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (!msg.includes('Download is starting')) {
          problems.push(`${target} (linked from ${from}): ${msg.split('\n')[0]}`);
          continue;
        }
        status = (await ctx.request.get(target)).status(); // a file the browser saves rather than shows
      }
      visited.push(`${status} ${u.pathname}${u.search}`);
      const expected = deliberate ?? 200;
      if (status !== expected) problems.push(`${target} (linked from ${from}): status ${status}, expected ${expected}`);
      // The deliberate error's own status (and Chromium's console line about it) is expected; nothing else is.
      const seenHere = watch
        .take()
        .filter((p) => !(deliberate !== undefined && p.url === target && (p.kind === 'http' || p.kind === 'console')));
      if (seenHere.length > 0)
        problems.push(`${target} (linked from ${from}):\n  ${show(seenHere).replaceAll('\n', '\n  ')}`);
      const shotName = CRAWL_SHOTS[u.pathname];
      if (shotName !== undefined && u.origin === new URL(site.base).origin) await screenshot(page, shotName);
      // Pages of another origin (the second port) are checked, not crawled again: they are the same site.
      if (html && depth < MAX_DEPTH && deliberate === undefined && u.origin === new URL(site.base).origin) {
        seen.add(site.mapUrl(page.url().split('#')[0]!)); // where a redirect landed
        for (const link of await linksOf(page)) queue.push({ href: link, depth: depth + 1, from: u.pathname });
      }
    }
    assert.ok(visited.length >= 20, `pages visited:\n${visited.join('\n')}`);
    for (const p of Object.keys(DELIBERATE)) assert.ok(seen.has(url(p)), `the crawl reached ${p}`);
    assert.ok(seen.has(site.mapUrl('http://localhost:8081/')), 'the second port was visited');
    assert.equal(problems.join('\n'), '', `pages visited:\n${visited.join('\n')}`);
  });

  test('pages keep to the width of a phone', async () => {
    const { page, watch } = await open(PHONE, true);
    const wide: string[] = [];
    for (const p of [
      '/',
      '/about.html',
      '/upload.html',
      '/files/',
      '/uploads/',
      '/cgi-bin/form.py',
      '/cgi-bin/form.php',
      '/cgi-bin/session.py',
      '/cgi-bin/hello.py',
      '/cgi-bin/hello.php',
      '/no-such-page',
    ]) {
      await page.goto(url(p));
      const over = await horizontalOverflow(page);
      if (over > 0) {
        wide.push(`${p}: ${over} px too wide`);
        await screenshot(page, `phone-too-wide${p.replace(/[^a-z0-9]+/gi, '-')}`);
      }
    }
    watch.take();
    assert.deepEqual(wide, []);
  });

  test('upload two files through the form, see them listed, download one back, delete both with the buttons', async () => {
    const { ctx, page, watch } = await open(DESKTOP);
    await page.goto(url('/upload.html'));
    await page.locator('#empty', { hasText: 'No files yet.' }).waitFor();
    const bin = crypto.randomBytes(300 * 1024);
    const txt = Buffer.from('first line\nsecond line, with ü\n');
    await page.setInputFiles('#upload input[type=file]', [
      { name: 'browser-upload.bin', mimeType: 'application/octet-stream', buffer: bin },
      { name: 'notes from browser.txt', mimeType: 'text/plain', buffer: txt },
    ]);
    await screenshot(page, 'upload-chosen');
    await page.click('#upload button[type=submit]');
    await page.locator('#result', { hasText: 'stored' }).waitFor();
    assert.match(await text(page, '#result'), /^201 Created: 2 file\(s\) stored/);
    const stored = fs
      .readdirSync(site.uploads)
      .filter((n) => n !== '.gitkeep')
      .sort();
    assert.deepEqual(stored, ['browser-upload.bin', 'notes from browser.txt']);
    assert.ok(fs.readFileSync(`${site.uploads}/browser-upload.bin`).equals(bin), 'stored bytes are the file');
    await page.locator('#list a', { hasText: 'notes from browser.txt' }).waitFor();
    const listed = (await page.locator('#list a').allTextContents()).sort();
    assert.deepEqual(listed, stored);
    await screenshot(page, 'upload-listed');

    // Download: the binary as a browser download, the text file by following its link.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('#list a:text-is("browser-upload.bin")'),
    ]);
    assert.equal(download.suggestedFilename(), 'browser-upload.bin');
    const saved = await download.path();
    assert.ok(fs.readFileSync(saved).equals(bin), 'downloaded bytes equal the uploaded ones');
    const viaLink = await ctx.request.get(url('/uploads/notes%20from%20browser.txt'));
    assert.equal(viaLink.status(), 200);
    assert.ok((await viaLink.body()).equals(txt));

    for (const name of stored) {
      const row = page.locator('#list tr', { has: page.locator(`a:text-is(${JSON.stringify(name)})`) });
      await row.locator('button', { hasText: 'Delete' }).click();
      await page.locator('#result', { hasText: `DELETE ${name}: 204` }).waitFor();
      await row.waitFor({ state: 'detached' });
    }
    await page.locator('#empty', { hasText: 'No files yet.' }).waitFor();
    await screenshot(page, 'upload-deleted');
    assert.deepEqual(fs.readdirSync(site.uploads), ['.gitkeep']);
    assert.equal((await ctx.request.get(url('/uploads/browser-upload.bin'))).status(), 404);
    assert.equal(show(watch.take()), '');
  });

  for (const [lang, script, urlencodedHeading, multipartHeading, filesHeading] of [
    ['python', '/cgi-bin/form.py', 'Body fields (urlencoded)', 'Body fields (multipart)', 'Body fields (multipart)'],
    ['php', '/cgi-bin/form.php', 'Body fields ($_POST)', 'Body fields ($_POST)', 'Files ($_FILES)'],
  ] as const) {
    test(`CGI form (${lang}): urlencoded POST, multipart POST with a file, and GET are echoed`, async () => {
      const { page, watch } = await open(DESKTOP);
      const name = 'Grace <Hopper> & "co"';
      const message = 'Hello, CGI: ü € 100%';
      await page.goto(url(script));
      await page.fill('input[name=name]', name);
      await page.fill('textarea[name=message]', message);
      await Promise.all([page.waitForURL(url(script)), page.click('button:text-is("POST (urlencoded)")')]);
      await page.locator(`h2:text-is(${JSON.stringify(urlencodedHeading)})`).waitFor();
      assert.equal(await echoed(page, urlencodedHeading, 'name'), name);
      assert.equal(await echoed(page, urlencodedHeading, 'message'), message);
      assert.match(
        await page.locator('main').innerText(),
        /Method POST, Content-Type application\/x-www-form-urlencoded, raw body length: \d+ bytes/,
      );
      await screenshot(page, `cgi-${lang}-urlencoded`);

      await page.fill('input[name=name]', name);
      await page.setInputFiles('input[name=upload]', {
        name: 'hello.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from('hello world'),
      });
      await Promise.all([page.waitForURL(url(script)), page.click('button:text-is("POST (multipart)")')]);
      await page.locator(`h2:text-is(${JSON.stringify(filesHeading)})`).waitFor();
      assert.equal(await echoed(page, multipartHeading, 'name'), name);
      assert.equal(await echoed(page, filesHeading, 'upload'), 'file hello.txt, 11 bytes');
      assert.match(
        await page.locator('main').innerText(),
        /Method POST, Content-Type multipart\/form-data; boundary=\S+, raw body length: \d+ bytes/,
      );
      await screenshot(page, `cgi-${lang}-multipart`);

      await page.fill('input[name=name]', name);
      await Promise.all([page.waitForURL(/\?/), page.click('button:text-is("GET")')]);
      const heading = lang === 'python' ? 'Query string fields' : 'Query string fields ($_GET)';
      assert.equal(await echoed(page, heading, 'name'), name);
      assert.equal(await echoed(page, heading, 'message'), 'Hello & welcome <3');
      await screenshot(page, `cgi-${lang}-get`);
      assert.equal(show(watch.take()), '');
    });
  }

  test('session: the visit counter rises across reloads, keeps a name, and resets after logout', async () => {
    const { ctx, page, watch } = await open(DESKTOP);
    const visits = async (): Promise<number> => {
      const m = /Visits: (\d+)/.exec(await page.locator('main').innerText());
      assert.ok(m !== null, 'the page shows a visit count');
      return Number(m[1]);
    };
    await page.goto(url('/cgi-bin/session.py'));
    assert.equal(await visits(), 1);
    assert.match(await text(page, 'main .card p'), /^Hello, stranger$/);
    await page.reload();
    assert.equal(await visits(), 2);
    await page.reload();
    assert.equal(await visits(), 3);
    await screenshot(page, 'session-3-visits');
    const sid = (await ctx.cookies(site.base)).find((c) => c.name === 'sid');
    assert.ok(sid !== undefined, 'a sid cookie');
    assert.match(sid.value, /^[0-9a-f]{32}$|^[A-Za-z0-9_-]{22}$/, '128 random bits');
    assert.equal(sid.httpOnly, true);
    assert.equal(sid.sameSite, 'Lax');
    assert.equal(sid.path, '/');

    await page.fill('input[name=name]', 'Ada Lovelace');
    await Promise.all([page.waitForURL(url('/cgi-bin/session.py')), page.click('button:text-is("Save name")')]);
    assert.equal(await visits(), 4);
    assert.match(await text(page, 'main .card p'), /^Hello, Ada Lovelace$/);
    await page.goto(url('/cgi-bin/session.py'));
    assert.equal(await visits(), 5);
    assert.match(await text(page, 'main .card p'), /^Hello, Ada Lovelace$/, 'the name is kept by the server');
    await screenshot(page, 'session-named');

    await Promise.all([page.waitForURL(url('/cgi-bin/session.py')), page.click('button:text-is("Logout")')]);
    assert.match(await page.locator('main').innerText(), /You are logged out/);
    await screenshot(page, 'session-logged-out');
    await page.click('a:text-is("Start again")');
    assert.equal(await visits(), 1, 'a new session after logout');
    assert.match(await text(page, 'main .card p'), /^Hello, stranger$/);
    await screenshot(page, 'session-after-logout');
    assert.equal(show(watch.take()), '');
  });

  test('the custom 404 page, and its link home', async () => {
    const { page, watch } = await open(DESKTOP);
    const res = await page.goto(url('/no-such-page'));
    assert.equal(res?.status(), 404);
    assert.equal(await page.title(), '404 Not Found');
    assert.equal(await text(page, 'h1'), '404');
    assert.equal(await text(page, 'h2'), 'Not Found');
    await screenshot(page, 'custom-404');
    await Promise.all([page.waitForURL(url('/')), page.click('a:text-is("Go home")')]);
    assert.equal(await page.title(), 'localhost — a small HTTP/1.1 server');
    const seen = watch.take();
    assert.equal(show(seen.filter((p) => p.url !== url('/no-such-page'))), '');
  });

  test('the second virtual host, chosen by the Host header (alt.localhost)', async () => {
    const { page, watch } = await open(DESKTOP);
    const port = new URL(site.base).port;
    const res = await page.goto(`http://alt.localhost:${port}/`);
    assert.equal(res?.status(), 200);
    assert.equal(await page.title(), 'alt.localhost — virtual host B');
    await screenshot(page, 'vhost-alt');
    assert.equal(show(watch.take()), '');
  });
});
