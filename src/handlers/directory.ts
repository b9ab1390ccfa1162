/**
 * Directory listings (docs/ARCHITECTURE.md "Handlers"): sorted, HTML-escaped, link-encoded, with size and modification time.
 */
import * as fs from 'node:fs';
import { bytesResponse, type Response } from '../http/response.js';
import { escapeHtml } from '../lib/html.js';
import { encodePath } from '../router/path.js';
import { fsErrorResponse } from './confine.js';
import { dirVersion } from './stat-cache.js';
import type { Exchange } from './exchange.js';
import { isTemporaryUpload } from './upload-store.js';

/** Most entries shown: a listing is one bounded piece of synchronous work. */
const MAX_ENTRIES = 10_000;

/** Human-readable size, as NGINX's autoindex_exact_size off shows it. */
export function formatSize(n: number): string {
  if (n < 1024) return `${n}`;
  const units = ['K', 'M', 'G', 'T'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)}${units[u]}`;
}

function formatTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

interface Entry {
  readonly name: string;
  readonly dir: boolean;
  readonly size: number;
  readonly mtimeMs: number;
}

/** Reads a directory's entries, directories first, by name. Uploads in progress are never shown; other
 *  dot-files only with `dotfiles`. */
export function readEntries(dir: string, dotfiles = false): Entry[] {
  const out: Entry[] = [];
  const names = fs.readdirSync(dir);
  for (const name of names) {
    if (name.startsWith('.') && (!dotfiles || isTemporaryUpload(name))) continue;
    if (out.length >= MAX_ENTRIES) break;
    const st = fs.statSync(dir + '/' + name, { throwIfNoEntry: false });
    if (st === undefined) continue;
    out.push({ name, dir: st.isDirectory(), size: st.size, mtimeMs: st.mtimeMs });
  }
  out.sort((a, b) => (a.dir !== b.dir ? (a.dir ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

/** Listings kept until their directory changes (stat-cache.ts tells), keyed by directory and URL. */
const listings = new Map<string, { readonly version: string; readonly html: Buffer }>();
const MAX_LISTINGS = 256;

/** The HTML listing of `dir` (under the location's `root`), whose URL is `ex.path` (ending in "/"). */
export function listDirectory(ex: Exchange, root: string, dir: string): Response {
  const dotfiles = ex.location?.dotfiles === true;
  const key = dir + '\0' + ex.path + (dotfiles ? '\0.' : '');
  const version = dirVersion(dir, root);
  const hit = listings.get(key);
  if (hit !== undefined && version !== null && hit.version === version) {
    return bytesResponse(200, 'text/html; charset=utf-8', hit.html);
  }
  const html = renderListing(ex, dir, dotfiles);
  if (!Buffer.isBuffer(html)) return html;
  if (version !== null) {
    if (listings.size >= MAX_LISTINGS) listings.clear();
    listings.set(key, { version, html });
  }
  return bytesResponse(200, 'text/html; charset=utf-8', html);
}

/** Reads and renders a listing: the HTML bytes, or the error response when the directory cannot be read. */
function renderListing(ex: Exchange, dir: string, dotfiles: boolean): Buffer | Response {
  let entries: Entry[];
  try {
    entries = readEntries(dir, dotfiles);
  } catch (err) {
    return fsErrorResponse(ex, 'readdir', dir, err);
  }
  const title = escapeHtml(`Index of ${ex.path}`);
  const rows: string[] = [];
  if (ex.path !== '/') rows.push('<tr><td><a href="../">../</a></td><td></td><td></td></tr>');
  for (const e of entries) {
    const label = e.dir ? e.name + '/' : e.name;
    const href = encodePath(label).replace(/^([^/]*):/, './$1:');
    rows.push(
      `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(label)}</a></td>` +
        `<td class="m">${formatTime(e.mtimeMs)}</td><td class="s">${e.dir ? '-' : formatSize(e.size)}</td></tr>`,
    );
  }
  const html =
    `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
    `<title>${title}</title><style>body{font-family:system-ui,sans-serif;margin:2em}td{padding:.2em 1em .2em 0}` +
    `.s,.m{color:#555;white-space:nowrap}.s{text-align:right}</style></head>\n<body><h1>${title}</h1><table>` +
    `<tr><th align="left">Name</th><th align="left">Modified (UTC)</th><th align="right">Size</th></tr>\n` +
    rows.join('\n') +
    `\n</table></body></html>\n`;
  return Buffer.from(html);
}
