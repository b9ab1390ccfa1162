/**
 * Headless Chromium (Debian's /usr/bin/chromium) through playwright-core, and a watcher that records what a person
 * would notice went wrong on a page: console errors, script errors, failed requests and HTTP error statuses.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO } from '../helpers/server.js';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = path.join(REPO, 'test-output', 'screenshots');

/** Launches headless Chromium with no network side traffic (no sync, updates or background fetches); `extra`
 *  flags are added (the HTTPS test's --ignore-certificate-errors-spki-list). */
export function launchChromium(extra: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
      ...extra,
    ],
  });
}

/** One problem seen on a page. */
export interface Problem {
  readonly kind: 'console' | 'pageerror' | 'requestfailed' | 'http';
  /** The URL concerned (the request's, or the console message's source). */
  readonly url: string;
  readonly text: string;
}

/** Collects problems from the moment it is attached; `take()` returns and clears them. */
export class PageWatch {
  private problems: Problem[] = [];

  constructor(page: Page) {
    page.on('console', (m) => {
      if (m.type() === 'error') this.problems.push({ kind: 'console', url: m.location().url, text: m.text() });
    });
    page.on('pageerror', (e) => this.problems.push({ kind: 'pageerror', url: page.url(), text: e.message }));
    page.on('requestfailed', (r) => {
      const why = r.failure()?.errorText ?? 'failed';
      // ERR_ABORTED is the browser cancelling a request itself: a navigation that became a download, or a late
      // request (the icon, fetched after `load`) cut by the next navigation. A server's failure shows as another
      // code (ERR_EMPTY_RESPONSE, ERR_CONNECTION_RESET, ERR_INVALID_CHUNKED_ENCODING, ...).
      if (why === 'net::ERR_ABORTED') return;
      this.problems.push({ kind: 'requestfailed', url: r.url(), text: `${r.method()} ${why}` });
    });
    page.on('response', (r) => {
      if (r.status() >= 400)
        this.problems.push({ kind: 'http', url: r.url(), text: `${r.request().method()} ${r.status()}` });
    });
  }

  take(): Problem[] {
    const p = this.problems;
    this.problems = [];
    return p;
  }
}

let shot = 0;

/** Saves a full-page screenshot as test-output/screenshots/NN-name.png; returns the file name. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  shot++;
  const file = `${String(shot).padStart(2, '0')}-${name}.png`;
  await page.screenshot({ path: path.join(SCREENSHOTS, file), fullPage: true });
  return file;
}

/** Pixels the page is wider than its viewport (a phone layout must not scroll sideways). */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
}

/** Every link of the page, as absolute URLs (the browser resolves them). */
export function linksOf(page: Page): Promise<string[]> {
  return page.evaluate<string[]>("Array.from(document.querySelectorAll('a[href]'), (a) => a.href)");
}
