/**
 * DokuWiki as Debian packages it (issues 17 and 18), behind its nginx front controller: `try_files $uri $uri/
 * /doku.php?id=$uri&$args`, with the `_media`, `_detail` and `_export` rewrites of DokuWiki's nginx guide, run
 * through php-cgi and through php-fpm (`fastcgi_pass`, a pool started here). The package's own tree is copied into a temp directory with its symlinks kept (lib/tpl and
 * lib/plugins point into /var/lib/dokuwiki), its configuration and data copied beside it, so nothing of the system
 * is written. In headless Chromium: pretty URLs render their pages, every template image loads (through the
 * symlinks, with `disable_symlinks off`), a page is written through the edit form, read back raw and found by the
 * search, and nothing fails on the way. Without `disable_symlinks off` the same images are 403 (the links leave the root).
 * Skipped only when Debian's dokuwiki package is not installed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, PageWatch, screenshot, type Problem } from './chromium.js';
import { startServer, type RunningServer } from '../helpers/server.js';
import { get } from '../helpers/http.js';
import { phpFpmBinary, startPhpFpm, type PhpFpm } from '../helpers/fastcgi-backend.js';

const PACKAGE = '/usr/share/dokuwiki';
const SKIP = fs.existsSync(path.join(PACKAGE, 'doku.php')) ? false : "Debian's dokuwiki package is not installed";
const PHP_CGI = '/usr/bin/php-cgi';

/** The site: {WIKI} is the copied tree. `gateway` runs its scripts (php-cgi, or a fastcgi_pass to php-fpm). */
const site = (port: string, links: string, gateway: string): string => `server {
  listen 127.0.0.1:${port}
  root {WIKI}
  index doku.php
  rewrite ^/_media/(.*) /lib/exe/fetch.php?media=$1 last
  rewrite ^/_detail/(.*) /lib/exe/detail.php?media=$1 last
  rewrite ^/_export/([^/]+)/(.*) /doku.php?do=export_$1&id=$2 last
  location / {
    try_files $uri $uri/ /doku.php?id=$uri&$args
${links}  }
  location ~ ^/(conf|bin|inc|vendor|install\\.php) {
    deny all
  }
  location ~ \\.php$ {
    ${gateway}
${links}  }
}
`;
const CGI = `cgi .php ${PHP_CGI}`;

let tmp = '';
let srv: RunningServer;
let browser: Browser;
let fpm: PhpFpm | null = null;

before(async () => {
  if (SKIP !== false) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'localhost-dokuwiki-'));
  const wiki = path.join(tmp, 'dokuwiki');
  fs.cpSync(PACKAGE, wiki, { recursive: true, verbatimSymlinks: true });
  fs.cpSync('/etc/dokuwiki', path.join(tmp, 'conf'), { recursive: true, verbatimSymlinks: true });
  fs.cpSync('/var/lib/dokuwiki/data', path.join(tmp, 'data'), { recursive: true, verbatimSymlinks: true });
  assert.ok(fs.lstatSync(path.join(wiki, 'lib/tpl')).isSymbolicLink(), 'the template stays a link out of the root');
  // Debian's preload.php points at /etc/dokuwiki; the copy's points at its own configuration.
  fs.writeFileSync(
    path.join(wiki, 'inc/preload.php'),
    `<?php\ndefine('DOKU_MAIN_CONF', '${tmp}/conf/');\ndefine('DOKU_CONF', '${tmp}/conf/');\n`,
  );
  fs.writeFileSync(
    path.join(tmp, 'conf/local.php'),
    `<?php\n$conf['title'] = 'Test wiki';\n$conf['savedir'] = '${tmp}/data';\n` +
      `$conf['userewrite'] = 1;\n$conf['useacl'] = 0;\n`,
  );
  if (phpFpmBinary() === null) throw new Error('php-fpm is not installed (apt-get install php-fpm)');
  fpm = await startPhpFpm(tmp, 3);
  const links = '    disable_symlinks off\n';
  const fcgi = `fastcgi_pass unix:${fpm.socket}\n    fastcgi_keep_conn on`;
  // {PORT}: php-cgi; {PORT2}: the same without disable_symlinks off; {PORT3}: php-fpm.
  const config = (site('{PORT}', links, CGI) + site('{PORT2}', '', CGI) + site('{PORT3}', links, fcgi)).replaceAll(
    '{WIKI}',
    wiki,
  );
  srv = await startServer({ config });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
  await fpm?.stop();
  if (tmp !== '') fs.rmSync(tmp, { recursive: true, force: true });
});

/** The servers by gateway. */
const GATEWAYS = [
  { name: 'php-cgi', port: (): number => srv.port },
  { name: 'php-fpm', port: (): number => srv.ports[2] ?? 0 },
] as const;
const show = (ps: readonly Problem[]): string => ps.map((p) => `${p.kind} ${p.url}: ${p.text}`).join('\n');

/**
 * Every image of the page that does not load, by its URL, after loading the lazy ones too (DokuWiki marks its media
 * `loading="lazy"`). Images DokuWiki fetches from another site (`media=https://...`) are left alone: no network here.
 */
async function brokenImages(page: Page): Promise<string[]> {
  await page.evaluate(`Promise.all(Array.from(document.images)
    .filter((i) => !/media=https?%3A/.test(i.src))
    .map((i) => { i.loading = 'eager'; return i.decode().catch(() => undefined); }))`);
  return page.evaluate<string[]>(`Array.from(document.images)
    .filter((i) => !/media=https?%3A/.test(i.src) && (!i.complete || i.naturalWidth === 0))
    .map((i) => i.src)`);
}

/** The page's own heading (the first h1 is the wiki's title). */
const heading = async (page: Page): Promise<string> =>
  ((await page.locator('.page h1').first().textContent()) ?? '').trim();

describe('DokuWiki', { skip: SKIP }, () => {
  for (const g of GATEWAYS) {
    const base = (): string => `http://127.0.0.1:${g.port()}`;
    const id = `by-${g.name}`;
    const text = `====== Served by localhost ======\n\nWritten through ${g.name}.\n`;

    test(`${g.name}: pretty URLs render their pages; the template images load through the symlinks`, async () => {
      const page = await browser.newPage();
      const watch = new PageWatch(page);
      try {
        const res = await page.goto(base() + '/wiki:syntax');
        assert.equal(res?.status(), 200);
        assert.equal(await page.title(), 'wiki:syntax [Test wiki]');
        assert.equal(await heading(page), 'Formatting Syntax');
        // DokuWiki writes pretty links itself once userewrite is on: the front controller is what makes them work.
        const links = await page.evaluate<number>('document.querySelectorAll(\'a[href^="/wiki:"]\').length');
        assert.ok(links > 0, 'the page links other pages by pretty URL');
        const images = await page.evaluate<number>('document.images.length');
        assert.ok(images > 3, `the page shows images (${images})`);
        assert.deepEqual(await brokenImages(page), []);
        const logo = await page.evaluate<number>(
          'document.querySelector(\'img[src*="/lib/tpl/dokuwiki/images/logo.png"]\')?.naturalWidth ?? 0',
        );
        assert.ok(logo > 0, 'the template logo, from lib/tpl (a link into /var/lib/dokuwiki), is shown');
        await Promise.all([
          page.waitForURL(/\/wiki:dokuwiki$/),
          page.locator('a[href="/wiki:dokuwiki"]').first().click(),
        ]);
        assert.equal(await page.title(), 'wiki:dokuwiki [Test wiki]');
        assert.deepEqual(await brokenImages(page), []);
        await screenshot(page, `dokuwiki-page-${g.name}`);
        assert.equal(show(watch.take()), '');
      } finally {
        await page.close();
      }
    });

    test(`${g.name}: a page written through the edit form is stored, read back raw, and found`, async () => {
      const page = await browser.newPage();
      const watch = new PageWatch(page);
      try {
        const edit = await page.goto(`${base()}/playground:${id}?do=edit`);
        assert.equal(edit?.status(), 200);
        await page.fill('#wiki__text', text);
        await Promise.all([page.waitForURL(new RegExp(`/playground:${id}$`)), page.click('#edbtn__save')]);
        assert.equal(await heading(page), 'Served by localhost');
        await screenshot(page, `dokuwiki-saved-${g.name}`);
        assert.equal(show(watch.take()), '');
      } finally {
        await page.close();
      }
      const stored = fs.readFileSync(path.join(tmp, `data/pages/playground/${id}.txt`), 'utf8');
      assert.equal(stored, text);
      const raw = await get(g.port(), `/_export/raw/playground:${id}`);
      assert.equal(raw.status, 200);
      assert.equal(raw.body.toString(), stored);
      // The full-text search finds it (DokuWiki indexes a page when it is saved).
      const found = await get(g.port(), `/doku.php?do=search&q=${g.name}`);
      assert.equal(found.status, 200);
      assert.match(found.body.toString(), new RegExp(`playground:${id}`));
    });
  }

  test('its internals are refused; without disable_symlinks off the template images are 403', async () => {
    for (const p of ['/conf/local.php', '/inc/init.php', '/bin/indexer.php', '/install.php']) {
      assert.equal((await get(srv.port, p)).status, 403, p);
    }
    const port = srv.ports[1] ?? 0;
    assert.equal((await get(port, '/lib/tpl/dokuwiki/images/logo.png')).status, 403);
    const logo = await get(srv.port, '/lib/tpl/dokuwiki/images/logo.png');
    assert.equal(logo.status, 200);
    assert.equal(logo.header('content-type'), 'image/png');
  });
});
