/**
 * A single-page app served the nginx way (issue 17), in headless Chromium: a React-style build (index.html, hashed
 * JS and CSS under /assets/, a web manifest) with client routes, under `try_files $uri $uri/ /index.html`. Links
 * are followed by the app's own router (pushState, no reload), the back button works, a reload on a deep link and a
 * deep link typed in a fresh tab both answer 200 with the app, and no console error or failed request is seen. A
 * missing asset is still 404 (`try_files $uri =404` under /assets/), not the app's HTML.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, PageWatch, screenshot, type Problem } from './chromium.js';
import { startServer, type RunningServer } from '../helpers/server.js';

const JS = 'assets/index-5f3c2a91.js';
const CSS = 'assets/index-0d8e7b44.css';

const CONFIG = `server {
  listen 127.0.0.1:{PORT}
  root {DIR}/dist
  index index.html
  location / {
    try_files $uri $uri/ /index.html
    add_header Cache-Control no-cache
  }
  location /assets/ {
    try_files $uri =404
    expires max
  }
}
`;

const INDEX = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Users</title>
<link rel="manifest" href="/manifest.webmanifest">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/${CSS}">
<script type="module" src="/${JS}"></script>
</head>
<body><nav><a href="/">Home</a> <a href="/users">Users</a> <a href="/settings">Settings</a></nav>
<main id="root"></main></body>
</html>
`;

/** The app: renders the route from location.pathname and follows its own links with history.pushState. */
const APP = `const users = [{ id: 7, name: 'Ada' }, { id: 42, name: 'Grace' }];
const routes = [
  [/^\\/$/, () => '<h1>Home</h1>'],
  [/^\\/users$/, () => '<h1>Users</h1><ul>' + users.map((u) => '<li><a href="/users/' + u.id + '">' + u.name + '</a></li>').join('') + '</ul>'],
  [/^\\/users\\/(\\d+)$/, (m) => { const u = users.find((x) => String(x.id) === m[1]); return u ? '<h1>User ' + u.name + '</h1>' : '<h1>No such user</h1>'; }],
  [/^\\/settings$/, () => '<h1>Settings</h1>'],
];
function render() {
  const path = location.pathname;
  for (const [re, view] of routes) {
    const m = re.exec(path);
    if (m) { document.getElementById('root').innerHTML = view(m); document.title = document.querySelector('h1').textContent; return; }
  }
  document.getElementById('root').innerHTML = '<h1>Not found</h1>';
}
document.addEventListener('click', (e) => {
  const a = e.target.closest('a');
  if (!a || a.origin !== location.origin) return;
  e.preventDefault();
  history.pushState(null, '', a.pathname);
  render();
});
window.addEventListener('popstate', render);
render();
`;

const FILES: Record<string, string> = {
  'dist/index.html': INDEX,
  [`dist/${JS}`]: APP,
  [`dist/${CSS}`]: 'body { font-family: sans-serif; margin: 2rem; } nav a { margin-right: 1rem; }\n',
  'dist/manifest.webmanifest': '{"name":"Users","start_url":"/","display":"standalone","icons":[]}\n',
  'dist/favicon.svg':
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7"/></svg>\n',
};

let srv: RunningServer;
let browser: Browser;
let ctx: BrowserContext;

before(async () => {
  srv = await startServer({ config: CONFIG, files: FILES });
  browser = await launchChromium();
  ctx = await browser.newContext({ viewport: { width: 1024, height: 700 } });
});

after(async () => {
  await ctx?.close().catch(() => undefined);
  await browser?.close();
  await srv?.stop();
});

const base = (): string => `http://127.0.0.1:${srv.port}`;
const show = (ps: readonly Problem[]): string => ps.map((p) => `${p.kind} ${p.url}: ${p.text}`).join('\n');
const heading = async (page: Page): Promise<string> => ((await page.locator('h1').textContent()) ?? '').trim();

/** A page with a watcher, and a count of the documents it loads (a client-side route loads none). */
async function open(): Promise<{ page: Page; watch: PageWatch; documents: () => number }> {
  const page = await ctx.newPage();
  page.setDefaultTimeout(10_000);
  const watch = new PageWatch(page);
  let docs = 0;
  page.on('request', (r) => {
    if (r.resourceType() === 'document') docs++;
  });
  return { page, watch, documents: () => docs };
}

describe('a single-page app under try_files', () => {
  test('client routes by link and back button, without reloading the document', async () => {
    const { page, watch, documents } = await open();
    const res = await page.goto(base() + '/');
    assert.equal(res?.status(), 200);
    assert.equal(await heading(page), 'Home');
    await page.click('nav a[href="/users"]');
    assert.equal(await heading(page), 'Users');
    await page.click('a[href="/users/42"]');
    assert.equal(await heading(page), 'User Grace');
    assert.equal(new URL(page.url()).pathname, '/users/42');
    await page.goBack();
    assert.equal(await heading(page), 'Users');
    assert.equal(documents(), 1, 'the routes were the app own: one document load');
    await screenshot(page, 'spa-users');
    assert.equal(show(watch.take()), '');
    await page.close();
  });

  test('a reload on a deep link, and a deep link in a fresh tab, answer 200 with the app', async () => {
    const { page, watch } = await open();
    await page.goto(base() + '/users');
    await page.click('a[href="/users/7"]');
    assert.equal(await heading(page), 'User Ada');
    const reloaded = await page.reload();
    assert.equal(reloaded?.status(), 200);
    assert.equal(reloaded?.headers()['content-type'], 'text/html; charset=utf-8');
    assert.equal(reloaded?.headers()['cache-control'], 'no-cache');
    assert.equal(await heading(page), 'User Ada');
    const fresh = await ctx.newPage();
    const freshWatch = new PageWatch(fresh);
    const deep = await fresh.goto(base() + '/settings');
    assert.equal(deep?.status(), 200);
    assert.equal(await heading(fresh), 'Settings');
    await screenshot(fresh, 'spa-deep-link');
    assert.equal(show([...watch.take(), ...freshWatch.take()]), '');
    await fresh.close();
    await page.close();
  });

  test('assets: hashed files cached for long, a missing one 404 and not the app HTML', async () => {
    const { page } = await open();
    await page.goto(base() + '/');
    const got = await page.evaluate(
      async (paths) => {
        const out: Array<[number, string, string, boolean]> = [];
        for (const p of paths) {
          const r = await fetch(p);
          const app = (await r.text()).includes('id="root"');
          out.push([r.status, r.headers.get('content-type') ?? '', r.headers.get('cache-control') ?? '', app]);
        }
        return out;
      },
      ['/' + JS, '/manifest.webmanifest', '/assets/index-00000000.js'],
    );
    assert.deepEqual(got[0], [200, 'text/javascript; charset=utf-8', 'max-age=315360000', false]);
    assert.equal(got[1]?.[0], 200);
    assert.match(got[1]?.[1] ?? '', /^application\/manifest\+json/);
    assert.equal(got[2]?.[0], 404);
    assert.equal(got[2]?.[3], false, 'the 404 page, not the app');
    await page.close();
  });
});
