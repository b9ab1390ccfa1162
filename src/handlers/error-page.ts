/**
 * Error responses (DESIGN §5): the server's `error_page` file when set, else a small built-in page.
 * The status line is always the true status.
 */
import * as fs from 'node:fs';
import type { ServerConfig } from '../config/types.js';
import { bytesResponse, type Response } from '../http/response.js';
import { reasonPhrase } from '../http/status.js';

interface CachedPage {
  readonly mtimeMs: number;
  readonly size: number;
  readonly data: Buffer;
}

const fileCache = new Map<string, CachedPage>();
const builtinCache = new Map<number, Buffer>();

/** The built-in HTML page naming the status. */
export function builtinPage(status: number): Buffer {
  let b = builtinCache.get(status);
  if (b === undefined) {
    const title = `${status} ${reasonPhrase(status)}`;
    b = Buffer.from(
      `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${title}</title></head>\n` +
        `<body><h1>${title}</h1><hr><p>localhost</p></body></html>\n`,
    );
    builtinCache.set(status, b);
  }
  return b;
}

/** Reads a custom error page, revalidated by stat; null when it cannot be read (the built-in page is used).
 *  Opened non-blocking and checked with fstat, so a FIFO put in its place cannot stall the loop. */
function customPage(path: string): Buffer | null {
  let fd = -1;
  try {
    const st = fs.statSync(path);
    const hit = fileCache.get(path);
    if (hit !== undefined && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.data;
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const fst = fs.fstatSync(fd);
    if (!fst.isFile() || fst.size > 1024 * 1024) return null;
    const data = Buffer.alloc(fst.size);
    let off = 0;
    while (off < data.length) {
      const n = fs.readSync(fd, data, off, Math.min(64 * 1024, data.length - off), off);
      if (n === 0) break;
      off += n;
    }
    const page = data.subarray(0, off);
    fileCache.set(path, { mtimeMs: fst.mtimeMs, size: fst.size, data: page });
    return page;
  } catch {
    return null;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

/** The error response for `status` on `server` (null before a server is known, e.g. a malformed request line). */
export function errorResponse(server: ServerConfig | null, status: number, headers = '', close = false): Response {
  const custom = server?.errorPages.get(status);
  const page = (custom !== undefined ? customPage(custom) : null) ?? builtinPage(status);
  const res = bytesResponse(status, 'text/html; charset=utf-8', page, headers);
  return close ? { ...res, close: true } : res;
}
