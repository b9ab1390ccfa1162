/**
 * Static files (DESIGN §6, RFC 9110 §13-§14): resolve, validate, then answer in a few named steps, as Go's
 * net/http/fs.go does: stat → directory handling → open → preconditions → ranges → response.
 * Small files are kept in memory and revalidated by stat on every request.
 */
import * as fs from 'node:fs';
import { evaluatePreconditions, ifRangeAllows } from '../http/conditional.js';
import { etagFor } from '../http/etag.js';
import { formatHttpDate } from '../http/http-date.js';
import { contentTypeFor } from '../http/mime.js';
import { byteRangesLayout, contentRange, newBoundary, parseRange, unsatisfiedRange } from '../http/range.js';
import { headerLine, NO_BODY, type FilePart } from '../http/response.js';
import { encodePath } from '../router/path.js';
import { fsErrorResponse, insideRoot } from './confine.js';
import { listDirectory } from './directory.js';
import { statCached } from './stat-cache.js';
import { errorResponse } from './error-page.js';
import type { Exchange } from './exchange.js';
import { redirectResponse } from './redirect.js';

/** Files up to this size are cached in memory (one bounded read each). */
const CACHE_FILE_MAX = 64 * 1024;
/** Total bytes the cache may hold; the oldest entries go first beyond it. */
const CACHE_TOTAL_MAX = 64 * 1024 * 1024;

/** What we know of a file at one (ino, size, mtime): its validators and, when small, its bytes. */
interface FileMeta {
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly etag: string;
  readonly lastModified: string;
  /** Content-Type, Last-Modified, ETag and Accept-Ranges lines, ready to send. */
  readonly headers: string;
  /** "gzip" when this is the pre-compressed sibling served for a client that accepts it. */
  readonly encoding: string | null;
  readonly data: Buffer | null;
}

const cache = new Map<string, FileMeta>();
let cacheBytes = 0;

function remember(path: string, meta: FileMeta): void {
  const old = cache.get(path);
  if (old !== undefined) {
    cacheBytes -= old.data?.length ?? 0;
    cache.delete(path);
  }
  cache.set(path, meta);
  cacheBytes += meta.data?.length ?? 0;
  for (const [k, v] of cache) {
    if (cacheBytes <= CACHE_TOTAL_MAX && cache.size <= 10_000) break;
    cache.delete(k);
    cacheBytes -= v.data?.length ?? 0;
  }
}

function sameFile(m: FileMeta, st: fs.Stats): boolean {
  return m.ino === st.ino && m.size === st.size && m.mtimeMs === st.mtimeMs;
}

function metaFor(path: string, st: fs.Stats, data: Buffer | null, encoding: string | null): FileMeta {
  const etag = etagFor(st.size, st.mtimeMs);
  const lastModified = formatHttpDate(st.mtimeMs);
  const type = contentTypeFor(encoding === null ? path : path.slice(0, -3));
  let headers = `Content-Type: ${type}\r\nLast-Modified: ${lastModified}\r\nETag: ${etag}\r\nAccept-Ranges: bytes\r\n`;
  if (encoding !== null) headers += `Content-Encoding: ${encoding}\r\nVary: Accept-Encoding\r\n`;
  return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, etag, lastModified, headers, encoding, data };
}

/** True when Accept-Encoding admits gzip (RFC 9110 §12.5.3: a q of 0 refuses it; codings are case-insensitive). */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  const value = header.toLowerCase();
  if (value.indexOf('gzip') === -1) return false;
  for (const item of value.split(',')) {
    const [coding, ...params] = item.trim().split(';');
    if (coding !== 'gzip' && coding !== 'x-gzip') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

/** True for the temporary name of an upload in progress (see upload-store.ts). */
function isPartialUpload(fsPath: string): boolean {
  const slash = fsPath.lastIndexOf('/');
  return fsPath.startsWith('.upload-', slash + 1) && fsPath.endsWith('.part');
}

/** Answers GET/HEAD for `fsPath` (the URL path mapped under `root`). */
export function serveStatic(ex: Exchange, root: string, fsPath: string): void {
  let st: fs.Stats | undefined;
  try {
    // No exception for a missing file: a 404 is common and must stay cheap; a hot path costs no syscall.
    st = statCached(fsPath);
  } catch (err) {
    ex.respond(fsErrorResponse(ex, 'stat', fsPath, err));
    return;
  }
  // An upload still being written is nobody's business until it is complete (DESIGN §6).
  if (st === undefined || isPartialUpload(fsPath)) {
    ex.respond(errorResponse(ex.server, 404));
    return;
  }
  if (st.isDirectory()) {
    serveDirectory(ex, root, fsPath);
    return;
  }
  if (!st.isFile()) {
    ex.respond(errorResponse(ex.server, 403));
    return;
  }
  serveFile(ex, root, fsPath, st);
}

/** Step: a directory URL gets the slash redirect, its default file, a listing, or 403. */
function serveDirectory(ex: Exchange, root: string, dir: string): void {
  if (!ex.path.endsWith('/')) {
    const q = ex.head.query;
    ex.respond(redirectResponse(301, encodePath(ex.path + '/') + (q === '' ? '' : '?' + q)));
    return;
  }
  const loc = ex.location;
  if (loc?.defaultFile != null) {
    const index = dir + (dir.endsWith('/') ? '' : '/') + loc.defaultFile;
    const st = statCached(index);
    if (st?.isFile() === true) {
      serveFile(ex, root, index, st);
      return;
    }
  }
  if (loc?.directoryListing === true) {
    if (!insideRoot(root, dir)) {
      ex.respond(errorResponse(ex.server, 404));
      return;
    }
    ex.respond(listDirectory(ex, dir));
    return;
  }
  ex.respond(errorResponse(ex.server, 403));
}

/** Step: find the file's metadata (cache, or open + fstat + maybe read), then answer. */
function serveFile(ex: Exchange, root: string, path: string, st: fs.Stats): void {
  let servedPath = path;
  let encoding: string | null = null;
  if (acceptsGzip(ex.head.headers.get('accept-encoding'))) {
    const gz = statCached(path + '.gz');
    if (gz?.isFile() === true) {
      servedPath = path + '.gz';
      encoding = 'gzip';
      st = gz;
    }
  }
  // The same .gz file is one representation when asked for by name and another when negotiated: separate entries.
  const key = encoding === null ? servedPath : servedPath + '\0' + encoding;
  const hit = cache.get(key);
  if (hit !== undefined && hit.data !== null && sameFile(hit, st)) {
    answer(ex, hit, -1);
    return;
  }
  if (!insideRoot(root, servedPath)) {
    ex.respond(errorResponse(ex.server, 404));
    return;
  }
  let fd: number;
  try {
    // O_NONBLOCK: if a FIFO replaced the file since the stat, open(2) must not wait for a writer (that would block
    // the whole server); the fstat below then refuses it. On a regular file the flag changes nothing.
    fd = fs.openSync(servedPath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    ex.respond(fsErrorResponse(ex, 'open', servedPath, err));
    return;
  }
  try {
    // Stat the descriptor we will read: the file may have been replaced since the path was stat'ed.
    const fst = fs.fstatSync(fd);
    if (!fst.isFile()) {
      fs.closeSync(fd);
      ex.respond(errorResponse(ex.server, 403));
      return;
    }
    let data: Buffer | null = null;
    if (fst.size <= CACHE_FILE_MAX) {
      data = Buffer.allocUnsafe(fst.size);
      let off = 0;
      while (off < data.length) {
        const n = fs.readSync(fd, data, off, data.length - off, off);
        if (n === 0) break;
        off += n;
      }
      if (off !== data.length) data = null; // shrank while reading: serve from the descriptor
    }
    const meta = metaFor(servedPath, fst, data, encoding);
    if (data !== null) {
      fs.closeSync(fd);
      remember(key, meta);
      answer(ex, meta, -1);
    } else {
      answer(ex, meta, fd);
    }
  } catch (err) {
    fs.closeSync(fd);
    ex.logError(`static: ${servedPath}: ${String(err)}`);
    ex.respond(errorResponse(ex.server, 500));
  }
}

/**
 * Step: preconditions (RFC 9110 §13.2.2), then ranges (§14), then the response. `fd` is an open descriptor
 * (-1 when the bytes are in `meta.data`); it is closed here unless handed to the response body.
 */
function answer(ex: Exchange, meta: FileMeta, fd: number): void {
  const h = ex.head.headers;
  const size = meta.size;
  if (h.size > 1 && (h.has('if-match') || h.has('if-none-match') || h.has('if-modified-since') || h.has('if-unmodified-since'))) {
    const pre = evaluatePreconditions(ex.head.method, h, { etag: meta.etag, lastModifiedMs: meta.mtimeMs });
    if (pre !== 'proceed') {
      if (fd >= 0) fs.closeSync(fd);
      if (pre === 'not-modified') {
        // RFC 9110 §15.4.5: a 304 carries the ETag and Vary a 200 would have carried.
        const vary = meta.encoding !== null ? 'Vary: Accept-Encoding\r\n' : '';
        ex.respond({
          status: 304,
          headers: `Last-Modified: ${meta.lastModified}\r\nETag: ${meta.etag}\r\n${vary}`,
          body: NO_BODY,
          length: 0,
        });
      } else {
        ex.respond(errorResponse(ex.server, 412));
      }
      return;
    }
  }
  const rangeHeader = h.get('range');
  if (rangeHeader !== undefined && ex.head.method === 'GET') {
    const ifRange = h.get('if-range');
    if (ifRange === undefined || ifRangeAllows(ifRange, { etag: meta.etag, lastModifiedMs: meta.mtimeMs })) {
      const outcome = parseRange(rangeHeader, size);
      if (outcome.kind === 'unsatisfiable') {
        if (fd >= 0) fs.closeSync(fd);
        ex.respond(errorResponse(ex.server, 416, headerLine('Content-Range', unsatisfiedRange(size))));
        return;
      }
      if (outcome.kind === 'partial') {
        answerRanges(ex, meta, fd, outcome.ranges);
        return;
      }
    }
  }
  if (meta.data !== null) {
    ex.respond({ status: 200, headers: meta.headers, body: { kind: 'bytes', data: meta.data }, length: size });
    return;
  }
  ex.respond({
    status: 200,
    headers: meta.headers,
    body: { kind: 'file', fd, parts: [{ pre: null, start: 0, end: size }], tail: null },
    length: size,
  });
}

/** Step: 206 with one range, or multipart/byteranges for several (RFC 9110 §14.6). */
function answerRanges(ex: Exchange, meta: FileMeta, fd: number, ranges: ReadonlyArray<{ start: number; end: number }>): void {
  const common = `Last-Modified: ${meta.lastModified}\r\nETag: ${meta.etag}\r\nAccept-Ranges: bytes\r\n`;
  const type = /^Content-Type: ([^\r]*)\r\n/.exec(meta.headers)?.[1] ?? 'application/octet-stream';
  const enc = /Content-Encoding: [^\r]*\r\nVary: [^\r]*\r\n/.exec(meta.headers)?.[0] ?? '';
  if (ranges.length === 1) {
    const r = ranges[0]!;
    const headers = `Content-Type: ${type}\r\n${common}${enc}Content-Range: ${contentRange(r.start, r.end, meta.size)}\r\n`;
    const len = r.end - r.start + 1;
    if (meta.data !== null) {
      ex.respond({ status: 206, headers, body: { kind: 'bytes', data: meta.data.subarray(r.start, r.end + 1) }, length: len });
    } else {
      ex.respond({ status: 206, headers, body: { kind: 'file', fd, parts: [{ pre: null, start: r.start, end: r.end + 1 }], tail: null }, length: len });
    }
    return;
  }
  const boundary = newBoundary();
  const layout = byteRangesLayout(ranges, meta.size, type, boundary);
  const headers = `Content-Type: multipart/byteranges; boundary=${boundary}\r\n${common}${enc}`;
  if (meta.data !== null) {
    const data = meta.data;
    const pieces: Buffer[] = [];
    for (const p of layout.parts) pieces.push(p.head, data.subarray(p.start, p.end + 1));
    pieces.push(layout.tail);
    ex.respond({ status: 206, headers, body: { kind: 'bytes', data: Buffer.concat(pieces) }, length: layout.length });
    return;
  }
  const parts: FilePart[] = layout.parts.map((p) => ({ pre: p.head, start: p.start, end: p.end + 1 }));
  ex.respond({ status: 206, headers, body: { kind: 'file', fd, parts, tail: layout.tail }, length: layout.length });
}
