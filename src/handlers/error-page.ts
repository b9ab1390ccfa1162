/**
 * Error responses (docs/ARCHITECTURE.md "Handlers"): the server's `error_page` file when set, else a small built-in page.
 * The status line is always the true status.
 */
import * as fs from 'node:fs';
import type { ServerConfig } from '../config/types.js';
import { bytesResponse, type Response } from '../http/response.js';
import { reasonPhrase } from '../http/status.js';
import { errnoCode } from '../lib/errno.js';
import { escapeHtml } from '../lib/html.js';

interface CachedPage {
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly size: number;
  readonly data: Buffer;
}

const fileCache = new Map<string, CachedPage>();
const builtinCache = new Map<number, Buffer>();

/** Where error_page problems are reported; the server points it at its error log. */
let logError: (message: string) => void = () => undefined;

/** Sets the error-log writer used when an `error_page` file cannot be read at run time. */
export function setErrorPageLog(log: (message: string) => void): void {
  logError = log;
}

/** The built-in HTML page naming the status, with an optional one-line reason (text, escaped here). */
export function builtinPage(status: number, detail = ''): Buffer {
  let b = detail === '' ? builtinCache.get(status) : undefined;
  if (b === undefined) {
    const title = `${status} ${reasonPhrase(status)}`;
    const why = detail === '' ? '' : `<p>${escapeHtml(detail)}</p>`;
    b = Buffer.from(
      `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${title}</title></head>\n` +
        `<body><h1>${title}</h1>${why}<hr><p>localhost</p></body></html>\n`,
    );
    if (detail === '') builtinCache.set(status, b);
  }
  return b;
}

/** Reads a custom error page, revalidated by stat; null when it cannot be read (the built-in page is used, and
 *  the reason logged). Opened non-blocking and checked with fstat, so a FIFO put in its place cannot stall the
 *  loop. */
function customPage(path: string, status: number): Buffer | null {
  let fd = -1;
  try {
    const st = fs.statSync(path);
    const hit = fileCache.get(path);
    if (hit !== undefined && hit.mtimeMs === st.mtimeMs && hit.ctimeMs === st.ctimeMs && hit.size === st.size)
      return hit.data;
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const fst = fs.fstatSync(fd);
    if (!fst.isFile() || fst.size > 1024 * 1024) {
      logError(`error_page "${path}" for ${status} is not a regular file of at most 1 MiB: built-in page sent`);
      return null;
    }
    const data = Buffer.alloc(fst.size);
    let off = 0;
    while (off < data.length) {
      const n = fs.readSync(fd, data, off, Math.min(64 * 1024, data.length - off), off);
      if (n === 0) break;
      off += n;
    }
    const page = data.subarray(0, off);
    fileCache.set(path, { mtimeMs: fst.mtimeMs, ctimeMs: fst.ctimeMs, size: fst.size, data: page });
    return page;
  } catch (err) {
    logError(
      `error_page "${path}" for ${status} cannot be read (${errnoCode(err) || String(err)}): built-in page sent`,
    );
    return null;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

/** Extras of an error response. */
export interface ErrorOptions {
  /** Extra header lines (built with headerLine). */
  readonly headers?: string;
  /** Close the connection after it. */
  readonly close?: boolean;
  /** A short reason shown on the built-in page (a custom error_page is sent as it is). */
  readonly detail?: string;
}

/** Responses made here: the ones `error_page URI` may replace (a script's own 404 is its answer, as in nginx). */
const made = new WeakSet<Response>();

/** True for a response built by errorResponse (an error the server itself answered). */
export function isErrorResponse(res: Response): boolean {
  return made.has(res);
}

/** The error response for `status` on `server` (null before a server is known, e.g. a malformed request line). */
export function errorResponse(server: ServerConfig | null, status: number, opts: ErrorOptions = {}): Response {
  const custom = server?.errorPages.get(status);
  const page = (custom !== undefined ? customPage(custom, status) : null) ?? builtinPage(status, opts.detail);
  const res = bytesResponse(status, 'text/html; charset=utf-8', page, opts.headers ?? '');
  const out = opts.close === true ? { ...res, close: true } : res;
  made.add(out);
  return out;
}
